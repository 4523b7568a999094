#include "loader/hf_config.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "common/error.h"
#include "loader/architectures.h"

namespace strata {
namespace {

using json = nlohmann::json;

struct ModelType {
  const char* hf;
  Arch arch;
};
constexpr ModelType kModelTypes[] = {
    {"llama", Arch::Llama},        {"mistral", Arch::Llama},     {"mixtral", Arch::Llama},
    {"qwen2", Arch::Qwen2},        {"qwen3", Arch::Qwen3},       {"qwen2_moe", Arch::Qwen2Moe},
    {"qwen3_moe", Arch::Qwen3Moe}, {"olmoe", Arch::Olmoe},       {"deepseek_v2", Arch::Deepseek2},
    {"deepseek_v3", Arch::Deepseek2}, {"gpt_oss", Arch::GptOss},
};

// HF layer-relative suffix <-> GGUF layer-relative suffix, for tensors that are not per expert.
struct NamePair {
  const char* hf;
  const char* gguf;
};
constexpr NamePair kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"self_attn.sinks", "attn_sinks.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.router.weight", "ffn_gate_inp.weight"},
    {"mlp.router.bias", "ffn_gate_inp.bias"},
    {"block_sparse_moe.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"},
    {"mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
};

// Per-expert projections: "<prefix>.E.<proj>.weight" -> "ffn_<part>.E.weight".
struct ExpertNames {
  const char* prefix;
  const char* proj[3];  // gate, up, down
};
constexpr ExpertNames kExpertNames[] = {
    {"mlp.experts.", {"gate_proj", "up_proj", "down_proj"}},
    {"block_sparse_moe.experts.", {"w1", "w3", "w2"}},
};
constexpr const char* kGgufParts[3] = {"ffn_gate", "ffn_up", "ffn_down"};

bool parse_index(std::string_view s, int* out) {
  if (s.empty() || s.size() > 6) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

class ConfigReader {
 public:
  ConfigReader(const json& j, const std::string& where, Metadata& meta, std::string prefix)
      : j_(j), where_(where), meta_(meta), prefix_(std::move(prefix)) {}

  const json* field(const char* name) const {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::optional<int64_t> get_int(const char* name) const {
    const json* v = field(name);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) fail("{}: \"{}\" must be an integer", where_, name);
    int64_t x = v->get<int64_t>();
    if (x < 0 || x > (int64_t{1} << 32) - 1) fail("{}: \"{}\" = {} is out of range", where_, name, x);
    return x;
  }
  std::optional<double> get_float(const char* name) const {
    const json* v = field(name);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail("{}: \"{}\" must be a number", where_, name);
    return v->get<double>();
  }
  std::optional<bool> get_bool(const char* name) const {
    const json* v = field(name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail("{}: \"{}\" must be true or false", where_, name);
    return v->get<bool>();
  }
  int64_t require_int(const char* name) const {
    auto v = get_int(name);
    if (!v) fail("{}: missing \"{}\"", where_, name);
    return *v;
  }
  void put_int(const std::string& key, int64_t v) {
    meta_.set(prefix_ + key, MetaValue::u32(static_cast<uint32_t>(v)));
  }
  void put_float(const std::string& key, double v) {
    meta_.set(prefix_ + key, MetaValue::f32(static_cast<float>(v)));
  }
  void copy_int(const char* name, const std::string& key) {
    if (auto v = get_int(name)) put_int(key, *v);
  }
  void copy_float(const char* name, const std::string& key) {
    if (auto v = get_float(name)) put_float(key, *v);
  }

 private:
  const json& j_;
  const std::string& where_;
  Metadata& meta_;
  std::string prefix_;
};

}  // namespace

HfConfig parse_hf_config(std::string_view json_text, const std::string& where) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail("{}: malformed JSON: {}", where, e.what());
  }
  if (!j.is_object()) fail("{}: not a JSON object", where);
  auto mt = j.find("model_type");
  if (mt == j.end() || !mt->is_string()) fail("{}: missing \"model_type\"", where);
  HfConfig cfg;
  cfg.model_type = mt->get<std::string>();
  bool known = false;
  for (const auto& m : kModelTypes) {
    if (cfg.model_type == m.hf) {
      cfg.arch = m.arch;
      known = true;
    }
  }
  if (!known) {
    std::string list;
    for (const auto& m : kModelTypes) list += (list.empty() ? "" : ", ") + std::string(m.hf);
    fail("{}: unsupported architecture '{}' (supported: {})", where, cfg.model_type, list);
  }
  const std::string arch = arch_name(cfg.arch);
  cfg.meta.set("general.architecture", MetaValue::str(arch));
  if (auto it = j.find("_name_or_path"); it != j.end() && it->is_string()) {
    cfg.meta.set("general.name", MetaValue::str(it->get<std::string>()));
  }
  ConfigReader r(j, where, cfg.meta, arch + ".");
  r.put_int("block_count", r.require_int("num_hidden_layers"));
  const int64_t n_embd = r.require_int("hidden_size");
  r.put_int("embedding_length", n_embd);
  const int64_t n_head = r.require_int("num_attention_heads");
  if (n_head == 0) fail("{}: \"num_attention_heads\" must be positive", where);
  r.put_int("attention.head_count", n_head);
  r.put_int("attention.head_count_kv", r.get_int("num_key_value_heads").value_or(n_head));
  r.copy_int("max_position_embeddings", "context_length");
  r.copy_int("intermediate_size", "feed_forward_length");
  r.copy_int("vocab_size", "vocab_size");
  r.put_float("attention.layer_norm_rms_epsilon", r.get_float("rms_norm_eps").value_or(1e-6));
  r.put_float("rope.freq_base", r.get_float("rope_theta").value_or(10000.0));
  if (auto hd = r.get_int("head_dim")) {
    r.put_int("attention.key_length", *hd);
    r.put_int("attention.value_length", *hd);
  }
  r.copy_int("sliding_window", "attention.sliding_window");

  if (const json* rs = r.field("rope_scaling")) {
    if (!rs->is_object()) fail("{}: \"rope_scaling\" must be an object", where);
    ConfigReader sr(*rs, where, cfg.meta, arch + ".");
    std::string type;
    for (const char* k : {"rope_type", "type"}) {
      if (auto it = rs->find(k); it != rs->end() && it->is_string()) type = it->get<std::string>();
    }
    if (type == "linear" || type == "yarn") {
      cfg.meta.set(arch + ".rope.scaling.type", MetaValue::str(type));
      sr.copy_float("factor", "rope.scaling.factor");
      sr.copy_int("original_max_position_embeddings", "rope.scaling.original_context_length");
      sr.copy_float("beta_fast", "rope.scaling.yarn_beta_fast");
      sr.copy_float("beta_slow", "rope.scaling.yarn_beta_slow");
    } else if (!type.empty() && type != "default") {
      fail("{}: rope scaling type '{}' is not supported (linear, yarn)", where, type);
    }
  }

  switch (cfg.arch) {
    case Arch::Llama:
      if (auto n = r.get_int("num_local_experts"); n && *n > 0) {
        r.put_int("expert_count", *n);
        r.put_int("expert_used_count", r.require_int("num_experts_per_tok"));
        r.copy_int("intermediate_size", "expert_feed_forward_length");
      }
      break;
    case Arch::Qwen2Moe:
    case Arch::Qwen3Moe:
    case Arch::Olmoe:
      r.put_int("expert_count", r.require_int("num_experts"));
      r.put_int("expert_used_count", r.require_int("num_experts_per_tok"));
      r.copy_int(cfg.arch == Arch::Olmoe ? "intermediate_size" : "moe_intermediate_size",
                 "expert_feed_forward_length");
      r.copy_int("shared_expert_intermediate_size", "expert_shared_feed_forward_length");
      if (auto b = r.get_bool("norm_topk_prob")) cfg.meta.set(arch + ".expert_weights_norm", MetaValue::boolean(*b));
      if (r.get_int("decoder_sparse_step").value_or(1) != 1) {
        fail("{}: \"decoder_sparse_step\" other than 1 is not supported", where);
      }
      if (const json* mlp_only = r.field("mlp_only_layers"); mlp_only && !mlp_only->empty()) {
        fail("{}: \"mlp_only_layers\" is not supported", where);
      }
      break;
    case Arch::Deepseek2: {
      r.put_int("expert_count", r.require_int("n_routed_experts"));
      r.put_int("expert_used_count", r.require_int("num_experts_per_tok"));
      r.copy_int("moe_intermediate_size", "expert_feed_forward_length");
      r.copy_int("n_shared_experts", "expert_shared_count");
      r.copy_int("first_k_dense_replace", "leading_dense_block_count");
      r.copy_float("routed_scaling_factor", "expert_weights_scale");
      if (auto b = r.get_bool("norm_topk_prob")) cfg.meta.set(arch + ".expert_weights_norm", MetaValue::boolean(*b));
      std::string scoring = "softmax";
      if (auto it = j.find("scoring_func"); it != j.end() && it->is_string()) scoring = it->get<std::string>();
      r.put_int("expert_gating_func", scoring == "sigmoid" ? 2 : 1);
      r.put_int("attention.q_lora_rank", r.get_int("q_lora_rank").value_or(0));
      r.put_int("attention.kv_lora_rank", r.require_int("kv_lora_rank"));
      const int64_t rope = r.require_int("qk_rope_head_dim");
      r.put_int("rope.dimension_count", rope);
      r.put_int("attention.key_length", r.require_int("qk_nope_head_dim") + rope);
      r.put_int("attention.value_length", r.require_int("v_head_dim"));
      break;
    }
    case Arch::GptOss:
      r.put_int("expert_count", r.require_int("num_local_experts"));
      r.put_int("expert_used_count",
                r.get_int("num_experts_per_tok").value_or(r.get_int("experts_per_token").value_or(0)));
      r.copy_int("intermediate_size", "expert_feed_forward_length");
      break;
    case Arch::Qwen2:
    case Arch::Qwen3:
      break;
  }
  return cfg;
}

HfConfig read_hf_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), path);
}

std::optional<std::string> hf_to_gguf_name(std::string_view n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  if (n == "lm_head.weight") return "output.weight";
  constexpr std::string_view kLayers = "model.layers.";
  if (n.substr(0, kLayers.size()) != kLayers) return std::string(n);
  auto rest = n.substr(kLayers.size());
  auto dot = rest.find('.');
  int layer = 0;
  if (dot == std::string_view::npos || !parse_index(rest.substr(0, dot), &layer)) return std::string(n);
  auto suffix = rest.substr(dot + 1);
  if (suffix.find("rotary_emb.") != std::string_view::npos) return std::nullopt;
  for (const auto& p : kLayerNames) {
    if (suffix == p.hf) return fmt::format("blk.{}.{}", layer, p.gguf);
  }
  for (const auto& e : kExpertNames) {
    std::string_view prefix = e.prefix;
    if (suffix.substr(0, prefix.size()) != prefix) continue;
    auto tail = suffix.substr(prefix.size());
    auto d = tail.find('.');
    int expert = 0;
    if (d == std::string_view::npos || !parse_index(tail.substr(0, d), &expert)) continue;
    auto proj = tail.substr(d + 1);
    for (int p = 0; p < 3; ++p) {
      if (proj == fmt::format("{}.weight", e.proj[p])) {
        return fmt::format("blk.{}.{}.{}.weight", layer, kGgufParts[p], expert);
      }
    }
  }
  return std::string(n);
}

std::string gguf_to_hf_name(Arch arch, std::string_view n) {
  if (n == "token_embd.weight") return "model.embed_tokens.weight";
  if (n == "output_norm.weight") return "model.norm.weight";
  if (n == "output.weight") return "lm_head.weight";
  int layer = -1;
  if (n.substr(0, 4) == "blk.") {
    auto rest = n.substr(4);
    auto dot = rest.find('.');
    if (dot != std::string_view::npos && parse_index(rest.substr(0, dot), &layer)) {
      auto suffix = rest.substr(dot + 1);
      const bool mixtral = arch == Arch::Llama;
      const bool deepseek = arch == Arch::Deepseek2;
      if (mixtral && suffix == "ffn_gate_inp.weight") return fmt::format("model.layers.{}.block_sparse_moe.gate.weight", layer);
      for (const auto& p : kLayerNames) {
        if (suffix != p.gguf) continue;
        std::string_view hf = p.hf;
        // Several HF spellings map to one GGUF name; pick the one of this architecture.
        bool shared_experts = hf.find("shared_experts.") != std::string_view::npos;
        bool shared_expert = hf.find("shared_expert.") != std::string_view::npos;
        if ((shared_experts && !deepseek) || (shared_expert && deepseek)) continue;
        if (hf.find("router") != std::string_view::npos && arch != Arch::GptOss) continue;
        if (hf == "mlp.gate.weight" && arch == Arch::GptOss) continue;
        return fmt::format("model.layers.{}.{}", layer, hf);
      }
      for (int p = 0; p < 3; ++p) {
        std::string_view part = kGgufParts[p];
        if (suffix.substr(0, part.size() + 1) != fmt::format("{}.", part)) continue;
        auto tail = suffix.substr(part.size() + 1);
        auto d = tail.find('.');
        int expert = 0;
        if (d == std::string_view::npos || tail.substr(d) != ".weight" ||
            !parse_index(tail.substr(0, d), &expert)) {
          continue;
        }
        const auto& e = kExpertNames[mixtral ? 1 : 0];
        return fmt::format("model.layers.{}.{}{}.{}.weight", layer, e.prefix, expert, e.proj[p]);
      }
    }
  }
  fail("tensor '{}' has no Hugging Face equivalent for {}", n, arch_name(arch));
}

std::string hf_config_json(Arch arch, const Metadata& meta, bool tied_embeddings) {
  const std::string a = arch_name(arch);
  auto gi = [&](const char* k) { return meta.get_int(a + "." + k); };
  auto gf = [&](const char* k) { return meta.get_float(a + "." + k); };
  nlohmann::ordered_json j;
  const bool moe = gi("expert_count").value_or(0) > 0;
  const char* model_type = "llama";
  const char* cls = "LlamaForCausalLM";
  switch (arch) {
    case Arch::Llama: model_type = moe ? "mixtral" : "llama"; cls = moe ? "MixtralForCausalLM" : "LlamaForCausalLM"; break;
    case Arch::Qwen2: model_type = "qwen2"; cls = "Qwen2ForCausalLM"; break;
    case Arch::Qwen3: model_type = "qwen3"; cls = "Qwen3ForCausalLM"; break;
    case Arch::Qwen2Moe: model_type = "qwen2_moe"; cls = "Qwen2MoeForCausalLM"; break;
    case Arch::Qwen3Moe: model_type = "qwen3_moe"; cls = "Qwen3MoeForCausalLM"; break;
    case Arch::Olmoe: model_type = "olmoe"; cls = "OlmoeForCausalLM"; break;
    case Arch::Deepseek2: model_type = "deepseek_v2"; cls = "DeepseekV2ForCausalLM"; break;
    case Arch::GptOss: model_type = "gpt_oss"; cls = "GptOssForCausalLM"; break;
  }
  j["architectures"] = {cls};
  j["model_type"] = model_type;
  auto set_int = [&](const char* hf, const char* key) {
    if (auto v = gi(key)) j[hf] = *v;
  };
  auto set_float = [&](const char* hf, const char* key) {
    if (auto v = gf(key)) j[hf] = *v;
  };
  set_int("hidden_size", "embedding_length");
  set_int("num_hidden_layers", "block_count");
  set_int("num_attention_heads", "attention.head_count");
  set_int("num_key_value_heads", "attention.head_count_kv");
  set_int("head_dim", "attention.key_length");
  set_int("max_position_embeddings", "context_length");
  set_int("intermediate_size", "feed_forward_length");
  set_int("vocab_size", "vocab_size");
  set_float("rms_norm_eps", "attention.layer_norm_rms_epsilon");
  set_float("rope_theta", "rope.freq_base");
  j["tie_word_embeddings"] = tied_embeddings;
  if (moe) {
    if (arch == Arch::Llama) {
      set_int("num_local_experts", "expert_count");
      set_int("intermediate_size", "expert_feed_forward_length");
    } else {
      set_int("num_experts", "expert_count");
      if (arch == Arch::Olmoe) set_int("intermediate_size", "expert_feed_forward_length");
      else set_int("moe_intermediate_size", "expert_feed_forward_length");
    }
    set_int("num_experts_per_tok", "expert_used_count");
    set_int("shared_expert_intermediate_size", "expert_shared_feed_forward_length");
    if (auto b = meta.get_bool(a + ".expert_weights_norm")) j["norm_topk_prob"] = *b;
  }
  return j.dump(2) + "\n";
}

}  // namespace strata
