#pragma once
// Small float32 vector operations of the forward pass. Pure functions on caller-owned buffers;
// thread-safe. Reductions accumulate in double where llama.cpp does (rms_norm), so our numbers
// follow the reference closely.
#include <cstdint>

namespace strata::ops {

// y = x / sqrt(mean(x^2) + eps) * w  (w may be null: no scale). x and y may alias.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// In-place numerically stable softmax over n values.
void softmax(float* x, int64_t n);

// x[i] = x[i] * sigmoid(x[i]) * up[i]  (SwiGLU: gate in x, result in x).
void swiglu(float* gate, const float* up, int64_t n);

float sigmoid(float x);

// y += x
void add(float* y, const float* x, int64_t n);
// y += a * x
void axpy(float* y, float a, const float* x, int64_t n);

}  // namespace strata::ops
