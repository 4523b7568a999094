#pragma once
// Streaming GGUF v3 writer. Usage:
//   GgufWriter w;
//   w.add_metadata("general.architecture", MetaValue::str("qwen3moe"));   // any order, no dups
//   w.add_tensor("token_embd.weight", TensorType::Q8_0, {n_embd, n_vocab});
//   w.begin("out.gguf");               // writes header, metadata, tensor infos, padding
//   w.write_tensor_data("token_embd.weight", bytes, n);  // chunked appends allowed, file order
//   w.finish();                        // checks every tensor got exactly its bytes
// Only the header lives in memory, so a 30 GB model streams through with little RAM. The output
// is byte-exact GGUF (v3, little-endian): metadata in insertion order, tensor data at offsets
// aligned to `general.alignment` (default 32), zero padding, so other GGUF readers load it.
//
// Not thread-safe: one thread drives one writer. Every error throws strata::Error; I/O errors
// (ENOSPC, EIO, ...) name the output path. If a writer is destroyed before finish(), the partial
// file is left in place but closed.
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor_type.h"
#include "loader/metadata.h"

namespace strata {

class GgufWriter {
 public:
  GgufWriter() = default;
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Adds one key/value. Throws on a duplicate key, a value whose variant does not match its
  // type (or is out of its type's range), nested arrays whose elements disagree with array_type,
  // or a bad `general.alignment` (must be an unsigned integer, power of two). Only before begin().
  void add_metadata(std::string key, MetaValue value);
  // Adds every key of `meta` (sorted by key), same checks.
  void add_metadata(const Metadata& meta);

  // Declares a tensor; data is written later in declaration order. ne is in GGUF order
  // (ne[0] contiguous), 1..4 dims, each > 0, ne[0] a multiple of the type's block size.
  // Throws on a duplicate name or bad shape. Only before begin().
  void add_tensor(std::string name, TensorType type, std::span<const int64_t> ne);
  void add_tensor(std::string name, TensorType type, std::initializer_list<int64_t> ne) {
    add_tensor(std::move(name), type, std::span<const int64_t>(ne.begin(), ne.size()));
  }

  // Creates/truncates `path` and writes everything up to the data of the first tensor.
  void begin(const std::string& path);

  // Appends `n` bytes to tensor `name`'s data. Tensors are filled in declaration order: `name`
  // must be the tensor being filled, or the next one once the current one is complete. Throws if
  // the bytes would exceed the tensor's size or the order is violated.
  void write_tensor_data(std::string_view name, const void* bytes, uint64_t n);

  // Checks every tensor received exactly its bytes, flushes, optionally fsyncs, closes.
  void finish(bool sync = false);

  // Layout, known once tensors are declared (before or after begin()).
  uint64_t alignment() const { return alignment_; }
  // Size of header + metadata + tensor infos + padding, i.e. where the data section starts.
  uint64_t data_offset() const;
  // Bytes of one declared tensor's data; throws if unknown.
  uint64_t tensor_nbytes(std::string_view name) const;
  // Total file size once finished.
  uint64_t file_size() const;

 private:
  struct Kv {
    std::string key;
    MetaValue value;
  };
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    uint64_t rel_offset = 0;  // inside the data section
    uint64_t nbytes = 0;
  };

  void put(const void* p, uint64_t n);
  void put_zeros(uint64_t n);
  [[noreturn]] void fail_io(const char* what);

  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
  uint64_t data_bytes_ = 0;  // size of the data section (last tensor padded to alignment)

  std::string path_;
  std::FILE* out_ = nullptr;
  bool begun_ = false;
  bool finished_ = false;
  size_t cur_ = 0;            // tensor being filled
  uint64_t cur_written_ = 0;  // bytes of tensors_[cur_] written so far
};

}  // namespace strata
