#pragma once
// Mmap mode with the residency guarantee: wraps the tier-1 source so that the pages of every
// acquired expert are faulted in (MADV_POPULATE_READ) before acquire() returns, and predicted
// experts get madvise(WILLNEED), from a background thread, as soon as prefetch() names them.
// Expert compute then never takes a major fault; the major faults seen while leases are held are
// counted to prove it.
// The same wrapper, with no hints, measures the plain-mmap baseline (faults during compute).
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/expert_layout.h"
#include "storage/expert_source.h"
#include "storage/readahead_hinter.h"
#include "storage/store_stats.h"

namespace strata {

// How the pages of acquired experts become resident.
enum class MmapResidency {
  Populate,    // faulted in by acquire(), predicted experts hinted with madvise(WILLNEED)
  Prefaulted,  // the whole model was prefaulted at load and fits: re-walking resident pages on
               // every acquire would cost more than it protects (the fault counter still watches)
  Demand,      // no hints: pages fault in during expert compute (the plain-mmap baseline)
};

class ResidentMmapSource final : public ExpertSource, public ExpertStatsSource {
 public:
  // `inner` returns pointers into the mappings `layout` describes (MmapExpertSource).
  ResidentMmapSource(std::unique_ptr<ExpertSource> inner, ExpertLayout layout,
                     MmapResidency residency = MmapResidency::Populate);

  // Faults the experts' pages in, then returns the inner source's pointers. Throws what the
  // inner source throws. Thread-safe.
  ExpertLease acquire(int layer, std::span<const int> experts,
                      std::span<const float> router_scores = {}) override;
  // madvise(WILLNEED) on the experts' byte ranges not in the page cache (Populate only), issued
  // by a background thread: never blocks. Ignores unknown experts.
  void prefetch(int layer, std::span<const int> experts) override;
  bool uses_prefetch() const override { return residency_ == MmapResidency::Populate; }
  const char* describe() const override { return description_.c_str(); }
  StoreStats stats() const override;

 protected:
  void release(uint64_t ticket) override;

 private:
  struct Ticket {
    int layer = 0;
    uint64_t faults_at_start = 0;
  };
  std::unique_ptr<ExpertSource> inner_;
  ExpertLayout layout_;
  MmapResidency residency_;
  std::string description_;
  mutable std::mutex mutex_;
  StoreStats stats_;
  std::vector<std::vector<char>> predicted_;
  std::unordered_map<uint64_t, Ticket> tickets_;
  uint64_t next_ticket_ = 0;
  std::unique_ptr<ReadaheadHinter> hinter_;  // Populate only
};

}  // namespace strata
