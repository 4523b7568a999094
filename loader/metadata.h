#pragma once
// Typed key/value metadata, GGUF's model (every GGUF value type, nested arrays included).
// Large arrays (a 150k-token vocabulary) are stored decoded once, owned by the store.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace strata {

// GGUF value type ids (gguf_type).
enum class MetaType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
  Array = 9, U64 = 10, I64 = 11, F64 = 12,
};

struct MetaValue;
using MetaArray = std::vector<MetaValue>;

// One value. Scalars keep their GGUF type so a writer can round-trip them exactly.
struct MetaValue {
  MetaType type = MetaType::U32;
  std::variant<uint64_t, int64_t, double, bool, std::string, MetaArray> value;
  MetaType array_type = MetaType::U8;  // element type when type == Array

  static MetaValue u32(uint32_t v) { return {MetaType::U32, uint64_t{v}}; }
  static MetaValue i32(int32_t v) { return {MetaType::I32, int64_t{v}}; }
  static MetaValue u64(uint64_t v) { return {MetaType::U64, v}; }
  static MetaValue f32(float v) { return {MetaType::F32, double{v}}; }
  static MetaValue boolean(bool v) { return {MetaType::Bool, v}; }
  static MetaValue str(std::string v) { return {MetaType::String, std::move(v)}; }
  static MetaValue array(MetaType elem, MetaArray items) {
    MetaValue m{MetaType::Array, std::move(items)};
    m.array_type = elem;
    return m;
  }
};

class Metadata {
 public:
  void set(std::string key, MetaValue value) { kv_[std::move(key)] = std::move(value); }
  const MetaValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: nullopt if absent; throw strata::Error naming the key if present with a type
  // that cannot represent the request (e.g. a string asked as an integer, a negative as unsigned).
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<double>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::map<std::string, MetaValue, std::less<>>& all() const { return kv_; }

 private:
  std::map<std::string, MetaValue, std::less<>> kv_;
};

}  // namespace strata
