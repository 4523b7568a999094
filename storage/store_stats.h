#pragma once
// What the expert store did, per layer and per expert, for `run`/`bench` summaries and --json.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace strata {

struct StoreCounters {
  uint64_t requests = 0;          // experts asked for by acquire()
  uint64_t hits = 0;              // already in a slot
  uint64_t prefetch_hits = 0;     // in a slot thanks to prefetch(): a miss fully hidden
  uint64_t inflight_misses = 0;   // read already in flight (prefetch or another caller): waited
  uint64_t cold_misses = 0;       // not resident: read started by acquire() itself
  uint64_t overflows = 0;         // no free slot: served from the mapped file (tier 1)
  uint64_t promotions = 0;        // loads into a slot (by acquire or prefetch)
  uint64_t evictions = 0;
  uint64_t prefetch_issued = 0;   // reads started by prefetch()
  uint64_t prefetch_wasted = 0;   // prefetched, then evicted or dropped unused
  uint64_t prefetch_withdrawn = 0;  // ...of which the reads had not started: no bytes read
  uint64_t predicted = 0;         // experts named by prefetch() for a layer
  uint64_t predicted_used = 0;    // ...that the next acquire() of that layer asked for
  uint64_t used_after_prediction = 0;  // experts acquired in layers that had a prediction
  uint64_t bytes_tier0 = 0;       // served from slots that were already filled
  uint64_t bytes_tier1 = 0;       // served from the mapping
  uint64_t bytes_tier2 = 0;       // read from disk into slots (aligned sizes, re-reads included)
  uint64_t stall_ns = 0;          // acquire() time spent waiting for reads
  uint64_t compute_major_faults = 0;  // major faults while leases were held (whole process)

  StoreCounters& operator+=(const StoreCounters& o);
  uint64_t misses() const { return prefetch_hits + inflight_misses + cold_misses; }
  // Fraction of misses whose read had finished before acquire() asked (0 if no misses).
  double hidden_fraction() const;
  double hit_rate() const;             // (hits + prefetch_hits) / requests
  double prefetch_precision() const;   // predicted_used / predicted
  double prefetch_recall() const;      // predicted_used / used_after_prediction
};

struct StoreStats {
  int n_layer = 0;
  int n_expert = 0;
  std::vector<StoreCounters> layers;   // n_layer
  std::vector<StoreCounters> experts;  // n_layer * n_expert, [layer * n_expert + expert]

  StoreStats() = default;
  StoreStats(int n_layer, int n_expert);
  StoreCounters& expert(int layer, int e) {
    return experts[static_cast<size_t>(layer) * static_cast<size_t>(n_expert) + static_cast<size_t>(e)];
  }
  const StoreCounters& expert(int layer, int e) const {
    return experts[static_cast<size_t>(layer) * static_cast<size_t>(n_expert) + static_cast<size_t>(e)];
  }
  StoreCounters total() const;
  // A few human-readable lines: totals, hit/hidden rates, bytes per tier, stalls.
  std::string summary() const;
  // {"total": {...}, "layers": [{...}], "experts": [[{...} per expert] per layer]}; per-expert
  // entries only carry non-zero counters.
  nlohmann::json to_json() const;
};

nlohmann::json to_json(const StoreCounters& c, bool skip_zero);

// Implemented by the expert sources that keep StoreStats (ExpertStore, ResidentMmapSource);
// `run` / `bench` find it with dynamic_cast on the ExpertSource they were given.
class ExpertStatsSource {
 public:
  virtual ~ExpertStatsSource() = default;
  // Snapshot of the counters so far. Thread-safe.
  virtual StoreStats stats() const = 0;
};

}  // namespace strata
