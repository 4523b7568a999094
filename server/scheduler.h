#pragma once
// Continuous batching: one thread owns the engine; every step it advances all active sequences
// in a single forward pass (prompt chunks of new ones and one decode token of each running one)
// and admits queued requests into free sequence slots between steps.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/batch.h"
#include "server/generation.h"

namespace strata {
class Engine;
class Tokenizer;
}  // namespace strata

namespace strata::server {

class Metrics;

struct SchedulerOptions {
  int max_queue = 64;        // requests waiting for a slot before submit() refuses
  int prefill_budget = 512;  // prompt tokens evaluated per step, across all new sequences
};

class Scheduler {
 public:
  // Starts the engine thread. Uses one sequence slot per engine.n_seq(). `engine`, `tokenizer`
  // and `metrics` must outlive the scheduler; nothing else may use the engine meanwhile.
  Scheduler(Engine& engine, const Tokenizer& tokenizer, Metrics& metrics, SchedulerOptions options);
  // Stops the thread; queued and running generations end with an error event.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a generation and returns its channel, or nullptr when the queue is full (the caller
  // answers 429). Throws ApiError (400) for an empty prompt, a token id out of range or a
  // prompt that does not fit the context. Thread-safe.
  std::shared_ptr<Generation> submit(GenerationParams params);

  int n_ctx() const;
  int n_slots() const;

 private:
  struct Seq;
  void run();
  void admit(std::vector<std::unique_ptr<Seq>>& active);
  void step(std::vector<std::unique_ptr<Seq>>& active);
  // Samples the next token of `s` from `logits`; returns true when the generation is over.
  bool advance(Seq& s, std::span<const float> logits);
  void finish(Seq& s, GenerationEvent ev);

  Engine& engine_;
  const Tokenizer& tok_;
  Metrics& metrics_;
  SchedulerOptions options_;
  Batch batch_;
  std::vector<int> free_slots_;  // engine thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Seq>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata::server
