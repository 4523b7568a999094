#include "loader/synth_model.h"

#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "kernels/quant.h"
#include "loader/gguf.h"
#include "loader/gguf_writer.h"
#include "loader/hf_config.h"
#include "loader/safetensors.h"

namespace strata {
namespace fs = std::filesystem;
namespace {

// ---------------------------------------------------------------- presets

int dim(const nlohmann::json& j, const char* key, const std::string& where, int lo, int hi, std::optional<int> def = std::nullopt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (def) return *def;
    fail("{}: missing \"{}\"", where, key);
  }
  if (!it->is_number_integer()) fail("{}: \"{}\" must be an integer", where, key);
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) fail("{}: \"{}\" = {} is out of range [{}, {}]", where, key, v, lo, hi);
  return static_cast<int>(v);
}

std::vector<fs::path> config_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("STRATA_CONFIG_DIR")) dirs.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path() / "configs");
    dirs.push_back(exe.parent_path().parent_path() / "configs");
  }
  return dirs;
}

// ---------------------------------------------------------------- built-in vocabulary

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the others are shifted
// to U+0100.. so every byte has a visible, non-space character.
std::string byte_token(int b) {
  auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); };
  uint32_t cp = static_cast<uint32_t>(b);
  if (!printable(b)) {
    int n = 0;
    for (int c = 0; c < b; ++c) n += printable(c) ? 0 : 1;
    cp = 256u + static_cast<uint32_t>(n);
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

struct BuiltinVocab {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
};

// 256 byte tokens, merges that spell common English words left to right (a valid BPE merge
// order), and <|endoftext|>.
BuiltinVocab builtin_vocab(size_t max_merges) {
  static const char* const kWords[] = {
      " the", " and", " of", " to", " in", " is", " that", " it", " for", " was", " on", " are",
      " with", " as", " be", " this", " have", " from", " by", " not", " but", " what", " all",
      " were", " when", " we", " there", " can", " an", " your", " which", " their", " said",
      " if", " do", " will", " each", " about", " how", " up", " out", " them", " then", " she",
      " many", " some", " so", " these", " would", " other", " into", " has", " more", " her",
      " two", " like", " him", " see", " time", " could", " no", " make", " than", " first",
      " been", " its", " who", " now", " people", " my", " made", " over", " did", " down",
      " only", " way", " find", " use", " may", " water", " long", " little", " very", " after",
      " words", " called", " just", " where", " most", " know", " model", " expert", " token",
      "ing", "ed", "er", "ly", "tion", "The", " The", "\n\n"};
  BuiltinVocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_token(b));
  std::set<std::string> known(v.tokens.begin(), v.tokens.end());
  for (const char* w : kWords) {
    std::string cur = byte_token(static_cast<unsigned char>(w[0]));
    for (size_t i = 1; w[i] != '\0' && v.merges.size() < max_merges; ++i) {
      std::string next = byte_token(static_cast<unsigned char>(w[i]));
      std::string merged = cur + next;
      if (!known.count(merged)) {
        v.merges.push_back(cur + " " + next);
        v.tokens.push_back(merged);
        known.insert(merged);
      }
      cur = merged;
    }
  }
  v.tokens.push_back("<|endoftext|>");
  return v;
}

void add_builtin_tokenizer(Metadata& meta, int n_vocab) {
  // Leave room for <|endoftext|>; a tiny n_vocab just gets fewer merges.
  size_t max_merges = n_vocab > 257 ? static_cast<size_t>(n_vocab - 257) : 0;
  BuiltinVocab v = builtin_vocab(max_merges);
  MetaArray tokens, types, merges;
  for (const auto& t : v.tokens) tokens.push_back(MetaValue::str(t));
  for (size_t i = 0; i + 1 < v.tokens.size(); ++i) types.push_back(MetaValue::i32(1));  // normal
  types.push_back(MetaValue::i32(3));  // <|endoftext|> is a control token
  const int eot = static_cast<int>(v.tokens.size()) - 1;
  // Pad to the model's vocabulary size with unused tokens, as real checkpoints pad theirs.
  for (int i = static_cast<int>(v.tokens.size()); i < n_vocab; ++i) {
    tokens.push_back(MetaValue::str(fmt::format("<|unused_{}|>", i)));
    types.push_back(MetaValue::i32(5));
  }
  for (const auto& m : v.merges) merges.push_back(MetaValue::str(m));
  meta.set("tokenizer.ggml.model", MetaValue::str("gpt2"));
  // "gpt-2" rather than llama.cpp's "default" so that the HF tokenizer.json written next to
  // safetensors output (a ByteLevel pre-tokenizer, i.e. the GPT-2 regex) splits text the same.
  meta.set("tokenizer.ggml.pre", MetaValue::str("gpt-2"));
  meta.set("tokenizer.ggml.tokens", MetaValue::array(MetaType::String, std::move(tokens)));
  meta.set("tokenizer.ggml.token_type", MetaValue::array(MetaType::I32, std::move(types)));
  meta.set("tokenizer.ggml.merges", MetaValue::array(MetaType::String, std::move(merges)));
  meta.set("tokenizer.ggml.bos_token_id", MetaValue::u32(static_cast<uint32_t>(eot)));
  meta.set("tokenizer.ggml.eos_token_id", MetaValue::u32(static_cast<uint32_t>(eot)));
  meta.set("tokenizer.ggml.add_bos_token", MetaValue::boolean(false));
  meta.set("tokenizer.ggml.add_eos_token", MetaValue::boolean(false));
}

// tokenizer.json + tokenizer_config.json equivalent to a GPT-2-style GGUF vocabulary, so a
// safetensors output runs end to end. nullopt for other tokenizer kinds (their HF pre-tokenizer
// regexes are not reproduced here).
std::optional<std::pair<std::string, std::string>> hf_tokenizer_files(const Metadata& meta) {
  if (meta.get_string("tokenizer.ggml.model").value_or("") != "gpt2") return std::nullopt;
  const std::string pre = meta.get_string("tokenizer.ggml.pre").value_or("default");
  if (pre != "gpt-2" && pre != "default") return std::nullopt;
  auto tokens = meta.get_string_array("tokenizer.ggml.tokens");
  auto merges = meta.get_string_array("tokenizer.ggml.merges");
  if (!tokens || !merges) return std::nullopt;
  auto types = meta.get_int_array("tokenizer.ggml.token_type").value_or(std::vector<int64_t>{});
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (size_t i = 0; i < tokens->size(); ++i) {
    const int64_t type = i < types.size() ? types[i] : 1;
    if (type == 5) continue;  // unused padding ids stay gaps
    if (type == 3 || type == 4) {
      added.push_back({{"id", i}, {"content", (*tokens)[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", type == 3}});
    }
    vocab[(*tokens)[i]] = i;
  }
  const nlohmann::ordered_json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                                             {"trim_offsets", true}, {"use_regex", true}};
  nlohmann::ordered_json tok = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      {"normalizer", nullptr}, {"pre_tokenizer", byte_level}, {"post_processor", nullptr},
      {"decoder", byte_level},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                 {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                 {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab}, {"merges", *merges}}}};
  nlohmann::ordered_json cfg = {{"add_bos_token", meta.get_bool("tokenizer.ggml.add_bos_token").value_or(false)},
                                {"add_eos_token", meta.get_bool("tokenizer.ggml.add_eos_token").value_or(false)}};
  auto name_of = [&](const char* key) -> nlohmann::ordered_json {
    auto id = meta.get_int(key);
    if (!id || *id < 0 || static_cast<size_t>(*id) >= tokens->size()) return nullptr;
    return (*tokens)[static_cast<size_t>(*id)];
  };
  cfg["bos_token"] = name_of("tokenizer.ggml.bos_token_id");
  cfg["eos_token"] = name_of("tokenizer.ggml.eos_token_id");
  return std::make_pair(tok.dump(), cfg.dump(2) + "\n");
}

int builtin_vocab_min_size() { return static_cast<int>(builtin_vocab(0).tokens.size()); }

int copy_tokenizer(Metadata& meta, const std::string& vocab_path) {
  GgufFile g = GgufFile::open(vocab_path);
  const MetaValue* tokens = g.metadata().find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->type != MetaType::Array) {
    fail("'{}' has no tokenizer.ggml.tokens array", vocab_path);
  }
  for (const auto& [key, value] : g.metadata().all()) {
    if (key.rfind("tokenizer.", 0) == 0) meta.set(key, value);
  }
  size_t n = std::get<MetaArray>(tokens->value).size();
  if (n == 0 || n > (1u << 24)) fail("'{}': vocabulary of {} tokens", vocab_path, n);
  return static_cast<int>(n);
}

// ---------------------------------------------------------------- types

struct TypeMix {
  TensorType base = TensorType::F32;
  bool k_m = false;   // q*_k_m: Q6_K for attn_v, ffn_down*, output
  bool mxfp4 = false; // MXFP4 experts, Q8_0 elsewhere
  uint32_t file_type = 0;
};

TypeMix parse_mix(std::string t) {
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  TypeMix m;
  if (t == "q4_k_m" || t == "q5_k_m") {
    m.base = t == "q4_k_m" ? TensorType::Q4_K : TensorType::Q5_K;
    m.k_m = true;
    m.file_type = t == "q4_k_m" ? 15 : 17;
    return m;
  }
  if (t == "mxfp4") {
    m.base = TensorType::Q8_0;
    m.mxfp4 = true;
    m.file_type = 38;
    return m;
  }
  auto type = parse_type_name(t);
  if (!type || *type == TensorType::Q8_K) {
    fail("unknown weight type '{}' (use f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, mxfp4)", t);
  }
  m.base = *type;
  switch (*type) {
    case TensorType::F32: m.file_type = 0; break;
    case TensorType::F16: m.file_type = 1; break;
    case TensorType::Q4_0: m.file_type = 2; break;
    case TensorType::Q8_0: m.file_type = 7; break;
    case TensorType::Q4_K: m.file_type = 14; break;
    case TensorType::Q5_K: m.file_type = 16; break;
    case TensorType::Q6_K: m.file_type = 18; break;
    case TensorType::BF16: m.file_type = 32; break;
    default: m.file_type = 0; break;
  }
  return m;
}

TensorType pick_type(const TypeMix& mix, const TensorSpec& spec) {
  if (spec.is_norm_like || spec.ne.size() == 1) return TensorType::F32;
  const bool expert = spec.role == TensorRole::GateExps || spec.role == TensorRole::UpExps ||
                      spec.role == TensorRole::DownExps;
  if (mix.mxfp4) return expert ? TensorType::MXFP4 : TensorType::Q8_0;
  if (mix.k_m && (spec.role == TensorRole::Wv || spec.role == TensorRole::FfnDown ||
                  spec.role == TensorRole::DownExps || spec.role == TensorRole::ShexpDown ||
                  spec.role == TensorRole::Output)) {
    return TensorType::Q6_K;
  }
  return mix.base;
}

void value_scale(const TensorSpec& spec, const Hparams& hp, float* mean, float* stddev) {
  const float fan_in = static_cast<float>(spec.ne[0]);
  *mean = 0.0f;
  if (spec.role == TensorRole::TokenEmbd) {
    // Logits of a tied output then have unit spread.
    *stddev = 1.0f / std::sqrt(static_cast<float>(hp.n_embd));
  } else if (spec.role == TensorRole::AttnSinks) {
    *stddev = 0.5f;
  } else if (spec.ne.size() == 1 && spec.name.find("norm") != std::string::npos) {
    *mean = 1.0f;
    *stddev = 0.05f;
  } else if (spec.ne.size() == 1 || spec.role == TensorRole::GateExpsBias ||
             spec.role == TensorRole::UpExpsBias || spec.role == TensorRole::DownExpsBias ||
             spec.role == TensorRole::RouterBias) {
    *stddev = 0.02f;
  } else {
    *stddev = 1.0f / std::sqrt(fan_in);
  }
}

// ---------------------------------------------------------------- random numbers

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

struct Xoshiro256 {
  uint64_t s[4];
  explicit Xoshiro256(uint64_t seed) {
    for (auto& v : s) v = splitmix64(seed);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = s[0] + s[3];
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

int64_t PlannedTensor::rows() const {
  int64_t r = 1;
  for (size_t i = 1; i < ne.size(); ++i) r *= ne[i];
  return r;
}

SynthConfig parse_preset(const std::string& json_text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", where, e.what());
  }
  if (!j.is_object()) fail("{}: not a JSON object", where);
  SynthConfig c;
  c.name = fs::path(where).stem().string();
  auto arch = j.find("arch");
  if (arch == j.end() || !arch->is_string()) fail("{}: missing \"arch\"", where);
  c.arch = require_arch(arch->get<std::string>());
  constexpr int kBig = 1 << 20;
  c.n_layer = dim(j, "n_layer", where, 1, 4096);
  c.n_embd = dim(j, "n_embd", where, 1, kBig);
  c.n_head = dim(j, "n_head", where, 1, 4096);
  c.n_head_kv = dim(j, "n_head_kv", where, 1, c.n_head, c.n_head);
  if (c.n_head % c.n_head_kv != 0) fail("{}: n_head_kv must divide n_head", where);
  c.head_dim = dim(j, "head_dim", where, 1, kBig, c.n_embd / c.n_head);
  c.n_ff = dim(j, "n_ff", where, 0, kBig, 0);
  c.n_expert = dim(j, "n_expert", where, 0, 4096, 0);
  c.n_expert_used = dim(j, "n_expert_used", where, c.n_expert > 0 ? 1 : 0, std::max(c.n_expert, 0), 0);
  c.n_ff_exp = dim(j, "n_ff_exp", where, 0, kBig, c.n_ff);
  c.n_ff_shexp = dim(j, "n_ff_shexp", where, 0, kBig, 0);
  c.n_vocab = dim(j, "n_vocab", where, 1, 1 << 24, 512);
  c.n_ctx_train = dim(j, "n_ctx_train", where, 1, 1 << 30, 4096);
  if (c.n_expert > 0 && (c.n_expert_used == 0 || c.n_ff_exp == 0)) {
    fail("{}: a mixture-of-experts preset needs n_expert_used and n_ff_exp", where);
  }
  if (c.n_expert == 0 && c.n_ff == 0) fail("{}: a dense preset needs n_ff", where);
  auto num = [&](const char* key, double def) {
    auto it = j.find(key);
    if (it == j.end()) return def;
    if (!it->is_number()) fail("{}: \"{}\" must be a number", where, key);
    return it->get<double>();
  };
  c.rope_freq_base = num("rope_freq_base", 10000.0);
  c.rms_eps = num("rms_eps", 1e-6);
  if (!(c.rms_eps > 0 && c.rms_eps < 1) || !(c.rope_freq_base > 0)) fail("{}: rms_eps / rope_freq_base out of range", where);
  if (auto it = j.find("norm_topk_prob"); it != j.end()) {
    if (!it->is_boolean()) fail("{}: \"norm_topk_prob\" must be true or false", where);
    c.norm_topk_prob = it->get<bool>();
  }
  if (auto it = j.find("tied_embeddings"); it != j.end()) {
    if (!it->is_boolean()) fail("{}: \"tied_embeddings\" must be true or false", where);
    c.tied_embeddings = it->get<bool>();
  }
  if (auto it = j.find("type"); it != j.end()) {
    if (!it->is_string()) fail("{}: \"type\" must be a string", where);
    c.type = it->get<std::string>();
  }
  return c;
}

std::vector<std::string> list_presets() {
  for (const auto& d : config_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    if (!names.empty()) return names;
  }
  return {};
}

SynthConfig load_preset(const std::string& name_or_path) {
  fs::path p = name_or_path;
  std::error_code ec;
  if (!(p.extension() == ".json" && fs::is_regular_file(p, ec))) {
    p.clear();
    if (name_or_path.find('/') == std::string::npos) {
      for (const auto& d : config_dirs()) {
        fs::path cand = d / (name_or_path + ".json");
        if (fs::is_regular_file(cand, ec)) {
          p = cand;
          break;
        }
      }
    }
    if (p.empty()) {
      std::string avail;
      for (const auto& n : list_presets()) avail += (avail.empty() ? "" : ", ") + n;
      fail("unknown preset '{}' (available: {})", name_or_path, avail.empty() ? "none found" : avail);
    }
  }
  std::ifstream in(p);
  if (!in) fail("cannot open '{}': {}", p.string(), std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_preset(ss.str(), p.string());
}

SynthPlan plan_model(const SynthConfig& cfg_in, const std::string& type, const std::string& vocab_path,
                     std::optional<int> layers) {
  SynthConfig cfg = cfg_in;
  if (cfg.arch == Arch::Deepseek2 || cfg.arch == Arch::GptOss) {
    fail("make-model does not generate {} models (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe)",
         arch_name(cfg.arch));
  }
  if (layers) {
    if (*layers < 1 || *layers > 4096) fail("--layers {} is out of range [1, 4096]", *layers);
    cfg.n_layer = *layers;
  }
  TypeMix mix = parse_mix(type.empty() ? cfg.type : type);
  SynthPlan plan;
  plan.arch = cfg.arch;
  Metadata& m = plan.meta;
  const std::string a = arch_name(cfg.arch);
  auto u32 = [&](const char* k, int64_t v) { m.set(a + "." + k, MetaValue::u32(static_cast<uint32_t>(v))); };
  auto f32 = [&](const char* k, double v) { m.set(a + "." + k, MetaValue::f32(static_cast<float>(v))); };

  int n_vocab = cfg.n_vocab;
  if (!vocab_path.empty()) {
    n_vocab = copy_tokenizer(m, vocab_path);
  } else {
    n_vocab = std::max(n_vocab, builtin_vocab_min_size());
    add_builtin_tokenizer(m, n_vocab);
  }
  m.set("general.architecture", MetaValue::str(a));
  m.set("general.name", MetaValue::str(fmt::format("strata synthetic {}", cfg.name)));
  m.set("general.file_type", MetaValue::u32(mix.file_type));
  m.set("general.quantization_version", MetaValue::u32(2));
  u32("block_count", cfg.n_layer);
  u32("context_length", cfg.n_ctx_train);
  u32("embedding_length", cfg.n_embd);
  u32("feed_forward_length", cfg.n_expert > 0 && cfg.n_ff == 0 ? cfg.n_ff_exp : cfg.n_ff);
  u32("attention.head_count", cfg.n_head);
  u32("attention.head_count_kv", cfg.n_head_kv);
  u32("attention.key_length", cfg.head_dim);
  u32("attention.value_length", cfg.head_dim);
  u32("rope.dimension_count", cfg.head_dim);
  f32("rope.freq_base", cfg.rope_freq_base);
  f32("attention.layer_norm_rms_epsilon", cfg.rms_eps);
  u32("vocab_size", n_vocab);
  if (cfg.n_expert > 0) {
    u32("expert_count", cfg.n_expert);
    u32("expert_used_count", cfg.n_expert_used);
    u32("expert_feed_forward_length", cfg.n_ff_exp);
    if (cfg.n_ff_shexp > 0) u32("expert_shared_feed_forward_length", cfg.n_ff_shexp);
    if (cfg.norm_topk_prob) m.set(a + ".expert_weights_norm", MetaValue::boolean(*cfg.norm_topk_prob));
  }
  plan.hp = hparams_from_metadata(cfg.arch, m);
  plan.hp.n_vocab = n_vocab;
  plan.hp.tied_embeddings = cfg.tied_embeddings;

  for (const TensorSpec& spec : tensor_specs(cfg.arch, plan.hp, m)) {
    const bool is_output = spec.role == TensorRole::Output;
    if (is_output ? cfg.tied_embeddings : !spec.required) continue;
    PlannedTensor t;
    t.name = spec.name;
    t.ne = spec.ne;
    t.role = spec.role;
    t.layer = spec.layer;
    t.type = pick_type(mix, spec);
    if (!is_row_size_valid(t.type, t.ne[0])) {
      ++plan.type_fallbacks;
      t.type = is_row_size_valid(TensorType::Q8_0, t.ne[0]) ? TensorType::Q8_0 : TensorType::F16;
    }
    value_scale(spec, plan.hp, &t.mean, &t.stddev);
    t.nbytes = static_cast<uint64_t>(row_bytes(t.type, t.ne[0])) * static_cast<uint64_t>(t.rows());
    plan.tensors.push_back(std::move(t));
  }
  return plan;
}

SizeReport plan_size(const SynthPlan& plan) {
  std::vector<TensorSize> sizes;
  for (const auto& t : plan.tensors) {
    TensorSize s;
    s.role = t.role;
    s.layer = t.layer;
    s.elements = t.ne[0] * t.rows();
    s.nbytes = t.nbytes;
    s.row_elements = t.ne[0];
    s.rows = t.rows();
    sizes.push_back(s);
  }
  return compute_size(plan.hp, sizes);
}

void synth_row(uint64_t seed, const PlannedTensor& t, int64_t row, float* out) {
  uint64_t s = seed ^ fnv1a(t.name);
  uint64_t row_seed = splitmix64(s) ^ (static_cast<uint64_t>(row) * 0xD1B54A32D192ED03ull);
  Xoshiro256 rng(row_seed);
  // The sum of four uniforms, rescaled to unit variance: close to normal, bounded at 3.46
  // sigma, and much cheaper than Box-Muller for tens of billions of values.
  constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16
  for (int64_t i = 0; i < t.ne[0]; ++i) {
    uint64_t r = rng.next();
    float sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
    float z = (sum - 2.0f * 65535.0f) * kScale;
    out[i] = t.mean + t.stddev * z;
  }
}

namespace {

struct OutTensor {
  std::string name;          // name in the output file
  const PlannedTensor* src;
  int64_t row_begin;         // rows [row_begin, row_end) of src
  int64_t row_end;
  std::vector<int64_t> shape_rowmajor;
  // > 0: a Q/K projection of a normal-order-RoPE (llama) model written to HF layout. llama.cpp's
  // converter interleaves each head's rows (HF row j*hd/2+i becomes GGUF row 2i+j) so that
  // normal-order RoPE on GGUF equals HF's rotate-half RoPE; HF files hold the rows un-interleaved.
  int64_t rope_head_dim = 0;
};

// Source (GGUF) row of HF row `hf_row` for a projection whose heads are `head_dim` rows each.
int64_t gguf_row_of_hf_row(int64_t hf_row, int64_t head_dim) {
  const int64_t head = hf_row / head_dim, within = hf_row % head_dim, half = head_dim / 2;
  return head * head_dim + 2 * (within % half) + within / half;
}

std::vector<OutTensor> output_tensors(const SynthPlan& plan, SynthFormat format) {
  std::vector<OutTensor> out;
  for (const auto& t : plan.tensors) {
    const int part = t.role == TensorRole::GateExps ? 0 : t.role == TensorRole::UpExps ? 1
                   : t.role == TensorRole::DownExps ? 2 : -1;
    if (format == SynthFormat::Safetensors) {
      if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16) {
        fail("safetensors output stores f32, f16 or bf16 only (tensor '{}' would be {})", t.name, type_name(t.type));
      }
      if (part >= 0) {
        const int64_t per = t.ne[1];
        for (int64_t e = 0; e < t.ne[2]; ++e) {
          out.push_back({gguf_to_hf_name(plan.arch, split_expert_name(t.layer, static_cast<int>(e), static_cast<ExpertPart>(part))),
                         &t, e * per, (e + 1) * per, {t.ne[1], t.ne[0]}});
        }
        continue;
      }
      std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
      OutTensor o{gguf_to_hf_name(plan.arch, t.name), &t, 0, t.rows(), shape};
      if (plan.arch == Arch::Llama && (t.role == TensorRole::Wq || t.role == TensorRole::Wk)) {
        o.rope_head_dim = plan.hp.head_dim;
      }
      out.push_back(std::move(o));
    } else {
      out.push_back({t.name, &t, 0, t.rows(), {}});
    }
  }
  return out;
}

// Generates and converts rows [r0, r1) of `t` into `dst` with `threads` workers.
void produce_rows(const PlannedTensor& t, int64_t r0, int64_t r1, uint64_t seed, uint8_t* dst, int threads) {
  const uint64_t rb = static_cast<uint64_t>(row_bytes(t.type, t.ne[0]));
  const int64_t n = r1 - r0;
  const int workers = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(n, 1)));
  auto work = [&](int w) {
    std::vector<float> buf(static_cast<size_t>(t.ne[0]));
    for (int64_t r = r0 + w; r < r1; r += workers) {
      synth_row(seed, t, r, buf.data());
      quantize_row(t.type, buf.data(), dst + static_cast<uint64_t>(r - r0) * rb, t.ne[0]);
    }
  };
  if (workers <= 1) {
    work(0);
    return;
  }
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
}

void check_disk_space(const fs::path& out, uint64_t need) {
  fs::path dir = out.parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs st{};
  if (::statvfs(dir.c_str(), &st) != 0) fail("cannot check free space in '{}': {}", dir.string(), std::strerror(errno));
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
  if (free_bytes < need + (16ull << 20)) {
    fail("not enough free disk space in '{}': the model needs {:.2f} GiB, {:.2f} GiB are free", dir.string(),
         static_cast<double>(need) / (1ull << 30), static_cast<double>(free_bytes) / (1ull << 30));
  }
}

template <typename Writer>
void stream_tensors(Writer& w, const std::vector<OutTensor>& tensors, const SynthWriteOptions& opts,
                    uint64_t total) {
  int threads = opts.threads > 0 ? opts.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  constexpr uint64_t kChunkBytes = 32ull << 20;
  std::vector<uint8_t> buf;
  uint64_t done = 0;
  for (const auto& o : tensors) {
    const PlannedTensor& t = *o.src;
    const uint64_t rb = static_cast<uint64_t>(row_bytes(t.type, t.ne[0]));
    const int64_t rows_per_chunk = static_cast<int64_t>(std::max<uint64_t>(1, kChunkBytes / rb));
    if (o.rope_head_dim > 0) {
      // Row by row in HF order (attention projections are small).
      buf.resize(rb);
      for (int64_t r = o.row_begin; r < o.row_end; ++r) {
        const int64_t src = gguf_row_of_hf_row(r, o.rope_head_dim);
        produce_rows(t, src, src + 1, opts.seed, buf.data(), 1);
        w.write_tensor_data(o.name, buf.data(), rb);
        done += rb;
      }
      if (opts.progress) opts.progress(done, total);
      continue;
    }
    for (int64_t r = o.row_begin; r < o.row_end; r += rows_per_chunk) {
      const int64_t r1 = std::min(o.row_end, r + rows_per_chunk);
      const uint64_t bytes = static_cast<uint64_t>(r1 - r) * rb;
      buf.resize(bytes);
      produce_rows(t, r, r1, opts.seed, buf.data(), threads);
      w.write_tensor_data(o.name, buf.data(), bytes);
      done += bytes;
      if (opts.progress) opts.progress(done, total);
    }
  }
}

void add_gguf_layout(GgufWriter& w, const SynthPlan& plan) {
  w.add_metadata(plan.meta);
  for (const auto& t : plan.tensors) w.add_tensor(t.name, t.type, std::span<const int64_t>(t.ne));
}

}  // namespace

uint64_t planned_file_size(const SynthPlan& plan, SynthFormat format) {
  if (format == SynthFormat::Gguf) {
    GgufWriter w;
    add_gguf_layout(w, plan);
    return w.file_size();
  }
  uint64_t sum = 0;
  for (const auto& t : plan.tensors) sum += t.nbytes;
  return sum + (1ull << 20);  // header (names and shapes) is far below 1 MiB for real models
}

void write_model(const SynthPlan& plan, const SynthWriteOptions& opts) {
  if (opts.out.empty()) fail("no output path given");
  fs::path out = opts.out;
  fs::path tmp = opts.out + ".tmp";
  std::error_code ec;
  if (fs::exists(out, ec) && !opts.force) fail("'{}' already exists (use --force to replace it)", opts.out);
  const auto tensors = output_tensors(plan, opts.format);  // validates types before any I/O
  const uint64_t size = planned_file_size(plan, opts.format);
  check_disk_space(fs::absolute(out), size);
  fs::remove_all(tmp, ec);
  uint64_t data_total = 0;
  for (const auto& t : plan.tensors) data_total += t.nbytes;
  try {
    if (opts.format == SynthFormat::Gguf) {
      GgufWriter w;
      add_gguf_layout(w, plan);
      w.begin(tmp.string());
      stream_tensors(w, tensors, opts, data_total);
      w.finish();
    } else {
      fs::create_directories(tmp);
      SafetensorsWriter w;
      w.set_metadata("format", "pt");
      for (const auto& o : tensors) w.add_tensor(o.name, o.src->type, o.shape_rowmajor);
      w.begin((tmp / "model.safetensors").string());
      stream_tensors(w, tensors, opts, data_total);
      w.finish();
      std::ofstream cfg(tmp / "config.json");
      cfg << hf_config_json(plan.arch, plan.meta, plan.hp.tied_embeddings);
      if (!cfg) fail("cannot write '{}'", (tmp / "config.json").string());
      if (auto files = hf_tokenizer_files(plan.meta)) {
        std::ofstream tok(tmp / "tokenizer.json");
        tok << files->first;
        std::ofstream tcfg(tmp / "tokenizer_config.json");
        tcfg << files->second;
        if (!tok || !tcfg) fail("cannot write the tokenizer files in '{}'", tmp.string());
      }
    }
    if (opts.force) fs::remove_all(out);
    fs::rename(tmp, out);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    fail("cannot write '{}': {}", opts.out, e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace strata
