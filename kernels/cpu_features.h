#pragma once
// Runtime CPU feature detection (cpuid + xgetbv), done once; thread-safe after first call.
#include <string>

namespace strata {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool amx_tile = false;   // also requires the OS to grant the tile state (arch_prctl)
  bool amx_int8 = false;
  bool amx_bf16 = false;
  // Each flag is true only if both the CPU reports it and the OS saves the register state.
  bool has_avx2_fma_f16c() const { return avx2 && fma && f16c; }
  bool has_avx512_core() const { return avx512f && avx512bw && avx512vl; }
  // "avx2 fma f16c avx512f ..." for banners and logs.
  std::string describe() const;
};

// The features of the machine we run on (detected on first call; AMX permission is requested from
// the kernel once, and the AMX flags stay false if it refuses).
const CpuFeatures& cpu_features();

}  // namespace strata
