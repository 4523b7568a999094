// The selected attention inner loops (AVX2/F16C on this machine unless STRATA_ISA=scalar) against
// plain loops, on lengths that exercise the vector body and the scalar tail.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/attention_kernels.h"
#include "kernels/quant.h"

namespace strata {
namespace {

TEST(AttentionKernels, MatchPlainLoopsOnRaggedLengths) {
  const AttentionKernels& k = attention_kernels();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int n : {1, 7, 8, 15, 16, 17, 64, 100, 128}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    std::vector<uint16_t> h(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      a[static_cast<size_t>(i)] = nd(rng);
      b[static_cast<size_t>(i)] = nd(rng);
      h[static_cast<size_t>(i)] = fp32_to_fp16(nd(rng));
    }
    double ref32 = 0, ref16 = 0;
    for (int i = 0; i < n; ++i) {
      ref32 += static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)];
      ref16 += static_cast<double>(a[static_cast<size_t>(i)]) * fp16_to_fp32(h[static_cast<size_t>(i)]);
    }
    // float32 accumulation in a different order: a few ulps of the magnitude of the terms.
    EXPECT_NEAR(k.dot_f32(a.data(), b.data(), n), ref32, 1e-5 * n) << n;
    EXPECT_NEAR(k.dot_f16(a.data(), h.data(), n), ref16, 1e-5 * n) << n;

    std::vector<float> y32 = b, y16 = b;
    k.axpy_f32(y32.data(), 0.75f, a.data(), n);
    k.axpy_f16(y16.data(), -1.25f, h.data(), n);
    for (int i = 0; i < n; ++i) {
      const size_t s = static_cast<size_t>(i);
      EXPECT_NEAR(y32[s], b[s] + 0.75f * a[s], 1e-6) << n;
      EXPECT_NEAR(y16[s], b[s] - 1.25f * fp16_to_fp32(h[s]), 1e-6) << n;
    }
  }
}

}  // namespace
}  // namespace strata
