// make-model's generator: tiny models of every architecture written, reopened with Model::open,
// compared against the preset and against regenerated tensor contents.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/error.h"
#include "kernels/quant.h"
#include "loader/architectures.h"
#include "loader/model.h"
#include "loader/synth_model.h"
#include "tests/loader/test_support.h"

namespace fs = std::filesystem;
using namespace strata;


namespace {

const std::string kConfigs = std::string(STRATA_SOURCE_DIR) + "/configs/";

fs::path temp_dir() { return strata::test::unique_temp_dir("strata_synth_"); }

// Every tensor's bytes equal the regenerated rows quantized with the reference quantizer.
void expect_contents_match(const Model& m, const SynthPlan& plan, uint64_t seed) {
  for (const auto& pt : plan.tensors) {
    const TensorRef* t = m.find(pt.name);
    ASSERT_NE(t, nullptr) << pt.name;
    ASSERT_EQ(t->type, pt.type) << pt.name;
    const auto rb = static_cast<uint64_t>(row_bytes(pt.type, pt.ne[0]));
    std::vector<float> row(static_cast<size_t>(pt.ne[0]));
    std::vector<uint8_t> q(rb);
    // First, last and a middle row of each tensor.
    for (int64_t r : {int64_t{0}, pt.rows() / 2, pt.rows() - 1}) {
      synth_row(seed, pt, r, row.data());
      quantize_row(pt.type, row.data(), q.data(), pt.ne[0]);
      ASSERT_EQ(std::memcmp(t->data + static_cast<uint64_t>(r) * rb, q.data(), rb), 0) << pt.name << " row " << r;
    }
  }
}

class SynthPreset : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(SynthPreset, GgufRoundTripIsExact) {
  const std::string name = GetParam();
  SynthConfig cfg = load_preset(kConfigs + name + ".json");
  SynthPlan plan = plan_model(cfg, "f32", "", std::nullopt);
  fs::path dir = temp_dir();
  SynthWriteOptions opts;
  opts.out = (dir / "m.gguf").string();
  opts.seed = 7;
  opts.threads = 2;
  write_model(plan, opts);
  EXPECT_FALSE(fs::exists(dir / "m.gguf.tmp"));
  EXPECT_EQ(fs::file_size(dir / "m.gguf"), planned_file_size(plan, SynthFormat::Gguf));

  auto m = Model::open(opts.out);
  const Hparams& hp = m->hparams();
  EXPECT_EQ(m->arch(), cfg.arch);
  EXPECT_EQ(hp.n_layer, cfg.n_layer);
  EXPECT_EQ(hp.n_embd, cfg.n_embd);
  EXPECT_EQ(hp.n_head, cfg.n_head);
  EXPECT_EQ(hp.n_head_kv, cfg.n_head_kv);
  EXPECT_EQ(hp.head_dim, cfg.head_dim);
  EXPECT_EQ(hp.n_expert, cfg.n_expert);
  EXPECT_EQ(hp.n_expert_used, cfg.n_expert_used);
  if (cfg.n_expert > 0) {
    EXPECT_EQ(hp.n_ff_exp, cfg.n_ff_exp);
  }
  EXPECT_EQ(hp.n_ff_shexp, cfg.n_ff_shexp);
  EXPECT_EQ(hp.n_vocab, cfg.n_vocab);
  EXPECT_EQ(hp.n_ctx_train, cfg.n_ctx_train);
  EXPECT_FLOAT_EQ(hp.rope_freq_base, static_cast<float>(cfg.rope_freq_base));
  EXPECT_FLOAT_EQ(hp.rms_eps, static_cast<float>(cfg.rms_eps));
  EXPECT_EQ(hp.tied_embeddings, cfg.tied_embeddings);
  EXPECT_EQ(m->tensors().size(), plan.tensors.size());
  EXPECT_EQ(m->total_params(), plan_size(plan).total_params);
  EXPECT_EQ(m->active_bytes_per_token(), plan_size(plan).active_bytes);
  // The built-in tokenizer is there, sized to the vocabulary.
  auto tokens = m->metadata().get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(static_cast<int>(tokens->size()), hp.n_vocab);
  EXPECT_EQ((*tokens)[0], "\xC4\x80");  // byte 0 -> U+0100, GPT-2's byte-to-unicode map
  EXPECT_EQ((*tokens)[32], "\xC4\xA0");  // space -> U+0120 'Ġ'
  expect_contents_match(*m, plan, 7);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Tiny, SynthPreset,
                         ::testing::Values("qwen3moe-tiny", "mixtral-tiny", "qwen2moe-tiny", "olmoe-tiny",
                                           "llama-tiny", "qwen3-tiny"));

TEST(SynthModel, QuantizedMixesFollowLlamaCpp) {
  SynthConfig cfg = load_preset(kConfigs + "qwen3moe-tiny.json");
  SynthPlan plan = plan_model(cfg, "q4_k_m", "", std::nullopt);
  std::map<std::string, TensorType> types;
  for (const auto& t : plan.tensors) types[t.name] = t.type;
  EXPECT_EQ(types["blk.0.attn_q.weight"], TensorType::Q4_K);
  EXPECT_EQ(types["blk.0.attn_v.weight"], TensorType::Q6_K);
  EXPECT_EQ(types["blk.1.ffn_down_exps.weight"], TensorType::Q6_K);
  EXPECT_EQ(types["blk.1.ffn_gate_exps.weight"], TensorType::Q4_K);
  EXPECT_EQ(types["output.weight"], TensorType::Q6_K);
  EXPECT_EQ(types["blk.0.ffn_gate_inp.weight"], TensorType::F32);
  EXPECT_EQ(types["blk.0.attn_norm.weight"], TensorType::F32);
  EXPECT_EQ(types["blk.0.attn_q_norm.weight"], TensorType::F32);

  SynthPlan mx = plan_model(cfg, "mxfp4", "", std::nullopt);
  for (const auto& t : mx.tensors) {
    if (t.role == TensorRole::UpExps) {
      EXPECT_EQ(t.type, TensorType::MXFP4);
    }
    if (t.role == TensorRole::Wq) {
      EXPECT_EQ(t.type, TensorType::Q8_0);
    }
  }
  EXPECT_THROW(plan_model(cfg, "q3_xs", "", std::nullopt), Error);
}

TEST(SynthModel, QuantizedFileRoundTripsAndSlicesExperts) {
  SynthConfig cfg = load_preset(kConfigs + "mixtral-tiny.json");
  SynthPlan plan = plan_model(cfg, "q4_k_m", "", 1);
  fs::path dir = temp_dir();
  SynthWriteOptions opts;
  opts.out = (dir / "q.gguf").string();
  opts.seed = 99;
  write_model(plan, opts);
  auto m = Model::open(opts.out);
  EXPECT_EQ(m->hparams().n_layer, 1);
  expect_contents_match(*m, plan, 99);
  ExpertSlice s = m->expert(0, 5, ExpertPart::Down);
  EXPECT_EQ(s.type, TensorType::Q6_K);
  EXPECT_EQ(s.rows, cfg.n_embd);
  EXPECT_EQ(s.cols, cfg.n_ff_exp);
  // Rewriting without --force is refused; with it the file is replaced.
  EXPECT_THROW(write_model(plan, opts), Error);
  opts.force = true;
  opts.seed = 100;
  write_model(plan, opts);
  fs::remove_all(dir);
}

TEST(SynthModel, VocabIsCopiedFromAGguf) {
  SynthConfig cfg = load_preset(kConfigs + "qwen3-tiny.json");
  const std::string vocab = std::string(STRATA_SHARED_DIR) + "/vocab/ggml-vocab-gpt-2.gguf";
  SynthPlan plan = plan_model(cfg, "f32", vocab, 1);
  auto tokens = plan.meta.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(plan.hp.n_vocab, static_cast<int>(tokens->size()));
  EXPECT_EQ(plan.tensors[0].ne[1], static_cast<int64_t>(tokens->size()));
  EXPECT_EQ(plan.meta.get_string("tokenizer.ggml.model").value_or(""), "gpt2");
  EXPECT_THROW(plan_model(cfg, "f32", "/nonexistent.gguf", 1), Error);
}

TEST(SynthModel, Qwen3_30B_A3B_Accounting) {
  SynthConfig cfg = load_preset(kConfigs + "qwen3-30b-a3b.json");
  SynthPlan plan = plan_model(cfg, "", "", std::nullopt);
  SizeReport r = plan_size(plan);
  // Independent count: per layer attention q,k,v,o + 2 head norms + 2 norms + router + experts.
  const uint64_t E = 2048, H = 32, Hkv = 4, D = 128, X = 128, Fe = 768, V = 151936, L = 48;
  const uint64_t attn = E * H * D * 2 + E * Hkv * D * 2 + 2 * D + 2 * E;
  const uint64_t expert = 3 * E * Fe;
  const uint64_t total = L * (attn + E * X + X * expert) + 2 * V * E + E;
  const uint64_t active = L * (attn + E * X + 8 * expert) + 2 * V * E + E;
  EXPECT_EQ(r.total_params, total);
  EXPECT_EQ(r.active_params, active);
  EXPECT_NEAR(static_cast<double>(r.total_params) / 1e9, 30.5, 0.05);
  EXPECT_NEAR(static_cast<double>(r.active_params) / 1e9, 3.3, 0.06);
  EXPECT_EQ(plan.hp.n_layer, 48);
  EXPECT_TRUE(plan.hp.norm_topk_prob);
  EXPECT_EQ(plan.type_fallbacks, 0);
  // q4_k_m: experts Q4_K (gate, up) and Q6_K (down).
  const uint64_t per_expert = E * Fe / 256 * 144 * 2 + Fe * E / 256 * 210;
  EXPECT_EQ(r.bytes_per_expert[0], per_expert);
  EXPECT_EQ(r.expert_bytes, L * X * per_expert);
}

TEST(SynthModel, OneLayerOfTheBigPresetKeepsPerLayerDims) {
  SynthConfig cfg = load_preset(kConfigs + "qwen3-30b-a3b.json");
  SynthPlan plan = plan_model(cfg, "", "", 1);
  EXPECT_EQ(plan.hp.n_layer, 1);
  std::map<std::string, std::vector<int64_t>> ne;
  for (const auto& t : plan.tensors) ne[t.name] = t.ne;
  EXPECT_EQ(ne["token_embd.weight"], (std::vector<int64_t>{2048, 151936}));
  EXPECT_EQ(ne["blk.0.attn_q.weight"], (std::vector<int64_t>{2048, 4096}));
  EXPECT_EQ(ne["blk.0.attn_k.weight"], (std::vector<int64_t>{2048, 512}));
  EXPECT_EQ(ne["blk.0.attn_output.weight"], (std::vector<int64_t>{4096, 2048}));
  EXPECT_EQ(ne["blk.0.attn_q_norm.weight"], (std::vector<int64_t>{128}));
  EXPECT_EQ(ne["blk.0.ffn_gate_inp.weight"], (std::vector<int64_t>{2048, 128}));
  EXPECT_EQ(ne["blk.0.ffn_gate_exps.weight"], (std::vector<int64_t>{2048, 768, 128}));
  EXPECT_EQ(ne["blk.0.ffn_down_exps.weight"], (std::vector<int64_t>{768, 2048, 128}));
  EXPECT_EQ(ne.count("blk.1.attn_q.weight"), 0u);
}

TEST(SynthModel, ValuesHaveRealisticMagnitudes) {
  SynthConfig cfg = load_preset(kConfigs + "qwen3moe-tiny.json");
  SynthPlan plan = plan_model(cfg, "f32", "", std::nullopt);
  for (const auto& t : plan.tensors) {
    std::vector<float> row(static_cast<size_t>(t.ne[0]));
    synth_row(1, t, 0, row.data());
    double mean = 0, sq = 0;
    for (float v : row) mean += v;
    mean /= static_cast<double>(row.size());
    for (float v : row) sq += (v - mean) * (v - mean);
    double sd = std::sqrt(sq / static_cast<double>(row.size()));
    if (t.name.find("norm") != std::string::npos) {
      EXPECT_NEAR(mean, 1.0, 0.05) << t.name;
    } else if (t.ne.size() >= 2 && t.role != TensorRole::TokenEmbd && t.role != TensorRole::Output) {
      EXPECT_NEAR(sd * std::sqrt(static_cast<double>(t.ne[0])), 1.0, 0.3) << t.name;
    }
  }
  // Deterministic per (seed, tensor, row), different across seeds.
  std::vector<float> a(256), b(256), c(256);
  synth_row(5, plan.tensors[1], 3, a.data());
  synth_row(5, plan.tensors[1], 3, b.data());
  synth_row(6, plan.tensors[1], 3, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SynthModel, PresetErrors) {
  EXPECT_THROW(load_preset("no-such-preset"), Error);
  EXPECT_THROW(parse_preset("{", "x.json"), Error);
  EXPECT_THROW(parse_preset(R"({"arch":"mamba","n_layer":1})", "x.json"), Error);
  EXPECT_THROW(parse_preset(R"({"arch":"llama","n_layer":0,"n_embd":8,"n_head":1,"n_ff":8})", "x.json"), Error);
  EXPECT_THROW(parse_preset(R"({"arch":"llama","n_layer":1,"n_embd":8,"n_head":3,"n_head_kv":2,"n_ff":8})", "x.json"), Error);
  EXPECT_THROW(parse_preset(R"({"arch":"qwen3moe","n_layer":1,"n_embd":8,"n_head":1,"n_expert":4})", "x.json"), Error);
  try {
    parse_preset(R"({"arch":"mamba"})", "x.json");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported architecture 'mamba' (supported: llama"), std::string::npos) << e.what();
  }
}
