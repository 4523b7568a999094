// `strata run`: generate text from a prompt (or hold a chat on a terminal), streaming tokens as
// they are produced, then report prompt and generation speed on stderr.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/phase_report.h"
#include "common/error.h"
#include "common/read_file.h"
#include "common/system_memory.h"
#include "engine/engine.h"
#include "engine/model_path.h"
#include "engine/routing_trace.h"
#include "engine/sampler.h"
#include "engine/stop_strings.h"
#include "kernels/kernel_table.h"
#include "loader/model.h"
#include "loader/template/chat_template.h"
#include "loader/tokenizer/tokenizer.h"
#include "storage/store_cli.h"
#include "storage/store_factory.h"
#include "storage/store_stats.h"

namespace strata::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string file;
  bool chat = false;
  int ctx = 4096;
  int threads = 0;
  int n_predict = 256;
  std::string kv_type = "f16";
  std::vector<std::string> stop;
  SamplerParams sampling;
  int64_t seed = -1;
  std::string stats_json;  // write engine and expert-store statistics here at the end
  std::string record_routing;  // write the routers' choices here at the end (a routing trace)
  StoreFlags store;
};

struct Timing {
  int prompt_tokens = 0;
  double prompt_s = 0.0;
  int gen_tokens = 0;
  double gen_s = 0.0;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One sequence (slot 0) generating text; the KV cache keeps the conversation so far.
class Session {
 public:
  Session(Engine& engine, const Tokenizer& tok, const RunArgs& args)
      : engine_(engine), tok_(tok), args_(args), sampler_(args.sampling, engine.n_vocab()) {}

  // Makes the cache hold exactly `ids` (reusing the longest prefix already cached), then
  // generates and streams up to n_predict tokens to stdout. Returns the generated text.
  std::string generate(const std::vector<int32_t>& ids, Timing& timing) {
    if (ids.empty()) fail("the prompt is empty after tokenization");
    if (static_cast<int>(ids.size()) >= engine_.n_ctx()) {
      fail("context overflow: the prompt has {} tokens but the context is {} (use --ctx)", ids.size(),
           engine_.n_ctx());
    }
    size_t keep = 0;
    while (keep < cached_.size() && keep < ids.size() - 1 && cached_[keep] == ids[keep]) ++keep;
    engine_.truncate_seq(0, static_cast<int>(keep));
    cached_.resize(keep);

    sampler_.reset();
    for (int32_t id : ids) sampler_.accept(id);

    const auto t0 = Clock::now();
    batch_.clear();
    for (size_t i = keep; i < ids.size(); ++i) batch_.add(ids[i], 0, static_cast<int32_t>(i), i + 1 == ids.size());
    engine_.decode(batch_);
    cached_.insert(cached_.end(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end());
    timing.prompt_tokens += static_cast<int>(ids.size() - keep);
    timing.prompt_s += seconds_since(t0);

    StreamingDetokenizer detok(tok_, /*render_special=*/false, /*sequence_start=*/false);
    StopMatcher stops(args_.stop);
    std::string text;
    auto emit = [&](const std::string& piece) {
      if (piece.empty()) return;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      text += piece;
    };

    const auto t1 = Clock::now();
    int generated = 0;
    bool context_full = false;
    while (args_.n_predict < 0 || generated < args_.n_predict) {
      const int32_t next = sampler_.sample(engine_.logits(0));
      sampler_.accept(next);
      if (tok_.is_eog(next)) break;
      ++generated;
      emit(stops.feed(detok.feed(next)));
      if (stops.stopped()) break;
      if (engine_.seq_len(0) >= engine_.n_ctx()) {
        context_full = true;
        break;
      }
      batch_.clear();
      batch_.add(next, 0, engine_.seq_len(0), true);
      engine_.decode(batch_);
      cached_.push_back(next);
    }
    if (!stops.stopped()) emit(stops.feed(detok.flush()) + stops.flush());
    timing.gen_tokens += generated;
    timing.gen_s += seconds_since(t1);
    if (context_full) std::fprintf(stderr, "\n[context full: %d tokens]\n", engine_.n_ctx());
    return text;
  }

 private:
  Engine& engine_;
  const Tokenizer& tok_;
  const RunArgs& args_;
  Sampler sampler_;
  Batch batch_;
  std::vector<int32_t> cached_;  // tokens whose keys/values are in slot 0
};

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const std::string& text, bool templated) {
  // A rendered chat template usually writes the BOS token itself; adding another would repeat it.
  bool add_special = true;
  if (templated && tok.bos()) {
    const std::string_view bos = tok.piece(*tok.bos());
    if (!bos.empty() && text.starts_with(bos)) add_special = false;
  }
  return tok.encode(text, add_special, /*parse_special=*/true);
}

std::string render_chat(const ChatTemplate& tmpl, const Tokenizer& tok, const nlohmann::json& messages) {
  nlohmann::json vars = {{"add_generation_prompt", true}};
  vars["bos_token"] = tok.bos() ? std::string(tok.piece(*tok.bos())) : "";
  vars["eos_token"] = tok.eos() ? std::string(tok.piece(*tok.eos())) : "";
  return tmpl.render(messages, vars);
}

// The closing report on stderr: speed, configuration, where the time went and, for expert
// sources that keep statistics, what the expert store did. With --stats-json also the JSON.
void print_stats(const Timing& t, const Engine& engine, const ExpertSource& experts, const std::string& json_path) {
  auto rate = [](int n, double s) { return s > 0.0 ? n / s : 0.0; };
  std::fprintf(stderr,
               "\n\nprompt: %d tokens in %.2f s (%.2f tok/s) | generation: %d tokens in %.2f s (%.2f tok/s)\n"
               "isa: %s | threads: %d | kv cache: %s | experts: %s\n"
               "time: %s\n",
               t.prompt_tokens, t.prompt_s, rate(t.prompt_tokens, t.prompt_s), t.gen_tokens, t.gen_s,
               rate(t.gen_tokens, t.gen_s), std::string(kernel_isa_name()).c_str(), engine.n_threads(),
               std::string(type_name(engine.kv_type())).c_str(), engine.expert_mode(),
               phase_summary(engine.stats().time).c_str());
  const ProcessMemory memory = read_process_memory();
  std::fprintf(stderr, "memory: peak RSS %s (now %s: %s anonymous, %s of mapped files)\n",
               format_size(memory.peak_rss).c_str(), format_size(memory.rss).c_str(),
               format_size(memory.anon).c_str(), format_size(memory.file).c_str());
  const auto* store = dynamic_cast<const ExpertStatsSource*>(&experts);
  std::optional<StoreStats> store_stats;
  if (store != nullptr) {
    store_stats = store->stats();
    std::fprintf(stderr, "%s\n", store_stats->summary().c_str());
  }
  if (json_path.empty()) return;
  const EngineStats& es = engine.stats();
  nlohmann::json j = {{"prompt_tokens", t.prompt_tokens},
                      {"prompt_seconds", t.prompt_s},
                      {"generated_tokens", t.gen_tokens},
                      {"generation_seconds", t.gen_s},
                      {"tokens_evaluated", es.tokens_evaluated},
                      {"forward_passes", es.forward_passes},
                      {"experts_predicted", es.experts_predicted},
                      {"ms_per_token", phase_json(es.time, es.tokens_evaluated)},
                      {"memory", memory_json(memory)},
                      {"expert_source", engine.expert_mode()},
                      {"expert_store", store_stats ? store_stats->to_json() : nlohmann::json()}};
  write_whole_file(json_path, j.dump(2) + "\n");
}

int run_run(RunArgs a) {
  if (!a.prompt.empty() && !a.file.empty()) fail("give either -p PROMPT or -f FILE, not both");
  const bool interactive = a.chat && isatty(STDIN_FILENO);
  if (a.prompt.empty() && a.file.empty() && !interactive) {
    fail("no prompt: give -p PROMPT or -f FILE (or --chat on a terminal)");
  }
  if (a.ctx < 1) fail("--ctx must be at least 1");
  // Fail now rather than after the generation if the statistics cannot be written.
  if (!a.stats_json.empty()) write_whole_file(a.stats_json, "");
  if (!a.record_routing.empty()) write_whole_file(a.record_routing, "");
  a.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  const std::string prompt = a.file.empty() ? a.prompt : read_whole_file(a.file);
  const TensorType kv_type = parse_kv_type(a.kv_type);
  Sampler validate(a.sampling, 1);  // bad sampling flags fail before the model loads

  StoreOptions store = a.store.resolve();
  auto model = Model::open(resolve_model_path(a.model));
  auto tok = Tokenizer::for_model(*model);
  const Hparams& hp = model->hparams();
  store.kv_reserve_bytes = static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(a.ctx) *
                           static_cast<uint64_t>(hp.n_head_kv) * static_cast<uint64_t>(hp.head_dim + hp.head_dim_v) *
                           (kv_type == TensorType::F32 ? 4u : 2u);
  auto experts = make_expert_source(*model, store);
  EngineOptions opt;
  opt.n_ctx = a.ctx;
  opt.n_seq = 1;
  opt.kv_type = kv_type;
  opt.n_threads = a.threads;
  // Only the tiered store can use early hints; the mapped file needs none.
  opt.prefetch_experts = experts->uses_prefetch();
  std::optional<RoutingTrace> trace;
  if (!a.record_routing.empty()) {
    if (hp.n_expert <= 0) fail("--record-routing: the model has no routed experts");
    trace.emplace(hp.n_layer, hp.n_expert, hp.n_expert_used);
    opt.record_routing = &*trace;
  }
  Engine engine(*model, *experts, opt);
  Session session(engine, *tok, a);
  Timing timing;
  auto finish = [&] {
    print_stats(timing, engine, *experts, a.stats_json);
    if (trace) {
      trace->save(a.record_routing);
      spdlog::info("routing of {} tokens written to {}", trace->n_tokens(), a.record_routing);
    }
  };

  if (!a.chat) {
    session.generate(tokenize_prompt(*tok, prompt, false), timing);
    finish();
    return 0;
  }

  const std::optional<std::string> src = tok->chat_template();
  const ChatTemplate tmpl = ChatTemplate::parse(src ? *src : default_chat_template(),
                                                src ? "chat template" : "default chat template");
  nlohmann::json messages = nlohmann::json::array();
  auto turn = [&](const std::string& user) {
    messages.push_back({{"role", "user"}, {"content", user}});
    const std::string reply = session.generate(tokenize_prompt(*tok, render_chat(tmpl, *tok, messages), true), timing);
    messages.push_back({{"role", "assistant"}, {"content", reply}});
    std::fputc('\n', stdout);
  };
  if (!prompt.empty()) turn(prompt);
  if (interactive) {
    std::string line;
    while (true) {
      std::fprintf(stderr, "> ");
      std::fflush(stderr);
      if (!std::getline(std::cin, line)) break;
      if (line.empty()) continue;
      turn(line);
    }
  }
  finish();
  return 0;
}

const Registration kRun{
    "run", "Generate text from a prompt, or chat (--chat)", [](CLI::App& app) -> Runner {
      auto a = std::make_shared<RunArgs>();
      app.add_option("-m,--model", a->model, "Model file or directory (default: models/strata-demo.gguf)");
      app.add_option("-p,--prompt", a->prompt, "Prompt text");
      app.add_option("-f,--file", a->file, "Read the prompt from a file");
      app.add_flag("--chat", a->chat, "Apply the model's chat template; multi-turn when stdin is a terminal");
      app.add_option("-c,--ctx", a->ctx, "Context size in tokens (default 4096)");
      app.add_option("-t,--threads", a->threads, "Threads (default: all)");
      app.add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most (-1: until the context is full)");
      app.add_option("--temp", a->sampling.temperature, "Temperature (0: greedy; default 0.8)");
      app.add_option("--top-k", a->sampling.top_k, "Top-k (0: off; default 40)");
      app.add_option("--top-p", a->sampling.top_p, "Top-p (1: off; default 0.95)");
      app.add_option("--min-p", a->sampling.min_p, "Min-p (0: off; default 0.05)");
      app.add_option("--repeat-penalty", a->sampling.repeat_penalty, "Repetition penalty (1: off)");
      app.add_option("--repeat-last-n", a->sampling.repeat_last_n, "Tokens the penalties look back (default 64)");
      app.add_option("--presence-penalty", a->sampling.presence_penalty, "Presence penalty (default 0)");
      app.add_option("--frequency-penalty", a->sampling.frequency_penalty, "Frequency penalty (default 0)");
      app.add_option("--seed", a->seed, "Sampling seed (default: random)");
      app.add_option("--stop", a->stop, "Stop generating at this string (repeatable)");
      app.add_option("--kv-type", a->kv_type, "KV cache type: f16 (default) or f32");
      app.add_option("--record-routing", a->record_routing,
                     "Write the experts the routers chose, per token and layer, to this file (a routing trace "
                     "for bench --routing trace:file=FILE)");
      app.add_option("--stats-json", a->stats_json,
                     "At the end, write engine and expert-store statistics (per layer and per expert) as JSON "
                     "to this file");
      add_store_flags(app, a->store);
      return [a] { return run_run(*a); };
    }};

}  // namespace
}  // namespace strata::cli
