// `strata perplexity [-m MODEL] (-f TEXT_FILE [--window N] | --windows-file IDS_FILE) [--json]`:
// held-out perplexity, comparable with llama.cpp's perplexity tool and tools/train/eval_ppl.py.
// Text is tokenized without BOS and cut into non-overlapping windows; an ids file holds one window
// per line (space-separated token ids), as models/heldout-slice.txt does.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "common/read_file.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "engine/perplexity.h"
#include "loader/model.h"
#include "loader/tokenizer/tokenizer.h"
#include "storage/mmap_expert_source.h"

namespace strata::cli {
namespace {

struct PerplexityArgs {
  std::string model;
  std::string text_file;
  std::string windows_file;
  int window = 0;
  int max_windows = 0;
  int threads = 0;
  std::string kv_type = "f16";
  bool json = false;
};

std::vector<std::vector<int32_t>> read_windows_file(const std::string& path) {
  std::istringstream lines(read_whole_file(path));
  std::vector<std::vector<int32_t>> windows;
  std::string line;
  int line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    std::vector<int32_t> ids;
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      int32_t v = 0;
      const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
      if (ec != std::errc() || end != word.data() + word.size() || v < 0) {
        fail("{}:{}: '{}' is not a token id", path, line_no, word);
      }
      ids.push_back(v);
    }
    if (!ids.empty()) windows.push_back(std::move(ids));
  }
  if (windows.empty()) fail("'{}' holds no token windows", path);
  return windows;
}

int run_perplexity(const PerplexityArgs& a) {
  if (a.text_file.empty() == a.windows_file.empty()) fail("give exactly one of -f TEXT_FILE or --windows-file FILE");
  auto model = Model::open(resolve_model_path(a.model));

  std::vector<std::vector<int32_t>> windows;
  if (!a.windows_file.empty()) {
    windows = read_windows_file(a.windows_file);
  } else {
    const int window = a.window > 0 ? a.window : std::min(512, std::max(2, model->hparams().n_ctx_train));
    if (window < 2) fail("--window must be at least 2");
    auto tokenizer = Tokenizer::for_model(*model);
    const std::vector<int32_t> ids = tokenizer->encode(read_whole_file(a.text_file), /*add_special=*/false,
                                                       /*parse_special=*/false);
    for (size_t start = 0; start + static_cast<size_t>(window) <= ids.size(); start += static_cast<size_t>(window)) {
      windows.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(start),
                           ids.begin() + static_cast<std::ptrdiff_t>(start + static_cast<size_t>(window)));
    }
    if (windows.empty()) fail("'{}' has {} tokens, fewer than one window of {}", a.text_file, ids.size(), window);
  }
  if (a.max_windows > 0 && windows.size() > static_cast<size_t>(a.max_windows)) windows.resize(static_cast<size_t>(a.max_windows));

  size_t longest = 0;
  for (const auto& w : windows) longest = std::max(longest, w.size());
  MmapExpertSource experts(*model);
  EngineOptions opt;
  opt.n_ctx = static_cast<int>(longest);
  opt.n_batch = static_cast<int>(std::min<size_t>(longest, 4096));
  opt.kv_type = parse_kv_type(a.kv_type);
  opt.n_threads = a.threads;
  Engine engine(*model, experts, opt);

  const PerplexityResult r = evaluate_perplexity(engine, windows);
  if (a.json) {
    nlohmann::json j{{"windows", windows.size()},
                     {"predicted_tokens", r.predicted_tokens},
                     {"window_nll", r.window_nll},
                     {"mean_nll", r.mean_nll()},
                     {"perplexity", r.perplexity()},
                     {"top1_accuracy", static_cast<double>(r.top1_correct) / static_cast<double>(r.predicted_tokens)}};
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("windows %zu, predicted tokens %llu, mean NLL %.5f, perplexity %.4f, top-1 %.2f%%\n",
                windows.size(), static_cast<unsigned long long>(r.predicted_tokens), r.mean_nll(), r.perplexity(),
                100.0 * static_cast<double>(r.top1_correct) / static_cast<double>(r.predicted_tokens));
  }
  return 0;
}

const Registration kPerplexity{
    "perplexity", "Perplexity of a model over text or token windows",
    [](CLI::App& app) -> Runner {
      auto a = std::make_shared<PerplexityArgs>();
      app.add_option("-m,--model", a->model, "Model file or directory (default: models/strata-demo.gguf)");
      app.add_option("-f,--file", a->text_file, "Text file to score (tokenized without BOS)");
      app.add_option("--windows-file", a->windows_file, "Token windows, one per line (space-separated ids)");
      app.add_option("--window", a->window, "Tokens per window for -f (default: min(512, training context))");
      app.add_option("--max-windows", a->max_windows, "Score at most this many windows");
      app.add_option("--kv-type", a->kv_type, "KV cache type: f16 (default) or f32");
      app.add_option("-t,--threads", a->threads, "Threads (default: all)");
      app.add_flag("--json", a->json, "Print the result as JSON");
      return [a] { return run_perplexity(*a); };
    }};

}  // namespace
}  // namespace strata::cli
