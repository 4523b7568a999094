#include "kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/error.h"
#include "kernels/kernel_table.h"
#include "kernels/quant.h"

namespace strata {
namespace {

// Rows per task: enough work to amortize the atomic task claim, small enough to balance threads.
int64_t rows_per_task(int64_t rows, int64_t n_tokens, int n_threads) {
  const int64_t target_tasks = static_cast<int64_t>(n_threads) * 4;
  int64_t chunk = (rows + target_tasks - 1) / target_tasks;
  // Batched work is heavier per row; prefer finer chunks there.
  const int64_t min_chunk = n_tokens > 1 ? 4 : 16;
  chunk = std::max(chunk, min_chunk);
  return std::min(chunk, std::max<int64_t>(rows, 1));
}

}  // namespace

WeightView make_weight_view(const void* data, TensorType type, int64_t rows, int64_t cols) {
  if (type == TensorType::Q8_K) fail("q8_K is an activation format; it is not supported for weight matrices");
  if (rows < 0 || !is_row_size_valid(type, cols)) {
    fail("weight matrix {}x{} is not valid for type {} (block size {})", rows, cols, type_name(type),
         traits(type).block_elems);
  }
  return WeightView{data, type, rows, cols, row_bytes(type, cols)};
}

void QuantizedActivations::quantize(TensorType weight, const float* x, int64_t n_tokens, int64_t cols,
                                    int64_t x_stride, ThreadPool& pool) {
  if (weight == TensorType::Q8_K) fail("q8_K is an activation format; it is not supported for weight matrices");
  const TensorType dt = strata::dot_type(weight);
  STRATA_CHECK(n_tokens >= 0 && is_row_size_valid(dt, cols));
  // Rows are padded to 64 bytes so each token's row starts on its own cache line.
  const int64_t rb = (strata::row_bytes(dt, cols) + 63) / 64 * 64;
  const size_t need = static_cast<size_t>(rb * std::max<int64_t>(n_tokens, 1));
  if (need > capacity_) {
    void* p = std::aligned_alloc(64, need);
    if (p == nullptr) throw std::bad_alloc();
    buffer_.reset(static_cast<uint8_t*>(p));
    capacity_ = need;
  }
  type_ = dt;
  n_tokens_ = n_tokens;
  cols_ = cols;
  row_bytes_ = rb;
  const KernelTable& k = kernels();
  uint8_t* base = buffer_.get();
  auto one = [&](int64_t t, int) { k.quantize_activations(weight, x + t * x_stride, base + t * rb, cols); };
  if (n_tokens * cols < 16384) {
    for (int64_t t = 0; t < n_tokens; ++t) one(t, 0);
  } else {
    pool.parallel_for(n_tokens, one);
  }
}

void matmul_quantized(const WeightView& w, const QuantizedActivations& qx, float* y, int64_t y_stride,
                      ThreadPool& pool) {
  STRATA_CHECK(qx.cols() == w.cols && qx.dot_type() == dot_type(w.type));
  const TypeKernels& tk = kernels().for_type(w.type);
  const int64_t n_tokens = qx.n_tokens();
  const int64_t chunk = rows_per_task(w.rows, n_tokens, pool.n_threads());
  const int64_t n_tasks = (w.rows + chunk - 1) / chunk;
  const int64_t xs = qx.row_bytes();
  pool.parallel_for(n_tasks, [&](int64_t task, int) {
    const int64_t r0 = task * chunk, r1 = std::min(w.rows, r0 + chunk);
    if (n_tokens == 1) {
      const uint8_t* x = qx.row(0);
      for (int64_t r = r0; r < r1; ++r) y[r] = tk.vec_dot(w.cols, w.row(r), x);
      return;
    }
    // Blocks of kRowBlock rows x kMaxDotTokens tokens: the token group's activation rows stay in
    // L1 across the row block, and the row block stays in L1/L2 across token groups.
    constexpr int64_t kRowBlock = 16;
    float out[kMaxDotTokens];
    for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
      const int64_t re = std::min(r1, rb + kRowBlock);
      for (int64_t t = 0; t < n_tokens; t += kMaxDotTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kMaxDotTokens, n_tokens - t));
        const uint8_t* xt = qx.row(t);
        for (int64_t r = rb; r < re; ++r) {
          tk.vec_dot_multi(w.cols, w.row(r), xt, xs, nt, out);
          for (int k = 0; k < nt; ++k) y[(t + k) * y_stride + r] = out[k];
        }
      }
    }
  });
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            QuantizedActivations& ws) {
  ws.quantize(w.type, x, n_tokens, w.cols, w.cols, pool);
  matmul_quantized(w, ws, y, w.rows, pool);
}

void dequantize_weight_row(const WeightView& w, int64_t r, float* dst) {
  if (r < 0 || r >= w.rows) fail("row {} is out of range for a matrix of {} rows", r, w.rows);
  dequantize_row(w.type, w.row(r), dst, w.cols);
}

}  // namespace strata
