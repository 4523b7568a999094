#include <vector>

#include "storage/eviction_policy.h"
#include "storage/slot_list.h"

namespace strata {
namespace {

class SievePolicy final : public EvictionPolicy {
 public:
  explicit SievePolicy(size_t n) : queue_(n), visited_(n, 0) {}
  const char* name() const override { return "sieve"; }
  void on_insert(int slot, int64_t, float) override {
    queue_.push_newest(slot);
    visited_[static_cast<size_t>(slot)] = 0;
  }
  void on_access(int slot, int64_t, float) override { visited_[static_cast<size_t>(slot)] = 1; }
  void on_remove(int slot) override {
    // The hand resumes at the next newer entry, as if the evicted one had been stepped over.
    if (hand_ == slot) hand_ = queue_.newer(slot);
    queue_.remove(slot);
    visited_[static_cast<size_t>(slot)] = 0;
  }
  int victim(const std::function<bool(int)>& evictable) override {
    if (queue_.size() == 0) return -1;
    int s = hand_ >= 0 ? hand_ : queue_.oldest();
    // Two full sweeps: the first may only clear visited bits; anything evictable is then found
    // by the second.
    for (size_t step = 0; step < 2 * queue_.size() + 1; ++step) {
      auto& seen = visited_[static_cast<size_t>(s)];
      if (evictable(s)) {
        if (seen == 0) {
          hand_ = s;
          return s;
        }
        seen = 0;
      }
      s = queue_.newer(s);
      if (s < 0) s = queue_.oldest();
    }
    return -1;
  }

 private:
  SlotList queue_;
  std::vector<char> visited_;
  int hand_ = -1;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_sieve_policy(size_t n_slots) {
  return std::make_unique<SievePolicy>(n_slots);
}

}  // namespace strata
