// EngineStats::time: the phases of decode() are timed where they run, add up to no more than the
// decode time, and land in the right phase for dense and MoE models.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "loader/model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

PhaseTimes decode_some(const std::string& golden_dir, int n_tokens) {
  auto model = Model::open(std::string(STRATA_SHARED_DIR) + "/golden/" + golden_dir + "/model.gguf");
  MmapExpertSource experts(*model);
  Engine engine(*model, experts, {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 2});
  std::vector<int32_t> ids;
  for (int i = 0; i < n_tokens; ++i) ids.push_back(1 + i);
  Batch b;
  b.add_sequence(ids, 0, 0, true);
  engine.decode(b);
  for (int i = 0; i < 4; ++i) {
    b.clear();
    b.add(7 + i, 0, n_tokens + i, true);
    engine.decode(b);
  }
  return engine.stats().time;
}

uint64_t covered(const PhaseTimes& t) {
  return t.attention_ns + t.dense_ffn_ns + t.routing_ns + t.experts_ns + t.expert_wait_ns;
}

TEST(PhaseTimes, MoeModelTimesAttentionRoutingAndExperts) {
  const PhaseTimes t = decode_some("qwen3moe-f32", 8);
  EXPECT_GT(t.decode_ns, 0u);
  EXPECT_GT(t.attention_ns, 0u);
  EXPECT_GT(t.routing_ns, 0u);
  EXPECT_GT(t.experts_ns, 0u);
  EXPECT_EQ(t.dense_ffn_ns, 0u);  // no dense FFN layers and no shared expert
  EXPECT_LE(covered(t), t.decode_ns);
  EXPECT_EQ(t.other_ns(), t.decode_ns - covered(t));
}

TEST(PhaseTimes, DenseModelHasNoExpertTime) {
  const PhaseTimes t = decode_some("qwen3-f32", 8);
  EXPECT_GT(t.attention_ns, 0u);
  EXPECT_GT(t.dense_ffn_ns, 0u);
  EXPECT_EQ(t.routing_ns, 0u);
  EXPECT_EQ(t.experts_ns, 0u);
  EXPECT_EQ(t.expert_wait_ns, 0u);
  EXPECT_LE(covered(t), t.decode_ns);
}

TEST(PhaseTimes, SharedExpertCountsAsDenseFfn) {
  const PhaseTimes t = decode_some("qwen2moe-f32", 8);
  EXPECT_GT(t.experts_ns, 0u);
  EXPECT_GT(t.dense_ffn_ns, 0u);
  EXPECT_LE(covered(t), t.decode_ns);
}

TEST(PhaseTimes, SubtractingGivesTheTimeOfAnInterval) {
  PhaseTimes a{.decode_ns = 100, .attention_ns = 40, .dense_ffn_ns = 0, .routing_ns = 5, .experts_ns = 30,
               .expert_wait_ns = 10};
  PhaseTimes b{.decode_ns = 30, .attention_ns = 10, .dense_ffn_ns = 0, .routing_ns = 1, .experts_ns = 10,
               .expert_wait_ns = 4};
  a -= b;
  EXPECT_EQ(a.decode_ns, 70u);
  EXPECT_EQ(a.attention_ns, 30u);
  EXPECT_EQ(a.experts_ns, 20u);
  EXPECT_EQ(a.expert_wait_ns, 6u);
  EXPECT_EQ(a.other_ns(), 70u - 30u - 4u - 20u - 6u);
}

}  // namespace
}  // namespace strata
