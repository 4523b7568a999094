#pragma once
// Reference (scalar) block formats, conversions and row quantize/dequantize for every TensorType.
// Block layouts are bit-compatible with ggml/GGUF. Everything here is pure and thread-safe.
#include <cstdint>

#include "kernels/tensor_type.h"

namespace strata {

// Elements per super-block of the K-quants.
inline constexpr int64_t kQK = 256;

struct BlockQ4_0 {
  uint16_t d;       // f16 scale
  uint8_t qs[16];   // element j in low nibble of qs[j], element j+16 in the high nibble
};
struct BlockQ8_0 {
  uint16_t d;       // f16 scale
  int8_t qs[32];
};
struct BlockMxfp4 {
  uint8_t e;        // e8m0 shared exponent
  uint8_t qs[16];   // e2m1 codes, same nibble order as Q4_0
};
struct BlockQ4_K {
  uint16_t d;          // f16 super-scale for the 6-bit sub-block scales
  uint16_t dmin;       // f16 super-scale for the 6-bit sub-block mins
  uint8_t scales[12];  // 8 scales + 8 mins, 6 bits each, packed (see get_scale_min_k4)
  uint8_t qs[128];     // 4-bit quants; each 32 bytes hold two 32-element sub-blocks (lo, hi)
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];      // 5th bit: bit k of qh[l] belongs to sub-block k, element l
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];     // low 4 bits
  uint8_t qh[64];      // high 2 bits
  int8_t scales[16];   // 8-bit scale per 16 elements
  uint16_t d;          // f16 super-scale
};
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];   // sum of each group of 16 quants (lets K-quant dots fold the mins in)
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ8_0) == 34 && sizeof(BlockMxfp4) == 17);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// IEEE half / bfloat16 conversions (round-to-nearest-even; NaN stays NaN).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
// 2^(e-128): the e8m0 scale with ggml's MXFP4 convention of a doubled value table.
float e8m0_to_fp32_half(uint8_t e);
// MXFP4 e2m1 values doubled (ggml's table): {0,1,2,3,4,6,8,12} and negatives.
extern const int8_t kMxfp4Values[16];

// Float -> int8 with saturation; NaN gives 0 (a plain cast would be undefined behaviour).
inline int8_t saturate_i8(float v) {
  if (v >= 127.f) return 127;
  if (v >= -128.f) return static_cast<int8_t>(v);
  return v < 0 ? int8_t{-128} : int8_t{0};
}

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Dequantizes n elements (a multiple of the type's block size, checked) from src to dst. Exact:
// gives the same floats as ggml/gguf-py. Aborts (STRATA_CHECK) on a bad n: callers validate shapes.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Reference quantizer, n a multiple of the block size. Q4_0/Q8_0/Q8_K/MXFP4 follow ggml's
// reference rounding exactly; Q4_K/Q5_K/Q6_K use strata's own least-squares search over scale
// candidates (RMS error within ~3% of llama-quantize's on the golden weights, not bit-identical).
// F32/F16/BF16 convert. Non-finite inputs give unspecified values but never undefined behaviour.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// The type activations are quantized to before an integer/half dot with weights of `weight`
// (what llama.cpp's CPU backend uses): Q4_0/Q8_0/MXFP4 -> Q8_0; K-quants -> Q8_K; F16 -> F16;
// BF16 -> BF16; F32 -> F32. Q8_K itself is not a weight type (STRATA_CHECK).
TensorType dot_type(TensorType weight);

}  // namespace strata
