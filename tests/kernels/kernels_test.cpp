// Every ISA variant of every dot kernel against the scalar reference, on random shapes.
#include "kernels/kernel_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "kernels/cpu_features.h"
#include "test_util.h"

namespace strata {
namespace {

struct Case {
  TensorType w;
  int64_t cols;
};

// Row lengths: several blocks, odd block counts, and (for float types) ragged tails.
std::vector<int64_t> col_choices(TensorType w) {
  switch (traits(w).block_elems) {
    case 256: return {256, 768, 2048, 256 * 11};
    case 32: return {32, 96, 224, 2048, 32 * 37};
    default: return {1, 7, 16, 33, 250, 1000, 2048};
  }
}

// The tolerance is relative to sum |w_i * x_i| of the dequantized operands: SIMD and scalar see the
// same quantized integers and differ only in float summation order.
double magnitude(TensorType w, const std::vector<uint8_t>& wq, const std::vector<uint8_t>& xq, int64_t n) {
  auto wf = test::dequantized(w, wq, n);
  auto xf = test::dequantized(dot_type(w), xq, n);
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m += std::fabs(static_cast<double>(wf[i]) * xf[i]);
  return m;
}

void check_variant(const KernelTable& k, const KernelTable& ref) {
  uint32_t seed = 100;
  for (TensorType w : test::kWeightTypes) {
    for (int64_t n : col_choices(w)) {
      const auto wf = test::random_floats(n, ++seed, 0.05f);
      const auto wq = test::quantized(w, wf);
      // Activation rows, laid out with a padded stride like the matmul workspace.
      const TensorType dt = dot_type(w);
      const int64_t stride = row_bytes(dt, n) + 64;
      std::vector<uint8_t> xs(static_cast<size_t>(stride * kMaxDotTokens));
      std::vector<std::vector<uint8_t>> xq_ref(kMaxDotTokens);
      for (int t = 0; t < kMaxDotTokens; ++t) {
        const auto xf = test::random_floats(n, ++seed, 2.0f);
        xq_ref[t].resize(static_cast<size_t>(row_bytes(dt, n)));
        ref.quantize_activations(w, xf.data(), xq_ref[t].data(), n);
        k.quantize_activations(w, xf.data(), xs.data() + t * stride, n);
        // Activation quantization must be bit-identical across ISAs.
        ASSERT_EQ(0, std::memcmp(xq_ref[t].data(), xs.data() + t * stride, xq_ref[t].size()))
            << type_name(w) << " n=" << n;
      }
      const TypeKernels& kk = k.for_type(w);
      const TypeKernels& rk = ref.for_type(w);
      for (int t = 0; t < kMaxDotTokens; ++t) {
        const float expect = rk.vec_dot(n, wq.data(), xq_ref[t].data());
        const float got = kk.vec_dot(n, wq.data(), xs.data() + t * stride);
        const double tol = 2e-6 * magnitude(w, wq, xq_ref[t], n) + 1e-30;
        ASSERT_NEAR(got, expect, tol) << isa_name(k.isa) << " " << type_name(w) << " n=" << n;
      }
      for (int nt = 1; nt <= kMaxDotTokens; ++nt) {
        float out[kMaxDotTokens];
        kk.vec_dot_multi(n, wq.data(), xs.data(), stride, nt, out);
        for (int t = 0; t < nt; ++t) {
          const float single = kk.vec_dot(n, wq.data(), xs.data() + t * stride);
          const double tol = 2e-6 * magnitude(w, wq, xq_ref[t], n) + 1e-30;
          ASSERT_NEAR(out[t], single, tol) << isa_name(k.isa) << " " << type_name(w) << " n=" << n << " nt=" << nt;
        }
      }
    }
  }
}

TEST(Kernels, ScalarDotMatchesDequantizedFloatDot) {
  // Ties the integer reference kernels to the formats: dot of the dequantized rows in double.
  const KernelTable& ref = *kernel_table(Isa::Scalar);
  uint32_t seed = 1;
  for (TensorType w : test::kWeightTypes) {
    for (int64_t n : col_choices(w)) {
      const auto wq = test::quantized(w, test::random_floats(n, ++seed, 0.05f));
      const auto xf = test::random_floats(n, ++seed);
      std::vector<uint8_t> xq(static_cast<size_t>(row_bytes(dot_type(w), n)));
      ref.quantize_activations(w, xf.data(), xq.data(), n);
      auto wd = test::dequantized(w, wq, n);
      auto xd = test::dequantized(dot_type(w), xq, n);
      double expect = 0;
      for (int64_t i = 0; i < n; ++i) expect += static_cast<double>(wd[i]) * xd[i];
      ASSERT_NEAR(ref.for_type(w).vec_dot(n, wq.data(), xq.data()), expect,
                  1e-6 * magnitude(w, wq, xq, n) + 1e-30)
          << type_name(w) << " n=" << n;
    }
  }
}

TEST(Kernels, Avx2MatchesScalar) {
  const KernelTable* avx2 = kernel_table(Isa::Avx2);
  if (avx2 == nullptr) GTEST_SKIP() << "AVX2/FMA/F16C not available on this CPU";
  std::printf("  exercising ISA variant: avx2 (vs scalar reference)\n");
  check_variant(*avx2, *kernel_table(Isa::Scalar));
}

TEST(Kernels, Avx512MatchesScalar) {
  const KernelTable* avx512 = kernel_table(Isa::Avx512);
  if (avx512 == nullptr) GTEST_SKIP() << "AVX-512 F/BW/VL/VNNI not available on this CPU; variant not exercised";
  std::printf("  exercising ISA variant: avx512 (vs scalar reference)\n");
  check_variant(*avx512, *kernel_table(Isa::Scalar));
}

// The VNNI products are exact integer sums like AVX2's, in the same order, so every dot must
// come out bit for bit the same: the golden-model tolerances measured with AVX2 then hold.
TEST(Kernels, Avx512IsBitIdenticalToAvx2) {
  const KernelTable* avx512 = kernel_table(Isa::Avx512);
  const KernelTable* avx2 = kernel_table(Isa::Avx2);
  if (avx512 == nullptr || avx2 == nullptr) GTEST_SKIP() << "AVX-512 VNNI not available on this CPU";
  uint32_t seed = 500;
  for (TensorType w : test::kWeightTypes) {
    for (int64_t n : col_choices(w)) {
      const auto wq = test::quantized(w, test::random_floats(n, ++seed, 0.05f));
      const TensorType dt = dot_type(w);
      const int64_t stride = row_bytes(dt, n);
      std::vector<uint8_t> xs(static_cast<size_t>(stride * kMaxDotTokens));
      for (int t = 0; t < kMaxDotTokens; ++t) {
        const auto xf = test::random_floats(n, ++seed, 2.0f);
        avx2->quantize_activations(w, xf.data(), xs.data() + t * stride, n);
      }
      for (int nt = 1; nt <= kMaxDotTokens; ++nt) {
        float a[kMaxDotTokens], b[kMaxDotTokens];
        avx2->for_type(w).vec_dot_multi(n, wq.data(), xs.data(), stride, nt, a);
        avx512->for_type(w).vec_dot_multi(n, wq.data(), xs.data(), stride, nt, b);
        for (int t = 0; t < nt; ++t) {
          ASSERT_EQ(a[t], b[t]) << type_name(w) << " n=" << n << " nt=" << nt << " t=" << t;
        }
      }
      ASSERT_EQ(avx2->for_type(w).vec_dot(n, wq.data(), xs.data()), avx512->for_type(w).vec_dot(n, wq.data(), xs.data()))
          << type_name(w) << " n=" << n;
    }
  }
}

// Hand-made activation rows with rounding ties, equal-magnitude extremes of both signs and zero
// blocks: every ISA must produce the reference's bytes (llama.cpp's activation rounding).
TEST(Kernels, ActivationQuantizationEdgeCases) {
  std::vector<float> x(512, 0.0f);  // second Q8_K block stays all zero
  for (int j = 0; j < 256; ++j) x[j] = static_cast<float>(j % 64) * 0.5f * (j % 3 == 0 ? -1.f : 1.f);
  x[40] = -127.f;  // the first largest magnitude is negative...
  x[41] = 127.f;   // ...and an equal positive one follows
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const KernelTable* k = kernel_table(isa);
    if (k == nullptr) continue;
    std::vector<uint8_t> q8k(static_cast<size_t>(row_bytes(TensorType::Q8_K, 512)));
    k->quantize_q8_k(x.data(), q8k.data(), 512);
    const auto* b = reinterpret_cast<const BlockQ8_K*>(q8k.data());
    // The first extreme (-127) is "max": scale -127 / max = 1. Picking the later +127 would flip
    // every sign (d = -1).
    EXPECT_EQ(b[0].qs[40], -127) << isa_name(isa);
    EXPECT_EQ(b[0].qs[41], 127) << isa_name(isa);
    EXPECT_EQ(b[0].d, 1.0f) << isa_name(isa);
    EXPECT_EQ(b[1].d, 0.0f);
    EXPECT_EQ(b[1].bsums[3], 0);
    // Ties: with amax 127 the Q8_0 scale is exactly 1, so 2.5 -> 2 and 3.5 -> 4 (nearest-even).
    std::vector<float> t(32, 0.0f);
    t[0] = 127.f;
    t[1] = 2.5f;
    t[2] = 3.5f;
    t[3] = -2.5f;
    BlockQ8_0 q{};
    k->quantize_q8_0(t.data(), &q, 32);
    EXPECT_EQ(q.qs[0], 127);
    EXPECT_EQ(q.qs[1], 2) << isa_name(isa);
    EXPECT_EQ(q.qs[2], 4) << isa_name(isa);
    EXPECT_EQ(q.qs[3], -2) << isa_name(isa);
  }
  // And the two variants agree byte for byte on the whole row.
  if (kernel_table(Isa::Avx2) != nullptr) {
    std::vector<uint8_t> a(static_cast<size_t>(row_bytes(TensorType::Q8_K, 512))), b(a.size());
    kernel_table(Isa::Scalar)->quantize_q8_k(x.data(), a.data(), 512);
    kernel_table(Isa::Avx2)->quantize_q8_k(x.data(), b.data(), 512);
    EXPECT_EQ(a, b);
  }
}

TEST(Kernels, AmxVariant) {
  const CpuFeatures& f = cpu_features();
  std::printf("  cpu features: %s\n", f.describe().c_str());
  // No AMX kernels exist yet; this records whether the machine could even run them.
  GTEST_SKIP() << "AMX kernels are not implemented (this CPU " << (f.amx_tile ? "has" : "has no") << " AMX)";
}

TEST(Kernels, IsaOverride) {
  EXPECT_EQ(choose_isa("scalar"), Isa::Scalar);
  const Isa best = kernel_table(Isa::Avx512) ? Isa::Avx512 : kernel_table(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
  EXPECT_EQ(choose_isa(nullptr), best);
  EXPECT_EQ(choose_isa(""), choose_isa(nullptr));
  if (cpu_features().has_avx2_fma_f16c()) {
    EXPECT_EQ(choose_isa("avx2"), Isa::Avx2);
  } else {
    EXPECT_THROW(choose_isa("avx2"), Error);
  }
  if (kernel_table(Isa::Avx512) != nullptr) {
    EXPECT_EQ(choose_isa("avx512"), Isa::Avx512);
  } else {
    EXPECT_THROW(choose_isa("avx512"), Error);
  }
  EXPECT_THROW(choose_isa("amx"), Error);
  EXPECT_THROW(choose_isa("AVX2 "), Error);
}

TEST(Kernels, SelectedTableIsUsable) {
  const KernelTable& k = kernels();
  std::printf("  selected ISA: %s (STRATA_ISA=%s)\n", std::string(kernel_isa_name()).c_str(),
              std::getenv("STRATA_ISA") ? std::getenv("STRATA_ISA") : "unset");
  for (TensorType w : test::kWeightTypes) {
    EXPECT_NE(k.for_type(w).vec_dot, nullptr);
    EXPECT_NE(k.for_type(w).vec_dot_multi, nullptr);
  }
  if (std::getenv("STRATA_ISA") == nullptr) {
    EXPECT_EQ(kernel_isa_name(), isa_name(choose_isa(nullptr)));
  }
}

}  // namespace
}  // namespace strata
