#pragma once
// AVX2 activation converters for the AVX2 kernel table (built with AVX2 flags: call only when
// cpu_features() reports AVX2/FMA/F16C). Same contracts as KernelTable::quantize_* / to_f16.
#include <cstdint>

namespace strata::avx2 {

void quantize_act_q8_0(const float* x, void* dst, int64_t n);
void quantize_act_q8_k(const float* x, void* dst, int64_t n);
void to_f16(const float* x, void* dst, int64_t n);

}  // namespace strata::avx2
