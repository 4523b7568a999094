#include "storage/slot_pool.h"

#include "common/error.h"

namespace strata {

SlotPool::SlotPool(size_t n_slots, uint64_t slot_bytes, std::unique_ptr<EvictionPolicy> policy,
                   bool mlock)
    : slot_bytes_(slot_bytes), memory_(n_slots * slot_bytes, mlock), policy_(std::move(policy)),
      slots_(n_slots) {
  STRATA_CHECK(slot_bytes % 4096 == 0);
  for (size_t i = 0; i < n_slots; ++i) slots_[i].data = memory_.data() + i * slot_bytes;
  // Hand out low slots first, so a lightly used pool touches little memory.
  for (size_t i = n_slots; i-- > 0;) free_.push_back(static_cast<int>(i));
  index_.reserve(n_slots);
}

int SlotPool::find(int64_t key) const {
  auto it = index_.find(key);
  return it == index_.end() ? -1 : it->second;
}

bool SlotPool::evictable(int i) const {
  const Slot& s = slots_[static_cast<size_t>(i)];
  return s.key >= 0 && s.readers == 0 && s.pending == 0 && !s.pinned &&
         s.state != SlotState::Loading;
}

SlotPool::Binding SlotPool::bind(int64_t key, float weight, bool pinned) {
  STRATA_CHECK(key >= 0 && find(key) < 0);
  Binding b;
  if (!free_.empty()) {
    b.slot = free_.back();
    free_.pop_back();
  } else {
    b.slot = policy_->victim([this](int i) { return evictable(i); });
    if (b.slot < 0) return b;
    Slot& victim = slots_[static_cast<size_t>(b.slot)];
    STRATA_CHECK(evictable(b.slot));
    b.evicted_key = victim.key;
    b.evicted_unused_prefetch = victim.prefetched && victim.state == SlotState::Ready;
    index_.erase(victim.key);
    policy_->on_remove(b.slot);
  }
  Slot& s = slots_[static_cast<size_t>(b.slot)];
  s.key = key;
  s.state = SlotState::Loading;
  s.readers = 0;
  s.pending = 0;
  s.pinned = pinned;
  s.prefetched = false;
  s.error.clear();
  index_[key] = b.slot;
  policy_->on_insert(b.slot, key, weight);
  return b;
}

void SlotPool::touch(int i, float weight) {
  policy_->on_access(i, slots_[static_cast<size_t>(i)].key, weight);
}

void SlotPool::unbind(int i) {
  Slot& s = slots_[static_cast<size_t>(i)];
  STRATA_CHECK(s.readers == 0 && s.pending == 0 && s.key >= 0);
  index_.erase(s.key);
  policy_->on_remove(i);
  s.key = -1;
  s.state = SlotState::Empty;
  s.pinned = false;
  s.prefetched = false;
  s.error.clear();
  free_.push_back(i);
}

}  // namespace strata
