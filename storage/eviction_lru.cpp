#include "storage/eviction_policy.h"
#include "storage/slot_list.h"

namespace strata {
namespace {

class LruPolicy final : public EvictionPolicy {
 public:
  explicit LruPolicy(size_t n) : order_(n) {}
  const char* name() const override { return "lru"; }
  void on_insert(int slot, int64_t, float) override { order_.push_newest(slot); }
  void on_access(int slot, int64_t, float) override { order_.push_newest(slot); }
  void on_remove(int slot) override { order_.remove(slot); }
  int victim(const std::function<bool(int)>& evictable) override {
    for (int s = order_.oldest(); s >= 0; s = order_.newer(s)) {
      if (evictable(s)) return s;
    }
    return -1;
  }

 private:
  SlotList order_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lru_policy(size_t n_slots) {
  return std::make_unique<LruPolicy>(n_slots);
}

}  // namespace strata
