// `strata logits [-m MODEL] --tokens 1,2,3 -o FILE [--kv-type f32] [--gen N]`: the logits of every
// position of a token list, as raw little-endian float32 [n_tokens x n_vocab], for comparing the
// engine with other implementations; --gen N prints the greedy continuation's ids.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "common/read_file.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "engine/sampler.h"
#include "loader/model.h"
#include "storage/mmap_expert_source.h"

namespace strata::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string tokens;
  std::string output;
  std::string kv_type = "f32";
  int gen = 0;
  int threads = 0;
};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    std::string_view item(text.data() + i, j - i);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    int32_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      fail("--tokens: '{}' is not a token id (expected a comma-separated list like 1,2,3)", item);
    }
    ids.push_back(v);
    i = j + 1;
  }
  return ids;
}

int run_logits(const LogitsArgs& a) {
  const std::vector<int32_t> ids = parse_ids(a.tokens);
  if (a.gen < 0) fail("--gen must be >= 0");
  if (a.output.empty() && a.gen == 0) fail("nothing to do: give -o FILE and/or --gen N");
  auto model = Model::open(resolve_model_path(a.model));
  MmapExpertSource experts(*model);
  EngineOptions opt;
  opt.n_ctx = static_cast<int>(ids.size()) + a.gen;
  opt.n_batch = std::max<int>(1, std::min<int>(static_cast<int>(ids.size()), 512));
  opt.kv_type = parse_kv_type(a.kv_type);
  opt.n_threads = a.threads;
  Engine engine(*model, experts, opt);

  Batch batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], 0, static_cast<int32_t>(i), true);
  engine.decode(batch);

  if (!a.output.empty()) {
    std::string bytes;
    for (size_t i = 0; i < engine.n_logits(); ++i) {
      const auto row = engine.logits(i);
      bytes.append(reinterpret_cast<const char*>(row.data()), row.size_bytes());
    }
    write_whole_file(a.output, bytes);
  }
  if (a.gen > 0) {
    std::string line;
    int32_t next = argmax(engine.logits(engine.n_logits() - 1));
    for (int step = 0; step < a.gen; ++step) {
      line += fmt::format("{}{}", step ? " " : "", next);
      if (step + 1 == a.gen) break;
      batch.clear();
      batch.add(next, 0, engine.seq_len(0), true);
      engine.decode(batch);
      next = argmax(engine.logits(0));
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

const Registration kLogits{
    "logits", "Write the logits of every position of a token list (raw float32) for comparisons",
    [](CLI::App& app) -> Runner {
      auto a = std::make_shared<LogitsArgs>();
      app.add_option("-m,--model", a->model, "Model file or directory (default: models/strata-demo.gguf)");
      app.add_option("--tokens", a->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
      app.add_option("-o,--output", a->output, "Output file: little-endian float32 [n_tokens x n_vocab]");
      app.add_option("--kv-type", a->kv_type, "KV cache type: f32 (default here) or f16");
      app.add_option("--gen", a->gen, "Also print the greedy continuation of N tokens (ids)");
      app.add_option("-t,--threads", a->threads, "Threads (default: all)");
      return [a] { return run_logits(*a); };
    }};

}  // namespace
}  // namespace strata::cli
