#pragma once
// Shared helpers for the kernel tests: seeded random data and per-type size rules.
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/quant.h"
#include "kernels/tensor_type.h"

namespace strata::test {

inline const TensorType kWeightTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                          TensorType::Q8_0, TensorType::Q4_0, TensorType::MXFP4,
                                          TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

// Normal(0, sigma) values, with a few outliers so block scales vary like real weights.
inline std::vector<float> random_floats(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::uniform_int_distribution<int> outlier(0, 63);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng) * (outlier(rng) == 0 ? 8.0f : 1.0f);
  return v;
}

inline std::vector<uint8_t> quantized(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(static_cast<size_t>(row_bytes(type, static_cast<int64_t>(x.size()))));
  quantize_row(type, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

inline std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(type, q.data(), y.data(), n);
  return y;
}

}  // namespace strata::test
