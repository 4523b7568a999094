#pragma once
// Matrix products of a weight matrix with a batch of activation rows:
//   y[t][r] = sum_c W[r][c] * x[t][c]   for t < n_tokens, r < rows.
// x is first converted to the weight's dot type (quant.h), once, then the rows of W are split
// over the thread pool. With several tokens each decoded weight row is reused for up to
// kMaxDotTokens tokens at a time, so prefill is bound by compute rather than memory bandwidth.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "kernels/tensor_type.h"
#include "kernels/thread_pool.h"

namespace strata {

// A 2-D weight matrix in memory (typically mmapped): rows of `cols` elements of `type`, each row
// starting row_stride bytes after the previous one (row_stride >= row_bytes(type, cols)).
struct WeightView {
  const void* data = nullptr;
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride = 0;

  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_stride; }
};
// A contiguous view; throws strata::Error if cols is not a multiple of the type's block size, rows
// is negative, or the type is Q8_K (an activation-only format that a hostile file could still name).
WeightView make_weight_view(const void* data, TensorType type, int64_t rows, int64_t cols);

// Activations converted to one dot type, reusable for every matrix of a given weight type class
// (e.g. MoE gate and up projections share their input). Owns a buffer that only grows, so
// steady-state use does not allocate. Not thread-safe; one per user.
class QuantizedActivations {
 public:
  // Converts n_tokens rows of x (row t at x + t * x_stride floats) to the dot type of weight type
  // `weight`, splitting tokens over the pool. cols must be a multiple of that dot type's block
  // size (STRATA_CHECK; the weights' shape was validated when loaded). Throws strata::Error for
  // weight == Q8_K.
  void quantize(TensorType weight, const float* x, int64_t n_tokens, int64_t cols, int64_t x_stride,
                ThreadPool& pool);
  TensorType dot_type() const { return type_; }
  int64_t n_tokens() const { return n_tokens_; }
  int64_t cols() const { return cols_; }
  int64_t row_bytes() const { return row_bytes_; }
  const uint8_t* row(int64_t t) const { return buffer_.get() + t * row_bytes_; }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, FreeDeleter> buffer_;
  size_t capacity_ = 0;
  TensorType type_ = TensorType::F32;
  int64_t n_tokens_ = 0, cols_ = 0, row_bytes_ = 0;
};

// y[t * y_stride + r] = dot(W row r, activation row t) for every token in qx, using the kernels
// of kernels(). qx must have been quantized for W's type class and with qx.cols() == W.cols
// (STRATA_CHECK). Thread-safe as long as callers use different pools/outputs.
void matmul_quantized(const WeightView& w, const QuantizedActivations& qx, float* y, int64_t y_stride,
                      ThreadPool& pool);

// Quantizes x (n_tokens x w.cols, row-major, contiguous) into ws and multiplies:
// y (n_tokens x w.rows, row-major, contiguous).
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            QuantizedActivations& ws);

// Dequantizes row r of W into dst (w.cols floats), e.g. an embedding lookup. Throws
// strata::Error if r is out of range (token ids come from users).
void dequantize_weight_row(const WeightView& w, int64_t r, float* dst);

}  // namespace strata
