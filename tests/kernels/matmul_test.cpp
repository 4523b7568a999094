// matmul against a naive double-precision reference on the same rounded operands, across ragged
// token counts and row counts that are not multiples of the task/tile sizes.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "kernels/kernel_table.h"
#include "test_util.h"

namespace strata {
namespace {

void check_matmul(TensorType type, int64_t rows, int64_t cols, int64_t n_tokens, ThreadPool& pool,
                  QuantizedActivations& ws) {
  const auto wf = test::random_floats(rows * cols, static_cast<uint32_t>(rows * 31 + cols + n_tokens), 0.05f);
  // Rows padded to a larger stride, as in a file where rows are not contiguous.
  const int64_t rb = row_bytes(type, cols);
  const int64_t stride = rb + 32;
  std::vector<uint8_t> wq(static_cast<size_t>(stride * rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, wf.data() + r * cols, wq.data() + r * stride, cols);
  WeightView w{wq.data(), type, rows, cols, stride};
  const auto x = test::random_floats(n_tokens * cols, 99);
  std::vector<float> y(static_cast<size_t>(n_tokens * rows), NAN);
  matmul(w, x.data(), n_tokens, y.data(), pool, ws);

  // Reference: dequantized weights times the activations rounded to the dot type, in double.
  const TensorType dt = dot_type(type);
  std::vector<float> wd(static_cast<size_t>(cols)), xd(static_cast<size_t>(n_tokens * cols));
  std::vector<uint8_t> xq(static_cast<size_t>(row_bytes(dt, cols)));
  for (int64_t t = 0; t < n_tokens; ++t) {
    kernels().quantize_activations(type, x.data() + t * cols, xq.data(), cols);
    dequantize_row(dt, xq.data(), xd.data() + t * cols, cols);
  }
  double max_err = 0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_weight_row(w, r, wd.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        s += static_cast<double>(wd[c]) * xd[t * cols + c];
        mag += std::fabs(static_cast<double>(wd[c]) * xd[t * cols + c]);
      }
      const double err = std::fabs(y[t * rows + r] - s);
      max_err = std::max(max_err, err / (mag + 1e-30));
      ASSERT_LE(err, 2e-6 * mag + 1e-30) << type_name(type) << " r=" << r << " t=" << t << " rows=" << rows
                                         << " tokens=" << n_tokens;
    }
  }
}

TEST(Matmul, AllTypesRaggedShapes) {
  ThreadPool pool(3);
  QuantizedActivations ws;
  for (TensorType type : test::kWeightTypes) {
    const int64_t cols = traits(type).block_elems == 256 ? 512 : (traits(type).block_elems == 32 ? 96 : 70);
    for (int64_t rows : {1, 5, 67}) {
      for (int64_t n_tokens : {1, 2, 3, 4, 5, 9}) check_matmul(type, rows, cols, n_tokens, pool, ws);
    }
  }
  std::printf("  matmul checked with kernels: %s\n", std::string(kernel_isa_name()).c_str());
}

TEST(Matmul, CloseToFullPrecisionProduct) {
  // Against float weights and float activations: bounded by the quantization error of the types.
  ThreadPool pool(2);
  QuantizedActivations ws;
  const int64_t rows = 40, cols = 1024, n_tokens = 3;
  const auto wf = test::random_floats(rows * cols, 5, 0.05f);
  const auto x = test::random_floats(n_tokens * cols, 6);
  std::vector<double> exact(static_cast<size_t>(rows * n_tokens));
  double ref_norm = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(wf[r * cols + c]) * x[t * cols + c];
      exact[t * rows + r] = s;
      ref_norm += s * s;
    }
  }
  for (TensorType type : test::kWeightTypes) {
    std::vector<uint8_t> wq(static_cast<size_t>(row_bytes(type, cols) * rows));
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(type, wf.data() + r * cols, wq.data() + r * row_bytes(type, cols), cols);
    }
    std::vector<float> y(static_cast<size_t>(rows * n_tokens));
    matmul(make_weight_view(wq.data(), type, rows, cols), x.data(), n_tokens, y.data(), pool, ws);
    double err = 0;
    for (size_t i = 0; i < y.size(); ++i) err += (y[i] - exact[i]) * (y[i] - exact[i]);
    const double rel = std::sqrt(err / ref_norm);
    // 4-bit formats land near 0.1-0.15, 8-bit near 0.01, float types far below.
    const double bound = traits(type).block_elems == 1 ? 5e-3 : 0.2;
    EXPECT_LT(rel, bound) << type_name(type);
  }
}

TEST(Matmul, PrequantizedSharedInput) {
  ThreadPool pool(2);
  QuantizedActivations qx;
  const int64_t cols = 256, n_tokens = 6;
  const auto x = test::random_floats(n_tokens * cols, 8);
  const auto g = test::quantized(TensorType::Q4_K, test::random_floats(16 * cols, 9, 0.05f));
  const auto u = test::quantized(TensorType::Q6_K, test::random_floats(24 * cols, 10, 0.05f));
  WeightView gate = make_weight_view(g.data(), TensorType::Q4_K, 16, cols);
  WeightView up = make_weight_view(u.data(), TensorType::Q6_K, 24, cols);
  qx.quantize(TensorType::Q4_K, x.data(), n_tokens, cols, cols, pool);
  std::vector<float> yg(16 * n_tokens), yu(24 * n_tokens), ref(24 * n_tokens);
  matmul_quantized(gate, qx, yg.data(), 16, pool);
  matmul_quantized(up, qx, yu.data(), 24, pool);
  QuantizedActivations ws;
  matmul(up, x.data(), n_tokens, ref.data(), pool, ws);
  EXPECT_EQ(yu, ref);  // same quantized input and kernels: identical bits
  std::vector<float> gref(16 * n_tokens);
  matmul(gate, x.data(), n_tokens, gref.data(), pool, ws);
  EXPECT_EQ(yg, gref);
}

TEST(Matmul, EmptyShapesDoNothing) {
  ThreadPool pool(2);
  QuantizedActivations ws;
  std::vector<uint8_t> wq(static_cast<size_t>(row_bytes(TensorType::Q8_0, 64) * 3));
  std::vector<float> x(64 * 2, 1.0f), y(6, -1.0f);
  matmul(make_weight_view(wq.data(), TensorType::Q8_0, 0, 64), x.data(), 2, y.data(), pool, ws);
  matmul(make_weight_view(wq.data(), TensorType::Q8_0, 3, 64), x.data(), 0, y.data(), pool, ws);
  for (float v : y) EXPECT_EQ(v, -1.0f);  // nothing written
  EXPECT_EQ(ws.n_tokens(), 0);
}

TEST(Matmul, BadShapesAndRowsAreErrors) {
  std::vector<uint8_t> buf(1024);
  EXPECT_THROW(make_weight_view(buf.data(), TensorType::Q4_K, 2, 100), Error);
  EXPECT_THROW(make_weight_view(buf.data(), TensorType::F32, -1, 4), Error);
  EXPECT_THROW(make_weight_view(buf.data(), TensorType::Q8_K, 1, 256), Error);
  ThreadPool pool(1);
  QuantizedActivations qx;
  std::vector<float> x(256, 1.0f);
  EXPECT_THROW(qx.quantize(TensorType::Q8_K, x.data(), 1, 256, 256, pool), Error);
  WeightView w = make_weight_view(buf.data(), TensorType::F32, 2, 4);
  float row[4];
  EXPECT_THROW(dequantize_weight_row(w, 2, row), Error);
  EXPECT_THROW(dequantize_weight_row(w, -1, row), Error);
  EXPECT_NO_THROW(dequantize_weight_row(w, 1, row));
}

}  // namespace
}  // namespace strata
