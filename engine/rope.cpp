#include "engine/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/error.h"

namespace strata {
namespace {

// The rotary dimension at which a frequency completes `n_rotations` turns over the original
// context; YaRN interpolates below one such dimension and extrapolates above the other.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rotations, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

float yarn_ramp(float low, float high, int i0) {
  const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

Rope::Rope(const Hparams& hp)
    : order_(hp.rope_order),
      n_rot_(hp.n_rot > 0 ? hp.n_rot : hp.head_dim),
      head_dim_(hp.head_dim),
      freq_scale_(hp.rope_freq_scale),
      attn_factor_(hp.yarn_attn_factor) {
  if (n_rot_ <= 0 || n_rot_ % 2 != 0 || n_rot_ > head_dim_) {
    fail("rope: rotated dimension {} must be even and at most the head size {}", n_rot_, head_dim_);
  }
  if (!(hp.rope_freq_base > 0.0f) || !(hp.rope_freq_scale > 0.0f)) {
    fail("rope: frequency base {} and scale {} must be positive", hp.rope_freq_base,
         hp.rope_freq_scale);
  }
  theta_scale_ = std::pow(hp.rope_freq_base, -2.0f / static_cast<float>(n_rot_));
  // llama.cpp: a negative ext_factor means "1 for YaRN, 0 otherwise".
  ext_factor_ = hp.yarn_ext_factor >= 0.0f ? hp.yarn_ext_factor
                                            : (hp.rope_scaling == RopeScaling::Yarn ? 1.0f : 0.0f);
  if (ext_factor_ != 0.0f) {
    const int n_orig = hp.rope_orig_ctx > 0 ? hp.rope_orig_ctx : hp.n_ctx_train;
    if (n_orig <= 0) fail("rope: YaRN needs the original context length");
    const float lo = std::floor(yarn_corr_dim(n_rot_, n_orig, hp.yarn_beta_fast, hp.rope_freq_base));
    const float hi = std::ceil(yarn_corr_dim(n_rot_, n_orig, hp.yarn_beta_slow, hp.rope_freq_base));
    corr_lo_ = std::max(0.0f, lo);
    corr_hi_ = std::min(static_cast<float>(n_rot_ - 1), hi);
  }
}

void Rope::angles(int pos, float* cs) const {
  // The angle advances by repeated multiplication in float, exactly as ggml's rope cache does,
  // so positions far into the context round the same way as the reference.
  float theta_extrap = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_rot_; i0 += 2) {
    const float theta_interp = freq_scale_ * theta_extrap;
    float theta = theta_interp;
    float mscale = attn_factor_;
    if (ext_factor_ != 0.0f) {
      const float mix = yarn_ramp(corr_lo_, corr_hi_, i0) * ext_factor_;
      theta = theta_interp * (1.0f - mix) + theta_extrap * mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale_);
    }
    cs[i0] = std::cos(theta) * mscale;
    cs[i0 + 1] = std::sin(theta) * mscale;
    theta_extrap *= theta_scale_;
  }
}

void Rope::apply(float* x, int n_heads, const float* cs) const {
  const int half = n_rot_ / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<size_t>(h) * head_dim_;
    if (order_ == RopeOrder::Normal) {
      for (int i0 = 0; i0 < n_rot_; i0 += 2) {
        const float c = cs[i0], s = cs[i0 + 1];
        const float x0 = v[i0], x1 = v[i0 + 1];
        v[i0] = x0 * c - x1 * s;
        v[i0 + 1] = x0 * s + x1 * c;
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace strata
