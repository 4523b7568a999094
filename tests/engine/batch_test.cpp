// The batch API: the same logits however the work is batched, and clear errors for batches the
// engine cannot run. Uses the golden F32 models (independent reference weights).
//
// Tolerance for "same logits": 1e-4 × max|logit|. Batched and one-token-at-a-time passes run the
// same float32 arithmetic except the order in which a matmul kernel accumulates when it blocks
// several tokens together, which moves results by a few ulps; a real batching bug (a token seeing
// another sequence's cache, a wrong position) changes them by percent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "loader/model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

const std::string kGolden = std::string(STRATA_SHARED_DIR) + "/golden/";

std::vector<int32_t> prompt_of(const std::string& name) {
  std::ifstream in(kGolden + name + "/tokens.txt");
  std::vector<int32_t> ids;
  int32_t v;
  while (in >> v) ids.push_back(v);
  return ids;
}

double max_abs(std::span<const float> a) {
  double m = 0.0;
  for (float v : a) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

double max_diff(std::span<const float> a, std::span<const float> b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

class BatchTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model_ = Model::open(kGolden + GetParam() + "/model.gguf");
    experts_ = std::make_unique<MmapExpertSource>(*model_);
    prompt_ = prompt_of(GetParam());
    ASSERT_GE(prompt_.size(), 16u);
  }
  std::unique_ptr<Engine> make(int n_seq, int n_batch = 512, TensorType kv = TensorType::F32) {
    return std::make_unique<Engine>(*model_, *experts_,
                                    EngineOptions{.n_ctx = 64, .n_seq = n_seq, .n_batch = n_batch, .kv_type = kv,
                                                  .n_threads = 2});
  }
  // Logits of every prompt position from one batch.
  std::vector<std::vector<float>> batch_logits(Engine& e, int seq, std::span<const int32_t> ids) {
    Batch b;
    for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], seq, static_cast<int32_t>(i), true);
    e.decode(b);
    std::vector<std::vector<float>> out;
    for (size_t i = 0; i < ids.size(); ++i) out.emplace_back(e.logits(i).begin(), e.logits(i).end());
    return out;
  }

  std::unique_ptr<Model> model_;
  std::unique_ptr<MmapExpertSource> experts_;
  std::vector<int32_t> prompt_;
};

TEST_P(BatchTest, TokenByTokenDecodeEqualsOneBatch) {
  auto whole = make(1);
  const auto ref = batch_logits(*whole, 0, prompt_);
  auto step = make(1);
  for (size_t i = 0; i < prompt_.size(); ++i) {
    Batch b;
    b.add(prompt_[i], 0, static_cast<int32_t>(i), true);
    step->decode(b);
    const double tol = 1e-4 * max_abs(ref[i]);
    EXPECT_LE(max_diff(step->logits(0), ref[i]), tol) << "position " << i;
  }
  EXPECT_EQ(step->seq_len(0), static_cast<int>(prompt_.size()));
}

TEST_P(BatchTest, ChunkedBatchEqualsOneBatch) {
  auto whole = make(1);
  const auto ref = batch_logits(*whole, 0, prompt_);
  auto chunked = make(1, /*n_batch=*/7);  // prompt split over several ragged chunks
  const auto got = batch_logits(*chunked, 0, prompt_);
  for (size_t i = 0; i < prompt_.size(); ++i) {
    EXPECT_LE(max_diff(got[i], ref[i]), 1e-4 * max_abs(ref[i])) << "position " << i;
  }
}

TEST_P(BatchTest, TwoSequencesInOneBatchEqualEachAlone) {
  const std::vector<int32_t> a(prompt_.begin(), prompt_.begin() + 12);
  std::vector<int32_t> b(prompt_.rbegin(), prompt_.rbegin() + 9);
  auto alone = make(1);
  const auto ref_a = batch_logits(*alone, 0, a);
  alone->clear_seq(0);
  const auto ref_b = batch_logits(*alone, 0, b);

  // Interleave the two prompts in one batch, in slots 1 and 0.
  auto both = make(2);
  Batch batch;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) batch.add(a[i], 1, static_cast<int32_t>(i), true);
    if (i < b.size()) batch.add(b[i], 0, static_cast<int32_t>(i), true);
  }
  both->decode(batch);
  size_t row = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) {
      EXPECT_LE(max_diff(both->logits(row++), ref_a[i]), 1e-4 * max_abs(ref_a[i])) << "seq a pos " << i;
    }
    if (i < b.size()) {
      EXPECT_LE(max_diff(both->logits(row++), ref_b[i]), 1e-4 * max_abs(ref_b[i])) << "seq b pos " << i;
    }
  }

  // Then one decode step of both sequences together equals each stepping alone.
  Batch step;
  step.add(5, 0, both->seq_len(0), true);
  step.add(7, 1, both->seq_len(1), true);
  both->decode(step);
  auto solo = make(1);
  auto next_alone = [&](const std::vector<int32_t>& p, int32_t tok) {
    solo->clear_seq(0);
    std::vector<int32_t> ids = p;
    ids.push_back(tok);
    return batch_logits(*solo, 0, ids).back();
  };
  const auto a_next = next_alone(a, 7);
  const auto b_next = next_alone(b, 5);
  EXPECT_LE(max_diff(both->logits(0), b_next), 1e-4 * max_abs(b_next));
  EXPECT_LE(max_diff(both->logits(1), a_next), 1e-4 * max_abs(a_next));
}

TEST_P(BatchTest, TruncateThenReevaluateGivesTheSameLogits) {
  auto e = make(1);
  const auto ref = batch_logits(*e, 0, prompt_);
  e->truncate_seq(0, 10);
  EXPECT_EQ(e->seq_len(0), 10);
  Batch b;
  for (size_t i = 10; i < prompt_.size(); ++i) b.add(prompt_[i], 0, static_cast<int32_t>(i), true);
  e->decode(b);
  for (size_t i = 10; i < prompt_.size(); ++i) {
    EXPECT_LE(max_diff(e->logits(i - 10), ref[i]), 1e-4 * max_abs(ref[i])) << "position " << i;
  }
}

TEST_P(BatchTest, F16CacheStaysCloseToF32Cache) {
  auto f32 = make(1);
  const auto ref = batch_logits(*f32, 0, prompt_);
  auto f16 = make(1, 512, TensorType::F16);
  const auto got = batch_logits(*f16, 0, prompt_);
  // Keys/values rounded to half precision (11-bit mantissa) perturb logits by ~1e-3 relative.
  for (size_t i = 0; i < prompt_.size(); ++i) {
    EXPECT_LE(max_diff(got[i], ref[i]), 1e-2 * max_abs(ref[i])) << "position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BatchTest, ::testing::Values("qwen3moe-f32", "qwen2moe-f32", "llama-moe-f32"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

class BatchErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::open(kGolden + "qwen3moe-f32/model.gguf");
    experts_ = std::make_unique<MmapExpertSource>(*model_);
    engine_ = std::make_unique<Engine>(*model_, *experts_, EngineOptions{.n_ctx = 8, .n_seq = 2, .n_threads = 1});
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<MmapExpertSource> experts_;
  std::unique_ptr<Engine> engine_;
};

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(BatchErrorTest, ContextOverflowIsAnErrorAndChangesNothing) {
  Batch b;
  for (int i = 0; i < 9; ++i) b.add(1, 0, i, false);
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("context overflow"), std::string::npos);
  EXPECT_EQ(engine_->seq_len(0), 0);
  b.clear();
  for (int i = 0; i < 8; ++i) b.add(1, 0, i, i == 7);
  engine_->decode(b);
  EXPECT_EQ(engine_->seq_len(0), 8);
  b.clear();
  b.add(1, 0, 8, true);
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("context overflow"), std::string::npos);
}

TEST_F(BatchErrorTest, BadTokenSlotOrPositionIsAnError) {
  Batch b;
  b.add(engine_->n_vocab(), 0, 0, true);
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("out of range"), std::string::npos);
  b.clear();
  b.add(-1, 0, 0, true);
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("out of range"), std::string::npos);
  b.clear();
  b.add(1, 2, 0, true);
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("slot"), std::string::npos);
  b.clear();
  b.add(1, 0, 1, true);  // a gap: position 0 missing
  EXPECT_NE(error_of([&] { engine_->decode(b); }).find("position"), std::string::npos);
  EXPECT_EQ(engine_->seq_len(0), 0);
}

TEST_F(BatchErrorTest, BadOptionsAreErrors) {
  EXPECT_THROW(Engine(*model_, *experts_, {.kv_type = TensorType::Q8_0}), Error);
  EXPECT_THROW(Engine(*model_, *experts_, {.n_seq = 0}), Error);
  EXPECT_THROW(Engine(*model_, *experts_, {.n_ctx = -5}), Error);
}

}  // namespace
}  // namespace strata
