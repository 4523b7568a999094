#pragma once
// Rotary position embedding as llama.cpp computes it: normal (adjacent pairs) or NeoX (split
// halves) order, partial rotation (n_rot < head_dim), linear scaling and YaRN.
#include <vector>

#include "loader/model.h"

namespace strata {

class Rope {
 public:
  // Reads order, n_rot, base, scaling and YaRN parameters from `hp`. Throws strata::Error for
  // an impossible configuration (odd or oversized n_rot, non-positive base or scale).
  explicit Rope(const Hparams& hp);

  // Writes the n_rot/2 (cos, sin) pairs for `pos` into `cs` (n_rot floats). Thread-safe.
  void angles(int pos, float* cs) const;
  // Rotates `n_heads` heads (each `head_dim` floats, consecutive) of one token in place with the
  // angles from angles(). Thread-safe.
  void apply(float* x, int n_heads, const float* cs) const;

  int n_rot() const { return n_rot_; }

 private:
  RopeOrder order_;
  int n_rot_;
  int head_dim_;
  float theta_scale_;
  float freq_scale_;
  float ext_factor_;
  float attn_factor_;
  float corr_lo_ = 0.0f;
  float corr_hi_ = 0.0f;
};

}  // namespace strata
