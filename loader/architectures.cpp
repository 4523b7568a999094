#include "loader/architectures.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "common/error.h"

namespace strata {
namespace {

struct ArchEntry {
  Arch arch;
  const char* name;
  RopeOrder rope;       // llama.cpp's llama_model_rope_type for the architecture
  bool norm_topk_prob;  // llama.cpp's default renormalisation of the chosen experts' weights
};

// norm_topk_prob per llama.cpp's graph builders: llama (Mixtral) and qwen3moe renormalise (for
// Mixtral, softmax over the top-k logits equals renormalising the full softmax), qwen2moe and
// olmoe do not; deepseek2 reads `expert_weights_norm`; gpt-oss takes a softmax over the chosen
// logits, which is the renormalised form.
constexpr ArchEntry kArchs[] = {
    {Arch::Llama, "llama", RopeOrder::Normal, true},
    {Arch::Qwen2, "qwen2", RopeOrder::Neox, false},
    {Arch::Qwen3, "qwen3", RopeOrder::Neox, false},
    {Arch::Qwen2Moe, "qwen2moe", RopeOrder::Neox, false},
    {Arch::Qwen3Moe, "qwen3moe", RopeOrder::Neox, true},
    {Arch::Olmoe, "olmoe", RopeOrder::Neox, false},
    {Arch::Deepseek2, "deepseek2", RopeOrder::Normal, false},
    {Arch::GptOss, "gpt-oss", RopeOrder::Neox, true},
};

const ArchEntry& entry(Arch arch) {
  for (const auto& e : kArchs) {
    if (e.arch == arch) return e;
  }
  STRATA_CHECK(false);
  return kArchs[0];
}

class KeyReader {
 public:
  KeyReader(const Metadata& meta, const char* arch) : meta_(meta), arch_(arch) {}
  std::string key(std::string_view k) const { return fmt::format("{}.{}", arch_, k); }

  std::optional<int64_t> opt_int(std::string_view k, int64_t lo, int64_t hi) const {
    std::string full = key(k);
    auto v = meta_.get_int(full);
    if (v && (*v < lo || *v > hi)) fail("metadata '{}' = {} is out of range [{}, {}]", full, *v, lo, hi);
    return v;
  }
  int64_t req_int(std::string_view k, int64_t lo, int64_t hi) const {
    auto v = opt_int(k, lo, hi);
    if (!v) fail("missing metadata key '{}'", key(k));
    return *v;
  }
  std::optional<double> opt_float(std::string_view k, double lo, double hi) const {
    std::string full = key(k);
    auto v = meta_.get_float(full);
    if (v && !(*v >= lo && *v <= hi)) fail("metadata '{}' = {} is out of range [{}, {}]", full, *v, lo, hi);
    return v;
  }
  std::optional<bool> opt_bool(std::string_view k) const { return meta_.get_bool(key(k)); }
  std::optional<std::string> opt_string(std::string_view k) const { return meta_.get_string(key(k)); }

 private:
  const Metadata& meta_;
  const char* arch_;
};

constexpr int64_t kMaxDim = int64_t{1} << 20;

}  // namespace

const char* arch_name(Arch arch) { return entry(arch).name; }

std::optional<Arch> parse_arch(std::string_view name) {
  for (const auto& e : kArchs) {
    if (name == e.name) return e.arch;
  }
  return std::nullopt;
}

std::string supported_architectures() {
  std::string s;
  for (const auto& e : kArchs) {
    if (!s.empty()) s += ", ";
    s += e.name;
  }
  return s;
}

Arch require_arch(std::string_view name) {
  auto a = parse_arch(name);
  if (!a) fail("unsupported architecture '{}' (supported: {})", name, supported_architectures());
  return *a;
}

Arch arch_from_metadata(const Metadata& meta) {
  auto name = meta.get_string("general.architecture");
  if (!name) fail("missing metadata key 'general.architecture'");
  return require_arch(*name);
}

Hparams hparams_from_metadata(Arch arch, const Metadata& meta) {
  const ArchEntry& ae = entry(arch);
  KeyReader r(meta, ae.name);
  Hparams hp;
  hp.n_layer = static_cast<int>(r.req_int("block_count", 1, 4096));
  hp.n_embd = static_cast<int>(r.req_int("embedding_length", 1, kMaxDim));
  hp.n_head = static_cast<int>(r.req_int("attention.head_count", 1, 4096));
  hp.n_head_kv = static_cast<int>(r.opt_int("attention.head_count_kv", 1, hp.n_head).value_or(hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0) {
    fail("metadata '{}' = {} does not divide the head count {}", r.key("attention.head_count_kv"),
         hp.n_head_kv, hp.n_head);
  }
  int default_head_dim = hp.n_embd / hp.n_head;
  hp.head_dim = static_cast<int>(r.opt_int("attention.key_length", 1, kMaxDim).value_or(default_head_dim));
  hp.head_dim_v = static_cast<int>(r.opt_int("attention.value_length", 1, kMaxDim).value_or(hp.head_dim));
  if (arch == Arch::Deepseek2) {
    // Newer deepseek2 GGUFs store the absorbed-MLA sizes in key_length and the per-head
    // sizes in key_length_mla / value_length_mla.
    if (auto k = r.opt_int("attention.key_length_mla", 1, kMaxDim)) hp.head_dim = static_cast<int>(*k);
    if (auto v = r.opt_int("attention.value_length_mla", 1, kMaxDim)) hp.head_dim_v = static_cast<int>(*v);
  }
  if (hp.head_dim <= 0) fail("cannot derive the head dimension: set '{}'", r.key("attention.key_length"));
  hp.n_ctx_train = static_cast<int>(r.opt_int("context_length", 1, int64_t{1} << 30).value_or(0));
  hp.n_ff = static_cast<int>(r.opt_int("feed_forward_length", 0, kMaxDim).value_or(0));

  hp.n_expert = static_cast<int>(r.opt_int("expert_count", 0, 4096).value_or(0));
  if (hp.n_expert > 0) {
    hp.n_expert_used = static_cast<int>(r.req_int("expert_used_count", 1, hp.n_expert));
    hp.n_ff_exp = static_cast<int>(r.opt_int("expert_feed_forward_length", 1, kMaxDim).value_or(hp.n_ff));
    if (hp.n_ff_exp <= 0) fail("missing metadata key '{}'", r.key("expert_feed_forward_length"));
    hp.norm_topk_prob = r.opt_bool("expert_weights_norm").value_or(ae.norm_topk_prob);
    hp.expert_weights_scale =
        static_cast<float>(r.opt_float("expert_weights_scale", 0.0, 1e6).value_or(1.0));
    auto gating = r.opt_int("expert_gating_func", 0, 3).value_or(1);
    hp.gating = gating == 2 ? ExpertGating::Sigmoid : ExpertGating::Softmax;
    hp.n_ff_shexp = static_cast<int>(r.opt_int("expert_shared_feed_forward_length", 0, kMaxDim).value_or(0));
    hp.n_expert_shared = static_cast<int>(r.opt_int("expert_shared_count", 0, 256).value_or(hp.n_ff_shexp > 0 ? 1 : 0));
    if (arch == Arch::Deepseek2) {
      hp.n_leading_dense = static_cast<int>(r.opt_int("leading_dense_block_count", 0, hp.n_layer).value_or(0));
      // llama.cpp sizes deepseek2's shared experts as n_expert_shared experts side by side.
      hp.n_ff_shexp = hp.n_ff_exp * hp.n_expert_shared;
    }
  } else if (arch == Arch::Qwen2Moe || arch == Arch::Qwen3Moe || arch == Arch::Olmoe ||
             arch == Arch::Deepseek2 || arch == Arch::GptOss) {
    fail("missing metadata key '{}' ({} is a mixture-of-experts architecture)", r.key("expert_count"), ae.name);
  }
  if (hp.n_expert == 0 && hp.n_ff <= 0) fail("missing metadata key '{}'", r.key("feed_forward_length"));

  auto eps = meta.get_float(r.key("attention.layer_norm_rms_epsilon"));
  if (!eps) fail("missing metadata key '{}'", r.key("attention.layer_norm_rms_epsilon"));
  if (!(*eps > 0 && *eps < 1)) fail("metadata '{}' = {} is out of range", r.key("attention.layer_norm_rms_epsilon"), *eps);
  hp.rms_eps = static_cast<float>(*eps);

  hp.rope_order = ae.rope;
  hp.n_rot = static_cast<int>(r.opt_int("rope.dimension_count", 1, kMaxDim).value_or(hp.head_dim));
  if (hp.n_rot > hp.head_dim) fail("metadata '{}' = {} exceeds the head dimension {}", r.key("rope.dimension_count"), hp.n_rot, hp.head_dim);
  hp.rope_freq_base = static_cast<float>(r.opt_float("rope.freq_base", 1e-3, 1e12).value_or(10000.0));
  std::optional<double> factor = r.opt_float("rope.scaling.factor", 1e-6, 1e6);
  if (!factor) factor = r.opt_float("rope.scale_linear", 1e-6, 1e6);
  std::string scaling = r.opt_string("rope.scaling.type").value_or(factor ? "linear" : "none");
  if (scaling == "none") {
    hp.rope_scaling = RopeScaling::None;
  } else if (scaling == "linear") {
    hp.rope_scaling = RopeScaling::Linear;
  } else if (scaling == "yarn") {
    hp.rope_scaling = RopeScaling::Yarn;
  } else {
    fail("metadata '{}' = '{}' is not supported (none, linear, yarn)", r.key("rope.scaling.type"), scaling);
  }
  if (hp.rope_scaling != RopeScaling::None && factor && *factor > 0) {
    hp.rope_freq_scale = static_cast<float>(1.0 / *factor);
  }
  hp.rope_orig_ctx = static_cast<int>(r.opt_int("rope.scaling.original_context_length", 0, int64_t{1} << 30).value_or(0));
  if (auto v = r.opt_float("rope.scaling.yarn_ext_factor", -1.0, 1e3)) hp.yarn_ext_factor = static_cast<float>(*v);
  if (auto v = r.opt_float("rope.scaling.attn_factor", 0.0, 1e3)) hp.yarn_attn_factor = static_cast<float>(*v);
  if (auto v = r.opt_float("rope.scaling.yarn_beta_fast", 0.0, 1e4)) hp.yarn_beta_fast = static_cast<float>(*v);
  if (auto v = r.opt_float("rope.scaling.yarn_beta_slow", 0.0, 1e4)) hp.yarn_beta_slow = static_cast<float>(*v);
  hp.sliding_window = static_cast<int>(r.opt_int("attention.sliding_window", 0, int64_t{1} << 30).value_or(0));
  return hp;
}

bool layer_is_moe(const Hparams& hp, int layer) {
  return hp.n_expert > 0 && layer >= hp.n_leading_dense;
}

std::string split_expert_name(int layer, int expert, ExpertPart part) {
  static const char* const kParts[] = {"ffn_gate", "ffn_up", "ffn_down"};
  return fmt::format("blk.{}.{}.{}.weight", layer, kParts[static_cast<int>(part)], expert);
}

namespace {

// Suffix after "blk.N." -> role; shared by specs and role_of_name.
const std::map<std::string, TensorRole, std::less<>>& layer_roles() {
  static const std::map<std::string, TensorRole, std::less<>> m = {
      {"attn_norm.weight", TensorRole::AttnNorm},
      {"attn_q.weight", TensorRole::Wq},
      {"attn_k.weight", TensorRole::Wk},
      {"attn_v.weight", TensorRole::Wv},
      {"attn_output.weight", TensorRole::Wo},
      {"attn_q.bias", TensorRole::Bq},
      {"attn_k.bias", TensorRole::Bk},
      {"attn_v.bias", TensorRole::Bv},
      {"attn_output.bias", TensorRole::Bo},
      {"attn_q_norm.weight", TensorRole::QNorm},
      {"attn_k_norm.weight", TensorRole::KNorm},
      {"attn_sinks.weight", TensorRole::AttnSinks},
      {"ffn_norm.weight", TensorRole::FfnNorm},
      {"post_attention_norm.weight", TensorRole::FfnNorm},
      {"ffn_gate.weight", TensorRole::FfnGate},
      {"ffn_up.weight", TensorRole::FfnUp},
      {"ffn_down.weight", TensorRole::FfnDown},
      {"ffn_gate_inp.weight", TensorRole::Router},
      {"ffn_gate_inp.bias", TensorRole::RouterBias},
      {"exp_probs_b.bias", TensorRole::RouterBias},
      {"ffn_gate_exps.weight", TensorRole::GateExps},
      {"ffn_up_exps.weight", TensorRole::UpExps},
      {"ffn_down_exps.weight", TensorRole::DownExps},
      {"ffn_gate_exps.bias", TensorRole::GateExpsBias},
      {"ffn_up_exps.bias", TensorRole::UpExpsBias},
      {"ffn_down_exps.bias", TensorRole::DownExpsBias},
      {"ffn_gate_shexp.weight", TensorRole::ShexpGate},
      {"ffn_up_shexp.weight", TensorRole::ShexpUp},
      {"ffn_down_shexp.weight", TensorRole::ShexpDown},
      {"ffn_gate_inp_shexp.weight", TensorRole::ShexpGateInp},
  };
  return m;
}

}  // namespace

TensorRole role_of_name(std::string_view name, int* layer) {
  *layer = -1;
  if (name == "token_embd.weight") return TensorRole::TokenEmbd;
  if (name == "output_norm.weight") return TensorRole::OutputNorm;
  if (name == "output.weight") return TensorRole::Output;
  if (name.substr(0, 4) != "blk.") return TensorRole::Other;
  name.remove_prefix(4);
  int l = 0;
  size_t i = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i < 6) l = l * 10 + (name[i++] - '0');
  if (i == 0 || i >= name.size() || name[i] != '.') return TensorRole::Other;
  *layer = l;
  std::string_view rest = name.substr(i + 1);
  auto it = layer_roles().find(rest);
  if (it != layer_roles().end()) return it->second;
  // Split experts: "ffn_gate.E.weight".
  for (auto [prefix, role] : {std::pair{"ffn_gate.", TensorRole::GateExps},
                              std::pair{"ffn_up.", TensorRole::UpExps},
                              std::pair{"ffn_down.", TensorRole::DownExps}}) {
    std::string_view p = prefix;
    if (rest.substr(0, p.size()) == p && rest.size() > p.size() + 7 &&
        rest.substr(rest.size() - 7) == ".weight") {
      auto mid = rest.substr(p.size(), rest.size() - p.size() - 7);
      bool digits = !mid.empty();
      for (char c : mid) digits = digits && c >= '0' && c <= '9';
      if (digits) return role;
    }
  }
  return TensorRole::Other;
}

std::vector<TensorSpec> tensor_specs(Arch arch, const Hparams& hp, const Metadata& meta) {
  std::vector<TensorSpec> s;
  const int64_t E = hp.n_embd, V = hp.n_vocab, H = hp.n_head, Hkv = hp.n_head_kv;
  const int64_t D = hp.head_dim, Dv = hp.head_dim_v, X = hp.n_expert, Fe = hp.n_ff_exp;
  auto add = [&](std::string name, TensorRole role, int layer, std::vector<int64_t> ne, bool required,
                 bool norm_like = false) {
    s.push_back({std::move(name), role, layer, std::move(ne), required, norm_like});
  };
  add("token_embd.weight", TensorRole::TokenEmbd, -1, {E, V}, true);
  add("output_norm.weight", TensorRole::OutputNorm, -1, {E}, true, true);
  add("output.weight", TensorRole::Output, -1, {E, V}, false);

  const bool biases = arch == Arch::Qwen2 || arch == Arch::Qwen2Moe || arch == Arch::GptOss;
  for (int il = 0; il < hp.n_layer; ++il) {
    auto n = [&](const char* suffix) { return fmt::format("blk.{}.{}", il, suffix); };
    add(n("attn_norm.weight"), TensorRole::AttnNorm, il, {E}, true, true);
    if (arch == Arch::Deepseek2) {
      auto q_lora = meta.get_int("deepseek2.attention.q_lora_rank").value_or(0);
      auto kv_lora = meta.get_int("deepseek2.attention.kv_lora_rank").value_or(0);
      if (kv_lora <= 0 || kv_lora > kMaxDim || q_lora < 0 || q_lora > kMaxDim) {
        fail("metadata 'deepseek2.attention.kv_lora_rank' / 'q_lora_rank' missing or out of range");
      }
      if (q_lora > 0) {
        add(n("attn_q_a.weight"), TensorRole::Other, il, {E, q_lora}, true);
        add(n("attn_q_a_norm.weight"), TensorRole::Other, il, {q_lora}, true, true);
        add(n("attn_q_b.weight"), TensorRole::Wq, il, {q_lora, H * D}, true);
      } else {
        add(n("attn_q.weight"), TensorRole::Wq, il, {E, H * D}, true);
      }
      add(n("attn_kv_a_mqa.weight"), TensorRole::Other, il, {E, kv_lora + hp.n_rot}, true);
      add(n("attn_kv_a_norm.weight"), TensorRole::Other, il, {kv_lora}, true, true);
      add(n("attn_kv_b.weight"), TensorRole::Other, il, {kv_lora, H * (D - hp.n_rot + Dv)}, false);
    } else {
      add(n("attn_q.weight"), TensorRole::Wq, il, {E, H * D}, true);
      add(n("attn_k.weight"), TensorRole::Wk, il, {E, Hkv * D}, true);
      add(n("attn_v.weight"), TensorRole::Wv, il, {E, Hkv * Dv}, true);
      add(n("attn_q.bias"), TensorRole::Bq, il, {H * D}, biases, true);
      add(n("attn_k.bias"), TensorRole::Bk, il, {Hkv * D}, biases, true);
      add(n("attn_v.bias"), TensorRole::Bv, il, {Hkv * Dv}, biases, true);
      add(n("attn_output.bias"), TensorRole::Bo, il, {E}, arch == Arch::GptOss, true);
    }
    add(n("attn_output.weight"), TensorRole::Wo, il, {H * Dv, E}, true);
    if (arch == Arch::Qwen3 || arch == Arch::Qwen3Moe) {
      add(n("attn_q_norm.weight"), TensorRole::QNorm, il, {D}, true, true);
      add(n("attn_k_norm.weight"), TensorRole::KNorm, il, {D}, true, true);
    } else if (arch == Arch::Olmoe) {
      add(n("attn_q_norm.weight"), TensorRole::QNorm, il, {H * D}, true, true);
      add(n("attn_k_norm.weight"), TensorRole::KNorm, il, {Hkv * D}, true, true);
    }
    if (arch == Arch::GptOss) {
      add(n("attn_sinks.weight"), TensorRole::AttnSinks, il, {H}, true, true);
      add(n("post_attention_norm.weight"), TensorRole::FfnNorm, il, {E}, true, true);
    } else {
      add(n("ffn_norm.weight"), TensorRole::FfnNorm, il, {E}, true, true);
    }
    if (!layer_is_moe(hp, il)) {
      const int64_t F = hp.n_ff;
      add(n("ffn_gate.weight"), TensorRole::FfnGate, il, {E, F}, true);
      add(n("ffn_up.weight"), TensorRole::FfnUp, il, {E, F}, true);
      add(n("ffn_down.weight"), TensorRole::FfnDown, il, {F, E}, true);
      continue;
    }
    add(n("ffn_gate_inp.weight"), TensorRole::Router, il, {E, X}, true, true);
    if (arch == Arch::GptOss) {
      add(n("ffn_gate_inp.bias"), TensorRole::RouterBias, il, {X}, true, true);
    } else if (arch == Arch::Deepseek2) {
      add(n("exp_probs_b.bias"), TensorRole::RouterBias, il, {X}, false, true);
    }
    add(n("ffn_gate_exps.weight"), TensorRole::GateExps, il, {E, Fe, X}, true);
    add(n("ffn_up_exps.weight"), TensorRole::UpExps, il, {E, Fe, X}, true);
    add(n("ffn_down_exps.weight"), TensorRole::DownExps, il, {Fe, E, X}, true);
    if (arch == Arch::GptOss) {
      add(n("ffn_gate_exps.bias"), TensorRole::GateExpsBias, il, {Fe, X}, true, true);
      add(n("ffn_up_exps.bias"), TensorRole::UpExpsBias, il, {Fe, X}, true, true);
      add(n("ffn_down_exps.bias"), TensorRole::DownExpsBias, il, {E, X}, true, true);
    }
    if (hp.n_ff_shexp > 0) {
      const int64_t Fs = hp.n_ff_shexp;
      if (arch == Arch::Qwen2Moe) add(n("ffn_gate_inp_shexp.weight"), TensorRole::ShexpGateInp, il, {E}, true, true);
      add(n("ffn_gate_shexp.weight"), TensorRole::ShexpGate, il, {E, Fs}, true);
      add(n("ffn_up_shexp.weight"), TensorRole::ShexpUp, il, {E, Fs}, true);
      add(n("ffn_down_shexp.weight"), TensorRole::ShexpDown, il, {Fs, E}, true);
    }
  }
  return s;
}

SizeReport compute_size(const Hparams& hp, const std::vector<TensorSize>& tensors) {
  SizeReport r;
  r.bytes_per_expert.assign(static_cast<size_t>(std::max(hp.n_layer, 0)), 0);
  std::vector<uint64_t> layer_expert_bytes(r.bytes_per_expert.size(), 0);
  std::vector<uint64_t> layer_expert_params(r.bytes_per_expert.size(), 0);
  uint64_t expert_params = 0;
  bool has_output = false;
  uint64_t embd_bytes = 0, embd_row_bytes = 0;
  for (const auto& t : tensors) {
    r.total_bytes += t.nbytes;
    r.total_params += static_cast<uint64_t>(t.elements);
    bool expert = t.role == TensorRole::GateExps || t.role == TensorRole::UpExps ||
                  t.role == TensorRole::DownExps;
    if (expert && t.layer >= 0 && t.layer < hp.n_layer) {
      r.expert_bytes += t.nbytes;
      expert_params += static_cast<uint64_t>(t.elements);
      layer_expert_bytes[static_cast<size_t>(t.layer)] += t.nbytes;
      layer_expert_params[static_cast<size_t>(t.layer)] += static_cast<uint64_t>(t.elements);
    }
    if (t.role == TensorRole::Output) has_output = true;
    if (t.role == TensorRole::TokenEmbd) {
      embd_bytes = t.nbytes;
      embd_row_bytes = t.rows > 0 ? t.nbytes / static_cast<uint64_t>(t.rows) : t.nbytes;
    }
  }
  r.dense_bytes = r.total_bytes - r.expert_bytes;
  // Only one embedding row is read per token, unless the embedding doubles as the output.
  r.active_bytes = r.dense_bytes;
  if (has_output) r.active_bytes = r.active_bytes - embd_bytes + embd_row_bytes;
  r.active_params = r.total_params - expert_params;
  for (size_t l = 0; l < r.bytes_per_expert.size(); ++l) {
    if (hp.n_expert <= 0 || layer_expert_bytes[l] == 0) continue;
    r.bytes_per_expert[l] = layer_expert_bytes[l] / static_cast<uint64_t>(hp.n_expert);
    r.active_bytes += r.bytes_per_expert[l] * static_cast<uint64_t>(hp.n_expert_used);
    r.active_params += layer_expert_params[l] / static_cast<uint64_t>(hp.n_expert) *
                       static_cast<uint64_t>(hp.n_expert_used);
  }
  return r;
}

}  // namespace strata
