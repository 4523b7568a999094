// KV cache storage: rows land where the attention loop reads them, in F32 exactly and in F16
// rounded to half precision; bad configurations are errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "engine/kv_cache.h"
#include "kernels/quant.h"

namespace strata {
namespace {

TEST(KvCache, F32RowsAreStoredExactlyAndAdjacentByPosition) {
  KvCache kv(2, 3, 5, 4, 2, TensorType::F32);
  for (int l = 0; l < 2; ++l) {
    for (int s = 0; s < 3; ++s) {
      for (int p = 0; p < 5; ++p) {
        const float base = static_cast<float>(l * 100 + s * 10 + p);
        std::vector<float> k{base, base + 0.25f, base + 0.5f, base + 0.75f}, v{-base, -base - 0.5f};
        kv.store(l, s, p, k.data(), v.data());
      }
    }
  }
  const auto* k = static_cast<const float*>(kv.k_row(1, 2, 0));
  for (int p = 0; p < 5; ++p) {
    EXPECT_EQ(k[p * 4 + 0], 120.0f + static_cast<float>(p));
    EXPECT_EQ(k[p * 4 + 3], 120.75f + static_cast<float>(p));
  }
  const auto* v = static_cast<const float*>(kv.v_row(0, 1, 3));
  EXPECT_EQ(v[0], -13.0f);
  EXPECT_EQ(v[1], -13.5f);
}

TEST(KvCache, F16RowsAreRoundedToHalf) {
  KvCache kv(1, 1, 2, 2, 2, TensorType::F16);
  const std::vector<float> k{1.0f / 3.0f, 1000.1f}, v{-2.5f, 65504.0f};
  kv.store(0, 0, 1, k.data(), v.data());
  const auto* kr = static_cast<const uint16_t*>(kv.k_row(0, 0, 1));
  const auto* vr = static_cast<const uint16_t*>(kv.v_row(0, 0, 1));
  EXPECT_EQ(fp16_to_fp32(kr[0]), fp16_to_fp32(fp32_to_fp16(1.0f / 3.0f)));
  EXPECT_NEAR(fp16_to_fp32(kr[0]), 1.0f / 3.0f, 1e-3);
  EXPECT_EQ(fp16_to_fp32(kr[1]), 1000.0f);
  EXPECT_EQ(fp16_to_fp32(vr[0]), -2.5f);
  EXPECT_EQ(fp16_to_fp32(vr[1]), 65504.0f);
}

TEST(KvCache, LengthsArePerSequence) {
  KvCache kv(1, 2, 4, 2, 2, TensorType::F32);
  kv.set_length(1, 3);
  EXPECT_EQ(kv.length(0), 0);
  EXPECT_EQ(kv.length(1), 3);
}

TEST(KvCache, BadConfigurationsAreErrors) {
  EXPECT_THROW(KvCache(1, 1, 4, 2, 2, TensorType::Q8_0), Error);
  EXPECT_THROW(KvCache(1, 0, 4, 2, 2, TensorType::F16), Error);
  EXPECT_THROW(KvCache(1, 1, 0, 2, 2, TensorType::F16), Error);
  // Far more than any machine's address space: a clear error, not a crash.
  EXPECT_THROW(KvCache(1 << 20, 1 << 20, 1 << 20, 1024, 1024, TensorType::F32), Error);
}

}  // namespace
}  // namespace strata
