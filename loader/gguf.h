#pragma once
// GGUF reader: parses and fully validates a GGUF v2/v3 file (little-endian) before anything above
// the loader sees it. After a successful open()/parse(), every tensor lies inside the file, is
// aligned, has a supported type and a consistent size, and no two tensors overlap; the metadata is
// decoded into a Metadata store.
//
// Format (ggml docs/gguf.md): magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, the
// key/value pairs, the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset
// relative to the data section), padding to `general.alignment` (default 32), the data section.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <map>
#include <vector>

#include "common/mapped_file.h"
#include "kernels/tensor_type.h"
#include "loader/metadata.h"

namespace strata {

inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr const char* kGgufAlignmentKey = "general.alignment";

struct GgufTensorInfo {
  std::string name;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // GGUF order: ne[0] is the contiguous dimension
  TensorType type = TensorType::F32;
  uint64_t offset = 0;  // absolute file offset of the data (data section start + relative offset)
  uint64_t nbytes = 0;

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// A parsed, fully validated GGUF file. Movable, not copyable. All const accessors are safe to
// call from several threads at once.
class GgufFile {
 public:
  // Maps `path` read-only and parses it. Throws strata::Error naming the path and the problem for
  // a missing/unreadable file or any malformed / unsupported content.
  static GgufFile open(const std::string& path);
  // Parses `size` bytes at `data` without copying them: the caller keeps them alive and unchanged
  // for as long as data() / tensor data is used. `name` prefixes error messages. Throws
  // strata::Error like open(). Never reads outside [data, data + size).
  static GgufFile parse(const uint8_t* data, uint64_t size, std::string name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Start of the data section: the end of the header rounded up to the alignment. A file without
  // tensors may end before it (vocab-only files often do).
  uint64_t data_offset() const { return data_offset_; }
  const std::string& name() const { return name_; }      // path, or the name given to parse()
  uint64_t size() const { return size_; }                // file size in bytes

  const Metadata& metadata() const { return meta_; }
  // Metadata keys in file order (Metadata itself is sorted), so a file can be rewritten exactly.
  const std::vector<std::string>& metadata_keys() const { return key_order_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }  // in file order
  const GgufTensorInfo* find(std::string_view name) const;  // nullptr if absent
  // Base of the file bytes (tensor data at data() + info.offset); nullptr for an empty input or
  // after release_mapping().
  const uint8_t* data() const { return data_; }

  // True if this object owns a mapping (made by open(), not yet released).
  bool has_mapping() const { return mapping_ != nullptr; }
  // Hands the file mapping over (e.g. to a Model), so tensor pointers stay valid for the new
  // owner's lifetime. Afterwards data() is nullptr; metadata and tensor infos stay usable.
  // Throws strata::Error if there is no mapping (parse() input, or already released).
  MappedFile release_mapping();

 private:
  GgufFile() = default;

  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t size_ = 0;
  const uint8_t* data_ = nullptr;
  Metadata meta_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;
  std::unique_ptr<MappedFile> mapping_;
};

}  // namespace strata
