#include "engine/kv_cache.h"

#include <limits>
#include <new>

#include "common/error.h"
#include "kernels/quant.h"

namespace strata {

KvCache::KvCache(int n_layer, int n_seq, int n_ctx, int k_width, int v_width, TensorType type)
    : n_layer_(n_layer),
      n_seq_(n_seq),
      n_ctx_(n_ctx),
      k_width_(k_width),
      v_width_(v_width),
      type_(type),
      lengths_(static_cast<size_t>(n_seq > 0 ? n_seq : 0), 0) {
  if (type != TensorType::F32 && type != TensorType::F16) {
    fail("KV cache type must be f32 or f16, not {}", type_name(type));
  }
  if (n_layer <= 0 || n_seq <= 0 || n_ctx <= 0 || k_width <= 0 || v_width <= 0) {
    fail("KV cache: invalid size (layers {}, sequences {}, context {})", n_layer, n_seq, n_ctx);
  }
  elem_bytes_ = type == TensorType::F32 ? 4 : 2;
  const unsigned __int128 rows = static_cast<unsigned __int128>(n_layer) * n_seq * n_ctx;
  const unsigned __int128 bytes = rows * static_cast<unsigned>(k_width + v_width) * elem_bytes_;
  if (bytes > std::numeric_limits<size_t>::max() / 2) {
    fail("KV cache of {} sequences x {} positions is too large", n_seq, n_ctx);
  }
  // Deliberately not value-initialised: untouched pages of a large cache stay unallocated.
  const size_t r = static_cast<size_t>(rows);
  try {
    k_.reset(new uint8_t[r * static_cast<size_t>(k_width) * elem_bytes_]);
    v_.reset(new uint8_t[r * static_cast<size_t>(v_width) * elem_bytes_]);
  } catch (const std::bad_alloc&) {
    fail("cannot allocate the KV cache ({} sequences x {} positions, {:.1f} MiB); use a smaller "
         "context or fewer sequences",
         n_seq, n_ctx, static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
}

size_t KvCache::row_index(int layer, int seq, int pos) const {
  return (static_cast<size_t>(layer) * static_cast<size_t>(n_seq_) + static_cast<size_t>(seq)) *
             static_cast<size_t>(n_ctx_) +
         static_cast<size_t>(pos);
}

void KvCache::store(int layer, int seq, int pos, const float* k, const float* v) {
  STRATA_CHECK(layer >= 0 && layer < n_layer_ && seq >= 0 && seq < n_seq_ && pos >= 0 && pos < n_ctx_);
  const size_t row = row_index(layer, seq, pos);
  if (type_ == TensorType::F32) {
    auto* kd = reinterpret_cast<float*>(k_.get()) + row * static_cast<size_t>(k_width_);
    auto* vd = reinterpret_cast<float*>(v_.get()) + row * static_cast<size_t>(v_width_);
    for (int i = 0; i < k_width_; ++i) kd[i] = k[i];
    for (int i = 0; i < v_width_; ++i) vd[i] = v[i];
  } else {
    auto* kd = reinterpret_cast<uint16_t*>(k_.get()) + row * static_cast<size_t>(k_width_);
    auto* vd = reinterpret_cast<uint16_t*>(v_.get()) + row * static_cast<size_t>(v_width_);
    for (int i = 0; i < k_width_; ++i) kd[i] = fp32_to_fp16(k[i]);
    for (int i = 0; i < v_width_; ++i) vd[i] = fp32_to_fp16(v[i]);
  }
}

const void* KvCache::k_row(int layer, int seq, int pos) const {
  return k_.get() + row_index(layer, seq, pos) * static_cast<size_t>(k_width_) * elem_bytes_;
}

const void* KvCache::v_row(int layer, int seq, int pos) const {
  return v_.get() + row_index(layer, seq, pos) * static_cast<size_t>(v_width_) * elem_bytes_;
}

}  // namespace strata
