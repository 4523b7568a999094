// `strata inspect FILE|DIR [--tensors] [--json] [--budget SIZE]`: what a model is, how big it
// is, and whether it (or how many of its experts) fits this machine's memory.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/command.h"
#include "common/error.h"
#include "common/system_memory.h"
#include "loader/architectures.h"
#include "loader/gguf.h"
#include "loader/model.h"
#include "loader/synth_model.h"

namespace strata::cli {
namespace {

using json = nlohmann::ordered_json;

struct InspectArgs {
  std::string path;
  bool tensors = false;
  bool as_json = false;
  std::string budget;
};

struct Description {
  std::string source;  // "GGUF", "safetensors", "preset (planned, nothing on disk)"
  std::string name;
  Arch arch = Arch::Llama;
  Hparams hp;
  SizeReport size;
  std::map<std::string, int> type_counts;
  struct Row {
    std::string name, type, shape;
    uint64_t nbytes = 0, offset = 0;
    int file = 0;
  };
  std::vector<Row> rows;
};

std::string fmt_count(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  if (n >= 1000ull) return fmt::format("{:.1f} K", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string shape_of(const int64_t* ne, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += fmt::format("{}{}", i ? ", " : "", ne[i]);
  return s + "]";
}

Description describe_model(const Model& m) {
  Description d;
  d.source = m.hf_dir().empty() ? "GGUF" : fmt::format("safetensors ({} file{})", m.files().size(), m.files().size() == 1 ? "" : "s");
  d.name = m.metadata().get_string("general.name").value_or("");
  d.arch = m.arch();
  d.hp = m.hparams();
  std::vector<TensorSize> sizes;
  for (const auto& t : m.tensors()) {
    TensorSize s;
    s.role = role_of_name(t.name, &s.layer);
    s.elements = t.elements();
    s.nbytes = t.nbytes;
    s.row_elements = t.ne[0];
    s.rows = t.rows();
    sizes.push_back(s);
    d.type_counts[std::string(type_name(t.type))]++;
    d.rows.push_back({t.name, std::string(type_name(t.type)), shape_of(t.ne.data(), std::max(t.n_dims, 1)), t.nbytes,
                      t.file_offset, t.file_index});
  }
  d.size = compute_size(d.hp, sizes);
  return d;
}

Description describe_preset(const std::string& path) {
  SynthConfig cfg = load_preset(path);
  SynthPlan plan = plan_model(cfg, "", "", std::nullopt);
  Description d;
  d.source = fmt::format("preset '{}' as {} (planned; nothing on disk)", cfg.name, cfg.type);
  d.name = cfg.name;
  d.arch = plan.arch;
  d.hp = plan.hp;
  d.size = plan_size(plan);
  for (const auto& t : plan.tensors) {
    d.type_counts[std::string(type_name(t.type))]++;
    d.rows.push_back({t.name, std::string(type_name(t.type)), shape_of(t.ne.data(), static_cast<int>(t.ne.size())), t.nbytes, 0, 0});
  }
  return d;
}

struct Fit {
  uint64_t budget = 0;
  bool whole_model = false;
  bool dense_fits = false;
  uint64_t experts_fit = 0;
  uint64_t experts_total = 0;
};

Fit fit_in(const Description& d, uint64_t budget) {
  Fit f;
  f.budget = budget;
  f.whole_model = d.size.total_bytes <= budget;
  f.dense_fits = d.size.dense_bytes <= budget;
  uint64_t per_expert_sum = 0;
  for (auto b : d.size.bytes_per_expert) {
    if (b > 0) {
      f.experts_total += static_cast<uint64_t>(d.hp.n_expert);
      per_expert_sum += b;
    }
  }
  if (f.experts_total > 0 && f.dense_fits) {
    // Average over layers: every MoE layer has the same expert size in supported models.
    const uint64_t n_moe_layers = f.experts_total / static_cast<uint64_t>(d.hp.n_expert);
    const uint64_t avg = per_expert_sum / n_moe_layers;
    f.experts_fit = avg == 0 ? f.experts_total : std::min(f.experts_total, (budget - d.size.dense_bytes) / avg);
  }
  return f;
}

json fit_json(const Fit& f) {
  json j = {{"budget_bytes", f.budget}, {"fits", f.whole_model}, {"dense_fits", f.dense_fits}};
  if (f.experts_total > 0) {
    j["experts_fit"] = f.experts_fit;
    j["experts_total"] = f.experts_total;
  }
  return j;
}

std::string fit_line(const std::string& label, const Fit& f) {
  std::string s = fmt::format("  {:<22} {:>10}: ", label, format_size(f.budget));
  if (f.whole_model) return s + "whole model fits";
  if (!f.dense_fits) return s + "does not fit (not even the dense weights)";
  if (f.experts_total == 0) return s + "does not fit";
  return s + fmt::format("dense weights + {} of {} experts ({:.1f}%)", f.experts_fit, f.experts_total,
                         100.0 * static_cast<double>(f.experts_fit) / static_cast<double>(f.experts_total));
}

const char* rope_name(RopeOrder r) { return r == RopeOrder::Neox ? "neox" : "normal"; }
const char* scaling_name(RopeScaling s) {
  return s == RopeScaling::Linear ? "linear" : s == RopeScaling::Yarn ? "yarn" : "none";
}

int print_model(const Description& d, const InspectArgs& a) {
  const SystemMemory mem = read_system_memory();
  std::vector<std::pair<std::string, Fit>> fits;
  if (!a.budget.empty()) fits.emplace_back("budget", fit_in(d, parse_size(a.budget)));
  if (mem.available() > 0) fits.emplace_back("available memory", fit_in(d, mem.available()));
  if (mem.cgroup.limit) fits.emplace_back("cgroup limit", fit_in(d, *mem.cgroup.limit));
  if (mem.meminfo.total > 0) fits.emplace_back("total RAM", fit_in(d, mem.meminfo.total));
  const Hparams& hp = d.hp;
  uint64_t max_expert = 0;
  for (auto b : d.size.bytes_per_expert) max_expert = std::max(max_expert, b);

  if (a.as_json) {
    json j;
    j["path"] = a.path;
    j["format"] = d.source;
    j["name"] = d.name;
    j["arch"] = arch_name(d.arch);
    j["hparams"] = {{"n_layer", hp.n_layer}, {"n_embd", hp.n_embd}, {"n_head", hp.n_head},
                    {"n_head_kv", hp.n_head_kv}, {"head_dim", hp.head_dim}, {"head_dim_v", hp.head_dim_v},
                    {"n_vocab", hp.n_vocab}, {"n_ctx_train", hp.n_ctx_train}, {"n_ff", hp.n_ff},
                    {"n_expert", hp.n_expert}, {"n_expert_used", hp.n_expert_used}, {"n_ff_exp", hp.n_ff_exp},
                    {"n_ff_shexp", hp.n_ff_shexp}, {"n_leading_dense", hp.n_leading_dense},
                    {"norm_topk_prob", hp.norm_topk_prob},
                    {"gating", hp.gating == ExpertGating::Sigmoid ? "sigmoid" : "softmax"},
                    {"rms_eps", hp.rms_eps}, {"rope_order", rope_name(hp.rope_order)}, {"n_rot", hp.n_rot},
                    {"rope_freq_base", hp.rope_freq_base}, {"rope_freq_scale", hp.rope_freq_scale},
                    {"rope_scaling", scaling_name(hp.rope_scaling)}, {"sliding_window", hp.sliding_window},
                    {"tied_embeddings", hp.tied_embeddings}};
    j["sizes"] = {{"total_bytes", d.size.total_bytes}, {"dense_bytes", d.size.dense_bytes},
                  {"expert_bytes", d.size.expert_bytes}, {"bytes_per_expert", max_expert},
                  {"active_bytes_per_token", d.size.active_bytes}, {"total_params", d.size.total_params},
                  {"active_params", d.size.active_params}};
    j["tensor_types"] = d.type_counts;
    j["memory"] = {{"mem_total", mem.meminfo.total}, {"mem_available", mem.meminfo.available},
                   {"cgroup_version", mem.cgroup.version}};
    if (mem.cgroup.limit) j["memory"]["cgroup_limit"] = *mem.cgroup.limit;
    json jf = json::object();
    for (const auto& [label, f] : fits) jf[label] = fit_json(f);
    j["fit"] = jf;
    if (a.tensors) {
      json t = json::array();
      for (const auto& r : d.rows) {
        t.push_back({{"name", r.name}, {"type", r.type}, {"shape", r.shape}, {"bytes", r.nbytes},
                     {"file", r.file}, {"offset", r.offset}});
      }
      j["tensors"] = t;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line(fmt::format("model         {}", a.path));
  line(fmt::format("format        {}", d.source));
  if (!d.name.empty()) line(fmt::format("name          {}", d.name));
  line(fmt::format("architecture  {}", arch_name(d.arch)));
  line(fmt::format("layers        {}   n_embd {}   vocab {}   context {}", hp.n_layer, hp.n_embd, hp.n_vocab, hp.n_ctx_train));
  line(fmt::format("attention     {} heads, {} kv heads, head dim {}{}", hp.n_head, hp.n_head_kv, hp.head_dim,
                   hp.sliding_window ? fmt::format(", sliding window {}", hp.sliding_window) : ""));
  if (hp.n_expert > 0) {
    line(fmt::format("experts       {} routed, {} used per token, expert ff {}{}{}; {} gating, norm_topk_prob {}",
                     hp.n_expert, hp.n_expert_used, hp.n_ff_exp,
                     hp.n_ff_shexp ? fmt::format(", shared expert ff {}", hp.n_ff_shexp) : "",
                     hp.n_leading_dense ? fmt::format(", first {} layers dense", hp.n_leading_dense) : "",
                     hp.gating == ExpertGating::Sigmoid ? "sigmoid" : "softmax", hp.norm_topk_prob ? "yes" : "no"));
  } else {
    line(fmt::format("ffn           dense, {}", hp.n_ff));
  }
  line(fmt::format("rope          {}, base {:g}, {} dims, scaling {}", rope_name(hp.rope_order), hp.rope_freq_base, hp.n_rot,
                   scaling_name(hp.rope_scaling)));
  line(fmt::format("norm          rms eps {:g}; embeddings {}", hp.rms_eps, hp.tied_embeddings ? "tied" : "untied"));
  std::string types;
  for (const auto& [t, n] : d.type_counts) types += fmt::format("{}{} x{}", types.empty() ? "" : ", ", t, n);
  line(fmt::format("tensors       {} ({})", d.rows.size(), types));
  line(fmt::format("params        {} total, {} active per token", fmt_count(d.size.total_params), fmt_count(d.size.active_params)));
  line(fmt::format("size          {} total = {} dense + {} experts", format_size(d.size.total_bytes),
                   format_size(d.size.dense_bytes), format_size(d.size.expert_bytes)));
  if (hp.n_expert > 0) line(fmt::format("per expert    {} (gate + up + down, one layer)", format_size(max_expert)));
  line(fmt::format("active/token  {} read per token", format_size(d.size.active_bytes)));
  line(fmt::format("memory        RAM {} total, {} available; cgroup {}", format_size(mem.meminfo.total),
                   format_size(mem.meminfo.available),
                   mem.cgroup.version == 0 ? std::string("none")
                   : mem.cgroup.limit ? fmt::format("v{} limit {}", mem.cgroup.version, format_size(*mem.cgroup.limit))
                                      : fmt::format("v{} unlimited", mem.cgroup.version)));
  line("fit");
  for (const auto& [label, f] : fits) line(fit_line(label, f));
  if (a.tensors) {
    line("");
    line(fmt::format("{:<40} {:<6} {:<22} {:>12} {:>14}", "tensor", "type", "shape (ne)", "size", "offset"));
    for (const auto& r : d.rows) {
      line(fmt::format("{:<40} {:<6} {:<22} {:>12} {:>14}", r.name, r.type, r.shape, format_size(r.nbytes),
                       r.file ? fmt::format("{}:{}", r.file, r.offset) : std::to_string(r.offset)));
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

// Vocabulary-only GGUFs (tokenizer tests) have metadata but no tensors.
int print_vocab_only(const GgufFile& g, const InspectArgs& a) {
  const Metadata& m = g.metadata();
  auto count = [&](const char* key) -> size_t {
    const MetaValue* v = m.find(key);
    return v && v->type == MetaType::Array ? std::get<MetaArray>(v->value).size() : 0;
  };
  std::string arch = m.get_string("general.architecture").value_or("");
  std::string model = m.get_string("tokenizer.ggml.model").value_or("");
  std::string pre = m.get_string("tokenizer.ggml.pre").value_or("");
  if (a.as_json) {
    json j = {{"path", a.path}, {"format", fmt::format("GGUF v{}", g.version())}, {"tensors", 0},
              {"arch", arch}, {"tokenizer_model", model}, {"tokenizer_pre", pre},
              {"tokens", count("tokenizer.ggml.tokens")}, {"merges", count("tokenizer.ggml.merges")},
              {"metadata_keys", m.all().size()}};
    if (auto b = m.get_int("tokenizer.ggml.bos_token_id")) j["bos_token_id"] = *b;
    if (auto e = m.get_int("tokenizer.ggml.eos_token_id")) j["eos_token_id"] = *e;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model         %s\nformat        GGUF v%u, no tensors (vocabulary only)\n", a.path.c_str(), g.version());
  if (!arch.empty()) std::printf("architecture  %s\n", arch.c_str());
  std::printf("tokenizer     %s%s%s, %zu tokens, %zu merges\n", model.c_str(), pre.empty() ? "" : " / pre ",
              pre.c_str(), count("tokenizer.ggml.tokens"), count("tokenizer.ggml.merges"));
  if (auto b = m.get_int("tokenizer.ggml.bos_token_id")) std::printf("bos           %lld\n", static_cast<long long>(*b));
  if (auto e = m.get_int("tokenizer.ggml.eos_token_id")) std::printf("eos           %lld\n", static_cast<long long>(*e));
  std::printf("metadata      %zu keys\n", m.all().size());
  if (a.tensors) {
    for (const auto& [key, v] : m.all()) {
      std::string val;
      if (v.type == MetaType::Array) val = fmt::format("[{} items]", std::get<MetaArray>(v.value).size());
      else if (v.type == MetaType::String) val = std::get<std::string>(v.value);
      else if (auto i = m.get_int(key)) val = std::to_string(*i);
      else if (auto f = m.get_float(key)) val = fmt::format("{:g}", *f);
      else if (auto b = m.get_bool(key)) val = *b ? "true" : "false";
      std::printf("  %-40s %s\n", key.c_str(), val.c_str());
    }
  }
  return 0;
}

int run_inspect(const InspectArgs& a) {
  namespace fs = std::filesystem;
  if (!a.budget.empty()) parse_size(a.budget);  // reject a bad --budget before any work
  std::error_code ec;
  if (fs::path(a.path).extension() == ".json" && fs::is_regular_file(a.path, ec)) {
    return print_model(describe_preset(a.path), a);
  }
  if (fs::is_regular_file(a.path, ec)) {
    std::FILE* f = std::fopen(a.path.c_str(), "rb");
    char magic[4] = {};
    if (f != nullptr) {
      size_t got = std::fread(magic, 1, 4, f);
      std::fclose(f);
      if (got == 4 && std::string_view(magic, 4) == "GGUF") {
        GgufFile g = GgufFile::open(a.path);
        if (g.tensors().empty()) return print_vocab_only(g, a);
      }
    }
  }
  auto model = Model::open(a.path);
  return print_model(describe_model(*model), a);
}

const Registration kInspect{
    "inspect", "Describe a model (GGUF, safetensors, or a make-model preset .json): sizes and memory fit",
    [](CLI::App& app) -> Runner {
      auto args = std::make_shared<InspectArgs>();
      app.add_option("model", args->path, "GGUF file, .safetensors file, HF directory, or preset .json")->required();
      app.add_flag("--tensors", args->tensors, "List every tensor (name, type, shape, size, offset)");
      app.add_flag("--json", args->as_json, "Print JSON instead of text");
      app.add_option("--budget", args->budget, "Memory budget to fit against, e.g. 8G, 512M");
      return [args] { return run_inspect(*args); };
    }};

}  // namespace
}  // namespace strata::cli
