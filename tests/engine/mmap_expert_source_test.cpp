// MmapExpertSource: the weights it hands out are exactly the model's expert slices, in the order
// asked, and bad requests are errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "loader/model.h"
#include "storage/mmap_expert_source.h"

namespace strata {
namespace {

const std::string kModel = std::string(STRATA_SHARED_DIR) + "/golden/qwen3moe-q4_k/model.gguf";

TEST(MmapExpertSource, ReturnsTheModelsSlicesInRequestOrder) {
  auto model = Model::open(kModel);
  MmapExpertSource src(*model);
  const std::vector<int> want{5, 0, 7};
  for (int layer = 0; layer < model->hparams().n_layer; ++layer) {
    ExpertLease lease = src.acquire(layer, want);
    ASSERT_EQ(lease.weights().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const ExpertWeights& w = lease.weights()[i];
      EXPECT_EQ(w.expert, want[i]);
      const ExpertSlice gate = model->expert(layer, want[i], ExpertPart::Gate);
      const ExpertSlice down = model->expert(layer, want[i], ExpertPart::Down);
      EXPECT_EQ(w.gate.data, gate.data);
      EXPECT_EQ(w.gate.type, TensorType::Q4_K);
      EXPECT_EQ(w.gate.rows, model->hparams().n_ff_exp);
      EXPECT_EQ(w.gate.cols, model->hparams().n_embd);
      EXPECT_EQ(w.down.data, down.data);
      EXPECT_EQ(w.down.rows, model->hparams().n_embd);
      EXPECT_EQ(w.up.data, model->expert(layer, want[i], ExpertPart::Up).data);
    }
  }
  EXPECT_NE(std::string(src.describe()).find("mmap"), std::string::npos);
}

TEST(MmapExpertSource, OutOfRangeRequestsAreErrors) {
  auto model = Model::open(kModel);
  MmapExpertSource src(*model);
  const std::vector<int> bad_expert{8};
  EXPECT_THROW(src.acquire(0, bad_expert), Error);
  const std::vector<int> negative{-1};
  EXPECT_THROW(src.acquire(0, negative), Error);
  const std::vector<int> ok{1};
  EXPECT_THROW(src.acquire(2, ok), Error);
  EXPECT_THROW(src.acquire(-1, ok), Error);
}

}  // namespace
}  // namespace strata
