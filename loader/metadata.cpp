#include "loader/metadata.h"

#include <limits>

#include "common/error.h"

namespace strata {

namespace {

const char* meta_type_name(MetaType t) {
  switch (t) {
    case MetaType::U8: return "u8";
    case MetaType::I8: return "i8";
    case MetaType::U16: return "u16";
    case MetaType::I16: return "i16";
    case MetaType::U32: return "u32";
    case MetaType::I32: return "i32";
    case MetaType::F32: return "f32";
    case MetaType::Bool: return "bool";
    case MetaType::String: return "string";
    case MetaType::Array: return "array";
    case MetaType::U64: return "u64";
    case MetaType::I64: return "i64";
    case MetaType::F64: return "f64";
  }
  return "unknown";
}

bool is_unsigned(MetaType t) {
  return t == MetaType::U8 || t == MetaType::U16 || t == MetaType::U32 || t == MetaType::U64;
}
bool is_signed(MetaType t) {
  return t == MetaType::I8 || t == MetaType::I16 || t == MetaType::I32 || t == MetaType::I64;
}
bool is_float(MetaType t) { return t == MetaType::F32 || t == MetaType::F64; }

// Integer value of a scalar, or nullopt if it is not an integer type. `what` names the key for
// the error raised when an unsigned value does not fit in int64.
std::optional<int64_t> as_int(const MetaValue& v, std::string_view what) {
  if (is_unsigned(v.type)) {
    const uint64_t* u = std::get_if<uint64_t>(&v.value);
    if (u == nullptr) fail("metadata '{}': {} value has the wrong representation", what, meta_type_name(v.type));
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("metadata '{}': value {} does not fit in a signed 64-bit integer", what, *u);
    return static_cast<int64_t>(*u);
  }
  if (is_signed(v.type)) {
    const int64_t* i = std::get_if<int64_t>(&v.value);
    if (i == nullptr) fail("metadata '{}': {} value has the wrong representation", what, meta_type_name(v.type));
    return *i;
  }
  return std::nullopt;
}

std::optional<double> as_float(const MetaValue& v, std::string_view what) {
  if (is_float(v.type)) {
    const double* d = std::get_if<double>(&v.value);
    if (d == nullptr) fail("metadata '{}': {} value has the wrong representation", what, meta_type_name(v.type));
    return *d;
  }
  if (is_unsigned(v.type)) {
    const uint64_t* u = std::get_if<uint64_t>(&v.value);
    if (u == nullptr) fail("metadata '{}': {} value has the wrong representation", what, meta_type_name(v.type));
    return static_cast<double>(*u);
  }
  if (auto i = as_int(v, what)) return static_cast<double>(*i);
  return std::nullopt;
}

[[noreturn]] void wrong_type(std::string_view key, const MetaValue& v, const char* wanted) {
  if (v.type == MetaType::Array)
    fail("metadata '{}' is an array of {}, not {}", key, meta_type_name(v.array_type), wanted);
  fail("metadata '{}' is {}, not {}", key, meta_type_name(v.type), wanted);
}

const MetaArray& array_of(std::string_view key, const MetaValue& v, const char* wanted) {
  const MetaArray* a = v.type == MetaType::Array ? std::get_if<MetaArray>(&v.value) : nullptr;
  if (a == nullptr) wrong_type(key, v, wanted);
  return *a;
}

}  // namespace

const MetaValue* Metadata::find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

std::optional<int64_t> Metadata::get_int(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (auto i = as_int(*v, key)) return i;
  wrong_type(key, *v, "an integer");
}

std::optional<double> Metadata::get_float(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (auto d = as_float(*v, key)) return d;
  wrong_type(key, *v, "a number");
}

std::optional<bool> Metadata::get_bool(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  const bool* b = v->type == MetaType::Bool ? std::get_if<bool>(&v->value) : nullptr;
  if (b == nullptr) wrong_type(key, *v, "a bool");
  return *b;
}

std::optional<std::string> Metadata::get_string(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  const std::string* s = v->type == MetaType::String ? std::get_if<std::string>(&v->value) : nullptr;
  if (s == nullptr) wrong_type(key, *v, "a string");
  return *s;
}

std::optional<std::vector<std::string>> Metadata::get_string_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  const MetaArray& a = array_of(key, *v, "an array of strings");
  std::vector<std::string> out;
  out.reserve(a.size());
  for (const MetaValue& e : a) {
    const std::string* s = e.type == MetaType::String ? std::get_if<std::string>(&e.value) : nullptr;
    if (s == nullptr) wrong_type(key, *v, "an array of strings");
    out.push_back(*s);
  }
  return out;
}

std::optional<std::vector<double>> Metadata::get_float_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  const MetaArray& a = array_of(key, *v, "an array of numbers");
  std::vector<double> out;
  out.reserve(a.size());
  for (const MetaValue& e : a) {
    std::optional<double> d = as_float(e, key);
    if (!d) wrong_type(key, *v, "an array of numbers");
    out.push_back(*d);
  }
  return out;
}

std::optional<std::vector<int64_t>> Metadata::get_int_array(std::string_view key) const {
  const MetaValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  const MetaArray& a = array_of(key, *v, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(a.size());
  for (const MetaValue& e : a) {
    std::optional<int64_t> i = as_int(e, key);
    if (!i) wrong_type(key, *v, "an array of integers");
    out.push_back(*i);
  }
  return out;
}

}  // namespace strata
