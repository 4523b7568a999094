#pragma once
// The inner loops of attention (query·key dots and probability-weighted value sums) over F32 or
// F16 cache rows, with an AVX2/F16C variant picked once at start-up from the CPU features.
// Internal to the engine; all functions are pure and thread-safe.
#include <cstdint>

namespace strata {

struct AttentionKernels {
  float (*dot_f32)(const float* a, const float* b, int n);
  float (*dot_f16)(const float* a, const uint16_t* b, int n);
  void (*axpy_f32)(float* y, float a, const float* x, int n);   // y += a * x
  void (*axpy_f16)(float* y, float a, const uint16_t* x, int n);
};

const AttentionKernels& attention_kernels();

// Implemented in attention_kernels_avx2.cpp (compiled with AVX2/FMA/F16C).
void fill_attention_kernels_avx2(AttentionKernels& k);

}  // namespace strata
