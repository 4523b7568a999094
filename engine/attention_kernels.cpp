#include "engine/attention_kernels.h"

#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/quant.h"

namespace strata {
namespace {

float dot_f32(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
float dot_f16(const float* a, const uint16_t* b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; ++i) s += a[i] * fp16_to_fp32(b[i]);
  return s;
}
void axpy_f32(float* y, float a, const float* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}
void axpy_f16(float* y, float a, const uint16_t* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

AttentionKernels select() {
  AttentionKernels k{dot_f32, dot_f16, axpy_f32, axpy_f16};
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
