#pragma once
// The tiered expert store: experts are copied from the model file (tier 2, io_uring or pread)
// into a bounded pool of promoted slots (tier 0) and served from there; an expert that finds
// every slot busy is served from the file mapping (tier 1) after its pages are faulted in, so
// expert compute never waits on a page fault either way.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/expert_layout.h"
#include "storage/expert_source.h"
#include "storage/io_backend.h"
#include "storage/slot_pool.h"
#include "storage/store_options.h"
#include "storage/store_stats.h"

namespace strata {

class ExpertStore final : public ExpertSource, public ExpertStatsSource {
 public:
  // File offsets and buffers of tier-2 reads are aligned to this (O_DIRECT's requirement on
  // common devices); an expert at an unaligned offset is read as the aligned superset.
  static constexpr uint64_t kAlignment = 4096;

  // Builds the store over `layout` (whose files stay open and mapped for the store's life).
  // `options.mode` must be Slots (buffered reads) or Direct (O_DIRECT); `options.cache_bytes`
  // is the slot budget and must hold at least one layer's top-k working set plus every expert
  // of the resident layers. Loads the resident layers before returning. Throws strata::Error
  // for a too-small budget, an invalid resident range, or a failed read.
  ExpertStore(ExpertLayout layout, const StoreOptions& options);
  ~ExpertStore() override;

  // See ExpertSource. `experts` should be distinct; `router_scores` feed the LFU heat.
  // Throws strata::Error for an unknown layer/expert, mismatched score count, or a read error
  // (naming the expert and file). Thread-safe.
  ExpertLease acquire(int layer, std::span<const int> experts,
                      std::span<const float> router_scores = {}) override;
  // Same bookkeeping as acquire(); experts still loading are not ready() in the lease.
  ExpertLease acquire_async(int layer, std::span<const int> experts,
                            std::span<const float> router_scores = {}) override;
  // Starts reads of the experts not resident, into free or evictable slots, without waiting;
  // records the prediction for accuracy stats. Unknown layers/experts are ignored (it is only a
  // hint). Thread-safe.
  void prefetch(int layer, std::span<const int> experts) override;
  bool uses_prefetch() const override { return true; }
  const char* describe() const override { return description_.c_str(); }

  // Blocks until no read is in flight (prefetches included). Thread-safe.
  void wait_idle();
  // Snapshot of the counters. Thread-safe.
  StoreStats stats() const override;
  size_t slot_count() const { return pool_.size(); }
  uint64_t slot_bytes() const { return pool_.slot_bytes(); }
  uint64_t cache_bytes() const { return pool_.bytes(); }
  const std::string& io_backend_line() const { return io_line_; }
  const std::string& placement() const { return pool_.placement(); }

  // Bytes one slot needs to hold any expert of `layout` read as aligned supersets.
  static uint64_t slot_bytes_for(const ExpertLayout& layout);
  // The smallest budget a store over `layout` accepts with no resident layers.
  static uint64_t min_cache_bytes(const ExpertLayout& layout);

 protected:
  void release(uint64_t ticket) override;
  void wait(uint64_t ticket, std::vector<char>& ready, bool all) override;

 private:
  struct Ticket {
    int layer = 0;
    std::vector<int> slots;               // held (one reader each)
    std::vector<int> experts;             // the expert in each held slot
    std::vector<size_t> lease_index;      // its index in the lease
    uint64_t faults_at_start = 0;
  };

  int64_t key(int layer, int expert) const { return int64_t{layer} * layout_.n_expert() + expert; }
  int layer_of(int64_t k) const { return static_cast<int>(k / layout_.n_expert()); }
  int expert_of(int64_t k) const { return static_cast<int>(k % layout_.n_expert()); }
  // Under mutex_: marks slot `s` Loading and appends its reads to `batch`.
  // Queues the reads filling slot s; `urgent` for a demand miss, false for a prefetch.
  void start_load(int s, bool urgent, std::vector<ReadRequest>& batch);
  void account_binding(const SlotPool::Binding& b);
  void on_read_done(const ReadCompletion& c);
  ExpertWeights weights_in_slot(int slot, int layer, int expert) const;
  ExpertWeights weights_in_mapping(int layer, int expert) const;
  void drop_readers(const std::vector<int>& slots);  // under mutex_
  // Under mutex_, once `layer` is routed: the experts predicted for it but not `used` give their
  // slots back (reads not started yet are withdrawn), so a wrong guess does not linger in the
  // cache in place of experts that were used.
  void drop_unused_predictions(int layer, std::span<const int> used, const std::vector<char>& predicted);
  void load_resident(int begin, int end);

  ExpertLayout layout_;
  StoreOptions options_;
  std::vector<int> read_fds_;       // per layout file: O_DIRECT or the buffered descriptor
  std::vector<char> own_fd_;
  std::string description_;
  std::string io_line_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  SlotPool pool_;
  StoreStats stats_;
  std::unordered_map<uint64_t, Ticket> tickets_;
  uint64_t next_ticket_ = 0;
  int last_layer_ = -1;
  std::vector<std::vector<char>> predicted_;  // per layer: experts named by prefetch()

  std::unique_ptr<IoBackend> backend_;  // last: its thread calls back into the members above
};

}  // namespace strata
