#pragma once
// Where decode time went (EngineStats::time) and how much memory the process held, for the `run`
// stats lines, `bench`'s table and both commands' JSON.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/system_memory.h"
#include "engine/engine.h"

namespace strata::cli {

// "attention 31% | experts 58% | waiting for experts 7% | routing 2% | dense ffn 0% | other 2%".
std::string phase_summary(const PhaseTimes& t);
// "31.2/80.4/12.1/6.05": attention / routed experts / waiting for experts / the rest, in ms per token.
std::string phase_ms_per_token(const PhaseTimes& t, uint64_t tokens);
// {"attention": ms, ..., "other": ms} per token (all zero when no tokens were evaluated).
nlohmann::json phase_json(const PhaseTimes& t, uint64_t tokens);
// {"peak_rss_bytes", "rss_bytes", "anon_bytes", "file_bytes"}; the peak is null when not known.
nlohmann::json memory_json(const ProcessMemory& m, bool peak_known = true);

}  // namespace strata::cli
