// The AVX-512 kernel table (built with STRATA_AVX512_FLAGS): the x86 kernels with VNNI integer
// products (vpdpbusd / vpdpwssd) on 256-bit vectors. 256 bits, not 512: the blocks of these
// formats are 32 or 256 elements with per-32 scales, so wider registers would need cross-block
// shuffles, and 256-bit EVEX code avoids the frequency drop some Intel parts take on 512-bit
// instructions. Results are bit-identical to the AVX2 table.
#include "kernels/x86_dot_impl.h"

namespace strata {

void fill_avx512_kernels(KernelTable& t) { fill_x86_kernels(t, Isa::Avx512); }

}  // namespace strata
