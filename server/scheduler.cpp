#include "server/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/stop_strings.h"
#include "loader/tokenizer/tokenizer.h"
#include "server/api_error.h"
#include "server/metrics.h"

namespace strata::server {

struct Scheduler::Seq {
  Seq(std::shared_ptr<Generation> g, GenerationParams p, int n_vocab)
      : gen(std::move(g)), params(std::move(p)), sampler(params.sampling, n_vocab), stop(params.stop) {}

  std::shared_ptr<Generation> gen;
  GenerationParams params;
  Sampler sampler;
  StopMatcher stop;
  std::unique_ptr<StreamingDetokenizer> detok;
  int slot = -1;
  size_t n_prefilled = 0;  // prompt tokens already in the cache
  int n_generated = 0;
  int32_t last = -1;       // sampled, not yet in the cache
  bool want_row = false;   // has a logits row in the current step
  // Set when the generation ended; sent only after the slot is free, so a client that got its
  // answer can count on the capacity being back.
  std::optional<GenerationEvent> final_event;
};

namespace {

// log-softmax of the chosen token and the `n_top` most likely tokens.
TokenLogprob logprobs_of(std::span<const float> logits, int32_t chosen, int n_top) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
  const float log_z = mx + static_cast<float>(std::log(sum));
  TokenLogprob out;
  out.id = chosen;
  out.logprob = logits[static_cast<size_t>(chosen)] - log_z;
  if (n_top > 0) {
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    const size_t k = std::min(static_cast<size_t>(n_top), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
      const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
      return la > lb || (la == lb && a < b);
    });
    for (size_t i = 0; i < k; ++i) out.top.emplace_back(ids[i], logits[static_cast<size_t>(ids[i])] - log_z);
  }
  return out;
}

}  // namespace

Scheduler::Scheduler(Engine& engine, const Tokenizer& tokenizer, Metrics& metrics, SchedulerOptions options)
    : engine_(engine), tok_(tokenizer), metrics_(metrics), options_(options) {
  if (options_.max_queue < 0) fail("the request queue size must not be negative");
  if (options_.prefill_budget < 1) fail("the prefill budget must be at least 1 token");
  for (int s = engine_.n_seq() - 1; s >= 0; --s) free_slots_.push_back(s);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& s : pending_) {
    GenerationEvent ev;
    ev.done = true;
    ev.error = "the server is shutting down";
    s->gen->push(std::move(ev));
  }
}

int Scheduler::n_ctx() const { return engine_.n_ctx(); }
int Scheduler::n_slots() const { return engine_.n_seq(); }

std::shared_ptr<Generation> Scheduler::submit(GenerationParams params) {
  if (params.prompt.empty()) throw ApiError(400, "the prompt is empty", "invalid_request_error", "prompt");
  for (int32_t id : params.prompt) {
    if (id < 0 || id >= engine_.n_vocab()) {
      throw ApiError(400, fmt::format("token id {} is out of range [0, {})", id, engine_.n_vocab()),
                     "invalid_request_error", "prompt");
    }
  }
  if (static_cast<int64_t>(params.prompt.size()) >= engine_.n_ctx()) {
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens, but the prompt has {} tokens",
                               engine_.n_ctx(), params.prompt.size()),
                   "invalid_request_error", "messages", "context_length_exceeded");
  }
  auto gen = std::make_shared<Generation>();
  auto seq = std::make_unique<Seq>(gen, std::move(params), engine_.n_vocab());  // validates sampling
  {
    std::lock_guard lk(mu_);
    if (stopping_ || static_cast<int>(pending_.size()) >= options_.max_queue) return nullptr;
    pending_.push_back(std::move(seq));
    metrics_.queue_depth = static_cast<int64_t>(pending_.size());
  }
  cv_.notify_one();
  return gen;
}

void Scheduler::run() {
  std::vector<std::unique_ptr<Seq>> active;
  while (true) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !pending_.empty() || !active.empty(); });
      if (stopping_) break;
    }
    admit(active);
    if (!active.empty()) step(active);
  }
  for (auto& s : active) {
    engine_.clear_seq(s->slot);
    GenerationEvent ev;
    ev.done = true;
    ev.error = "the server is shutting down";
    s->gen->push(std::move(ev));
  }
  metrics_.active_sequences = 0;
}

void Scheduler::admit(std::vector<std::unique_ptr<Seq>>& active) {
  std::lock_guard lk(mu_);
  while (!free_slots_.empty() && !pending_.empty()) {
    std::unique_ptr<Seq> s = std::move(pending_.front());
    pending_.pop_front();
    if (s->gen->cancelled()) {
      ++metrics_.cancelled;
      continue;
    }
    s->slot = free_slots_.back();
    free_slots_.pop_back();
    engine_.clear_seq(s->slot);
    s->detok = std::make_unique<StreamingDetokenizer>(tok_, /*render_special=*/false, /*sequence_start=*/false);
    for (int32_t id : s->params.prompt) s->sampler.accept(id);
    active.push_back(std::move(s));
  }
  metrics_.queue_depth = static_cast<int64_t>(pending_.size());
  metrics_.active_sequences = static_cast<int64_t>(active.size());
}

void Scheduler::finish(Seq& s, GenerationEvent ev) {
  ev.done = true;
  ev.prompt_tokens = static_cast<int>(s.params.prompt.size());
  ev.completion_tokens = s.n_generated;
  s.final_event = std::move(ev);
}

bool Scheduler::advance(Seq& s, std::span<const float> logits) {
  const int32_t id = s.sampler.sample(logits);
  s.sampler.accept(id);
  GenerationEvent ev;
  if (!s.params.ignore_eos && tok_.is_eog(id)) {
    ev.text = s.stop.feed(s.detok->flush());
    ev.text += s.stop.flush();
    ev.finish_reason = "stop";
    finish(s, std::move(ev));
    return true;
  }
  ++s.n_generated;
  ++metrics_.generated_tokens;
  if (s.params.top_logprobs >= 0) ev.logprobs.push_back(logprobs_of(logits, id, s.params.top_logprobs));
  ev.text = s.stop.feed(s.detok->feed(id));
  if (s.stop.stopped()) {
    ev.finish_reason = "stop";
    finish(s, std::move(ev));
    return true;
  }
  const bool at_limit = s.params.max_tokens >= 0 && s.n_generated >= s.params.max_tokens;
  // The sampled token still has to enter the cache before the next one can be predicted.
  const bool context_full = engine_.seq_len(s.slot) >= engine_.n_ctx();
  if (at_limit || context_full) {
    ev.text += s.stop.feed(s.detok->flush());
    if (!s.stop.stopped()) ev.text += s.stop.flush();
    ev.finish_reason = s.stop.stopped() ? "stop" : "length";
    finish(s, std::move(ev));
    return true;
  }
  s.last = id;
  s.gen->push(std::move(ev));
  return false;
}

void Scheduler::step(std::vector<std::unique_ptr<Seq>>& active) {
  std::vector<std::unique_ptr<Seq>> ended;
  auto release = [&](size_t i) {
    engine_.clear_seq(active[i]->slot);
    free_slots_.push_back(active[i]->slot);
    ended.push_back(std::move(active[i]));
    active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
  };
  auto notify_ended = [&] {
    metrics_.active_sequences = static_cast<int64_t>(active.size());
    for (auto& s : ended) {
      if (s->final_event) s->gen->push(std::move(*s->final_event));
    }
  };
  for (size_t i = active.size(); i-- > 0;) {
    if (active[i]->gen->cancelled()) {
      ++metrics_.cancelled;
      release(i);
    }
  }
  if (active.empty()) {
    notify_ended();
    return;
  }

  batch_.clear();
  int budget = options_.prefill_budget;
  for (auto& s : active) {
    s->want_row = false;
    const auto& prompt = s->params.prompt;
    if (s->n_prefilled < prompt.size()) {
      if (budget <= 0) continue;
      const size_t n = std::min(prompt.size() - s->n_prefilled, static_cast<size_t>(budget));
      const bool last_chunk = s->n_prefilled + n == prompt.size();
      batch_.add_sequence(std::span(prompt).subspan(s->n_prefilled, n), s->slot,
                          static_cast<int32_t>(s->n_prefilled), last_chunk);
      s->n_prefilled += n;
      budget -= static_cast<int>(n);
      s->want_row = last_chunk;
      metrics_.prompt_tokens += n;
    } else {
      batch_.add(s->last, s->slot, engine_.seq_len(s->slot), true);
      s->want_row = true;
    }
  }
  try {
    engine_.decode(batch_);
  } catch (const std::exception& e) {
    // The engine rejected the whole pass (or ran out of memory): fail everyone in it rather than
    // retrying a batch that may fail again, and keep serving.
    spdlog::error("forward pass failed: {}", e.what());
    for (size_t i = active.size(); i-- > 0;) {
      GenerationEvent ev;
      ev.error = fmt::format("the forward pass failed: {}", e.what());
      finish(*active[i], std::move(ev));
      release(i);
    }
    notify_ended();
    return;
  }
  ++metrics_.forward_passes;

  uint64_t produced = 0;
  size_t row = 0;
  std::vector<size_t> done;
  for (size_t i = 0; i < active.size(); ++i) {
    if (!active[i]->want_row) continue;
    const int before = active[i]->n_generated;
    if (advance(*active[i], engine_.logits(row++))) done.push_back(i);
    produced += static_cast<uint64_t>(active[i]->n_generated - before);
  }
  for (size_t k = done.size(); k-- > 0;) release(done[k]);
  metrics_.record_step(produced);
  notify_ended();
}

}  // namespace strata::server
