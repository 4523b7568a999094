#pragma once
// Helpers shared by the reference quantizer files; not part of the kernels API.
#include <cstdint>
#include <cstring>

#include "kernels/quant.h"

namespace strata {

// Round half to even without a libm call (baseline x86-64 has no roundss): adding 1.5 * 2^23
// leaves the rounded integer in the low mantissa bits. Exact for |v| < 2^22, which every caller
// guarantees by construction; NaN gives garbage, not undefined behaviour.
inline int nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// nb blocks from nb * 256 floats (quant_kquants.cpp).
void quant_q4_k(const float* x, BlockQ4_K* y, int64_t nb);
void quant_q5_k(const float* x, BlockQ5_K* y, int64_t nb);
void quant_q6_k(const float* x, BlockQ6_K* y, int64_t nb);

}  // namespace strata
