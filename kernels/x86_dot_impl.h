#pragma once
// x86 dot kernels shared by the AVX2 and AVX-512 tables. Include only from a translation unit
// compiled with that ISA's flags (kernels_avx2.cpp, kernels_avx512.cpp): everything here has
// internal linkage, so each includer gets its own copy built for its own ISA.
//
// Each kernel is a template over NT, the number of activation rows sharing one decoded weight
// row: NT = 1 is the GEMV (decode) kernel, NT > 1 the GEMM register block that amortizes
// unpacking the weights over several tokens. The token loops are fully unrolled (pragmas) so
// that per-token accumulators live in registers.
//
// Integer blocks multiply u8 x i8 (signed weights use the sign trick: |w| times y with w's sign)
// into i32 lanes of four products each, and scale once per block in float. With AVX-512 VNNI
// (and VL) that product is one vpdpbusd and the scaled i16 sums of the K-quants one vpdpwssd;
// plain AVX2 needs vpmaddubsw + vpmaddwd (+ vpaddd). The integer sums are exact either way (no
// i16 pair can saturate for these formats), so both tables give bit-identical results and the
// golden-model tolerances hold for each.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/act_quant_avx2.h"
#include "kernels/kernel_table.h"
#include "kernels/quant.h"

namespace strata {
namespace {

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
// i32 x8: sums of four u8 x i8 products per lane.
inline __m256i mul_sum_u8s8(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }
// acc + pairwise sums of i16 products.
inline __m256i add_mul_sum_i16(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
#else
inline __m256i mul_sum_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
inline __m256i add_mul_sum_i16(__m256i acc, __m256i a, __m256i b) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}
#endif

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// 2^(e-128) built from bits (e < 2 gives the subnormals 2^-128 and 2^-127).
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e) - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// 16 packed bytes -> 32 bytes: low nibbles in the first 16 lanes, high nibbles in the last 16.
inline __m256i unpack_nibbles(const uint8_t* p) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// i32 x8 partial sums of signed bytes x * signed bytes y.
inline __m256i dot_i8(__m256i x, __m256i y) {
  return mul_sum_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

template <int NT, typename Act>
inline const Act* act_row(const void* x, int64_t stride, int t) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(x) + t * stride);
}

// Four f16 scales (stride `stride` bytes apart) converted at once.
inline __m128 halves4(const uint8_t* p, size_t stride) {
  uint16_t h[4];
  for (int k = 0; k < 4; ++k) std::memcpy(&h[k], p + k * stride, 2);
  return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h)));
}

// Weight types with 32-element blocks against Q8_0 activations. Decode gives the signed bytes of
// block i; Scales4 the float scales of blocks i..i+3. Scales are formed four blocks at a time
// (one conversion and one multiply instead of four), while each token still accumulates one block
// after another into a single register, the order llama.cpp's AVX2 code uses.
template <int NT, typename Block, typename Decode, typename Scales4, typename Scale1>
void dot_32(int64_t n, const void* w, const void* x, int64_t xs, float* out, Decode decode, Scales4 scales4,
            Scale1 scale1) {
  const auto* a = static_cast<const Block*>(w);
  const BlockQ8_0* y[NT];
  __m256 acc[NT];
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    y[t] = act_row<NT, BlockQ8_0>(x, xs, t);
    acc[t] = _mm256_setzero_ps();
  }
  const int64_t nb = n / 32;
  alignas(16) float ds[NT][4];
  for (int64_t i0 = 0; i0 < nb; i0 += 4) {
    const int nblk = static_cast<int>(std::min<int64_t>(4, nb - i0));
    if (nblk == 4) {
      const __m128 dw = scales4(a + i0);
      #pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m128 dy = halves4(reinterpret_cast<const uint8_t*>(&y[t][i0].d), sizeof(BlockQ8_0));
        _mm_store_ps(ds[t], _mm_mul_ps(dw, dy));
      }
    } else {
      for (int k = 0; k < nblk; ++k) {
        const float dw = scale1(a[i0 + k]);
        for (int t = 0; t < NT; ++t) ds[t][k] = dw * half_to_float(y[t][i0 + k].d);
      }
    }
    for (int k = 0; k < nblk; ++k) {
      const int64_t i = i0 + k;
      const __m256i q = decode(a[i]);
      const __m256i aq = _mm256_sign_epi8(q, q);
      #pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const __m256i p = mul_sum_u8s8(aq, _mm256_sign_epi8(load256(y[t][i].qs), q));
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(ds[t][k]), _mm256_cvtepi32_ps(p), acc[t]);
      }
    }
  }
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
}

// Scales of blocks b[0..3]; only called when all four blocks exist.
template <typename Block>
inline __m128 f16_scales4(const Block* b) {
  return halves4(reinterpret_cast<const uint8_t*>(&b->d), sizeof(Block));
}

template <int NT>
void q4_0_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  dot_32<NT, BlockQ4_0>(
      n, w, x, xs, out,
      [](const BlockQ4_0& b) { return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8)); },
      f16_scales4<BlockQ4_0>, [](const BlockQ4_0& b) { return half_to_float(b.d); });
}

template <int NT>
void q8_0_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  dot_32<NT, BlockQ8_0>(
      n, w, x, xs, out, [](const BlockQ8_0& b) { return load256(b.qs); }, f16_scales4<BlockQ8_0>,
      [](const BlockQ8_0& b) { return half_to_float(b.d); });
}

// MXFP4 keeps llama.cpp's own summation order for this type (even and odd blocks in two
// accumulators, an odd last block added in scalar), so expert outputs round the same way.
template <int NT>
void mxfp4_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  const auto* a = static_cast<const BlockMxfp4*>(w);
  const BlockQ8_0* y[NT];
  __m256 acc0[NT], acc1[NT];
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    y[t] = act_row<NT, BlockQ8_0>(x, xs, t);
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Values)));
  const int64_t nb = n / 32;
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i q0 = _mm256_shuffle_epi8(table, unpack_nibbles(a[i].qs));
    const __m256i q1 = _mm256_shuffle_epi8(table, unpack_nibbles(a[i + 1].qs));
    const float e0 = e8m0_half(a[i].e), e1 = e8m0_half(a[i + 1].e);
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256i p0 = dot_i8(q0, load256(y[t][i].qs));
      const __m256i p1 = dot_i8(q1, load256(y[t][i + 1].qs));
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(y[t][i].d) * e0), _mm256_cvtepi32_ps(p0), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(y[t][i + 1].d) * e1), _mm256_cvtepi32_ps(p1), acc1[t]);
    }
  }
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    float sum = hsum(_mm256_add_ps(acc0[t], acc1[t]));
    if (i < nb) {
      int sumi = 0;
      for (int j = 0; j < 16; ++j) {
        sumi += y[t][i].qs[j] * kMxfp4Values[a[i].qs[j] & 0xF] + y[t][i].qs[j + 16] * kMxfp4Values[a[i].qs[j] >> 4];
      }
      sum += half_to_float(y[t][i].d) * e8m0_half(a[i].e) * static_cast<float>(sumi);
    }
    out[t] = sum;
  }
}

// Unpacks the 12 packed scale bytes of a Q4_K/Q5_K block into 16 i16 lanes: the 8 sub-block
// scales in lanes 0-7 and the 8 mins in lanes 8-15 (the get_scale_min_k4 layout, done with
// 32-bit word operations instead of per-element bit picking).
inline __m256i unpack_k4_scales(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, 12);
  const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
  const uint32_t sc_lo = w[0] & lo6;
  const uint32_t mn_lo = w[1] & lo6;
  const uint32_t sc_hi = (w[2] & lo4) | (((w[0] >> 6) & lo2) << 4);
  const uint32_t mn_hi = ((w[2] >> 4) & lo4) | (((w[1] >> 6) & lo2) << 4);
  const __m128i b = _mm_set_epi32(static_cast<int>(mn_hi), static_cast<int>(mn_lo), static_cast<int>(sc_hi),
                                  static_cast<int>(sc_lo));
  return _mm256_cvtepu8_epi16(b);
}

// vpshufb controls that broadcast i16 lane k of a 128-bit register to all lanes.
inline __m256i lane_broadcast_control(int k) {
  const int lo = 2 * k, hi = 2 * k + 1;
  return _mm256_set1_epi16(static_cast<short>(lo | (hi << 8)));
}

// Q4_K / Q5_K x Q8_K: unsigned 4/5-bit quants, so vpmaddubsw applies directly; the per-sub-block
// mins are folded in through Q8_K's block sums.
template <int NT, bool kFive>
void q45_k_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* a = static_cast<const Block*>(w);
  const BlockQ8_K* y[NT];
  __m256 acc[NT];
  __m128 acc_m[NT];
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    y[t] = act_row<NT, BlockQ8_K>(x, xs, t);
    acc[t] = _mm256_setzero_ps();
    acc_m[t] = _mm_setzero_ps();
  }
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i sm = unpack_k4_scales(a[i].scales);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
    const __m128i mins = _mm256_extracti128_si256(sm, 1);
    const float d = half_to_float(a[i].d), dmin = half_to_float(a[i].dmin);
    __m256i sumi[NT];
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    __m256i hbits;
    if constexpr (kFive) hbits = load256(a[i].qh);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load256(a[i].qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kFive) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4));
        hbits = _mm256_srli_epi16(hbits, 2);
      }
      const __m256i s_lo = _mm256_shuffle_epi8(scales, lane_broadcast_control(2 * j));
      const __m256i s_hi = _mm256_shuffle_epi8(scales, lane_broadcast_control(2 * j + 1));
      #pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        sumi[t] = add_mul_sum_i16(sumi[t], _mm256_maddubs_epi16(lo, load256(y[t][i].qs + 64 * j)), s_lo);
        sumi[t] = add_mul_sum_i16(sumi[t], _mm256_maddubs_epi16(hi, load256(y[t][i].qs + 64 * j + 32)), s_hi);
      }
    }
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      // Pairwise sums of the 16 block sums give one sum per 32-element sub-block.
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t][i].bsums));
      const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[t][i].bsums + 8));
      const __m128i pm = _mm_madd_epi16(_mm_hadd_epi16(b0, b1), mins);
      const float dy = y[t][i].d;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc_m[t] = _mm_fmadd_ps(_mm_set1_ps(dmin * dy), _mm_cvtepi32_ps(pm), acc_m[t]);
    }
  }
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    __m128 m = _mm_add_ps(acc_m[t], _mm_movehl_ps(acc_m[t], acc_m[t]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    out[t] = hsum(acc[t]) - _mm_cvtss_f32(m);
  }
}

// vpshufb controls: i16 lane k of each 128-bit lane broadcast to the low lane, lane k + 1 to the
// high lane.
inline __m256i pair_broadcast_control(int k) {
  const short lo = static_cast<short>((2 * k) | ((2 * k + 1) << 8));
  const short hi = static_cast<short>((2 * k + 2) | ((2 * k + 3) << 8));
  return _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo));
}

// Q6_K x Q8_K: quants are used unsigned (q + 32, 0..63) and the offset is removed with
// 32 * sum(scale * bsum).
template <int NT>
void q6_k_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* y[NT];
  __m256 acc[NT];
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    y[t] = act_row<NT, BlockQ8_K>(x, xs, t);
    acc[t] = _mm256_setzero_ps();
  }
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  const __m256i m2s2 = _mm256_set1_epi8(0x0C);
  const __m256i m2s4 = _mm256_set1_epi8(0x30);
  const __m256i m2s6 = _mm256_set1_epi8(static_cast<char>(0xC0));
  const int64_t nb = n / kQK;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
    const __m256i sc_first = _mm256_permute4x64_epi64(sc16, 0x44);
    const __m256i sc_second = _mm256_permute4x64_epi64(sc16, 0xEE);
    __m256i sumi[NT];
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      // Offset correction: 32 * sum_g scale_g * bsum_g, subtracted from the start.
      sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_slli_epi32(_mm256_madd_epi16(load256(y[t][i].bsums), sc16), 5));
    }
    #pragma GCC unroll 4
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load256(a[i].ql + 64 * h);
      const __m256i ql1 = load256(a[i].ql + 64 * h + 32);
      const __m256i qh = load256(a[i].qh + 32 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2s2), 2));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2s4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_srli_epi16(_mm256_and_si256(qh, m2s6), 2));
      // The eight i16 scales of this half in both 128-bit lanes; one vpshufb per sub-block pair
      // then puts scale 2k in the low lane and 2k+1 in the high lane.
      const __m256i sc_h = h == 0 ? sc_first : sc_second;
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i sv = _mm256_shuffle_epi8(sc_h, pair_broadcast_control(2 * k));
        #pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const __m256i p = _mm256_maddubs_epi16(q[k], load256(y[t][i].qs + 128 * h + 32 * k));
          sumi[t] = add_mul_sum_i16(sumi[t], p, sv);
        }
      }
    }
    const float d = half_to_float(a[i].d);
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[t][i].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
}

// Float types: Load converts 8 elements to f32; two accumulators per token hide FMA latency.
template <int NT, typename T, typename Load, typename Scalar>
void float_dot(int64_t n, const void* w, const void* x, int64_t xs, float* out, Load load, Scalar scalar) {
  const T* a = static_cast<const T*>(w);
  const T* b[NT];
  __m256 acc0[NT], acc1[NT];
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    b[t] = act_row<NT, T>(x, xs, t);
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  if constexpr (NT == 1) {
    // A single token needs four independent chains to cover the FMA latency.
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    for (; i + 32 <= n; i += 32) {
      acc0[0] = _mm256_fmadd_ps(load(a + i), load(b[0] + i), acc0[0]);
      acc1[0] = _mm256_fmadd_ps(load(a + i + 8), load(b[0] + i + 8), acc1[0]);
      acc2 = _mm256_fmadd_ps(load(a + i + 16), load(b[0] + i + 16), acc2);
      acc3 = _mm256_fmadd_ps(load(a + i + 24), load(b[0] + i + 24), acc3);
    }
    acc0[0] = _mm256_add_ps(acc0[0], acc2);
    acc1[0] = _mm256_add_ps(acc1[0], acc3);
  }
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = load(a + i), w1 = load(a + i + 8);
    #pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm256_fmadd_ps(w0, load(b[t] + i), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, load(b[t] + i + 8), acc1[t]);
    }
  }
  #pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    float s = hsum(_mm256_add_ps(acc0[t], acc1[t]));
    for (int64_t k = i; k < n; ++k) s += scalar(a[k]) * scalar(b[t][k]);
    out[t] = s;
  }
}

template <int NT>
void f32_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  float_dot<NT, float>(n, w, x, xs, out, [](const float* p) { return _mm256_loadu_ps(p); },
                       [](float v) { return v; });
}

template <int NT>
void f16_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  float_dot<NT, uint16_t>(
      n, w, x, xs, out,
      [](const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); },
      [](uint16_t v) { return half_to_float(v); });
}

template <int NT>
void bf16_n(int64_t n, const void* w, const void* x, int64_t xs, float* out) {
  float_dot<NT, uint16_t>(
      n, w, x, xs, out,
      [](const uint16_t* p) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
      },
      [](uint16_t v) {
        // Inline (no call): a call in the tail would force the accumulators out of registers.
        const uint32_t u = static_cast<uint32_t>(v) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
      });
}

using KernelN = void (*)(int64_t, const void*, const void*, int64_t, float*);

template <KernelN k1, KernelN k2, KernelN k3, KernelN k4>
void multi(int64_t n, const void* w, const void* x, int64_t xs, int nt, float* out) {
  switch (nt) {
    case 1: return k1(n, w, x, xs, out);
    case 2: return k2(n, w, x, xs, out);
    case 3: return k3(n, w, x, xs, out);
    default: return k4(n, w, x, xs, out);
  }
}

template <KernelN k1>
float single(int64_t n, const void* w, const void* x) {
  float r;
  k1(n, w, x, 0, &r);
  return r;
}

template <KernelN k1, KernelN k2, KernelN k3, KernelN k4>
TypeKernels make() {
  static_assert(kMaxDotTokens == 4);
  return {&single<k1>, &multi<k1, k2, k3, k4>};
}

// The table of every weight type's kernels for this translation unit's ISA.
void fill_x86_kernels(KernelTable& t, Isa isa) {
  t.isa = isa;
  t.q4_0 = make<q4_0_n<1>, q4_0_n<2>, q4_0_n<3>, q4_0_n<4>>();
  t.q8_0 = make<q8_0_n<1>, q8_0_n<2>, q8_0_n<3>, q8_0_n<4>>();
  t.mxfp4 = make<mxfp4_n<1>, mxfp4_n<2>, mxfp4_n<3>, mxfp4_n<4>>();
  t.q4_k = make<q45_k_n<1, false>, q45_k_n<2, false>, q45_k_n<3, false>, q45_k_n<4, false>>();
  t.q5_k = make<q45_k_n<1, true>, q45_k_n<2, true>, q45_k_n<3, true>, q45_k_n<4, true>>();
  t.q6_k = make<q6_k_n<1>, q6_k_n<2>, q6_k_n<3>, q6_k_n<4>>();
  t.f32 = make<f32_n<1>, f32_n<2>, f32_n<3>, f32_n<4>>();
  t.f16 = make<f16_n<1>, f16_n<2>, f16_n<3>, f16_n<4>>();
  t.bf16 = make<bf16_n<1>, bf16_n<2>, bf16_n<3>, bf16_n<4>>();
  t.quantize_q8_0 = avx2::quantize_act_q8_0;
  t.quantize_q8_k = avx2::quantize_act_q8_k;
  t.to_f16 = avx2::to_f16;
}

}  // namespace
}  // namespace strata
