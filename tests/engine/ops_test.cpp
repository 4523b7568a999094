// The small vector operations against their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops.h"

namespace strata {
namespace {

TEST(Ops, RmsNormScalesToUnitRootMeanSquareTimesWeight) {
  std::vector<float> x{1.0f, -2.0f, 3.0f, -4.0f}, w{1.0f, 2.0f, 0.5f, 1.0f}, y(4);
  ops::rms_norm(x.data(), w.data(), y.data(), 4, 1e-6f);
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / rms * w[i], 1e-6);
  ops::rms_norm(x.data(), nullptr, x.data(), 4, 1e-6f);  // in place, no weight
  EXPECT_NEAR(x[3], -4.0 / rms, 1e-6);
}

TEST(Ops, SoftmaxIsStableForLargeInputsAndSumsToOne) {
  std::vector<float> x{1000.0f, 1001.0f, 999.0f};
  ops::softmax(x.data(), 3);
  const double e = std::exp(1.0), z = 1.0 + e + 1.0 / e;
  EXPECT_NEAR(x[0], 1.0 / z, 1e-6);
  EXPECT_NEAR(x[1], e / z, 1e-6);
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0, 1e-6);
}

TEST(Ops, SwigluIsSiluOfGateTimesUp) {
  std::vector<float> g{-2.0f, 0.0f, 3.0f}, u{1.5f, 7.0f, -0.5f};
  ops::swiglu(g.data(), u.data(), 3);
  EXPECT_NEAR(g[0], -2.0 / (1.0 + std::exp(2.0)) * 1.5, 1e-6);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_NEAR(g[2], 3.0 / (1.0 + std::exp(-3.0)) * -0.5, 1e-6);
  EXPECT_NEAR(ops::sigmoid(0.0f), 0.5f, 1e-7);
}

TEST(Ops, AddAndAxpy) {
  std::vector<float> y{1.0f, 2.0f}, x{0.5f, -1.0f};
  ops::add(y.data(), x.data(), 2);
  EXPECT_EQ(y, (std::vector<float>{1.5f, 1.0f}));
  ops::axpy(y.data(), 2.0f, x.data(), 2);
  EXPECT_EQ(y, (std::vector<float>{2.5f, -1.0f}));
}

}  // namespace
}  // namespace strata
