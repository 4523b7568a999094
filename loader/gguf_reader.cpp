// GGUF parsing and validation. Every read is bounds-checked against the input size, every count
// is checked against the bytes left before anything is allocated, and all size arithmetic is
// overflow-checked, so a hostile file yields one strata::Error and never a crash or a huge
// allocation.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "loader/gguf.h"

namespace strata {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are hostile, not useful
constexpr uint64_t kMaxAlignment = uint64_t{1} << 31;

// ggml type names by id, for error messages about types strata does not support.
const char* ggml_type_name(uint32_t id) {
  static constexpr const char* kNames[] = {
      "f32",     "f16",     "q4_0",   "q4_1",    "(removed q4_2)", "(removed q4_3)", "q5_0",
      "q5_1",    "q8_0",    "q8_1",   "q2_K",    "q3_K",           "q4_K",           "q5_K",
      "q6_K",    "q8_K",    "iq2_xxs", "iq2_xs", "iq3_xxs",        "iq1_s",          "iq4_nl",
      "iq3_s",   "iq2_s",   "iq4_xs", "i8",      "i16",            "i32",            "i64",
      "f64",     "iq1_m",   "bf16",   "(removed q4_0_4_4)", "(removed q4_0_4_8)",
      "(removed q4_0_8_8)", "tq1_0",  "tq2_0",   "(removed iq4_nl_4_4)", "(removed iq4_nl_4_8)",
      "(removed iq4_nl_8_8)", "mxfp4"};
  return id < std::size(kNames) ? kNames[id] : "unknown";
}

// Smallest encoding of one value of a metadata type: bounds how many elements an array can
// claim given the bytes left. 0 for an invalid type id.
uint64_t min_value_size(uint32_t type) {
  switch (static_cast<MetaType>(type)) {
    case MetaType::U8:
    case MetaType::I8:
    case MetaType::Bool: return 1;
    case MetaType::U16:
    case MetaType::I16: return 2;
    case MetaType::U32:
    case MetaType::I32:
    case MetaType::F32: return 4;
    case MetaType::U64:
    case MetaType::I64:
    case MetaType::F64:
    case MetaType::String: return 8;   // the length prefix
    case MetaType::Array: return 12;   // element type + count
  }
  return 0;
}

// What is being read, for error messages; formatted only when a read fails, since the vocabulary
// arrays make this the hot path.
struct What {
  // Implicit on purpose, so plain labels read naturally at call sites.
  What(const char* k) : kind(k) {}                 // NOLINT(google-explicit-constructor)
  What(const std::string& k) : kind(k) {}          // NOLINT(google-explicit-constructor)
  What(std::string_view k, std::string_view key_) : kind(k), key(key_) {}
  std::string str() const { return key.empty() ? std::string(kind) : fmt::format("{} '{}'", kind, key); }
  std::string_view kind;
  std::string_view key;
};

// Sequential bounds-checked reader over the input.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  // Makes sure `n` more bytes exist.
  void need(uint64_t n, const What& what) const {
    if (n > left()) {
      fail("{}: truncated file: {} needs {} bytes at offset {}, only {} left (file size {})", name_,
           what.str(), n, pos_, left(), size_);
    }
  }

  template <typename T>
  T read(const What& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const What& what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > left()) {
      fail("{}: {} has length {} but only {} bytes are left in the file (offset {})", name_,
           what.str(), len, left(), pos_);
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
};

struct Parser {
  Cursor& in;
  const std::string& name;

  // Reads one value of `type` for key `key`. `depth` counts enclosing arrays.
  MetaValue value(uint32_t type, const std::string& key, int depth) {
    const What what("metadata", key);
    MetaValue v;
    v.type = static_cast<MetaType>(type);
    switch (v.type) {
      case MetaType::U8: v.value = uint64_t{in.read<uint8_t>(what)}; break;
      case MetaType::I8: v.value = int64_t{in.read<int8_t>(what)}; break;
      case MetaType::U16: v.value = uint64_t{in.read<uint16_t>(what)}; break;
      case MetaType::I16: v.value = int64_t{in.read<int16_t>(what)}; break;
      case MetaType::U32: v.value = uint64_t{in.read<uint32_t>(what)}; break;
      case MetaType::I32: v.value = int64_t{in.read<int32_t>(what)}; break;
      case MetaType::U64: v.value = in.read<uint64_t>(what); break;
      case MetaType::I64: v.value = in.read<int64_t>(what); break;
      case MetaType::F32: v.value = double{in.read<float>(what)}; break;
      case MetaType::F64: v.value = in.read<double>(what); break;
      case MetaType::Bool: {
        const uint8_t b = in.read<uint8_t>(what);
        if (b > 1) fail("{}: metadata '{}': bool value {} is neither 0 nor 1", name, key, b);
        v.value = b == 1;
        break;
      }
      case MetaType::String: v.value = in.read_string(what); break;
      case MetaType::Array: v = array(key, depth); break;
      default: fail("{}: metadata '{}' has unknown value type {}", name, key, type);
    }
    return v;
  }

  MetaValue array(const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth)
      fail("{}: metadata '{}': arrays nested deeper than {} levels", name, key, kMaxArrayDepth);
    const What what("metadata", key);
    const uint32_t elem = in.read<uint32_t>(what);
    const uint64_t min_size = min_value_size(elem);
    if (min_size == 0) fail("{}: metadata '{}' is an array of unknown value type {}", name, key, elem);
    const uint64_t count = in.read<uint64_t>(what);
    if (count > in.left() / min_size) {
      fail("{}: metadata '{}': array of {} elements cannot fit in the {} bytes left in the file",
           name, key, count, in.left());
    }
    MetaArray items;
    items.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) items.push_back(value(elem, key, depth + 1));
    return MetaValue::array(static_cast<MetaType>(elem), std::move(items));
  }
};

uint64_t alignment_from(const Metadata& meta, const std::string& name) {
  const MetaValue* v = meta.find(kGgufAlignmentKey);
  if (v == nullptr) return kGgufDefaultAlignment;
  const uint64_t* a = std::get_if<uint64_t>(&v->value);
  if (v->type == MetaType::Array || a == nullptr)
    fail("{}: {} must be an unsigned integer", name, kGgufAlignmentKey);
  if (*a == 0 || (*a & (*a - 1)) != 0 || *a > kMaxAlignment)
    fail("{}: {} = {} is not a power of two between 1 and 2^31", name, kGgufAlignmentKey, *a);
  return *a;
}

// a * b into *out, false on overflow of int64.
bool mul_ok(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

GgufTensorInfo read_tensor_info(Cursor& in, const std::string& name, uint64_t index) {
  GgufTensorInfo t;
  t.name = in.read_string(fmt::format("tensor #{} name", index));
  if (t.name.empty()) fail("{}: tensor #{} has an empty name", name, index);
  const What what("tensor", t.name);
  const uint32_t n_dims = in.read<uint32_t>(what);
  if (n_dims < 1 || n_dims > 4)
    fail("{}: tensor '{}' has {} dimensions (must be 1..4)", name, t.name, n_dims);
  t.n_dims = static_cast<int>(n_dims);
  int64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t ne = in.read<uint64_t>(what);
    if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("{}: tensor '{}' has invalid size {} in dimension {}", name, t.name, ne, d);
    t.ne[d] = static_cast<int64_t>(ne);
    if (!mul_ok(elements, t.ne[d], &elements))
      fail("{}: tensor '{}': element count overflows", name, t.name);
  }
  const uint32_t type_id = in.read<uint32_t>(what);
  const std::optional<TypeTraits> tr = type_traits(type_id);
  if (!tr) {
    fail("{}: tensor '{}' has type id {} ({}), which strata does not support", name, t.name,
         type_id, ggml_type_name(type_id));
  }
  t.type = tr->type;
  if (!is_row_size_valid(t.type, t.ne[0])) {
    fail("{}: tensor '{}': row of {} elements is not a multiple of the {} block size {}", name,
         t.name, t.ne[0], tr->name, tr->block_elems);
  }
  int64_t nbytes = row_bytes(t.type, t.ne[0]);
  for (int d = 1; d < 4; ++d) {
    if (!mul_ok(nbytes, t.ne[d], &nbytes))
      fail("{}: tensor '{}': byte size overflows", name, t.name);
  }
  t.nbytes = static_cast<uint64_t>(nbytes);
  t.offset = in.read<uint64_t>(what);  // relative for now; made absolute once the header ends
  return t;
}

}  // namespace

GgufFile GgufFile::parse(const uint8_t* data, uint64_t size, std::string name) {
  GgufFile f;
  f.name_ = std::move(name);
  f.size_ = size;
  f.data_ = data;
  const std::string& nm = f.name_;
  Cursor in(data, size, nm);

  if (size < 4) fail("{}: not a GGUF file ({} bytes, too small)", nm, size);
  const uint32_t magic = in.read<uint32_t>("magic");
  if (magic != kMagic) fail("{}: not a GGUF file (bad magic 0x{:08x})", nm, magic);
  f.version_ = in.read<uint32_t>("version");
  if (f.version_ == 1)
    fail("{}: GGUF version 1 is not supported (only 2 and 3); re-convert the model", nm);
  if (f.version_ != 2 && f.version_ != 3) {
    if ((f.version_ & 0xffffu) == 0)
      fail("{}: big-endian GGUF files are not supported", nm);
    fail("{}: unsupported GGUF version {} (only 2 and 3)", nm, f.version_);
  }
  const uint64_t tensor_count = in.read<uint64_t>("tensor count");
  const uint64_t kv_count = in.read<uint64_t>("metadata count");

  // A key/value pair takes at least 8 (key length) + 4 (type) + 1 (smallest value) bytes.
  if (kv_count > in.left() / 13)
    fail("{}: metadata count {} cannot fit in the {} bytes left in the file", nm, kv_count, in.left());
  Parser p{in, nm};
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string(fmt::format("metadata key #{}", i));
    if (f.meta_.has(key)) fail("{}: duplicate metadata key '{}'", nm, key);
    const uint32_t type = in.read<uint32_t>(What("metadata", key));
    MetaValue v = p.value(type, key, 0);
    f.key_order_.push_back(key);
    f.meta_.set(std::move(key), std::move(v));
  }
  f.alignment_ = alignment_from(f.meta_, nm);

  // A tensor info takes at least 8 (name length) + 1 (name) + 4 (n_dims) + 8 (ne) + 4 + 8 bytes.
  if (tensor_count > in.left() / 33)
    fail("{}: tensor count {} cannot fit in the {} bytes left in the file", nm, tensor_count, in.left());
  f.tensors_.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t = read_tensor_info(in, nm, i);
    if (!f.by_name_.emplace(t.name, f.tensors_.size()).second)
      fail("{}: duplicate tensor name '{}'", nm, t.name);
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t pos = in.pos();
  if (__builtin_add_overflow(pos, (f.alignment_ - pos % f.alignment_) % f.alignment_,
                             &f.data_offset_)) {
    fail("{}: data section offset overflows", nm);
  }
  if (!f.tensors_.empty() && f.data_offset_ > size) {
    fail("{}: data section would start at offset {}, past the end of the file (size {})", nm,
         f.data_offset_, size);
  }

  for (GgufTensorInfo& t : f.tensors_) {
    const uint64_t rel = t.offset;
    if (rel % f.alignment_ != 0) {
      fail("{}: tensor '{}' data offset {} is not a multiple of the alignment {}", nm, t.name, rel,
           f.alignment_);
    }
    uint64_t start = 0;
    uint64_t end = 0;
    if (__builtin_add_overflow(f.data_offset_, rel, &start) ||
        __builtin_add_overflow(start, t.nbytes, &end)) {
      fail("{}: tensor '{}' data offset {} + size {} overflows (file size {})", nm, t.name, rel,
           t.nbytes, size);
    }
    if (end > size) {
      fail("{}: tensor '{}' data [{}, {}) ends past end of file (size {})", nm, t.name, start, end,
           size);
    }
    t.offset = f.data_offset_ + rel;
  }

  std::vector<size_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const GgufTensorInfo& a = f.tensors_[order[i - 1]];
    const GgufTensorInfo& b = f.tensors_[order[i]];
    if (a.offset + a.nbytes > b.offset) {
      fail("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", nm, a.name, a.offset,
           a.offset + a.nbytes, b.name, b.offset, b.offset + b.nbytes);
    }
  }
  return f;
}

GgufFile GgufFile::open(const std::string& path) {
  auto mapping = std::make_unique<MappedFile>(path);
  GgufFile f = parse(mapping->data(), mapping->size(), path);
  f.mapping_ = std::move(mapping);
  return f;
}

const GgufTensorInfo* GgufFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

MappedFile GgufFile::release_mapping() {
  if (!mapping_) fail("{}: no file mapping to release", name_);
  MappedFile m = std::move(*mapping_);
  mapping_.reset();
  data_ = nullptr;
  return m;
}

}  // namespace strata
