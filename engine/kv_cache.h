#pragma once
// Per-sequence key/value cache: for each layer and sequence slot, n_ctx rows of keys and values
// (all KV heads of one position in one row), stored as F32 or F16.
//
// Memory is reserved up front but pages are only touched as positions are written, so a large
// n_ctx × n_seq costs address space, not RAM, until used.
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/tensor_type.h"

namespace strata {

class KvCache {
 public:
  // Throws strata::Error for a type other than F32/F16, non-positive sizes, or a cache whose
  // byte size overflows or cannot be allocated.
  KvCache(int n_layer, int n_seq, int n_ctx, int k_width, int v_width, TensorType type);

  int n_seq() const { return n_seq_; }
  int n_ctx() const { return n_ctx_; }
  TensorType type() const { return type_; }
  int k_width() const { return k_width_; }
  int v_width() const { return v_width_; }

  // Number of positions of `seq` holding valid entries.
  int length(int seq) const { return lengths_[static_cast<size_t>(seq)]; }
  void set_length(int seq, int n) { lengths_[static_cast<size_t>(seq)] = n; }

  // Stores one position's keys / values (k_width / v_width floats), converting to the cache type.
  // Different (seq, pos) pairs may be written from different threads at once.
  void store(int layer, int seq, int pos, const float* k, const float* v);

  // Raw row pointers (F32: float*, F16: uint16_t*). Rows of consecutive positions are adjacent:
  // the stride is k_width / v_width elements.
  const void* k_row(int layer, int seq, int pos) const;
  const void* v_row(int layer, int seq, int pos) const;

 private:
  size_t row_index(int layer, int seq, int pos) const;

  int n_layer_, n_seq_, n_ctx_, k_width_, v_width_;
  TensorType type_;
  size_t elem_bytes_;
  std::unique_ptr<uint8_t[]> k_;
  std::unique_ptr<uint8_t[]> v_;
  std::vector<int> lengths_;
};

}  // namespace strata
