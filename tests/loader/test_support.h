#pragma once
// Helpers shared by the loader tests: a little-endian byte builder for hand-made GGUF files, and
// a fresh temporary directory.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace strata::test {

// Appends values in little-endian order (the machines we run on are little-endian) and GGUF
// strings (u64 length + bytes).
struct ByteWriter {
  std::vector<uint8_t> b;
  template <typename T>
  ByteWriter& put(T v) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
    return *this;
  }
  ByteWriter& str(std::string_view s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

// A new, empty directory under the system temp dir; the caller removes it.
inline std::filesystem::path unique_temp_dir(const std::string& prefix) {
  std::random_device rd;
  std::filesystem::path p = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()));
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace strata::test
