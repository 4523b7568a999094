#include "kernels/kernel_table.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.h"
#include "kernels/cpu_features.h"
#include "kernels/quant.h"

namespace strata {
namespace {

KernelTable make_table(Isa isa) {
  KernelTable t;
  fill_scalar_kernels(t);
  if (isa == Isa::Avx2) fill_avx2_kernels(t);
  if (isa == Isa::Avx512) fill_avx512_kernels(t);
  return t;
}

bool supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return cpu_features().has_avx2_fma_f16c();
    case Isa::Avx512: return cpu_features().has_avx2_fma_f16c() && cpu_features().has_avx512_core() &&
                             cpu_features().avx512vnni;
  }
  return false;
}

const KernelTable& select() {
  static const KernelTable table = make_table(choose_isa(std::getenv("STRATA_ISA")));
  return table;
}

}  // namespace

const TypeKernels& KernelTable::for_type(TensorType w) const {
  switch (w) {
    case TensorType::Q4_0: return q4_0;
    case TensorType::Q8_0: return q8_0;
    case TensorType::MXFP4: return mxfp4;
    case TensorType::Q4_K: return q4_k;
    case TensorType::Q5_K: return q5_k;
    case TensorType::Q6_K: return q6_k;
    case TensorType::F16: return f16;
    case TensorType::BF16: return bf16;
    case TensorType::F32: return f32;
    case TensorType::Q8_K: break;
  }
  STRATA_CHECK(false);
  return f32;
}

void KernelTable::quantize_activations(TensorType w, const float* src, void* dst, int64_t n) const {
  switch (dot_type(w)) {
    case TensorType::Q8_0: return quantize_q8_0(src, dst, n);
    case TensorType::Q8_K: return quantize_q8_k(src, dst, n);
    case TensorType::F16: return to_f16(src, dst, n);
    case TensorType::BF16: return to_bf16(src, dst, n);
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    default: break;
  }
  STRATA_CHECK(false);
}

Isa choose_isa(const char* forced) {
  if (forced == nullptr || *forced == '\0') {
    if (supported(Isa::Avx512)) return Isa::Avx512;
    return supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
  }
  const std::string f = forced;
  if (f == "scalar") return Isa::Scalar;
  if (f == "avx2") {
    if (!supported(Isa::Avx2)) fail("STRATA_ISA=avx2, but this CPU lacks AVX2/FMA/F16C");
    return Isa::Avx2;
  }
  if (f == "avx512") {
    if (!supported(Isa::Avx512)) fail("STRATA_ISA=avx512, but this CPU lacks AVX-512 F/BW/VL/VNNI");
    return Isa::Avx512;
  }
  fail("STRATA_ISA={} is not one of: scalar, avx2, avx512", f);
}

const KernelTable& kernels() { return select(); }

const KernelTable* kernel_table(Isa isa) {
  static const KernelTable scalar = make_table(Isa::Scalar);
  static const KernelTable* avx2 = supported(Isa::Avx2) ? new KernelTable(make_table(Isa::Avx2)) : nullptr;
  static const KernelTable* avx512 =
      supported(Isa::Avx512) ? new KernelTable(make_table(Isa::Avx512)) : nullptr;
  switch (isa) {
    case Isa::Scalar: return &scalar;
    case Isa::Avx2: return avx2;
    case Isa::Avx512: return avx512;
  }
  return nullptr;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

std::string_view kernel_isa_name() { return isa_name(kernels().isa); }

}  // namespace strata
