// The selected attention inner loops (AVX2/F16C on this machine unless STRATA_ISA=scalar) against
// plain loops, on lengths that exercise the vector body and the scalar tail, for every number of
// query heads per call; and grouping heads must not change any head's result.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/attention_kernels.h"
#include "kernels/quant.h"

namespace strata {
namespace {

TEST(AttentionKernels, MatchPlainLoopsOnRaggedLengthsForEveryHeadCount) {
  const AttentionKernels& k = attention_kernels();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int n : {1, 7, 8, 15, 16, 17, 64, 100, 128}) {
    const int64_t stride = n + 3;  // heads laid out with a gap, as rows of a wider q
    std::vector<float> q(static_cast<size_t>(stride * kMaxAttnHeads)), b(static_cast<size_t>(n));
    std::vector<uint16_t> h(static_cast<size_t>(n));
    for (auto& v : q) v = nd(rng);
    for (int i = 0; i < n; ++i) {
      b[static_cast<size_t>(i)] = nd(rng);
      h[static_cast<size_t>(i)] = fp32_to_fp16(nd(rng));
    }
    for (int nq = 1; nq <= kMaxAttnHeads; ++nq) {
      float d32[kMaxAttnHeads], d16[kMaxAttnHeads];
      k.dot_f32(q.data(), stride, nq, b.data(), n, d32);
      k.dot_f16(q.data(), stride, nq, h.data(), n, d16);
      for (int g = 0; g < nq; ++g) {
        const float* a = q.data() + g * stride;
        double ref32 = 0, ref16 = 0;
        for (int i = 0; i < n; ++i) {
          ref32 += static_cast<double>(a[i]) * b[static_cast<size_t>(i)];
          ref16 += static_cast<double>(a[i]) * fp16_to_fp32(h[static_cast<size_t>(i)]);
        }
        // float32 accumulation in a different order: a few ulps of the magnitude of the terms.
        EXPECT_NEAR(d32[g], ref32, 1e-5 * n) << n << " nq=" << nq;
        EXPECT_NEAR(d16[g], ref16, 1e-5 * n) << n << " nq=" << nq;
        // The same head alone gives exactly the same dot.
        float alone32, alone16;
        k.dot_f32(a, stride, 1, b.data(), n, &alone32);
        k.dot_f16(a, stride, 1, h.data(), n, &alone16);
        EXPECT_EQ(d32[g], alone32) << n << " nq=" << nq;
        EXPECT_EQ(d16[g], alone16) << n << " nq=" << nq;
      }

      const float coef[kMaxAttnHeads] = {0.75f, -1.25f, 2.0f, -0.5f};
      std::vector<float> y32(q), y16(q);
      k.axpy_f32(y32.data(), stride, coef, nq, b.data(), n);
      k.axpy_f16(y16.data(), stride, coef, nq, h.data(), n);
      for (int g = 0; g < kMaxAttnHeads; ++g) {
        for (int i = 0; i < stride; ++i) {
          const size_t s = static_cast<size_t>(g * stride + i);
          const bool touched = g < nq && i < n;
          const float x32 = touched ? b[static_cast<size_t>(i)] : 0.0f;
          const float x16 = touched ? fp16_to_fp32(h[static_cast<size_t>(i)]) : 0.0f;
          const float c = touched ? coef[g] : 0.0f;
          EXPECT_NEAR(y32[s], q[s] + c * x32, 1e-6) << n << " nq=" << nq;
          EXPECT_NEAR(y16[s], q[s] + c * x16, 1e-6) << n << " nq=" << nq;
        }
      }
    }
  }
}

}  // namespace
}  // namespace strata
