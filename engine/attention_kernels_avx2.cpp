#include <immintrin.h>

#include "engine/attention_kernels.h"
#include "kernels/quant.h"

namespace strata {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return fp16_to_fp32(*p); }

// NQ heads against one row; per head two accumulators over 16-element steps, then an 8-element
// step and a scalar tail.
template <int NQ, typename T>
void dot_n(const float* q, int64_t q_stride, const T* b, int n, float* out) {
  __m256 acc0[NQ], acc1[NQ];
  #pragma GCC unroll 4
  for (int g = 0; g < NQ; ++g) acc0[g] = acc1[g] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 b0 = load8(b + i), b1 = load8(b + i + 8);
    #pragma GCC unroll 4
    for (int g = 0; g < NQ; ++g) {
      acc0[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * q_stride + i), b0, acc0[g]);
      acc1[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * q_stride + i + 8), b1, acc1[g]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 b0 = load8(b + i);
    #pragma GCC unroll 4
    for (int g = 0; g < NQ; ++g) acc0[g] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * q_stride + i), b0, acc0[g]);
  }
  #pragma GCC unroll 4
  for (int g = 0; g < NQ; ++g) {
    float s = hsum(_mm256_add_ps(acc0[g], acc1[g]));
    for (int k = i; k < n; ++k) s += q[g * q_stride + k] * load1(b + k);
    out[g] = s;
  }
}

template <typename T>
void dot(const float* q, int64_t q_stride, int nq, const T* b, int n, float* out) {
  switch (nq) {
    case 1: return dot_n<1>(q, q_stride, b, n, out);
    case 2: return dot_n<2>(q, q_stride, b, n, out);
    case 3: return dot_n<3>(q, q_stride, b, n, out);
    default: return dot_n<4>(q, q_stride, b, n, out);
  }
}

template <int NQ, typename T>
void axpy_n(float* y, int64_t y_stride, const float* a, const T* x, int n) {
  __m256 va[NQ];
  #pragma GCC unroll 4
  for (int g = 0; g < NQ; ++g) va[g] = _mm256_set1_ps(a[g]);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = load8(x + i);
    #pragma GCC unroll 4
    for (int g = 0; g < NQ; ++g) {
      float* yg = y + g * y_stride + i;
      _mm256_storeu_ps(yg, _mm256_fmadd_ps(va[g], xv, _mm256_loadu_ps(yg)));
    }
  }
  for (; i < n; ++i) {
    const float xv = load1(x + i);
    for (int g = 0; g < NQ; ++g) y[g * y_stride + i] += a[g] * xv;
  }
}

template <typename T>
void axpy(float* y, int64_t y_stride, const float* a, int nq, const T* x, int n) {
  switch (nq) {
    case 1: return axpy_n<1>(y, y_stride, a, x, n);
    case 2: return axpy_n<2>(y, y_stride, a, x, n);
    case 3: return axpy_n<3>(y, y_stride, a, x, n);
    default: return axpy_n<4>(y, y_stride, a, x, n);
  }
}

}  // namespace

void fill_attention_kernels_avx2(AttentionKernels& k) {
  k.dot_f32 = dot<float>;
  k.dot_f16 = dot<uint16_t>;
  k.axpy_f32 = axpy<float>;
  k.axpy_f16 = axpy<uint16_t>;
}

}  // namespace strata
