// The expert seam: the forward pass asks its ExpertSource once per MoE layer and chunk for the
// union of the experts the chunk's tokens were routed to, and (when enabled) hints the next
// layer's predicted experts through prefetch() without changing any result.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "loader/model.h"
#include "loader/synth_model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

class RecordingSource final : public ExpertSource {
 public:
  explicit RecordingSource(const Model& m) : inner_(m) {}
  ExpertLease acquire(int layer, std::span<const int> experts, std::span<const float> scores) override {
    acquires.push_back({layer, std::vector<int>(experts.begin(), experts.end())});
    EXPECT_EQ(scores.size(), experts.size());
    ++outstanding;
    ExpertLease inner = inner_.acquire(layer, experts, scores);
    return ExpertLease(this, next_ticket_++, inner.weights());
  }
  void prefetch(int layer, std::span<const int> experts) override {
    prefetches.push_back({layer, std::vector<int>(experts.begin(), experts.end())});
  }
  const char* describe() const override { return "recording"; }

  struct Call {
    int layer;
    std::vector<int> experts;
  };
  std::vector<Call> acquires, prefetches;
  int outstanding = 0;

 protected:
  void release(uint64_t) override { --outstanding; }

 private:
  MmapExpertSource inner_;
  uint64_t next_ticket_ = 1;
};

std::vector<int32_t> prompt() {
  std::ifstream in(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/tokens.txt");
  std::vector<int32_t> ids;
  int32_t v;
  while (in >> v) ids.push_back(v);
  return ids;
}

TEST(ExpertSeam, OneAcquirePerLayerWithTheSortedUnionAndLeasesReleased) {
  auto model = Model::open(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/model.gguf");
  RecordingSource src(*model);
  Engine engine(*model, src, {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 1});
  const auto ids = prompt();
  Batch b;
  b.add_sequence(std::span(ids).first(3), 0, 0, true);
  engine.decode(b);
  const auto& hp = model->hparams();
  ASSERT_EQ(src.acquires.size(), static_cast<size_t>(hp.n_layer));
  for (int l = 0; l < hp.n_layer; ++l) {
    const auto& e = src.acquires[static_cast<size_t>(l)].experts;
    EXPECT_EQ(src.acquires[static_cast<size_t>(l)].layer, l);
    EXPECT_TRUE(std::is_sorted(e.begin(), e.end()));
    EXPECT_EQ(std::set<int>(e.begin(), e.end()).size(), e.size());
    EXPECT_GE(e.size(), static_cast<size_t>(hp.n_expert_used));
    EXPECT_LE(e.size(), static_cast<size_t>(3 * hp.n_expert_used));
  }
  EXPECT_EQ(src.outstanding, 0);
  EXPECT_TRUE(src.prefetches.empty());
  // A single-token decode needs exactly n_expert_used experts per layer.
  src.acquires.clear();
  b.clear();
  b.add(ids[3], 0, 3, true);
  engine.decode(b);
  for (const auto& c : src.acquires) EXPECT_EQ(c.experts.size(), static_cast<size_t>(hp.n_expert_used));
}

TEST(ExpertSeam, PrefetchHintsTheNextLayerAndChangesNothing) {
  auto model = Model::open(std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-f32/model.gguf");
  RecordingSource plain_src(*model), hint_src(*model);
  Engine plain(*model, plain_src, {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 1});
  Engine hinted(*model, hint_src,
                {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 1, .prefetch_experts = true});
  const auto ids = prompt();
  int matched = 0, predicted = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    Batch b;
    b.add(ids[i], 0, static_cast<int32_t>(i), true);
    plain.decode(b);
    hint_src.prefetches.clear();
    hint_src.acquires.clear();
    hinted.decode(b);
    const auto a = plain.logits(0), h = hinted.logits(0);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), h.begin())) << "position " << i;
    // Layers 1.. are hinted (layer 0 has nothing before it to predict from).
    ASSERT_EQ(hint_src.prefetches.size(), static_cast<size_t>(model->hparams().n_layer - 1));
    for (const auto& p : hint_src.prefetches) {
      EXPECT_GE(p.layer, 1);
      const auto& used = hint_src.acquires[static_cast<size_t>(p.layer)].experts;
      for (int e : p.experts) {
        ++predicted;
        matched += std::count(used.begin(), used.end(), e) > 0;
      }
    }
  }
  EXPECT_GT(hinted.stats().experts_predicted, 0u);
  // The prediction skips one attention sub-layer; on these random-weight models it is still far
  // better than chance (n_expert_used / n_expert = 25%).
  std::printf("[ prefetch ] %d of %d predicted experts were used\n", matched, predicted);
  EXPECT_GT(matched * 100, predicted * 25);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(ExpertSeam, PrefetchDepthHintsThatManyLayersAheadInOrder) {
  // A generated 4-layer MoE (the golden models have 2 layers: too few to see depth 2).
  const SynthPlan plan =
      plan_model(load_preset(std::string(STRATA_SOURCE_DIR) + "/configs/qwen3moe-tiny.json"), "f32", "", 4);
  SynthWriteOptions o;
  o.out = testing::TempDir() + "expert_seam_depth.gguf";
  o.force = true;
  o.threads = 1;
  write_model(plan, o);
  auto model = Model::open(o.out);
  std::filesystem::remove(o.out);  // the mapping stays valid
  const int n_layer = model->hparams().n_layer;
  ASSERT_EQ(n_layer, 4);
  RecordingSource src(*model);
  Engine engine(*model, src,
                {.n_ctx = 64, .kv_type = TensorType::F32, .n_threads = 1, .prefetch_experts = true,
                 .prefetch_depth = 2});
  Batch b;
  b.add(1, 0, 0, true);
  engine.decode(b);
  // Layer l hints l+1 then l+2 (nearest first), never past the last layer.
  const std::vector<int> expect{1, 2, 2, 3, 3};
  std::vector<int> got;
  for (const auto& p : src.prefetches) got.push_back(p.layer);
  EXPECT_EQ(got, expect);
  EXPECT_THROW(Engine(*model, src, {.prefetch_depth = 0}), Error);
}

}  // namespace
}  // namespace strata
