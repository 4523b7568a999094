// HF checkpoints: config.json mapping, tensor renaming, single-file and sharded directories.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "loader/hf_config.h"
#include "loader/model.h"
#include "loader/safetensors.h"
#include "loader/synth_model.h"
#include "tests/loader/test_support.h"

namespace fs = std::filesystem;
using namespace strata;


namespace {

const std::string kConfigs = std::string(STRATA_SOURCE_DIR) + "/configs/";

fs::path temp_dir() { return strata::test::unique_temp_dir("strata_hf_"); }

struct Pair {
  fs::path dir;
  std::unique_ptr<Model> gguf, hf;
};

// The same preset and seed written both ways.
Pair write_both(const std::string& preset, int layers) {
  Pair p;
  p.dir = temp_dir();
  SynthPlan plan = plan_model(load_preset(kConfigs + preset + ".json"), "f32", "", layers);
  SynthWriteOptions o;
  o.seed = 3;
  o.out = (p.dir / "m.gguf").string();
  write_model(plan, o);
  o.out = (p.dir / "hf").string();
  o.format = SynthFormat::Safetensors;
  write_model(plan, o);
  p.gguf = Model::open((p.dir / "m.gguf").string());
  p.hf = Model::open((p.dir / "hf").string());
  return p;
}

void expect_same_model(const Model& a, const Model& b) {
  const Hparams &x = a.hparams(), &y = b.hparams();
  EXPECT_EQ(a.arch(), b.arch());
  EXPECT_EQ(x.n_layer, y.n_layer);
  EXPECT_EQ(x.n_embd, y.n_embd);
  EXPECT_EQ(x.n_head, y.n_head);
  EXPECT_EQ(x.n_head_kv, y.n_head_kv);
  EXPECT_EQ(x.head_dim, y.head_dim);
  EXPECT_EQ(x.n_vocab, y.n_vocab);
  EXPECT_EQ(x.n_ff, y.n_ff);
  EXPECT_EQ(x.n_expert, y.n_expert);
  EXPECT_EQ(x.n_expert_used, y.n_expert_used);
  EXPECT_EQ(x.n_ff_exp, y.n_ff_exp);
  EXPECT_EQ(x.n_ff_shexp, y.n_ff_shexp);
  EXPECT_EQ(x.norm_topk_prob, y.norm_topk_prob);
  EXPECT_FLOAT_EQ(x.rope_freq_base, y.rope_freq_base);
  EXPECT_FLOAT_EQ(x.rms_eps, y.rms_eps);
  EXPECT_EQ(x.tied_embeddings, y.tied_embeddings);
  EXPECT_EQ(a.total_params(), b.total_params());
  EXPECT_EQ(a.active_params(), b.active_params());
  // Non-expert tensors: same names, shapes and bytes.
  for (const auto& t : a.tensors()) {
    if (t.name.find("_exps.") != std::string::npos) continue;
    const TensorRef* u = b.find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.ne, u->ne) << t.name;
    ASSERT_EQ(t.nbytes, u->nbytes) << t.name;
    const bool rope_interleaved = a.arch() == Arch::Llama && (t.name.find(".attn_q.") != std::string::npos ||
                                                              t.name.find(".attn_k.") != std::string::npos);
    if (!rope_interleaved) {
      EXPECT_EQ(std::memcmp(t.data, u->data, t.nbytes), 0) << t.name;
      continue;
    }
    // Llama Q/K: llama.cpp's converter interleaves each head's two halves (HF row j*hd/2+i is
    // GGUF row 2i+j) for normal-order RoPE; HF files keep them un-interleaved.
    const int64_t hd = x.head_dim, row = static_cast<int64_t>(t.nbytes) / t.rows();
    for (int64_t h = 0; h < t.rows(); ++h) {
      const int64_t within = h % hd, g = h - within + 2 * (within % (hd / 2)) + within / (hd / 2);
      ASSERT_EQ(std::memcmp(u->data + h * row, t.data + g * row, static_cast<size_t>(row)), 0) << t.name << " row " << h;
    }
  }
  // Experts: per-expert HF tensors hold exactly the stacked GGUF slices.
  for (int l = 0; l < x.n_layer; ++l) {
    if (!a.layer_has_experts(l)) continue;
    ASSERT_TRUE(b.layer_has_experts(l));
    for (int e = 0; e < x.n_expert; ++e) {
      for (auto part : {ExpertPart::Gate, ExpertPart::Up, ExpertPart::Down}) {
        ExpertSlice s = a.expert(l, e, part), u = b.expert(l, e, part);
        EXPECT_EQ(s.rows, u.rows);
        EXPECT_EQ(s.cols, u.cols);
        ASSERT_EQ(s.nbytes, u.nbytes);
        EXPECT_EQ(std::memcmp(s.data, u.data, s.nbytes), 0) << l << "/" << e;
        EXPECT_EQ(u.data, b.files()[static_cast<size_t>(u.file_index)].data() + u.file_offset);
      }
    }
    EXPECT_EQ(a.bytes_per_expert(l), b.bytes_per_expert(l));
  }
}

class HfPreset : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(HfPreset, SafetensorsMatchesGguf) {
  Pair p = write_both(GetParam(), 2);
  expect_same_model(*p.gguf, *p.hf);
  EXPECT_EQ(p.hf->hf_dir(), (p.dir / "hf").string());
  EXPECT_TRUE(p.gguf->hf_dir().empty());
  // HF llama checkpoints are not rope-permuted, so they rotate NeoX-style.
  if (p.gguf->arch() == Arch::Llama) {
    EXPECT_EQ(p.hf->hparams().rope_order, RopeOrder::Neox);
  } else {
    EXPECT_EQ(p.hf->hparams().rope_order, p.gguf->hparams().rope_order);
  }
  // Opening the .safetensors file directly finds config.json next to it.
  auto single = Model::open((p.dir / "hf" / "model.safetensors").string());
  EXPECT_EQ(single->hparams().n_layer, 2);
  fs::remove_all(p.dir);
}

INSTANTIATE_TEST_SUITE_P(Tiny, HfPreset,
                         ::testing::Values("qwen3moe-tiny", "mixtral-tiny", "qwen2moe-tiny", "olmoe-tiny",
                                           "llama-tiny", "qwen3-tiny"));

TEST(ModelSafetensors, ShardedIndexDirectory) {
  Pair p = write_both("qwen3moe-tiny", 2);
  // Re-shard the single file into two, with an index, as HF's save_pretrained does.
  fs::path src = p.dir / "hf" / "model.safetensors";
  fs::path sharded = p.dir / "sharded";
  fs::create_directories(sharded);
  fs::copy_file(p.dir / "hf" / "config.json", sharded / "config.json");
  auto st = SafetensorsFile::open(src.string());
  MappedFile map = st.release_mapping();
  SafetensorsWriter w1, w2;
  std::string index = "{\"metadata\":{},\"weight_map\":{";
  size_t i = 0;
  for (const auto& t : st.tensors()) {
    bool first = t.name.find("layers.1.") == std::string::npos;
    (first ? w1 : w2).add_tensor(t.name, t.type, t.shape);
    index += fmt::format("{}\"{}\":\"{}\"", i++ ? "," : "", t.name, first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
  }
  index += "}}";
  w1.begin((sharded / "model-00001-of-00002.safetensors").string());
  w2.begin((sharded / "model-00002-of-00002.safetensors").string());
  for (const auto& t : st.tensors()) {
    bool first = t.name.find("layers.1.") == std::string::npos;
    (first ? w1 : w2).write_tensor_data(t.name, map.data() + t.offset, t.nbytes);
  }
  w1.finish();
  w2.finish();
  std::ofstream(sharded / "model.safetensors.index.json") << index;
  auto m = Model::open(sharded.string());
  EXPECT_EQ(m->files().size(), 2u);
  expect_same_model(*p.gguf, *m);

  // An index naming a tensor that its shard lacks is an error.
  std::string broken = index;
  broken.insert(broken.size() - 2, ",\"model.layers.9.mlp.gate.weight\":\"model-00001-of-00002.safetensors\"");
  std::ofstream(sharded / "model.safetensors.index.json") << broken;
  EXPECT_THROW(Model::open(sharded.string()), Error);
  fs::remove_all(p.dir);
}

TEST(ModelSafetensors, MissingConfigOrTensorsAreClearErrors) {
  fs::path dir = temp_dir();
  SynthPlan plan = plan_model(load_preset(kConfigs + "qwen3-tiny.json"), "f32", "", 1);
  SynthWriteOptions o;
  o.out = (dir / "hf").string();
  o.format = SynthFormat::Safetensors;
  write_model(plan, o);
  fs::rename(dir / "hf" / "config.json", dir / "config.bak");
  try {
    Model::open((dir / "hf").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
  // A config claiming two layers for a one-layer checkpoint names the missing tensor.
  std::ifstream in(dir / "config.bak");
  std::string cfg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto pos = cfg.find("\"num_hidden_layers\": 1");
  ASSERT_NE(pos, std::string::npos);
  cfg.replace(pos, 22, "\"num_hidden_layers\": 2");
  std::ofstream(dir / "hf" / "config.json") << cfg;
  try {
    Model::open((dir / "hf").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1."), std::string::npos) << e.what();
  }
  // Safetensors output refuses quantized types.
  SynthPlan q = plan_model(load_preset(kConfigs + "qwen3-tiny.json"), "q8_0", "", 1);
  o.out = (dir / "q").string();
  EXPECT_THROW(write_model(q, o), Error);
  EXPECT_FALSE(fs::exists(dir / "q"));
  fs::remove_all(dir);
}

TEST(HfConfig, MapsEveryModelType) {
  auto cfg = parse_hf_config(R"({"model_type":"qwen3_moe","hidden_size":2048,"num_hidden_layers":48,
      "num_attention_heads":32,"num_key_value_heads":4,"head_dim":128,"intermediate_size":6144,
      "moe_intermediate_size":768,"num_experts":128,"num_experts_per_tok":8,"norm_topk_prob":true,
      "rope_theta":1000000.0,"rms_norm_eps":1e-06,"max_position_embeddings":40960,"vocab_size":151936})", "c.json");
  EXPECT_EQ(cfg.arch, Arch::Qwen3Moe);
  EXPECT_EQ(cfg.meta.get_int("qwen3moe.expert_feed_forward_length"), 768);
  EXPECT_EQ(cfg.meta.get_int("qwen3moe.attention.key_length"), 128);
  EXPECT_EQ(cfg.meta.get_bool("qwen3moe.expert_weights_norm"), true);

  auto mix = parse_hf_config(R"({"model_type":"mixtral","hidden_size":4096,"num_hidden_layers":32,
      "num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"num_local_experts":8,
      "num_experts_per_tok":2,"rms_norm_eps":1e-05,"rope_theta":1e6})", "c.json");
  EXPECT_EQ(mix.arch, Arch::Llama);
  EXPECT_EQ(mix.meta.get_int("llama.expert_count"), 8);
  EXPECT_EQ(mix.meta.get_int("llama.expert_feed_forward_length"), 14336);

  auto ds = parse_hf_config(R"({"model_type":"deepseek_v2","hidden_size":2048,"num_hidden_layers":27,
      "num_attention_heads":16,"n_routed_experts":64,"num_experts_per_tok":6,"moe_intermediate_size":1408,
      "n_shared_experts":2,"first_k_dense_replace":1,"routed_scaling_factor":1.0,"q_lora_rank":null,
      "kv_lora_rank":512,"qk_rope_head_dim":64,"qk_nope_head_dim":128,"v_head_dim":128,"intermediate_size":10944,
      "rms_norm_eps":1e-6,"rope_scaling":{"type":"yarn","factor":40,"original_max_position_embeddings":4096,
      "beta_fast":32,"beta_slow":1}})", "c.json");
  EXPECT_EQ(ds.arch, Arch::Deepseek2);
  EXPECT_EQ(ds.meta.get_int("deepseek2.attention.key_length"), 192);
  EXPECT_EQ(ds.meta.get_int("deepseek2.leading_dense_block_count"), 1);
  EXPECT_EQ(ds.meta.get_string("deepseek2.rope.scaling.type"), "yarn");

  for (const char* t : {"qwen2_moe", "olmoe", "qwen2", "qwen3", "llama", "gpt_oss", "deepseek_v3"}) {
    std::string j = fmt::format(R"({{"model_type":"{}","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,
        "intermediate_size":128,"num_experts":8,"num_local_experts":8,"n_routed_experts":8,"num_experts_per_tok":2,
        "moe_intermediate_size":32,"kv_lora_rank":16,"qk_rope_head_dim":8,"qk_nope_head_dim":8,"v_head_dim":16}})", t);
    EXPECT_NO_THROW(parse_hf_config(j, "c.json")) << t;
  }
  try {
    parse_hf_config(R"({"model_type":"mamba","hidden_size":64})", "c.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported architecture 'mamba'"), std::string::npos);
  }
  EXPECT_THROW(parse_hf_config(R"({"model_type":"llama"})", "c.json"), Error);
  EXPECT_THROW(parse_hf_config(R"({"model_type":"llama","hidden_size":"big","num_hidden_layers":2,"num_attention_heads":4})", "c.json"), Error);
  EXPECT_THROW(parse_hf_config(R"({"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,
      "rope_scaling":{"rope_type":"llama3","factor":8}})", "c.json"), Error);
  EXPECT_THROW(parse_hf_config("nope", "c.json"), Error);
}

TEST(HfConfig, TensorNamesMapBothWays) {
  EXPECT_EQ(hf_to_gguf_name("model.layers.3.self_attn.q_proj.weight"), "blk.3.attn_q.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.mlp.experts.17.down_proj.weight"), "blk.0.ffn_down.17.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.2.block_sparse_moe.experts.1.w3.weight"), "blk.2.ffn_up.1.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.2.block_sparse_moe.gate.weight"), "blk.2.ffn_gate_inp.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.1.mlp.shared_expert_gate.weight"), "blk.1.ffn_gate_inp_shexp.weight");
  EXPECT_EQ(hf_to_gguf_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(hf_to_gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq"), std::nullopt);
  EXPECT_EQ(hf_to_gguf_name("vision.tower.x"), "vision.tower.x");
  EXPECT_EQ(gguf_to_hf_name(Arch::Llama, "blk.2.ffn_up.1.weight"), "model.layers.2.block_sparse_moe.experts.1.w3.weight");
  EXPECT_EQ(gguf_to_hf_name(Arch::Llama, "blk.2.ffn_gate_inp.weight"), "model.layers.2.block_sparse_moe.gate.weight");
  EXPECT_EQ(gguf_to_hf_name(Arch::Qwen3Moe, "blk.2.ffn_gate_inp.weight"), "model.layers.2.mlp.gate.weight");
  EXPECT_EQ(gguf_to_hf_name(Arch::Qwen2Moe, "blk.0.ffn_up_shexp.weight"), "model.layers.0.mlp.shared_expert.up_proj.weight");
  EXPECT_EQ(gguf_to_hf_name(Arch::Deepseek2, "blk.0.ffn_up_shexp.weight"), "model.layers.0.mlp.shared_experts.up_proj.weight");
  EXPECT_THROW(gguf_to_hf_name(Arch::Qwen3Moe, "blk.0.ffn_up_exps.weight"), Error);
}
