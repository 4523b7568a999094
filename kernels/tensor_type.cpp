#include "kernels/tensor_type.h"

#include <array>
#include <cctype>
#include <string>

#include "common/error.h"

namespace strata {
namespace {

// Block sizes and byte counts match ggml's type_traits table.
constexpr std::array<TypeTraits, 10> kTraits = {{
    {TensorType::F32, "f32", 1, 4},
    {TensorType::F16, "f16", 1, 2},
    {TensorType::Q4_0, "q4_0", 32, 18},
    {TensorType::Q8_0, "q8_0", 32, 34},
    {TensorType::Q4_K, "q4_K", 256, 144},
    {TensorType::Q5_K, "q5_K", 256, 176},
    {TensorType::Q6_K, "q6_K", 256, 210},
    {TensorType::Q8_K, "q8_K", 256, 292},
    {TensorType::BF16, "bf16", 1, 2},
    {TensorType::MXFP4, "mxfp4", 32, 17},
}};

const TypeTraits* find(uint32_t raw) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw) return &t;
  }
  return nullptr;
}

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t raw_type_id) {
  const TypeTraits* t = find(raw_type_id);
  if (t == nullptr) return std::nullopt;
  return *t;
}

const TypeTraits& traits(TensorType type) {
  const TypeTraits* t = find(static_cast<uint32_t>(type));
  STRATA_CHECK(t != nullptr);
  return *t;
}

std::string_view type_name(TensorType type) { return traits(type).name; }

std::optional<TensorType> parse_type_name(std::string_view name) {
  for (const auto& t : kTraits) {
    if (t.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) ==
             std::tolower(static_cast<unsigned char>(t.name[i]));
    }
    if (same) return t.type;
  }
  return std::nullopt;
}

bool is_row_size_valid(TensorType type, int64_t n) {
  const TypeTraits& t = traits(type);
  // The upper bound keeps n / block * bytes far from int64 overflow for hostile shapes.
  return n >= 0 && n <= (int64_t{1} << 48) && n % t.block_elems == 0;
}

int64_t row_bytes(TensorType type, int64_t n) {
  const TypeTraits& t = traits(type);
  STRATA_CHECK(is_row_size_valid(type, n));
  return n / t.block_elems * t.block_bytes;
}

}  // namespace strata
