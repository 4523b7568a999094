#pragma once
// safetensors reader and streaming writer (the Hugging Face checkpoint format).
//
// Layout: u64 little-endian header length N, N bytes of JSON header, then the data section. The
// header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section); an optional "__metadata__" maps strings to strings. Shapes are
// row-major with the outermost dimension first (the reverse of GGUF's ne order).
//
// The reader validates everything before returning: header length within the file, well-formed
// JSON, supported dtype (F32, F16, BF16), shape * dtype size == end - begin, every range inside
// the data section and no two ranges overlapping.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mapped_file.h"
#include "kernels/tensor_type.h"

namespace strata {

struct SafetensorsTensor {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;  // row-major, outermost first
  uint64_t offset = 0;         // absolute offset in the file
  uint64_t nbytes = 0;
};

// A parsed, validated safetensors file. Movable; const accessors are thread-safe.
class SafetensorsFile {
 public:
  // Maps and parses `path`. Throws strata::Error naming the path and the problem.
  static SafetensorsFile open(const std::string& path);
  // Parses `size` bytes at `data` (kept alive by the caller); `name` prefixes errors. Never reads
  // outside [data, data + size).
  static SafetensorsFile parse(const uint8_t* data, uint64_t size, std::string name);

  const std::string& name() const { return name_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // by offset
  const std::map<std::string, std::string>& user_metadata() const { return user_meta_; }
  // Hands the mapping made by open() to the caller (throws strata::Error if there is none).
  MappedFile release_mapping();

 private:
  SafetensorsFile() = default;
  std::string name_;
  uint64_t data_offset_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> user_meta_;
  std::unique_ptr<MappedFile> mapping_;
};

// "F32" / "F16" / "BF16" for the float types; throws strata::Error for any other type.
const char* safetensors_dtype_name(TensorType type);

// Reads a sharded checkpoint's index (model.safetensors.index.json) and returns the shard file
// names (relative to the index's directory) in first-use order, plus the tensor -> shard map.
// Throws strata::Error for malformed JSON, a missing weight_map, or a shard name that is not a
// plain file name (no directories, no "..").
struct SafetensorsIndex {
  std::vector<std::string> shards;
  std::map<std::string, std::string> weight_map;
};
SafetensorsIndex read_safetensors_index(const std::string& path);

// Streaming writer: declare every tensor, begin(), then write each tensor's bytes in declaration
// order. Only the header is kept in memory. Not thread-safe. Errors throw strata::Error naming
// the output path.
class SafetensorsWriter {
 public:
  SafetensorsWriter() = default;
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // `shape` is row-major (outermost first); type must be F32, F16 or BF16.
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> shape);
  void set_metadata(std::string key, std::string value);
  void begin(const std::string& path);
  // Appends bytes to the tensor being filled (declaration order; chunks allowed).
  void write_tensor_data(std::string_view name, const void* bytes, uint64_t n);
  void finish();
  uint64_t file_size() const;

 private:
  struct Entry {
    std::string name;
    TensorType type;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> user_meta_;
  std::string header_;
  std::string path_;
  std::FILE* out_ = nullptr;
  size_t cur_ = 0;
  uint64_t cur_written_ = 0;
  uint64_t data_bytes_ = 0;
  bool begun_ = false;
};

}  // namespace strata
