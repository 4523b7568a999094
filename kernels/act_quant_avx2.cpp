// AVX2 activation conversion. Every function gives the same bytes as its scalar counterpart in
// kernels_scalar.cpp (tests compare them), so the ISA never changes what the dots see.
#include "kernels/act_quant_avx2.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/quant.h"

namespace strata::avx2 {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace

void quantize_act_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    __m256 v[4];
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      mx = _mm256_max_ps(mx, _mm256_and_ps(v[k], abs_mask));
    }
    const float amax = hmax(mx);
    y[i].d = fp32_to_fp16(amax / 127.f);
    const __m256 id = _mm256_set1_ps(amax != 0 ? 127.f / amax : 0.f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // Pack 32 i32 -> 32 i8; the packs interleave 128-bit lanes, which the permute undoes.
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p = _mm256_packs_epi16(p01, p23);
    const __m256i fixed = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), fixed);
  }
}

// Same numbers as the reference Q8_K quantizer: the largest-magnitude element (first one on a
// tie) maps to -127, rounding is to nearest-even, block sums come from the same integers.
void quantize_act_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < kQK; k += 8) mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask));
    const float amax = hmax(mx);
    if (!(amax > 0)) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    float max = amax;
    for (int k = 0; k < kQK; ++k) {
      if (std::fabs(x[k]) == amax) {
        max = x[k];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    for (int g = 0; g < kQK; g += 64) {
      __m256i q[8];
      for (int k = 0; k < 8; ++k) {
        q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + g + 8 * k), vs),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        q[k] = _mm256_min_epi32(q[k], _mm256_set1_epi32(127));
      }
      for (int k = 0; k < 8; k += 4) {
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[k], q[k + 1]), _mm256_packs_epi32(q[k + 2], q[k + 3]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + g + 8 * k),
                            _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
      }
      // Sums of each 16 elements: q[2j] + q[2j+1], reduced four groups at a time.
      const __m256i v0 = _mm256_add_epi32(q[0], q[1]), v1 = _mm256_add_epi32(q[2], q[3]);
      const __m256i v2 = _mm256_add_epi32(q[4], q[5]), v3 = _mm256_add_epi32(q[6], q[7]);
      const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
      const __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y[i].bsums + g / 16), _mm_packs_epi32(sums, sums));
    }
    y[i].d = 1 / iscale;
  }
}

void to_f16(const float* x, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) d[i] = fp32_to_fp16(x[i]);
}

}  // namespace strata::avx2
