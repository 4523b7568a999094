// Model::open on the independent llama.cpp/gguf-py golden files: hparams must match meta.json.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "loader/model.h"

using namespace strata;

namespace {

const std::string kGolden = std::string(STRATA_SHARED_DIR) + "/golden/";

nlohmann::json meta_json(const std::string& dir) {
  std::ifstream in(kGolden + dir + "/meta.json");
  return nlohmann::json::parse(in);
}

class GoldenModel : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(GoldenModel, HparamsMatchMetaJson) {
  const std::string dir = GetParam();
  auto meta = meta_json(dir);
  auto dims = meta["dims"];
  auto m = Model::open(kGolden + dir + "/model.gguf");
  const Hparams& hp = m->hparams();
  EXPECT_EQ(arch_name(m->arch()), meta["arch"].get<std::string>());
  EXPECT_EQ(hp.n_layer, dims["n_layer"].get<int>());
  EXPECT_EQ(hp.n_embd, dims["n_embd"].get<int>());
  EXPECT_EQ(hp.n_head, dims["n_head"].get<int>());
  EXPECT_EQ(hp.n_head_kv, dims["n_head_kv"].get<int>());
  EXPECT_EQ(hp.head_dim, dims["head_dim"].get<int>());
  EXPECT_EQ(hp.n_vocab, dims["n_vocab"].get<int>());
  EXPECT_EQ(hp.n_ctx_train, dims["n_ctx_train"].get<int>());
  EXPECT_FLOAT_EQ(hp.rope_freq_base, dims["rope_freq_base"].get<float>());
  EXPECT_FLOAT_EQ(hp.rms_eps, dims["rms_eps"].get<float>());
  EXPECT_EQ(hp.tied_embeddings, dims["tied_embeddings"].get<bool>());
  EXPECT_EQ(hp.rope_order == RopeOrder::Neox ? "neox" : "norm", dims["rope_type"].get<std::string>());
  if (!dims["n_expert"].is_null() && dims["n_expert"].get<int>() > 0) {
    EXPECT_EQ(hp.n_expert, dims["n_expert"].get<int>());
    EXPECT_EQ(hp.n_expert_used, dims["n_expert_used"].get<int>());
    EXPECT_EQ(hp.n_ff_exp, dims["n_ff_exp"].get<int>());
    if (dims["n_ff_shexp"].is_number()) {
      EXPECT_EQ(hp.n_ff_shexp, dims["n_ff_shexp"].get<int>());
    }
  } else {
    EXPECT_EQ(hp.n_expert, 0);
    EXPECT_EQ(hp.n_ff, dims["n_ff"].get<int>());
  }
  // Every tensor of the file is accounted for, and the layer view is complete.
  uint64_t sum = 0;
  for (const auto& t : m->tensors()) sum += t.nbytes;
  EXPECT_EQ(m->total_bytes(), sum);
  EXPECT_EQ(m->tensors().size(), meta["tensor_types"].size());
  for (int l = 0; l < hp.n_layer; ++l) {
    const auto& lt = m->layer(l);
    EXPECT_NE(lt.attn_norm, nullptr);
    EXPECT_NE(lt.wq, nullptr);
    EXPECT_NE(lt.wo, nullptr);
    EXPECT_NE(lt.ffn_norm, nullptr);
    if (hp.n_expert > 0) {
      EXPECT_NE(lt.router, nullptr);
      EXPECT_NE(lt.down_exps, nullptr);
      EXPECT_TRUE(m->layer_has_experts(l));
    } else {
      EXPECT_NE(lt.ffn_down, nullptr);
      EXPECT_FALSE(m->layer_has_experts(l));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, GoldenModel,
                         ::testing::Values("qwen3moe-f32", "llama-moe-f32", "qwen2moe-f32", "olmoe-f32",
                                           "qwen3-f32", "qwen3moe-f16", "qwen3moe-bf16", "qwen3moe-q8_0",
                                           "qwen3moe-q4_0", "qwen3moe-q4_k", "qwen3moe-q5_k",
                                           "qwen3moe-q6_k", "qwen3moe-mxfp4"));

TEST(ModelGolden, NormTopkPerArchitecture) {
  EXPECT_TRUE(Model::open(kGolden + "qwen3moe-f32/model.gguf")->hparams().norm_topk_prob);
  EXPECT_TRUE(Model::open(kGolden + "llama-moe-f32/model.gguf")->hparams().norm_topk_prob);
  EXPECT_FALSE(Model::open(kGolden + "qwen2moe-f32/model.gguf")->hparams().norm_topk_prob);
  EXPECT_FALSE(Model::open(kGolden + "olmoe-f32/model.gguf")->hparams().norm_topk_prob);
}

TEST(ModelGolden, ExpertSlicesTileTheStackedTensor) {
  auto m = Model::open(kGolden + "qwen3moe-q4_k/model.gguf");
  const auto& hp = m->hparams();
  for (int l = 0; l < hp.n_layer; ++l) {
    const TensorRef* down = m->layer(l).down_exps;
    ASSERT_NE(down, nullptr);
    uint64_t next = down->file_offset;
    for (int e = 0; e < hp.n_expert; ++e) {
      ExpertSlice s = m->expert(l, e, ExpertPart::Down);
      EXPECT_EQ(s.file_offset, next);
      EXPECT_EQ(s.rows, hp.n_embd);
      EXPECT_EQ(s.cols, hp.n_ff_exp);
      EXPECT_EQ(s.type, TensorType::Q4_K);
      EXPECT_EQ(s.data, m->files()[0].data() + s.file_offset);
      next += s.nbytes;
    }
    EXPECT_EQ(next, down->file_offset + down->nbytes);
    ExpertSlice g = m->expert(l, 3, ExpertPart::Gate);
    EXPECT_EQ(g.rows, hp.n_ff_exp);
    EXPECT_EQ(g.cols, hp.n_embd);
    EXPECT_EQ(m->bytes_per_expert(l), 3 * g.nbytes);
  }
  EXPECT_THROW(m->expert(0, hp.n_expert, ExpertPart::Up), Error);
  EXPECT_THROW(m->expert(-1, 0, ExpertPart::Up), Error);
  EXPECT_THROW(m->expert(hp.n_layer, 0, ExpertPart::Up), Error);
  EXPECT_EQ(m->expert_bytes(), 3ull * hp.n_layer * hp.n_expert * m->expert(0, 0, ExpertPart::Gate).nbytes);
}

TEST(ModelGolden, TiedEmbeddingsUseTokenEmbd) {
  auto m = Model::open(kGolden + "qwen3-f32/model.gguf");
  EXPECT_TRUE(m->hparams().tied_embeddings);
  EXPECT_EQ(&m->output(), &m->token_embd());
  EXPECT_THROW(m->expert(0, 0, ExpertPart::Gate), Error);
  EXPECT_EQ(m->active_params(), m->total_params());
}

TEST(ModelGolden, OpenErrors) {
  EXPECT_THROW(Model::open("/nonexistent/model.gguf"), Error);
  try {
    Model::open(std::string(STRATA_SHARED_DIR) + "/vocab/ggml-vocab-gpt-2.gguf");
    FAIL() << "vocab-only GGUF opened as a model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensors"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Model::open(kGolden + "qwen3moe-f32/meta.json"), Error);
  EXPECT_THROW(Model::open(kGolden), Error);  // a directory without config.json
}
