// `strata make-model`: writes a model with seeded random weights from a preset (configs/*.json)
// or an architecture's tiny preset, for tests, benchmarks and end-to-end runs without downloads.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "cli/command.h"
#include "common/error.h"
#include "common/system_memory.h"
#include "loader/synth_model.h"

namespace strata::cli {
namespace {

struct MakeModelArgs {
  std::string preset;
  std::string arch;
  std::optional<int> layers;
  std::string type;
  uint64_t seed = 42;
  std::string vocab;
  std::string format = "gguf";
  std::string out;
  bool force = false;
  int threads = 0;
};

// Preset used for --arch A: the architecture's tiny test model.
std::string preset_for_arch(const std::string& arch) {
  if (arch == "qwen3moe") return "qwen3moe-tiny";
  if (arch == "qwen2moe") return "qwen2moe-tiny";
  if (arch == "olmoe") return "olmoe-tiny";
  if (arch == "qwen3") return "qwen3-tiny";
  if (arch == "llama") return "llama-tiny";
  if (arch == "mixtral") return "mixtral-tiny";
  fail("no preset for architecture '{}' (use --preset; --arch takes qwen3moe, qwen2moe, olmoe, qwen3, llama, mixtral)", arch);
}

int run_make_model(const MakeModelArgs& a) {
  if (a.preset.empty() == a.arch.empty()) fail("give exactly one of --preset NAME or --arch A");
  SynthConfig cfg = load_preset(a.preset.empty() ? preset_for_arch(a.arch) : a.preset);
  SynthFormat format;
  if (a.format == "gguf") format = SynthFormat::Gguf;
  else if (a.format == "safetensors") format = SynthFormat::Safetensors;
  else fail("--format must be gguf or safetensors, not '{}'", a.format);
  std::string type = a.type;
  if (type.empty() && format == SynthFormat::Safetensors && cfg.type != "f32" && cfg.type != "f16" && cfg.type != "bf16") {
    type = "bf16";  // the preset's quantized default cannot be stored in safetensors
  }
  SynthPlan plan = plan_model(cfg, type, a.vocab, a.layers);
  const uint64_t size = planned_file_size(plan, format);
  std::fprintf(stderr, "strata: writing %s (%s, %d layers, %s) to %s\n", cfg.name.c_str(), type.empty() ? cfg.type.c_str() : type.c_str(),
               plan.hp.n_layer, format_size(size).c_str(), a.out.c_str());
  if (plan.type_fallbacks > 0) {
    std::fprintf(stderr, "strata: %d tensors have rows too short for the requested type and use q8_0/f16\n", plan.type_fallbacks);
  }
  SynthWriteOptions opts;
  opts.out = a.out;
  opts.format = format;
  opts.seed = a.seed;
  opts.force = a.force;
  opts.threads = a.threads;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  if (tty) {
    opts.progress = [start, last = -1](uint64_t done, uint64_t total) mutable {
      int pct = total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 100;
      if (pct == last) return;
      last = pct;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string bar(static_cast<size_t>(pct / 4), '#');
      bar.resize(25, '.');
      std::fprintf(stderr, "\r[%s] %3d%%  %s / %s  %.0f s", bar.c_str(), pct, format_size(done).c_str(),
                   format_size(total).c_str(), secs);
      std::fflush(stderr);
    };
  }
  write_model(plan, opts);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (tty) std::fprintf(stderr, "\n");
  std::printf("wrote %s (%s) in %.1f s\n", a.out.c_str(), format_size(size).c_str(), secs);
  return 0;
}

const Registration kMakeModel{
    "make-model", "Write a model with seeded random weights from a preset (configs/*.json)",
    [](CLI::App& app) -> Runner {
      auto a = std::make_shared<MakeModelArgs>();
      app.add_option("--preset", a->preset, "Preset name (configs/NAME.json) or path to a preset .json");
      app.add_option("--arch", a->arch, "Architecture's tiny preset: qwen3moe, qwen2moe, olmoe, qwen3, llama, mixtral");
      app.add_option("--layers", a->layers, "Override the number of layers");
      app.add_option("--type", a->type, "Weight type: f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m mxfp4 (default: the preset's)");
      app.add_option("--seed", a->seed, "Random seed (default 42)");
      app.add_option("--vocab", a->vocab, "GGUF whose tokenizer.* metadata is copied (default: built-in byte-level BPE)");
      app.add_option("--format", a->format, "gguf (default) or safetensors (a directory with config.json)");
      app.add_option("-o,--output", a->out, "Output file (gguf) or directory (safetensors)")->required();
      app.add_flag("--force", a->force, "Replace an existing output");
      app.add_option("--threads", a->threads, "Worker threads (default: all cores)");
      return [a] { return run_make_model(*a); };
    }};

}  // namespace
}  // namespace strata::cli
