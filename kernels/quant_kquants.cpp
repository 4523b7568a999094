// Strata's own K-quant quantizers (Q4_K, Q5_K, Q6_K): a small least-squares search per
// sub-block instead of ggml's weighted iterative one. Output layout is ggml's; values differ.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant.h"
#include "kernels/quant_internal.h"

namespace strata {
namespace {

// Fits x ~ scale * q - min with q in [0, nmax] for one sub-block: tries a grid of inverse
// scales around the min/max one, refits scale and min by least squares for each candidate
// assignment and keeps the lowest squared error. min is returned as a non-negative offset.
void fit_asymmetric(const float* x, int n, int nmax, float* scale, float* min_out) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);
  if (hi <= lo) {
    *scale = 0;
    *min_out = -lo;
    return;
  }
  float best_err = INFINITY, best_s = (hi - lo) / nmax, best_m = -lo;
  double sx = 0, sxx = 0;
  for (int i = 0; i < n; ++i) {
    sx += x[i];
    sxx += static_cast<double>(x[i]) * x[i];
  }
  for (int step = -10; step <= 10; ++step) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / (hi - lo);
    int sq = 0, sqq = 0;
    double sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, nmax);
      sq += q;
      sqq += q * q;
      sqx += q * static_cast<double>(x[i]);
    }
    const double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double s = (n * sqx - sq * sx) / det;
    double off = (sqq * sx - sq * sqx) / det;  // x ~ s*q + off
    if (off > 0) {
      // The format needs min >= 0 (offset <= 0): refit the scale alone through the origin.
      off = 0;
      s = sqq > 0 ? sqx / sqq : 0;
    }
    // sum (s*q + off - x)^2 expanded, so the candidate needs no second pass over the block.
    const double err = s * s * sqq + 2 * s * off * sq + n * off * off - 2 * s * sqx - 2 * off * sx + sxx;
    if (err < best_err && s >= 0) {
      best_err = static_cast<float>(err);
      best_s = static_cast<float>(s);
      best_m = static_cast<float>(-off);
    }
  }
  *scale = best_s;
  *min_out = best_m;
}

// Shared by Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; fills L (0..nmax).
void quant_k_scales(const float* x, int nmax, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                    uint8_t* L) {
  float sc[8], mn[8], max_sc = 0, max_mn = 0;
  for (int j = 0; j < 8; ++j) {
    fit_asymmetric(x + 32 * j, 32, nmax, &sc[j], &mn[j]);
    max_sc = std::max(max_sc, sc[j]);
    max_mn = std::max(max_mn, mn[j]);
  }
  const float inv_sc = max_sc > 0 ? 63.f / max_sc : 0.f;
  const float inv_mn = max_mn > 0 ? 63.f / max_mn : 0.f;
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = static_cast<uint8_t>(std::min(63, nearest_int(inv_sc * sc[j])));
    const uint8_t lm = static_cast<uint8_t>(std::min(63, nearest_int(inv_mn * mn[j])));
    if (j < 4) {
      scales[j] = ls;
      scales[j + 4] = lm;
    } else {
      scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = fp32_to_fp16(max_sc / 63.f);
  *dmin_out = fp32_to_fp16(max_mn / 63.f);
  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t ls, lm;
    get_scale_min_k4(j, scales, &ls, &lm);
    const float dl = d * ls, ml = dmin * lm;
    for (int i = 0; i < 32; ++i) {
      const int l = dl != 0 ? nearest_int((x[32 * j + i] + ml) / dl) : 0;
      L[32 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
    }
  }
}

// Symmetric fit x ~ scale * q, q in [-32, 31], for one 16-element group of Q6_K.
float fit_symmetric6(const float* x) {
  float amax = 0, max = 0;
  for (int i = 0; i < 16; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0) return 0;
  float best_s = max / -32, best_err = INFINITY;
  double sxx = 0;
  for (int i = 0; i < 16; ++i) sxx += static_cast<double>(x[i]) * x[i];
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(32.f + 0.1f * static_cast<float>(step)) / max;
    double sxl = 0;
    int sll = 0;
    for (int i = 0; i < 16; ++i) {
      const int q = std::clamp(nearest_int(iscale * x[i]), -32, 31);
      sxl += static_cast<double>(x[i]) * q;
      sll += q * q;
    }
    if (sll == 0) continue;
    const double s = sxl / sll;
    // sum (s*q - x)^2 = sxx - s * sxl at the least-squares s.
    const double err = sxx - s * sxl;
    if (err < best_err) {
      best_err = static_cast<float>(err);
      best_s = static_cast<float>(s);
    }
  }
  return best_s;
}

}  // namespace

void quant_q4_k(const float* x, BlockQ4_K* y, int64_t nb) {
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    quant_k_scales(x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < 256; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
  }
}

void quant_q5_k(const float* x, BlockQ5_K* y, int64_t nb) {
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    quant_k_scales(x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    std::memset(y[i].qh, 0, 32);
    uint8_t* ql = y[i].qs;
    uint8_t m1 = 1, m2 = 2;
    for (int j = 0; j < 256; j += 64, ql += 32) {
      for (int l = 0; l < 32; ++l) {
        int l1 = L[j + l], l2 = L[j + l + 32];
        if (l1 > 15) {
          l1 -= 16;
          y[i].qh[l] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          y[i].qh[l] |= m2;
        }
        ql[l] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
    }
  }
}

void quant_q6_k(const float* x, BlockQ6_K* y, int64_t nb) {
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float sc[16], max_sc = 0, amax_sc = 0;
    for (int ib = 0; ib < 16; ++ib) {
      sc[ib] = fit_symmetric6(x + 16 * ib);
      if (std::fabs(sc[ib]) > amax_sc) {
        amax_sc = std::fabs(sc[ib]);
        max_sc = sc[ib];
      }
    }
    std::memset(&y[i], 0, sizeof(BlockQ6_K));
    if (amax_sc == 0) {
      std::memset(L, 32, sizeof L);
    } else {
      const float iscale = -128.f / max_sc;
      y[i].d = fp32_to_fp16(1 / iscale);
      for (int ib = 0; ib < 16; ++ib) y[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * sc[ib])));
      const float d = fp16_to_fp32(y[i].d);
      for (int ib = 0; ib < 16; ++ib) {
        const float dl = d * y[i].scales[ib];
        for (int k = 0; k < 16; ++k) {
          const int l = dl != 0 ? std::clamp(nearest_int(x[16 * ib + k] / dl), -32, 31) : 0;
          L[16 * ib + k] = static_cast<uint8_t>(l + 32);
        }
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((b & 0xF) | ((e & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
      }
    }
  }
}

}  // namespace strata
