// RoPE: pair order, partial rotation, the relative-position property and YaRN's blend of
// interpolated and extrapolated frequencies.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "engine/rope.h"

namespace strata {
namespace {

Hparams base_hp(RopeOrder order) {
  Hparams hp;
  hp.head_dim = 8;
  hp.n_rot = 8;
  hp.rope_order = order;
  hp.rope_freq_base = 10000.0f;
  hp.n_ctx_train = 4096;
  return hp;
}

std::vector<float> rotated(const Rope& r, std::vector<float> x, int pos, int n_heads = 1) {
  std::vector<float> cs(static_cast<size_t>(r.n_rot()));
  r.angles(pos, cs.data());
  r.apply(x.data(), n_heads, cs.data());
  return x;
}

TEST(Rope, NormalOrderRotatesAdjacentPairsNeoxRotatesHalves) {
  // Only element 0 set: at position 1 the first frequency is 1 rad.
  const std::vector<float> x{1, 0, 0, 0, 0, 0, 0, 0};
  const auto n = rotated(Rope(base_hp(RopeOrder::Normal)), x, 1);
  EXPECT_NEAR(n[0], std::cos(1.0f), 1e-6);
  EXPECT_NEAR(n[1], std::sin(1.0f), 1e-6);
  EXPECT_NEAR(n[4], 0.0f, 1e-6);
  const auto z = rotated(Rope(base_hp(RopeOrder::Neox)), x, 1);
  EXPECT_NEAR(z[0], std::cos(1.0f), 1e-6);
  EXPECT_NEAR(z[1], 0.0f, 1e-6);
  EXPECT_NEAR(z[4], std::sin(1.0f), 1e-6);
}

TEST(Rope, SecondFrequencyUsesBaseToTheMinusTwoOverD) {
  const std::vector<float> x{0, 0, 1, 0, 0, 0, 0, 0};
  const auto n = rotated(Rope(base_hp(RopeOrder::Normal)), x, 3);
  const double theta = 3.0 * std::pow(10000.0, -2.0 / 8.0);
  EXPECT_NEAR(n[2], std::cos(theta), 1e-5);
  EXPECT_NEAR(n[3], std::sin(theta), 1e-5);
}

TEST(Rope, PartialRotationLeavesTailUntouched) {
  Hparams hp = base_hp(RopeOrder::Neox);
  hp.n_rot = 4;
  const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8};
  const auto y = rotated(Rope(hp), x, 17, 1);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(y[static_cast<size_t>(i)], x[static_cast<size_t>(i)]);
  EXPECT_NE(y[0], x[0]);
}

TEST(Rope, ScoresDependOnlyOnRelativePosition) {
  for (RopeOrder order : {RopeOrder::Normal, RopeOrder::Neox}) {
    const Rope r(base_hp(order));
    const std::vector<float> q{0.3f, -1.2f, 0.5f, 2.0f, -0.7f, 0.1f, 1.1f, -0.4f};
    const std::vector<float> k{1.0f, 0.2f, -0.3f, 0.8f, 0.6f, -1.5f, 0.25f, 0.9f};
    auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
      double s = 0;
      for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
      return s;
    };
    const double s1 = dot(rotated(r, q, 10), rotated(r, k, 7));
    const double s2 = dot(rotated(r, q, 103), rotated(r, k, 100));
    EXPECT_NEAR(s1, s2, 1e-4);
  }
}

TEST(Rope, YarnExtrapolatesHighFrequenciesAndInterpolatesLowOnes) {
  Hparams hp = base_hp(RopeOrder::Neox);
  hp.head_dim = hp.n_rot = 64;
  hp.rope_scaling = RopeScaling::Yarn;
  hp.rope_freq_scale = 0.25f;
  hp.rope_orig_ctx = 4096;
  const Rope r(hp);
  std::vector<float> cs(64);
  const int pos = 1000;
  r.angles(pos, cs.data());
  const double mscale = 1.0 + 0.1 * std::log(4.0);
  // Pair 0 (fastest rotation): pure extrapolation, the unscaled angle, magnitude scaled.
  EXPECT_NEAR(cs[0], std::cos(1000.0) * mscale, 1e-3);
  EXPECT_NEAR(cs[1], std::sin(1000.0) * mscale, 1e-3);
  // Last pair (slowest): pure interpolation, angle × freq_scale.
  const double theta_last = pos * std::pow(10000.0, -62.0 / 64.0) * 0.25;
  EXPECT_NEAR(cs[62], std::cos(theta_last) * mscale, 1e-4);
  EXPECT_NEAR(cs[63], std::sin(theta_last) * mscale, 1e-4);
}

TEST(Rope, LinearScalingMultipliesTheAngle) {
  Hparams hp = base_hp(RopeOrder::Normal);
  hp.rope_scaling = RopeScaling::Linear;
  hp.rope_freq_scale = 0.5f;
  std::vector<float> cs(8);
  Rope(hp).angles(4, cs.data());
  EXPECT_NEAR(cs[0], std::cos(2.0f), 1e-6);
  EXPECT_NEAR(cs[1], std::sin(2.0f), 1e-6);
}

TEST(Rope, InvalidConfigurationsAreErrors) {
  Hparams hp = base_hp(RopeOrder::Normal);
  hp.n_rot = 7;
  EXPECT_THROW(Rope{hp}, Error);
  hp.n_rot = 16;
  EXPECT_THROW(Rope{hp}, Error);
  hp = base_hp(RopeOrder::Normal);
  hp.rope_freq_base = 0.0f;
  EXPECT_THROW(Rope{hp}, Error);
}

}  // namespace
}  // namespace strata
