#pragma once
// Tier 0: a fixed number of expert-sized slots. Slots are virtual: any slot can be bound to any
// expert (key), and is rebound when evicted. A slot with readers, a read in flight, or a pin
// (resident layer) is never chosen for eviction, so bytes someone is using are never
// overwritten. Not thread-safe: ExpertStore guards it with its own mutex.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/eviction_policy.h"
#include "storage/slot_memory.h"

namespace strata {

enum class SlotState : uint8_t {
  Empty,    // bound to nothing
  Loading,  // bound; reads in flight
  Ready,    // bound; bytes valid
  Failed,   // bound; a read failed (unbound once the last reader has seen it)
};

struct Slot {
  int64_t key = -1;
  SlotState state = SlotState::Empty;
  int readers = 0;          // leases and waiters holding the slot
  int pending = 0;          // reads still in flight for it
  bool pinned = false;      // resident layer: never evicted
  bool prefetched = false;  // loaded by prefetch() and not used since
  std::string error;        // why the load failed (Failed)
  uint8_t* data = nullptr;
};

class SlotPool {
 public:
  // `n_slots` slots of `slot_bytes` each (a multiple of 4096). Throws strata::Error if the
  // memory cannot be allocated.
  SlotPool(size_t n_slots, uint64_t slot_bytes, std::unique_ptr<EvictionPolicy> policy, bool mlock);

  size_t size() const { return slots_.size(); }
  uint64_t slot_bytes() const { return slot_bytes_; }
  uint64_t bytes() const { return memory_.size(); }
  const std::string& placement() const { return memory_.placement(); }
  EvictionPolicy& policy() { return *policy_; }

  Slot& operator[](int i) { return slots_[static_cast<size_t>(i)]; }
  const Slot& operator[](int i) const { return slots_[static_cast<size_t>(i)]; }

  // The slot bound to `key`, or -1.
  int find(int64_t key) const;
  bool evictable(int i) const;

  struct Binding {
    int slot = -1;              // -1: every slot is busy (in use, loading or pinned)
    int64_t evicted_key = -1;   // the expert that lost its slot, if any
    bool evicted_unused_prefetch = false;
  };
  // Binds a free slot, or else the policy's victim, to `key` in state Loading. `key` must not
  // be bound already.
  Binding bind(int64_t key, float weight, bool pinned);
  // Tells the policy `i` was used again.
  void touch(int i, float weight);
  // Returns slot `i` (no readers, nothing pending) to the free list.
  void unbind(int i);

  size_t bound_count() const { return index_.size(); }

 private:
  uint64_t slot_bytes_;
  SlotMemory memory_;
  std::unique_ptr<EvictionPolicy> policy_;
  std::vector<Slot> slots_;
  std::vector<int> free_;
  std::unordered_map<int64_t, int> index_;
};

}  // namespace strata
