#include "kernels/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace strata {
namespace {

uint64_t read_xcr0() {
  uint32_t lo, hi;
  // xgetbv with ecx=0; only valid when cpuid reports OSXSAVE, which the caller checks.
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Linux refuses AMX tile data state until a process asks for it (since 5.16).
bool request_amx_permission() {
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtileData = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  const bool fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned b7 = b, c7 = c, d7 = d;
  f.avx2 = os_ymm && ((b7 >> 5) & 1);
  f.fma = os_ymm && fma;
  f.f16c = os_ymm && f16c;
  f.avx512f = os_zmm && ((b7 >> 16) & 1);
  f.avx512bw = os_zmm && ((b7 >> 30) & 1);
  f.avx512vl = os_zmm && ((b7 >> 31) & 1);
  f.avx512vnni = os_zmm && ((c7 >> 11) & 1);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512bf16 = os_zmm && ((a >> 5) & 1);
  const bool amx_tile = (d7 >> 24) & 1;
  if (amx_tile && os_amx && request_amx_permission()) {
    f.amx_tile = true;
    f.amx_bf16 = (d7 >> 22) & 1;
    f.amx_int8 = (d7 >> 25) & 1;
  }
  return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(amx_tile, "amx-tile");
  add(amx_int8, "amx-int8");
  add(amx_bf16, "amx-bf16");
  return s.empty() ? "baseline" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace strata
