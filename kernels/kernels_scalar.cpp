// Portable reference dot kernels: integer sums per block exactly as ggml's generic code, so they
// are the yardstick the SIMD variants are tested against.
#include <cmath>

#include "kernels/kernel_table.h"
#include "kernels/quant.h"

namespace strata {
namespace {

float dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
  }
  return sum;
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += a[i].qs[j] * b[i].qs[j];
    sum += static_cast<float>(s) * (fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d));
  }
  return sum;
}

float dot_mxfp4(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockMxfp4*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += kMxfp4Values[a[i].qs[j] & 0xF] * b[i].qs[j] + kMxfp4Values[a[i].qs[j] >> 4] * b[i].qs[j + 16];
    }
    sum += static_cast<float>(s) * (e8m0_to_fp32_half(a[i].e) * fp16_to_fp32(b[i].d));
  }
  return sum;
}

// Q4_K and Q5_K share everything but the 5th bit.
template <bool kFive>
float dot_q45_k(int64_t n, const void* w, const void* x) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, a[i].scales, &sc, &m);
      const uint8_t* q = a[i].qs + 32 * (j / 2);
      const int8_t* y = b[i].qs + 32 * j;
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        int v = (j % 2 == 0) ? (q[l] & 0xF) : (q[l] >> 4);
        if constexpr (kFive) v += ((a[i].qh[l] >> j) & 1) << 4;
        s += v * y[l];
      }
      sumi += sc * s;
      summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    }
    sum += b[i].d * (fp16_to_fp32(a[i].d) * static_cast<float>(sumi) -
                     fp16_to_fp32(a[i].dmin) * static_cast<float>(summ));
  }
  return sum;
}

float dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = a[i].ql + 64 * half;
      const uint8_t* qh = a[i].qh + 32 * half;
      const int8_t* sc = a[i].scales + 8 * half;
      const int8_t* y = b[i].qs + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sumi += sc[is] * q1 * y[l] + sc[is + 2] * q2 * y[l + 32] + sc[is + 4] * q3 * y[l + 64] +
                sc[is + 6] * q4 * y[l + 96];
      }
    }
    sum += fp16_to_fp32(a[i].d) * b[i].d * static_cast<float>(sumi);
  }
  return sum;
}

// Float dots accumulate in double so the reference is more accurate than any SIMD variant.
float dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

float dot_f16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_fp32(a[i])) * fp16_to_fp32(b[i]);
  return static_cast<float>(s);
}

float dot_bf16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_fp32(a[i])) * bf16_to_fp32(b[i]);
  return static_cast<float>(s);
}

template <VecDotFn kDot>
void dot_multi(int64_t n, const void* w, const void* x, int64_t x_stride, int nt, float* out) {
  for (int t = 0; t < nt; ++t) out[t] = kDot(n, w, static_cast<const uint8_t*>(x) + t * x_stride);
}

template <VecDotFn kDot>
TypeKernels make() {
  return {kDot, &dot_multi<kDot>};
}

void quantize_act_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    y[i].d = fp32_to_fp16(amax / 127.f);
    const float id = amax != 0 ? 127.f / amax : 0.f;
    for (int j = 0; j < 32; ++j) y[i].qs[j] = saturate_i8(std::nearbyint(x[j] * id));
  }
}

void quantize_act_q8_k(const float* x, void* dst, int64_t n) { quantize_row(TensorType::Q8_K, x, dst, n); }
void to_f16(const float* x, void* dst, int64_t n) { quantize_row(TensorType::F16, x, dst, n); }
void to_bf16(const float* x, void* dst, int64_t n) { quantize_row(TensorType::BF16, x, dst, n); }

}  // namespace

void fill_scalar_kernels(KernelTable& t) {
  t.isa = Isa::Scalar;
  t.q4_0 = make<dot_q4_0>();
  t.q8_0 = make<dot_q8_0>();
  t.mxfp4 = make<dot_mxfp4>();
  t.q4_k = make<dot_q45_k<false>>();
  t.q5_k = make<dot_q45_k<true>>();
  t.q6_k = make<dot_q6_k>();
  t.f32 = make<dot_f32>();
  t.f16 = make<dot_f16>();
  t.bf16 = make<dot_bf16>();
  t.quantize_q8_0 = quantize_act_q8_0;
  t.quantize_q8_k = quantize_act_q8_k;
  t.to_f16 = to_f16;
  t.to_bf16 = to_bf16;
}

}  // namespace strata
