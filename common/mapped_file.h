#pragma once
// A read-only memory mapping of a whole file. The mapping stays valid for the object's lifetime;
// moving transfers ownership. Thread-safe for concurrent reads.
#include <cstddef>
#include <cstdint>
#include <string>

namespace strata {

class MappedFile {
 public:
  // Maps `path` read-only. Throws strata::Error naming the path if it cannot be opened or mapped.
  // An empty file maps to data() == nullptr, size() == 0.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The open descriptor (O_RDONLY), kept for madvise/fadvise/pread users; owned by this object.
  int fd() const { return fd_; }

 private:
  void release() noexcept;
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace strata
