#pragma once
// Server counters and gauges, rendered as Prometheus text for GET /metrics.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace strata {
class ExpertStatsSource;
}

namespace strata::server {

// Every member is thread-safe: counters are atomics, the throughput window has its own lock.
class Metrics {
 public:
  std::atomic<uint64_t> requests_chat{0};
  std::atomic<uint64_t> requests_completions{0};
  std::atomic<uint64_t> requests_other{0};
  std::atomic<uint64_t> errors_client{0};   // 4xx answers (429 included)
  std::atomic<uint64_t> rejected_queue_full{0};
  std::atomic<uint64_t> cancelled{0};       // generations dropped because the client went away
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generated_tokens{0};
  std::atomic<uint64_t> forward_passes{0};
  std::atomic<int64_t> queue_depth{0};
  std::atomic<int64_t> active_sequences{0};

  // Records one forward pass that produced `generated` tokens, for the tokens/s gauge.
  void record_step(uint64_t generated);
  // Generated tokens per second over the last 10 seconds.
  double tokens_per_second() const;

  // The Prometheus exposition text; `experts` (may be null) adds expert-cache figures.
  std::string render(const ExpertStatsSource* experts, int slots) const;

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mu_;
  mutable std::deque<std::pair<Clock::time_point, uint64_t>> window_;
};

}  // namespace strata::server
