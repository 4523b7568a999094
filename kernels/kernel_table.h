#pragma once
// Per-ISA dot-product kernels, chosen once at start-up from the CPU features.
//
// Every weight type w is multiplied with activations already converted to dot_type(w) (see
// quant.h): Q4_0/Q8_0/MXFP4 x Q8_0, K-quants x Q8_K, F16 x F16, BF16 x BF16, F32 x F32.
// Activation quantization is part of the table but gives bit-identical blocks on every ISA, so
// switching ISA only changes the summation order of the dots.
#include <cstdint>
#include <string_view>

#include "kernels/tensor_type.h"

namespace strata {

// Avx512: AVX-512 F/BW/VL + VNNI (see kernels_avx512.cpp).
enum class Isa { Scalar, Avx2, Avx512 };

// Largest number of activation rows one multi-dot call handles (the GEMM register block).
inline constexpr int kMaxDotTokens = 4;

// dot of n elements of one weight row w (weight type) and one activation row x (dot type).
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// out[t] = dot(w, x + t * x_stride bytes) for t < nt (1 <= nt <= kMaxDotTokens): the weight row is
// decoded once for all nt activation rows.
using VecDotMultiFn = void (*)(int64_t n, const void* w, const void* x, int64_t x_stride, int nt,
                               float* out);
// Converts n floats to an activation row of the dot type (n a multiple of its block size).
using QuantizeActFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeKernels {
  VecDotFn vec_dot = nullptr;
  VecDotMultiFn vec_dot_multi = nullptr;
};

struct KernelTable {
  Isa isa = Isa::Scalar;
  TypeKernels q4_0, q8_0, mxfp4, q4_k, q5_k, q6_k, f16, bf16, f32;
  QuantizeActFn quantize_q8_0 = nullptr;  // llama.cpp's activation rounding (127/amax, ties-even)
  QuantizeActFn quantize_q8_k = nullptr;  // ggml's reference Q8_K
  QuantizeActFn to_f16 = nullptr;
  QuantizeActFn to_bf16 = nullptr;

  // Kernels for weight type `w`; STRATA_CHECK-fails for Q8_K (not a weight type).
  const TypeKernels& for_type(TensorType w) const;
  // Converts an activation row to dot_type(w).
  void quantize_activations(TensorType w, const float* src, void* dst, int64_t n) const;
};

// The table in use: the best ISA the CPU supports, or what STRATA_ISA (scalar|avx2|avx512)
// forces.
// Selected on first call (thread-safe). A forced ISA the CPU lacks throws strata::Error.
const KernelTable& kernels();
// The ISA kernels() picks for a STRATA_ISA value (nullptr or "" = best supported). Throws
// strata::Error for an unknown name or an ISA this CPU lacks.
Isa choose_isa(const char* forced);
// A specific variant (for tests and benchmarks); nullptr if this CPU cannot run it.
const KernelTable* kernel_table(Isa isa);
std::string_view isa_name(Isa isa);
// Name of the ISA of kernels(), e.g. "avx2", for the run banner.
std::string_view kernel_isa_name();

// Implemented in kernels_scalar.cpp / kernels_avx2.cpp / kernels_avx512.cpp.
void fill_scalar_kernels(KernelTable& t);
void fill_avx2_kernels(KernelTable& t);
void fill_avx512_kernels(KernelTable& t);

}  // namespace strata
