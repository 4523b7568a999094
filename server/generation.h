#pragma once
// One generation request as the scheduler sees it, and the channel through which its output
// reaches the HTTP thread that serves the client.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampler.h"

namespace strata::server {

struct GenerationParams {
  std::vector<int32_t> prompt;     // token ids; must be non-empty and shorter than the context
  SamplerParams sampling;
  int max_tokens = -1;             // < 0: until end of generation or a full context
  std::vector<std::string> stop;   // generation ends before the first of these strings
  int top_logprobs = -1;           // < 0: no logprobs; else alternatives per token (<= 20)
  bool ignore_eos = false;         // keep going past end-of-generation tokens (benchmarks)
};

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // most likely tokens first
};

// What one scheduler step produced for a request. Text may be empty (a character split across
// tokens, or text held back as a possible stop-string prefix).
struct GenerationEvent {
  std::string text;
  std::vector<TokenLogprob> logprobs;  // one per generated token in this step (when asked)
  bool done = false;
  std::string finish_reason;  // "stop" or "length" once done without error
  std::string error;          // non-empty: the generation failed (done is true)
  int prompt_tokens = 0;      // set on the final event
  int completion_tokens = 0;  // set on the final event
};

// A single-producer (scheduler thread), single-consumer (HTTP thread) event queue plus a cancel
// flag. All methods are thread-safe.
class Generation {
 public:
  // Moves every pending event into `out` (appending). Waits up to `timeout` for the first one;
  // returns false when none arrived.
  bool wait(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout);
  // Asks the scheduler to drop this generation and free its slot at its next step.
  void cancel();
  bool cancelled() const;

  // Scheduler side.
  void push(GenerationEvent ev);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenerationEvent> events_;
  bool cancelled_ = false;
};

}  // namespace strata::server
