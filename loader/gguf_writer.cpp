#include "loader/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "loader/gguf.h"

namespace strata {

namespace {

constexpr uint32_t kVersion = 3;
constexpr int kMaxArrayDepth = 8;  // the reader's limit: deeper files would not load back

uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

bool is_known_meta_type(MetaType t) { return static_cast<uint32_t>(t) <= 12; }

// Checks that `v` is encodable as GGUF: the variant holds what its type needs and in range.
void check_value(const std::string& key, const MetaValue& v, int depth) {
  auto bad = [&](const char* why) { fail("gguf writer: metadata '{}': {}", key, why); };
  auto urange = [&](uint64_t max) {
    const uint64_t* u = std::get_if<uint64_t>(&v.value);
    if (u == nullptr) bad("unsigned type needs an unsigned value");
    if (*u > max) bad("value out of range for its type");
  };
  auto irange = [&](int64_t min, int64_t max) {
    const int64_t* i = std::get_if<int64_t>(&v.value);
    if (i == nullptr) bad("signed type needs a signed value");
    if (*i < min || *i > max) bad("value out of range for its type");
  };
  switch (v.type) {
    case MetaType::U8: urange(0xff); break;
    case MetaType::U16: urange(0xffff); break;
    case MetaType::U32: urange(0xffffffffu); break;
    case MetaType::U64: urange(std::numeric_limits<uint64_t>::max()); break;
    case MetaType::I8: irange(-128, 127); break;
    case MetaType::I16: irange(-32768, 32767); break;
    case MetaType::I32:
      irange(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      break;
    case MetaType::I64:
      irange(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      break;
    case MetaType::F32:
    case MetaType::F64:
      if (!std::holds_alternative<double>(v.value)) bad("float type needs a double value");
      break;
    case MetaType::Bool:
      if (!std::holds_alternative<bool>(v.value)) bad("bool type needs a bool value");
      break;
    case MetaType::String:
      if (!std::holds_alternative<std::string>(v.value)) bad("string type needs a string value");
      break;
    case MetaType::Array: {
      const MetaArray* a = std::get_if<MetaArray>(&v.value);
      if (a == nullptr) bad("array type needs an array value");
      if (!is_known_meta_type(v.array_type)) bad("unknown array element type");
      if (depth >= kMaxArrayDepth) bad("arrays nested too deeply");
      for (const MetaValue& e : *a) {
        if (e.type != v.array_type) bad("array element type differs from the array's type");
        check_value(key, e, depth + 1);
      }
      break;
    }
    default: bad("unknown value type");
  }
}

// Little-endian serialisation into a growing buffer (x86-64 and aarch64 are little-endian; the
// engine targets no other).
class Buffer {
 public:
  template <typename T>
  void put(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void put_value(const MetaValue& v) {
    switch (v.type) {
      case MetaType::U8: put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.value))); break;
      case MetaType::U16: put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.value))); break;
      case MetaType::U32: put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.value))); break;
      case MetaType::U64: put<uint64_t>(std::get<uint64_t>(v.value)); break;
      case MetaType::I8: put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.value))); break;
      case MetaType::I16: put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.value))); break;
      case MetaType::I32: put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.value))); break;
      case MetaType::I64: put<int64_t>(std::get<int64_t>(v.value)); break;
      case MetaType::F32: put<float>(static_cast<float>(std::get<double>(v.value))); break;
      case MetaType::F64: put<double>(std::get<double>(v.value)); break;
      case MetaType::Bool: put<uint8_t>(std::get<bool>(v.value) ? 1 : 0); break;
      case MetaType::String: put_string(std::get<std::string>(v.value)); break;
      case MetaType::Array: {
        const MetaArray& a = std::get<MetaArray>(v.value);
        put<uint32_t>(static_cast<uint32_t>(v.array_type));
        put<uint64_t>(a.size());
        for (const MetaValue& e : a) put_value(e);
        break;
      }
    }
  }
  void pad_to(uint64_t alignment) { bytes_.resize(align_up(bytes_.size(), alignment), 0); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

GgufWriter::~GgufWriter() {
  if (out_ != nullptr) std::fclose(out_);
}

void GgufWriter::add_metadata(std::string key, MetaValue value) {
  if (begun_) fail("gguf writer: metadata '{}' added after begin()", key);
  for (const Kv& kv : kvs_) {
    if (kv.key == key) fail("gguf writer: duplicate metadata key '{}'", key);
  }
  check_value(key, value, 0);
  if (key == kGgufAlignmentKey) {
    const uint64_t* a = std::get_if<uint64_t>(&value.value);
    if (value.type == MetaType::Array || a == nullptr)
      fail("gguf writer: {} must be an unsigned integer", key);
    if (*a == 0 || (*a & (*a - 1)) != 0 || *a > (uint64_t{1} << 31))
      fail("gguf writer: {} = {} is not a power of two between 1 and 2^31", key, *a);
    alignment_ = *a;
    // Offsets depend on the alignment: lay the declared tensors out again.
    data_bytes_ = 0;
    for (Tensor& t : tensors_) {
      t.rel_offset = data_bytes_;
      data_bytes_ += align_up(t.nbytes, alignment_);
    }
  }
  kvs_.push_back({std::move(key), std::move(value)});
}

void GgufWriter::add_metadata(const Metadata& meta) {
  for (const auto& [key, value] : meta.all()) add_metadata(key, value);
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::span<const int64_t> ne) {
  if (begun_) fail("gguf writer: tensor '{}' added after begin()", name);
  if (name.empty()) fail("gguf writer: tensor with an empty name");
  for (const Tensor& t : tensors_) {
    if (t.name == name) fail("gguf writer: duplicate tensor name '{}'", name);
  }
  if (!type_traits(static_cast<uint32_t>(type)))
    fail("gguf writer: tensor '{}' has unknown type id {}", name, static_cast<uint32_t>(type));
  if (ne.empty() || ne.size() > 4)
    fail("gguf writer: tensor '{}' has {} dimensions (must be 1..4)", name, ne.size());
  int64_t elements = 1;
  for (int64_t n : ne) {
    if (n <= 0) fail("gguf writer: tensor '{}' has a dimension of size {}", name, n);
    if (__builtin_mul_overflow(elements, n, &elements))
      fail("gguf writer: tensor '{}': element count overflows", name);
  }
  if (!is_row_size_valid(type, ne[0])) {
    fail("gguf writer: tensor '{}': row of {} elements is not a multiple of the {} block size",
         name, ne[0], type_name(type));
  }
  int64_t nbytes = row_bytes(type, ne[0]);
  for (size_t d = 1; d < ne.size(); ++d) {
    if (__builtin_mul_overflow(nbytes, ne[d], &nbytes))
      fail("gguf writer: tensor '{}': byte size overflows", name);
  }
  Tensor t{std::move(name), type, std::vector<int64_t>(ne.begin(), ne.end()), data_bytes_,
           static_cast<uint64_t>(nbytes)};
  data_bytes_ += align_up(t.nbytes, alignment_);
  tensors_.push_back(std::move(t));
}

uint64_t GgufWriter::data_offset() const {
  // Size of the serialised header, computed without keeping a copy around.
  uint64_t n = 4 + 4 + 8 + 8;
  Buffer b;
  for (const Kv& kv : kvs_) {
    b.put_string(kv.key);
    b.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    b.put_value(kv.value);
  }
  n += b.bytes().size();
  for (const Tensor& t : tensors_) n += 8 + t.name.size() + 4 + 8 * t.ne.size() + 4 + 8;
  return align_up(n, alignment_);
}

uint64_t GgufWriter::tensor_nbytes(std::string_view name) const {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return t.nbytes;
  }
  fail("gguf writer: unknown tensor '{}'", name);
}

uint64_t GgufWriter::file_size() const { return data_offset() + data_bytes_; }

void GgufWriter::begin(const std::string& path) {
  if (begun_) fail("gguf writer: begin() called twice ({})", path);
  path_ = path;
  Buffer b;
  b.put<uint32_t>(0x46554747);  // "GGUF"
  b.put<uint32_t>(kVersion);
  b.put<uint64_t>(tensors_.size());
  b.put<uint64_t>(kvs_.size());
  for (const Kv& kv : kvs_) {
    b.put_string(kv.key);
    b.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
    b.put_value(kv.value);
  }
  for (const Tensor& t : tensors_) {
    b.put_string(t.name);
    b.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) b.put<uint64_t>(static_cast<uint64_t>(n));
    b.put<uint32_t>(static_cast<uint32_t>(t.type));
    b.put<uint64_t>(t.rel_offset);
  }
  b.pad_to(alignment_);

  out_ = std::fopen(path.c_str(), "wb");
  if (out_ == nullptr) fail("{}: cannot create file: {}", path, std::strerror(errno));
  // Callers may append tensor data in small pieces; a large buffer keeps that cheap.
  std::setvbuf(out_, nullptr, _IOFBF, size_t{1} << 20);
  begun_ = true;
  put(b.bytes().data(), b.bytes().size());
  // Zero-size tensors cannot exist (every dimension is > 0), so there is nothing to skip here.
}

void GgufWriter::write_tensor_data(std::string_view name, const void* bytes, uint64_t n) {
  if (!begun_ || finished_)
    fail("gguf writer: data for tensor '{}' written {}", name, begun_ ? "after finish()" : "before begin()");
  if (cur_ >= tensors_.size())
    fail("{}: data for tensor '{}' written after every tensor is complete", path_, name);
  Tensor& t = tensors_[cur_];
  if (t.name != name) {
    fail("{}: data for tensor '{}' written while tensor '{}' is being filled (tensors must be "
         "written in declaration order)", path_, name, t.name);
  }
  if (n > t.nbytes - cur_written_) {
    fail("{}: tensor '{}' would get {} bytes, more than its size {}", path_, name,
         cur_written_ + n, t.nbytes);
  }
  put(bytes, n);
  cur_written_ += n;
  if (cur_written_ == t.nbytes) {
    put_zeros(align_up(t.nbytes, alignment_) - t.nbytes);
    ++cur_;
    cur_written_ = 0;
  }
}

void GgufWriter::finish(bool sync) {
  if (!begun_ || finished_) fail("gguf writer: finish() {}", begun_ ? "called twice" : "before begin()");
  if (cur_ < tensors_.size()) {
    fail("{}: tensor '{}' got only {} of its {} bytes", path_, tensors_[cur_].name, cur_written_,
         tensors_[cur_].nbytes);
  }
  if (std::fflush(out_) != 0) fail_io("flush failed");
  if (sync && ::fsync(fileno(out_)) != 0) fail_io("fsync failed");
  std::FILE* f = out_;
  out_ = nullptr;
  finished_ = true;
  if (std::fclose(f) != 0) fail_io("close failed");
}

void GgufWriter::put(const void* p, uint64_t n) {
  if (n != 0 && std::fwrite(p, 1, n, out_) != n) fail_io("write failed");
}

void GgufWriter::put_zeros(uint64_t n) {
  static constexpr uint8_t kZeros[256] = {};
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, sizeof(kZeros));
    put(kZeros, k);
    n -= k;
  }
}

void GgufWriter::fail_io(const char* what) {
  const int err = errno;
  fail("{}: {}: {}", path_, what, std::strerror(err));
}

}  // namespace strata
