// Eviction order of each policy, driven through the slot pool the store uses.
#include <gtest/gtest.h>

#include "common/error.h"
#include "storage/slot_pool.h"

namespace strata {
namespace {

// Binds `key` as a finished load and returns the key it evicted (-1 if a free slot was used).
int64_t load(SlotPool& pool, int64_t key, float weight = 1.0f) {
  const SlotPool::Binding b = pool.bind(key, weight, false);
  EXPECT_GE(b.slot, 0) << "no slot for key " << key;
  if (b.slot < 0) return -2;
  pool[b.slot].state = SlotState::Ready;
  return b.evicted_key;
}

void use(SlotPool& pool, int64_t key, float weight = 1.0f) {
  const int s = pool.find(key);
  ASSERT_GE(s, 0) << "key " << key << " not resident";
  pool.touch(s, weight);
}

TEST(EvictionPolicy, LruEvictsLeastRecentlyUsed) {
  SlotPool pool(3, 4096, make_lru_policy(3), false);
  EXPECT_EQ(load(pool, 10), -1);
  EXPECT_EQ(load(pool, 11), -1);
  EXPECT_EQ(load(pool, 12), -1);
  use(pool, 10);
  EXPECT_EQ(load(pool, 13), 11);
  EXPECT_EQ(load(pool, 14), 12);
  use(pool, 13);
  EXPECT_EQ(load(pool, 15), 10);
  EXPECT_EQ(pool.find(11), -1);
  EXPECT_GE(pool.find(13), 0);
}

TEST(EvictionPolicy, LfuEvictsLowestHeatAndUsesRouterScores) {
  SlotPool pool(3, 4096, make_lfu_policy(3, 1.0), false);
  load(pool, 0, 0.9f);
  load(pool, 1, 0.1f);
  load(pool, 2, 0.5f);
  EXPECT_EQ(load(pool, 3, 0.2f), 1);  // 1 was the coldest; heats now 0:0.9 2:0.5 3:0.2
  use(pool, 3, 1.0f);                 // 3 -> 1.2
  EXPECT_EQ(load(pool, 4, 1.0f), 2);  // 2 (0.5) is now the coldest
  EXPECT_EQ(load(pool, 1, 0.95f), 0); // heats 0:0.9 3:1.2 4:1.0 -> evict 0
  // Heat is remembered per expert across evictions: 1 came back with 0.1 + 0.95 = 1.05, so
  // 4 (1.0) is colder; without the memory 1 (0.95) would go.
  EXPECT_EQ(load(pool, 5, 1.0f), 4);
}

TEST(EvictionPolicy, LfuHeatDecaysOverTicks) {
  SlotPool pool(2, 4096, make_lfu_policy(2, 0.5), false);
  load(pool, 0);
  use(pool, 0);
  use(pool, 0);  // heat 3
  load(pool, 1); // heat 1
  EXPECT_EQ(load(pool, 2), 1);  // without decay 1 is colder
  for (int i = 0; i < 4; ++i) pool.policy().tick();  // 0 -> 3/16
  use(pool, 2);  // 2 -> 2/16 + 1
  EXPECT_EQ(load(pool, 3), 0);  // old heat has faded below the fresh expert's
}

TEST(EvictionPolicy, SieveSkipsVisitedOnceAndKeepsItsHand) {
  SlotPool pool(3, 4096, make_sieve_policy(3), false);
  load(pool, 0);
  load(pool, 1);
  load(pool, 2);
  use(pool, 0);
  EXPECT_EQ(load(pool, 3), 1);  // hand at the oldest (0): visited -> cleared, then 1
  EXPECT_EQ(load(pool, 4), 2);  // hand continues from where it stopped
  EXPECT_EQ(load(pool, 5), 3);
  use(pool, 4);
  EXPECT_EQ(load(pool, 6), 5);  // 4 visited -> spared, 5 evicted
  EXPECT_EQ(load(pool, 7), 0);  // wrapped: 0's bit was cleared on the first sweep
}

TEST(EvictionPolicy, BusySlotsAreNeverEvicted) {
  for (EvictionKind kind : {EvictionKind::Lru, EvictionKind::Lfu, EvictionKind::Sieve}) {
    SCOPED_TRACE(eviction_kind_name(kind));
    SlotPool pool(3, 4096, make_eviction_policy(kind, 3, 0.9), false);
    load(pool, 0);
    const SlotPool::Binding pinned = pool.bind(1, 1.0f, true);
    pool[pinned.slot].state = SlotState::Ready;
    load(pool, 2);
    ++pool[pool.find(0)].readers;          // in use
    pool[pool.find(2)].state = SlotState::Loading;  // read in flight
    ++pool[pool.find(2)].pending;
    const SlotPool::Binding none = pool.bind(3, 1.0f, false);
    EXPECT_EQ(none.slot, -1);
    --pool[pool.find(2)].pending;
    pool[pool.find(2)].state = SlotState::Ready;
    EXPECT_EQ(load(pool, 3), 2);  // the only evictable one
    EXPECT_GE(pool.find(0), 0);
    EXPECT_GE(pool.find(1), 0);
  }
}

TEST(EvictionPolicy, UnbindReturnsSlotToFreeList) {
  SlotPool pool(2, 4096, make_lru_policy(2), false);
  load(pool, 0);
  load(pool, 1);
  pool.unbind(pool.find(0));
  EXPECT_EQ(pool.bound_count(), 1u);
  EXPECT_EQ(load(pool, 2), -1);  // free slot, nothing evicted
  EXPECT_EQ(load(pool, 3), 1);
}

TEST(EvictionPolicy, ParsesNamesAndRejectsBadDecay) {
  EXPECT_EQ(parse_eviction_kind("SIEVE"), EvictionKind::Sieve);
  EXPECT_THROW(parse_eviction_kind("fifo"), Error);
  EXPECT_THROW(make_eviction_policy(EvictionKind::Lfu, 4, 0.0), Error);
  EXPECT_THROW(make_eviction_policy(EvictionKind::Lfu, 4, 1.5), Error);
}

}  // namespace
}  // namespace strata
