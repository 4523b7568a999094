// Model::open rejects files whose metadata and tensors disagree, with one clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/error.h"
#include "loader/architectures.h"
#include "loader/gguf_writer.h"
#include "loader/model.h"
#include "loader/synth_model.h"

namespace fs = std::filesystem;
using namespace strata;

namespace {

const std::string kConfigs = std::string(STRATA_SOURCE_DIR) + "/configs/";

class ModelValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("strata_val_" + std::to_string(rd()));
    fs::create_directories(dir_);
    plan_ = plan_model(load_preset(kConfigs + "qwen3moe-tiny.json"), "f32", "", 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `plan` with zero-filled tensors (contents do not matter for validation).
  std::string write(const SynthPlan& plan) {
    std::string path = (dir_ / ("m" + std::to_string(n_++) + ".gguf")).string();
    GgufWriter w;
    w.add_metadata(plan.meta);
    for (const auto& t : plan.tensors) w.add_tensor(t.name, t.type, std::span<const int64_t>(t.ne));
    w.begin(path);
    for (const auto& t : plan.tensors) {
      std::vector<uint8_t> zeros(w.tensor_nbytes(t.name));
      w.write_tensor_data(t.name, zeros.data(), zeros.size());
    }
    w.finish();
    return path;
  }

  void expect_open_error(const SynthPlan& plan, const std::string& fragment) {
    std::string path = write(plan);
    try {
      Model::open(path);
      FAIL() << "opened; expected an error containing: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
  SynthPlan plan_;
  int n_ = 0;
};

}  // namespace

TEST_F(ModelValidation, ValidPlanOpens) { EXPECT_NO_THROW(Model::open(write(plan_))); }

TEST_F(ModelValidation, UnsupportedArchitecture) {
  SynthPlan p = plan_;
  p.meta.set("general.architecture", MetaValue::str("mamba"));
  expect_open_error(p, "unsupported architecture 'mamba' (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, deepseek2, gpt-oss)");
}

TEST_F(ModelValidation, MissingTensor) {
  SynthPlan p = plan_;
  std::erase_if(p.tensors, [](const PlannedTensor& t) { return t.name == "blk.0.ffn_up_exps.weight"; });
  expect_open_error(p, "required tensor 'blk.0.ffn_up_exps.weight' is missing");
}

TEST_F(ModelValidation, WrongShape) {
  SynthPlan p = plan_;
  p.meta.set("qwen3moe.expert_feed_forward_length", MetaValue::u32(128));
  expect_open_error(p, "blk.0.ffn_gate_exps.weight' has shape [256, 256, 8]");
}

TEST_F(ModelValidation, QuantizedNormIsRejected) {
  SynthPlan p = plan_;
  for (auto& t : p.tensors) {
    if (t.name == "blk.0.attn_norm.weight") t.type = TensorType::Q8_0;
  }
  expect_open_error(p, "must be F32, F16 or BF16");
}

TEST_F(ModelValidation, BadHyperparameters) {
  SynthPlan p = plan_;
  p.meta.set("qwen3moe.expert_used_count", MetaValue::u32(9));
  expect_open_error(p, "qwen3moe.expert_used_count");
  SynthPlan q = plan_;
  q.meta.set("qwen3moe.attention.head_count_kv", MetaValue::u32(3));
  expect_open_error(q, "head_count_kv");
  SynthPlan r = plan_;
  r.meta.set("qwen3moe.block_count", MetaValue::str("two"));
  expect_open_error(r, "qwen3moe.block_count");
  SynthPlan s = plan_;
  s.meta.set("qwen3moe.rope.scaling.type", MetaValue::str("ntk"));
  expect_open_error(s, "rope.scaling.type");
}

TEST_F(ModelValidation, MissingRequiredKey) {
  SynthPlan p = plan_;
  Metadata m;
  for (const auto& [k, v] : p.meta.all()) {
    if (k != "qwen3moe.attention.layer_norm_rms_epsilon") m.set(k, v);
  }
  p.meta = m;
  expect_open_error(p, "missing metadata key 'qwen3moe.attention.layer_norm_rms_epsilon'");
}

TEST(Architectures, RopeOrderAndNames) {
  EXPECT_EQ(require_arch("gpt-oss"), Arch::GptOss);
  EXPECT_EQ(std::string(arch_name(Arch::Qwen2Moe)), "qwen2moe");
  EXPECT_THROW(require_arch("gptoss"), Error);
  int layer = 0;
  EXPECT_EQ(role_of_name("blk.12.ffn_down_exps.weight", &layer), TensorRole::DownExps);
  EXPECT_EQ(layer, 12);
  EXPECT_EQ(role_of_name("blk.3.ffn_gate.17.weight", &layer), TensorRole::GateExps);
  EXPECT_EQ(role_of_name("blk.3.ffn_gate.weight", &layer), TensorRole::FfnGate);
  EXPECT_EQ(role_of_name("blk.x.ffn_gate.weight", &layer), TensorRole::Other);
  EXPECT_EQ(role_of_name("rope_freqs.weight", &layer), TensorRole::Other);
}

TEST(Architectures, Deepseek2AndGptOssMetadata) {
  Metadata m;
  m.set("general.architecture", MetaValue::str("deepseek2"));
  auto u = [&](const char* k, uint32_t v) { m.set(std::string("deepseek2.") + k, MetaValue::u32(v)); };
  u("block_count", 27); u("embedding_length", 2048); u("attention.head_count", 16);
  u("attention.key_length", 192); u("attention.value_length", 128); u("rope.dimension_count", 64);
  u("expert_count", 64); u("expert_used_count", 6); u("expert_feed_forward_length", 1408);
  u("expert_shared_count", 2); u("leading_dense_block_count", 1); u("feed_forward_length", 10944);
  u("expert_gating_func", 2);
  m.set("deepseek2.attention.layer_norm_rms_epsilon", MetaValue::f32(1e-6f));
  m.set("deepseek2.expert_weights_norm", MetaValue::boolean(true));
  m.set("deepseek2.expert_weights_scale", MetaValue::f32(2.5f));
  Hparams hp = hparams_from_metadata(Arch::Deepseek2, m);
  EXPECT_EQ(hp.head_dim, 192);
  EXPECT_EQ(hp.head_dim_v, 128);
  EXPECT_EQ(hp.n_rot, 64);
  EXPECT_EQ(hp.n_ff_shexp, 2 * 1408);
  EXPECT_EQ(hp.n_leading_dense, 1);
  EXPECT_EQ(hp.gating, ExpertGating::Sigmoid);
  EXPECT_TRUE(hp.norm_topk_prob);
  EXPECT_FLOAT_EQ(hp.expert_weights_scale, 2.5f);
  EXPECT_EQ(hp.rope_order, RopeOrder::Normal);
  EXPECT_FALSE(layer_is_moe(hp, 0));
  EXPECT_TRUE(layer_is_moe(hp, 1));
  hp.n_vocab = 100;
  m.set("deepseek2.attention.kv_lora_rank", MetaValue::u32(512));
  auto specs = tensor_specs(Arch::Deepseek2, hp, m);
  bool has_kv_a = false, layer0_dense = false;
  for (const auto& s : specs) {
    if (s.name == "blk.0.attn_kv_a_mqa.weight") has_kv_a = s.ne == std::vector<int64_t>{2048, 576};
    if (s.name == "blk.0.ffn_down.weight") layer0_dense = true;
  }
  EXPECT_TRUE(has_kv_a);
  EXPECT_TRUE(layer0_dense);

  Metadata g;
  auto gu = [&](const char* k, uint32_t v) { g.set(std::string("gpt-oss.") + k, MetaValue::u32(v)); };
  gu("block_count", 24); gu("embedding_length", 2880); gu("attention.head_count", 64);
  gu("attention.head_count_kv", 8); gu("attention.key_length", 64); gu("expert_count", 32);
  gu("expert_used_count", 4); gu("expert_feed_forward_length", 2880); gu("attention.sliding_window", 128);
  gu("rope.scaling.original_context_length", 4096);
  g.set("gpt-oss.attention.layer_norm_rms_epsilon", MetaValue::f32(1e-5f));
  g.set("gpt-oss.rope.scaling.type", MetaValue::str("yarn"));
  g.set("gpt-oss.rope.scaling.factor", MetaValue::f32(32.0f));
  Hparams gp = hparams_from_metadata(Arch::GptOss, g);
  EXPECT_EQ(gp.sliding_window, 128);
  EXPECT_EQ(gp.rope_scaling, RopeScaling::Yarn);
  EXPECT_FLOAT_EQ(gp.rope_freq_scale, 1.0f / 32.0f);
  EXPECT_EQ(gp.rope_orig_ctx, 4096);
  EXPECT_EQ(gp.rope_order, RopeOrder::Neox);
  EXPECT_TRUE(gp.norm_topk_prob);
  gp.n_vocab = 10;
  bool sinks = false;
  for (const auto& s : tensor_specs(Arch::GptOss, gp, g)) sinks |= s.name == "blk.0.attn_sinks.weight" && s.required;
  EXPECT_TRUE(sinks);
}
