#include "server/metrics.h"

#include <fmt/format.h>

#include "storage/store_stats.h"

namespace strata::server {
namespace {

constexpr std::chrono::seconds kWindow{10};

void metric(std::string& out, const char* name, const char* type, const char* help, double value,
            const std::string& labels = "") {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{} {}\n", name, help, name, type, name, labels, value);
}

}  // namespace

void Metrics::record_step(uint64_t generated) {
  const auto now = Clock::now();
  std::lock_guard lk(mu_);
  window_.emplace_back(now, generated);
  while (!window_.empty() && now - window_.front().first > kWindow) window_.pop_front();
}

double Metrics::tokens_per_second() const {
  const auto now = Clock::now();
  std::lock_guard lk(mu_);
  while (!window_.empty() && now - window_.front().first > kWindow) window_.pop_front();
  if (window_.empty()) return 0.0;
  uint64_t total = 0;
  for (const auto& [t, n] : window_) total += n;
  // Over the span actually covered, so a burst that just started is not averaged with idle time
  // before the server had work; never shorter than 1 s to keep a single step from spiking.
  const double span = std::max(1.0, std::chrono::duration<double>(now - window_.front().first).count());
  return static_cast<double>(total) / span;
}

std::string Metrics::render(const ExpertStatsSource* experts, int slots) const {
  std::string out;
  out += "# HELP strata_requests_total HTTP requests received, by endpoint.\n"
         "# TYPE strata_requests_total counter\n";
  out += fmt::format("strata_requests_total{{endpoint=\"chat_completions\"}} {}\n", requests_chat.load());
  out += fmt::format("strata_requests_total{{endpoint=\"completions\"}} {}\n", requests_completions.load());
  out += fmt::format("strata_requests_total{{endpoint=\"other\"}} {}\n", requests_other.load());
  metric(out, "strata_request_errors_total", "counter", "Requests answered with a 4xx status.",
         static_cast<double>(errors_client.load()));
  metric(out, "strata_requests_rejected_total", "counter", "Requests refused with 429 because the queue was full.",
         static_cast<double>(rejected_queue_full.load()));
  metric(out, "strata_requests_cancelled_total", "counter", "Generations stopped because the client disconnected.",
         static_cast<double>(cancelled.load()));
  metric(out, "strata_prompt_tokens_total", "counter", "Prompt tokens evaluated.",
         static_cast<double>(prompt_tokens.load()));
  metric(out, "strata_generated_tokens_total", "counter", "Tokens generated.",
         static_cast<double>(generated_tokens.load()));
  metric(out, "strata_forward_passes_total", "counter", "Batched forward passes run.",
         static_cast<double>(forward_passes.load()));
  metric(out, "strata_generation_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.",
         tokens_per_second());
  metric(out, "strata_queue_depth", "gauge", "Requests waiting for a sequence slot.",
         static_cast<double>(queue_depth.load()));
  metric(out, "strata_active_sequences", "gauge", "Sequences being generated.",
         static_cast<double>(active_sequences.load()));
  metric(out, "strata_sequence_slots", "gauge", "Sequence slots (--parallel).", slots);
  if (experts != nullptr) {
    const StoreCounters c = experts->stats().total();
    metric(out, "strata_expert_requests_total", "counter", "Routed experts asked for.", static_cast<double>(c.requests));
    metric(out, "strata_expert_cache_hit_rate", "gauge", "Expert requests served from cache slots (fraction).",
           c.hit_rate());
    out += "# HELP strata_expert_bytes_total Expert bytes served, by tier (0: cache slots, 1: mapped file, 2: disk reads).\n"
           "# TYPE strata_expert_bytes_total counter\n";
    out += fmt::format("strata_expert_bytes_total{{tier=\"0\"}} {}\n", c.bytes_tier0);
    out += fmt::format("strata_expert_bytes_total{{tier=\"1\"}} {}\n", c.bytes_tier1);
    out += fmt::format("strata_expert_bytes_total{{tier=\"2\"}} {}\n", c.bytes_tier2);
  }
  return out;
}

}  // namespace strata::server
