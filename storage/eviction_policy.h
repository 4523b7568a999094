#pragma once
// Which promoted slot to give up when a new expert needs one. The slot pool owns the slots and
// decides which are evictable at all (no readers, not loading, not reserved); a policy only
// orders them. Not thread-safe: the store calls it under its own lock.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "storage/store_options.h"

namespace strata {

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual const char* name() const = 0;
  // `slot` was just bound to `key` (an expert being loaded). `weight` is the router score that
  // caused it (1 when unknown).
  virtual void on_insert(int slot, int64_t key, float weight) = 0;
  // `slot` (holding `key`) was used again.
  virtual void on_access(int slot, int64_t key, float weight) = 0;
  // `slot` holds nothing any more (evicted or failed).
  virtual void on_remove(int slot) = 0;
  // The slot the policy would evict first among those `evictable` accepts, or -1 if it accepts
  // none. Does not remove it: the pool calls on_remove() when it actually evicts.
  virtual int victim(const std::function<bool(int)>& evictable) = 0;
  // Policy time advances by one step (the store calls this once per forward pass).
  virtual void tick() {}
};

// Least recently used.
std::unique_ptr<EvictionPolicy> make_lru_policy(size_t n_slots);
// Least "heat", where heat is an exponential moving sum of router weights: each use adds its
// weight and every tick multiplies all heat by `decay` (0 < decay <= 1). Heat is remembered per
// expert across evictions, so a returning hot expert is hard to evict again. Ties: older use.
std::unique_ptr<EvictionPolicy> make_lfu_policy(size_t n_slots, double decay);
// SIEVE (Zhang et al., NSDI'24): FIFO order with a visited bit and a moving hand; hits only set
// the bit, so hits cost no list updates.
std::unique_ptr<EvictionPolicy> make_sieve_policy(size_t n_slots);

// Throws strata::Error if `lfu_decay` is not in (0, 1].
std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, size_t n_slots,
                                                     double lfu_decay);

}  // namespace strata
