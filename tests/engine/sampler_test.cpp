// Sampler: each filter on hand-made logits, penalties, and seeded reproducibility.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "common/error.h"
#include "engine/sampler.h"
#include "engine/stop_strings.h"

namespace strata {
namespace {

SamplerParams neutral() {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

std::set<int32_t> drawn(Sampler& s, const std::vector<float>& logits, int n = 400) {
  std::set<int32_t> seen;
  for (int i = 0; i < n; ++i) seen.insert(s.sample(logits));
  return seen;
}

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  SamplerParams p = neutral();
  p.temperature = 0.0f;
  Sampler s(p, 5);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f, 2.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{2.0f, 2.0f}), 0);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  SamplerParams p = neutral();
  p.top_k = 2;
  Sampler s(p, 4);
  EXPECT_EQ(drawn(s, {1.0f, 0.9f, 0.8f, 0.95f}), (std::set<int32_t>{0, 3}));
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  SamplerParams p = neutral();
  p.top_p = 0.5f;
  Sampler s(p, 3);
  // Probabilities ~ 0.665, 0.245, 0.09: token 0 alone reaches 0.5.
  EXPECT_EQ(drawn(s, {2.0f, 1.0f, 0.0f}), (std::set<int32_t>{0}));
  p.top_p = 0.8f;
  Sampler s2(p, 3);
  EXPECT_EQ(drawn(s2, {2.0f, 1.0f, 0.0f}), (std::set<int32_t>{0, 1}));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  SamplerParams p = neutral();
  p.min_p = 0.3f;
  Sampler s(p, 3);
  // p1/p0 = e^-1 = 0.37 (kept), p2/p0 = e^-3 = 0.05 (dropped).
  EXPECT_EQ(drawn(s, {3.0f, 2.0f, 0.0f}), (std::set<int32_t>{0, 1}));
}

TEST(Sampler, LowTemperatureConcentratesHighSpreads) {
  SamplerParams p = neutral();
  p.temperature = 0.05f;
  Sampler cold(p, 3);
  EXPECT_EQ(drawn(cold, {1.0f, 0.5f, 0.0f}), (std::set<int32_t>{0}));
  p.temperature = 5.0f;
  Sampler hot(p, 3);
  EXPECT_EQ(drawn(hot, {1.0f, 0.5f, 0.0f}).size(), 3u);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  SamplerParams p = neutral();
  p.seed = 42;
  const std::vector<float> logits{0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
  Sampler a(p, 8), b(p, 8);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 64; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
  }
  EXPECT_EQ(sa, sb);
  p.seed = 43;
  Sampler c(p, 8);
  std::vector<int32_t> sc;
  for (int i = 0; i < 64; ++i) sc.push_back(c.sample(logits));
  EXPECT_NE(sa, sc);
  a.reset();
  EXPECT_EQ(a.sample(logits), sa[0]);
}

TEST(Sampler, RepeatPenaltyDemotesSeenTokens) {
  SamplerParams p = neutral();
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler s(p, 3);
  const std::vector<float> logits{1.5f, 1.0f, -0.5f};
  EXPECT_EQ(s.sample(logits), 0);
  s.accept(0);  // 1.5 / 2 = 0.75 < 1.0
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, NegativeLogitsAreMultipliedByTheRepeatPenalty) {
  SamplerParams p = neutral();
  p.temperature = 0.0f;
  p.repeat_penalty = 3.0f;
  Sampler s(p, 2);
  const std::vector<float> logits{-0.5f, -1.0f};
  s.accept(0);  // -0.5 * 3 = -1.5 < -1.0
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplerParams p = neutral();
  p.temperature = 0.0f;
  p.frequency_penalty = 0.4f;
  Sampler s(p, 2);
  const std::vector<float> logits{1.0f, 0.5f};
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 0);  // 1.0 - 0.4 = 0.6 > 0.5
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 1);  // 1.0 - 0.8 = 0.2 < 0.5
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.6f;
  Sampler pr(p, 2);
  pr.accept(0);
  EXPECT_EQ(pr.sample(logits), 1);  // 1.0 - 0.6 = 0.4 < 0.5
}

TEST(Sampler, PenaltyWindowForgetsOldTokens) {
  SamplerParams p = neutral();
  p.temperature = 0.0f;
  p.repeat_penalty = 10.0f;
  p.repeat_last_n = 2;
  Sampler s(p, 3);
  const std::vector<float> logits{1.0f, 0.5f, 0.1f};
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(2);
  s.accept(2);  // 0 has left the window of 2
  EXPECT_EQ(s.sample(logits), 0);
}

TEST(Sampler, InvalidParametersAreErrors) {
  SamplerParams p = neutral();
  p.top_p = 1.5f;
  EXPECT_THROW(Sampler(p, 4), Error);
  p = neutral();
  p.min_p = -0.1f;
  EXPECT_THROW(Sampler(p, 4), Error);
  p = neutral();
  p.repeat_penalty = 0.0f;
  EXPECT_THROW(Sampler(p, 4), Error);
  EXPECT_THROW(Sampler(neutral(), 0), Error);
}

TEST(StopMatcher, HoldsBackPossiblePrefixAndCutsAtTheStop) {
  StopMatcher m({"</s>", "STOP"});
  EXPECT_EQ(m.feed("Hello <"), "Hello ");
  EXPECT_EQ(m.feed("/"), "");
  EXPECT_EQ(m.feed("x>"), "</x>");
  EXPECT_EQ(m.feed(" ok ST"), " ok ");
  EXPECT_EQ(m.feed("OP and more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.feed("later"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, EarliestStopWinsAndFlushReturnsTheTail) {
  StopMatcher m({"bc", "ab"});
  EXPECT_EQ(m.feed("xabc"), "x");
  EXPECT_TRUE(m.stopped());
  StopMatcher n({"end"});
  EXPECT_EQ(n.feed("the en"), "the ");
  EXPECT_FALSE(n.stopped());
  EXPECT_EQ(n.flush(), "en");
  StopMatcher none({});
  EXPECT_EQ(none.feed("anything"), "anything");
}

}  // namespace
}  // namespace strata
