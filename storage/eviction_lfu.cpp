#include <cmath>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "storage/eviction_policy.h"

namespace strata {
namespace {

class LfuPolicy final : public EvictionPolicy {
 public:
  LfuPolicy(size_t n, double decay) : slot_key_(n, -1), decay_(decay) {}
  const char* name() const override { return "lfu"; }
  void on_insert(int slot, int64_t key, float weight) override {
    slot_key_[static_cast<size_t>(slot)] = key;
    bump(key, weight);
  }
  void on_access(int, int64_t key, float weight) override { bump(key, weight); }
  void on_remove(int slot) override { slot_key_[static_cast<size_t>(slot)] = -1; }
  void tick() override { ++now_; }
  int victim(const std::function<bool(int)>& evictable) override {
    int best = -1;
    double best_heat = 0;
    uint64_t best_seq = 0;
    for (size_t s = 0; s < slot_key_.size(); ++s) {
      if (slot_key_[s] < 0 || !evictable(static_cast<int>(s))) continue;
      const Heat& h = heat_[slot_key_[s]];
      const double cur = current(h);
      if (best < 0 || cur < best_heat || (cur == best_heat && h.seq < best_seq)) {
        best = static_cast<int>(s);
        best_heat = cur;
        best_seq = h.seq;
      }
    }
    return best;
  }

 private:
  struct Heat {
    double value = 0;
    uint64_t at = 0;   // tick of the last update
    uint64_t seq = 0;  // order of the last use, for ties
  };
  double current(const Heat& h) const {
    return h.value * std::pow(decay_, static_cast<double>(now_ - h.at));
  }
  void bump(int64_t key, float weight) {
    Heat& h = heat_[key];
    h.value = current(h) + (weight > 0 ? weight : 1.0f);
    h.at = now_;
    h.seq = ++seq_;
  }

  std::vector<int64_t> slot_key_;
  std::unordered_map<int64_t, Heat> heat_;
  double decay_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lfu_policy(size_t n_slots, double decay) {
  return std::make_unique<LfuPolicy>(n_slots, decay);
}

std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, size_t n_slots,
                                                     double lfu_decay) {
  switch (kind) {
    case EvictionKind::Lru: return make_lru_policy(n_slots);
    case EvictionKind::Sieve: return make_sieve_policy(n_slots);
    case EvictionKind::Lfu:
      if (!(lfu_decay > 0.0 && lfu_decay <= 1.0)) {
        fail("LFU decay must be in (0, 1], got {}", lfu_decay);
      }
      return make_lfu_policy(n_slots, lfu_decay);
  }
  fail("unknown eviction policy");
}

}  // namespace strata
