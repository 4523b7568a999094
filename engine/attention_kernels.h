#pragma once
// The inner loops of attention (query·key dots and probability-weighted value sums) over F32 or
// F16 cache rows, with an AVX2/F16C variant picked once at start-up from the CPU features.
// Internal to the engine; all functions are pure and thread-safe.
//
// The kernels take several query heads at once: the heads of one grouped-query (GQA) group share
// their key and value rows, so each cache row is loaded (and converted from F16) once for all of
// them instead of once per head. Each head's arithmetic is the same, in the same order, whatever
// the number of heads passed, so grouping changes no result.
#include <cstdint>

namespace strata {

// Largest number of query heads one kernel call processes (its register block).
inline constexpr int kMaxAttnHeads = 4;

struct AttentionKernels {
  // out[g] = dot(q + g * q_stride, b) for g < nq (1 <= nq <= kMaxAttnHeads), n elements.
  void (*dot_f32)(const float* q, int64_t q_stride, int nq, const float* b, int n, float* out);
  void (*dot_f16)(const float* q, int64_t q_stride, int nq, const uint16_t* b, int n, float* out);
  // y + g * y_stride += a[g] * x for g < nq (1 <= nq <= kMaxAttnHeads), n elements.
  void (*axpy_f32)(float* y, int64_t y_stride, const float* a, int nq, const float* x, int n);
  void (*axpy_f16)(float* y, int64_t y_stride, const float* a, int nq, const uint16_t* x, int n);
};

const AttentionKernels& attention_kernels();

// Implemented in attention_kernels_avx2.cpp (compiled with AVX2/FMA/F16C).
void fill_attention_kernels_avx2(AttentionKernels& k);

}  // namespace strata
