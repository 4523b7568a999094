#pragma once
// Small generated "model files" for expert-store tests: random bytes in a temp file and an
// expert layout over them with deliberately unaligned offsets (32-byte aligned, like GGUF).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "storage/expert_layout.h"
#include "storage/expert_source.h"

namespace strata::test {

class TempModelFile {
 public:
  TempModelFile(uint64_t bytes, uint32_t seed) {
    char tmpl[] = "/tmp/strata_storage_XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = tmpl;
    std::mt19937 rng(seed);
    std::vector<char> data(bytes);
    for (auto& c : data) c = static_cast<char>(rng());
    std::ofstream(path_, std::ios::binary).write(data.data(), static_cast<std::streamsize>(bytes));
    file_ = std::make_unique<MappedFile>(path_);
  }
  ~TempModelFile() {
    file_.reset();
    std::filesystem::remove(path_);
  }
  const MappedFile& file() const { return *file_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
};

// `n_layer` layers x `n_expert` experts, each part `part_bytes` (+ a little per expert so sizes
// differ), laid out one after another from an unaligned start, 32-byte aligned like GGUF. Layers
// in `skip` have no experts (dense layers).
struct GeneratedModel {
  std::unique_ptr<TempModelFile> file;
  std::unique_ptr<ExpertLayout> layout;
};

inline GeneratedModel make_generated_model(int n_layer, int n_expert, int top_k,
                                           uint64_t part_bytes, uint32_t seed = 1,
                                           std::vector<int> skip = {}) {
  uint64_t offset = 96;
  struct Item { int l, e; ExpertLocation loc; };
  std::vector<Item> items;
  for (int l = 0; l < n_layer; ++l) {
    if (std::find(skip.begin(), skip.end(), l) != skip.end()) continue;
    for (int e = 0; e < n_expert; ++e) {
      ExpertLocation loc;
      for (int p = 0; p < 3; ++p) {
        const uint64_t n = part_bytes + 32 * static_cast<uint64_t>((e + p) % 3);
        loc.parts[static_cast<size_t>(p)] = {0, offset, n, TensorType::Q8_0, 1, 1};
        offset += (n + 31) / 32 * 32 + 32;
      }
      items.push_back({l, e, loc});
    }
  }
  GeneratedModel m;
  // Leave the file end unaligned so the last expert's aligned superset runs past EOF.
  m.file = std::make_unique<TempModelFile>(offset + 8, seed);
  std::vector<ExpertFile> files{{m.file->path(), m.file->file().fd(), m.file->file().data(),
                                 m.file->file().size()}};
  m.layout = std::make_unique<ExpertLayout>(std::move(files), n_layer, n_expert, top_k);
  for (const Item& it : items) m.layout->set(it.l, it.e, it.loc);
  return m;
}

// True if every matrix of `w` holds exactly the file's bytes for (layer, w.expert).
inline bool weights_match(const ExpertLayout& layout, int layer, const ExpertWeights& w) {
  const ExpertLocation& loc = layout.at(layer, w.expert);
  const ExpertMatrix* m[3] = {&w.gate, &w.up, &w.down};
  for (size_t p = 0; p < 3; ++p) {
    if (m[p]->data == nullptr) return false;
    if (std::memcmp(m[p]->data, layout.mapped(loc.parts[p]), loc.parts[p].nbytes) != 0) return false;
  }
  return true;
}

}  // namespace strata::test
