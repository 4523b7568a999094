// The AVX2 + FMA + F16C kernel table (built with STRATA_AVX2_FLAGS).
#include "kernels/x86_dot_impl.h"

namespace strata {

void fill_avx2_kernels(KernelTable& t) { fill_x86_kernels(t, Isa::Avx2); }

}  // namespace strata
