#include "cli/phase_report.h"

#include <fmt/format.h>

#include <vector>

namespace strata::cli {
namespace {

struct Phase {
  const char* key;    // JSON
  const char* label;  // text
  uint64_t ns;
};

std::vector<Phase> phases(const PhaseTimes& t) {
  return {{"attention", "attention", t.attention_ns},
          {"experts", "experts", t.experts_ns},
          {"expert_wait", "waiting for experts", t.expert_wait_ns},
          {"routing", "routing", t.routing_ns},
          {"dense_ffn", "dense ffn", t.dense_ffn_ns},
          {"other", "other", t.other_ns()}};
}

double ms_per_token(uint64_t ns, uint64_t tokens) {
  return tokens == 0 ? 0.0 : static_cast<double>(ns) / 1e6 / static_cast<double>(tokens);
}

}  // namespace

std::string phase_summary(const PhaseTimes& t) {
  const double total = static_cast<double>(t.decode_ns);
  std::string s;
  for (const Phase& p : phases(t)) {
    if (!s.empty()) s += " | ";
    s += fmt::format("{} {:.0f}%", p.label, total > 0 ? 100.0 * static_cast<double>(p.ns) / total : 0.0);
  }
  return s;
}

std::string phase_ms_per_token(const PhaseTimes& t, uint64_t tokens) {
  const uint64_t rest = t.routing_ns + t.dense_ffn_ns + t.other_ns();
  return fmt::format("{:.3g}/{:.3g}/{:.3g}/{:.3g}", ms_per_token(t.attention_ns, tokens),
                     ms_per_token(t.experts_ns, tokens), ms_per_token(t.expert_wait_ns, tokens),
                     ms_per_token(rest, tokens));
}

nlohmann::json phase_json(const PhaseTimes& t, uint64_t tokens) {
  nlohmann::json j = nlohmann::json::object();
  for (const Phase& p : phases(t)) j[p.key] = ms_per_token(p.ns, tokens);
  j["total"] = ms_per_token(t.decode_ns, tokens);
  return j;
}

nlohmann::json memory_json(const ProcessMemory& m, bool peak_known) {
  return {{"peak_rss_bytes", peak_known ? nlohmann::json(m.peak_rss) : nlohmann::json()},
          {"rss_bytes", m.rss},
          {"anon_bytes", m.anon},
          {"file_bytes", m.file}};
}

}  // namespace strata::cli
