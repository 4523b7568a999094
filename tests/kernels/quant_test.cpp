// Reference formats: conversions, hand-built blocks with known values, and round-trip error.
#include "kernels/quant.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"
#include "test_util.h"

namespace strata {
namespace {

__attribute__((target("f16c"))) uint16_t hw_fp32_to_fp16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float hw_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Fp16, AllHalvesRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << h;
  }
}

TEST(Fp16, MatchesF16cHardware) {
  if (!cpu_features().f16c) GTEST_SKIP() << "no F16C on this CPU to compare with";
  std::mt19937 rng(7);
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(bits(fp16_to_fp32(static_cast<uint16_t>(h))), bits(hw_fp16_to_fp32(static_cast<uint16_t>(h))));
  }
  // Random bit patterns over the whole float range, plus every rounding tie near the subnormals.
  for (int i = 0; i < 2000000; ++i) {
    const float f = from_bits(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), hw_fp32_to_fp16(f)) << f;
  }
  for (uint32_t e = 95; e < 145; ++e) {
    for (uint32_t m : {0u, 0x1000u, 0x2000u, 0x3000u, 0x0fffu, 0x1001u, 0x400000u, 0x7fffffu}) {
      const float f = from_bits((e << 23) | m);
      ASSERT_EQ(fp32_to_fp16(f), hw_fp32_to_fp16(f)) << f;
      ASSERT_EQ(fp32_to_fp16(-f), hw_fp32_to_fp16(-f)) << -f;
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(bf16_to_fp32(0xc040), -3.0f);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
}

TEST(E8m0, HalfScale) {
  EXPECT_EQ(e8m0_to_fp32_half(128), 1.0f);
  EXPECT_EQ(e8m0_to_fp32_half(127), 0.5f);
  EXPECT_EQ(e8m0_to_fp32_half(130), 4.0f);
  EXPECT_EQ(e8m0_to_fp32_half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_fp32_half(0), std::ldexp(1.0f, -128));
  EXPECT_EQ(e8m0_to_fp32_half(255), std::ldexp(1.0f, 127));
}

TEST(Layout, Q4_0KnownBlock) {
  BlockQ4_0 b{};
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::Q4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], (7 - j) * 0.5f);
  }
}

TEST(Layout, Mxfp4KnownBlock) {
  BlockMxfp4 b{};
  b.e = 129;  // 2^(129-128) = 2 times the doubled table = the real e2m1 value times 4
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::MXFP4, &b, y, 32);
  const float e2m1[16] = {0, .5f, 1, 1.5f, 2, 3, 4, 6, -0.f, -.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], e2m1[j] * 4);
    EXPECT_EQ(y[j + 16], e2m1[15 - j] * 4);
  }
}

TEST(Layout, Q4_KScalePacking) {
  // Sub-block j gets scale j+1 and min 63-j (exercises the high-bit packing of j >= 4).
  BlockQ4_K b{};
  b.d = fp32_to_fp16(1.0f);
  b.dmin = fp32_to_fp16(0.25f);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = static_cast<uint8_t>(j + 1 + (j >= 4 ? 40 : 0)), lm = static_cast<uint8_t>(63 - j);
    if (j < 4) {
      b.scales[j] = ls;
      b.scales[j + 4] = lm;
    } else {
      b.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      b.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      b.scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = 0x31;  // low nibble 1, high nibble 3
  float y[256];
  dequantize_row(TensorType::Q4_K, &b, y, 256);
  for (int j = 0; j < 8; ++j) {
    const float sc = static_cast<float>(j + 1 + (j >= 4 ? 40 : 0)), mn = 0.25f * static_cast<float>(63 - j);
    const float q = (j % 2 == 0) ? 1.f : 3.f;
    for (int l = 0; l < 32; ++l) ASSERT_EQ(y[32 * j + l], sc * q - mn) << j << " " << l;
  }
}

TEST(Layout, Q6_KKnownBlock) {
  BlockQ6_K b{};
  b.d = fp32_to_fp16(0.5f);
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(g - 8);
  // Every element gets quant 63 (-> +31): low nibbles 0xF and both high bits set.
  std::memset(b.ql, 0xFF, sizeof b.ql);
  std::memset(b.qh, 0xFF, sizeof b.qh);
  float y[256];
  dequantize_row(TensorType::Q6_K, &b, y, 256);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], 0.5f * static_cast<float>(i / 16 - 8) * 31.f) << i;
}

TEST(Quantize, Q8_KBlockSumsAndScale) {
  auto x = test::random_floats(512, 3);
  auto q = test::quantized(TensorType::Q8_K, x);
  const auto* b = reinterpret_cast<const BlockQ8_K*>(q.data());
  for (int i = 0; i < 2; ++i) {
    int amax = 0;
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int k = 0; k < 16; ++k) {
        s += b[i].qs[16 * g + k];
        amax = std::max(amax, std::abs(static_cast<int>(b[i].qs[16 * g + k])));
      }
      EXPECT_EQ(s, b[i].bsums[g]);
    }
    EXPECT_EQ(amax, 127);
  }
}

TEST(Quantize, ZeroRowsStayZero) {
  for (TensorType t : test::kWeightTypes) {
    std::vector<float> x(512, 0.0f);
    auto y = test::dequantized(t, test::quantized(t, x), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f) << type_name(t);
  }
}

// Relative RMS error bounds of quantize -> dequantize on Gaussian data with outliers. The bounds
// sit ~25% above what the quantizers reach, so a broken layout or rounding fails clearly.
struct ErrorBound {
  TensorType type;
  double max_rel_rmse;
};

class RoundTrip : public ::testing::TestWithParam<ErrorBound> {};

TEST_P(RoundTrip, ErrorWithinBound) {
  const ErrorBound p = GetParam();
  const int64_t n = 256 * 64;
  auto x = test::random_floats(n, 11);
  auto y = test::dequantized(p.type, test::quantized(p.type, x), n);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    err += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
    ref += x[i] * static_cast<double>(x[i]);
  }
  const double rel = std::sqrt(err / ref);
  std::printf("  %-6s relative RMS error %.5f (bound %.5f)\n", std::string(type_name(p.type)).c_str(), rel,
              p.max_rel_rmse);
  EXPECT_LE(rel, p.max_rel_rmse);
  if (p.type == TensorType::F32) {
    EXPECT_EQ(rel, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RoundTrip,
                         ::testing::Values(ErrorBound{TensorType::F32, 0.0}, ErrorBound{TensorType::F16, 2.6e-4},
                                           ErrorBound{TensorType::BF16, 2e-3}, ErrorBound{TensorType::Q8_0, 1.2e-2},
                                           ErrorBound{TensorType::Q8_K, 2.5e-2}, ErrorBound{TensorType::Q4_0, 0.18},
                                           ErrorBound{TensorType::MXFP4, 0.2}, ErrorBound{TensorType::Q4_K, 0.115},
                                           ErrorBound{TensorType::Q5_K, 0.06}, ErrorBound{TensorType::Q6_K, 0.033}),
                         [](const auto& info) { return std::string(type_name(info.param.type)); });

}  // namespace
}  // namespace strata
