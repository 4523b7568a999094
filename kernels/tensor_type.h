#pragma once
// Tensor element types, numbered exactly as GGUF's ggml_type so a file's type id maps directly.
// Layouts (block structure and byte order) are bit-compatible with GGUF's definitions.
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,  // activation-only type (integer dot products against the K-quants)
  BF16 = 30,
  MXFP4 = 39,
};

struct TypeTraits {
  TensorType type;
  std::string_view name;  // as llama.cpp prints it: "f32", "q4_K", "mxfp4", ...
  int64_t block_elems;    // elements per block (1 for float types)
  int64_t block_bytes;    // bytes per block
};

// Traits of a type id read from a file; nullopt for ids strata does not support.
std::optional<TypeTraits> type_traits(uint32_t raw_type_id);
const TypeTraits& traits(TensorType type);
std::string_view type_name(TensorType type);
// Parses "q4_k", "Q4_K", "f16", ...; nullopt if unknown.
std::optional<TensorType> parse_type_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers that
// validate files: see is_row_size_valid).
int64_t row_bytes(TensorType type, int64_t n);
bool is_row_size_valid(TensorType type, int64_t n);

}  // namespace strata
