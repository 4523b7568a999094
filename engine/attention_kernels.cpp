#include "engine/attention_kernels.h"

#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/quant.h"

namespace strata {
namespace {

template <typename T>
float to_float(T v) {
  if constexpr (sizeof(T) == 2) {
    return fp16_to_fp32(v);
  } else {
    return v;
  }
}

template <typename T>
void dot(const float* q, int64_t q_stride, int nq, const T* b, int n, float* out) {
  for (int g = 0; g < nq; ++g) {
    const float* a = q + g * q_stride;
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += a[i] * to_float(b[i]);
    out[g] = s;
  }
}

template <typename T>
void axpy(float* y, int64_t y_stride, const float* a, int nq, const T* x, int n) {
  for (int g = 0; g < nq; ++g) {
    float* yg = y + g * y_stride;
    for (int i = 0; i < n; ++i) yg[i] += a[g] * to_float(x[i]);
  }
}

AttentionKernels select() {
  AttentionKernels k{dot<float>, dot<uint16_t>, axpy<float>, axpy<uint16_t>};
  // Follow the matmul kernels' choice, so STRATA_ISA=scalar gives a fully scalar engine.
  if (kernels().isa != Isa::Scalar && cpu_features().has_avx2_fma_f16c()) fill_attention_kernels_avx2(k);
  return k;
}

}  // namespace

const AttentionKernels& attention_kernels() {
  static const AttentionKernels k = select();
  return k;
}

}  // namespace strata
