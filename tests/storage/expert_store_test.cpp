// The tiered store over generated files: bytes served equal the file's bytes in every mode and
// backend, budget accounting, misses/evictions/prefetch stats, resident layers, read errors,
// and concurrent leases against eviction.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include "common/error.h"
#include "storage/expert_store.h"
#include "store_test_util.h"

namespace strata {
namespace {

using test::make_generated_model;
using test::weights_match;

StoreOptions options(StoreMode mode, uint64_t cache_bytes, IoKind io = IoKind::Auto) {
  StoreOptions o;
  o.mode = mode;
  o.cache_bytes = cache_bytes;
  o.io = io;
  return o;
}

struct Variant {
  StoreMode mode;
  IoKind io;
};

class ExpertStoreModes : public ::testing::TestWithParam<Variant> {};

TEST_P(ExpertStoreModes, ServesExactBytesForEveryExpert) {
  auto m = make_generated_model(3, 8, 2, 5000, 3, /*skip=*/{1});
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  ExpertStore store(*m.layout, options(GetParam().mode, 5 * slot, GetParam().io));
  std::cout << "[ info ] " << store.describe() << "\n[ info ] " << store.io_backend_line()
            << "\n[ info ] " << store.placement() << "\n";
  for (int round = 0; round < 2; ++round) {
    for (int l : {0, 2}) {
      for (int e = 0; e < 8; e += 2) {
        const int experts[] = {e, e + 1};
        ExpertLease lease = store.acquire(l, experts);
        ASSERT_EQ(lease.weights().size(), 2u);
        for (const ExpertWeights& w : lease.weights()) {
          EXPECT_TRUE(weights_match(*m.layout, l, w)) << "layer " << l << " expert " << w.expert;
          // Pointers keep the file's offset modulo 4096 (unaligned offsets point into the
          // aligned superset).
          EXPECT_EQ(reinterpret_cast<uintptr_t>(w.gate.data) % 4096,
                    m.layout->at(l, w.expert).parts[0].offset % 4096);
        }
        EXPECT_EQ(lease.weights()[0].gate.type, TensorType::Q8_0);
      }
    }
  }
  const StoreCounters t = store.stats().total();
  EXPECT_EQ(t.requests, 32u);
  EXPECT_EQ(t.cold_misses, 32u);  // 16 experts through 5 slots: nothing survives a round
  EXPECT_EQ(t.promotions, 32u);
  EXPECT_EQ(t.evictions, 32u - 5u);
  EXPECT_GT(t.bytes_tier2, 0u);
  EXPECT_EQ(t.overflows, 0u);
  EXPECT_THROW(store.acquire(1, std::vector<int>{0}), Error);  // dense layer
  EXPECT_THROW(store.acquire(0, std::vector<int>{8}), Error);
  EXPECT_THROW(store.acquire(0, std::vector<int>{0, 1}, std::vector<float>{1.0f}), Error);
}

INSTANTIATE_TEST_SUITE_P(Variants, ExpertStoreModes,
                         ::testing::Values(Variant{StoreMode::Direct, IoKind::Auto},
                                           Variant{StoreMode::Slots, IoKind::Auto},
                                           Variant{StoreMode::Direct, IoKind::Pread},
                                           Variant{StoreMode::Slots, IoKind::Pread}),
                         [](const auto& info) {
                           return std::string(store_mode_name(info.param.mode)) +
                                  (info.param.io == IoKind::Pread ? "_pread" : "_uring");
                         });

TEST(ExpertStore, HitsAfterWarmUpWhenEverythingFits) {
  auto m = make_generated_model(2, 4, 2, 3000);
  ExpertStore store(*m.layout, options(StoreMode::Direct, 64 << 20));
  EXPECT_EQ(store.slot_count(), 8u);  // capped at the number of experts
  for (int round = 0; round < 3; ++round) {
    for (int l = 0; l < 2; ++l) {
      ExpertLease lease = store.acquire(l, std::vector<int>{0, 1, 2, 3});
      for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, l, w));
    }
  }
  const StoreStats s = store.stats();
  EXPECT_EQ(s.total().cold_misses, 8u);
  EXPECT_EQ(s.total().hits, 16u);
  EXPECT_EQ(s.total().evictions, 0u);
  EXPECT_EQ(s.expert(1, 3).hits, 2u);
  EXPECT_EQ(s.expert(1, 3).cold_misses, 1u);
  EXPECT_GT(s.total().bytes_tier0, 0u);
  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j["total"]["hits"], 16u);
  EXPECT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["experts"][1][3]["hits"], 2u);
  EXPECT_NE(s.summary().find("hits 16"), std::string::npos) << s.summary();
}

TEST(ExpertStore, BudgetAccountingNeverExceedsTheLimit) {
  auto m = make_generated_model(4, 16, 4, 7000);
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  EXPECT_EQ(slot % 4096, 0u);
  EXPECT_EQ(ExpertStore::min_cache_bytes(*m.layout), 4 * slot);
  for (uint64_t budget : {4 * slot, 4 * slot + slot - 1, 9 * slot + 123, 40 * slot}) {
    ExpertStore store(*m.layout, options(StoreMode::Direct, budget));
    EXPECT_LE(store.cache_bytes(), budget);
    EXPECT_EQ(store.cache_bytes(), store.slot_count() * slot);
    EXPECT_EQ(store.slot_count(), budget / slot);
  }
  // Below one layer's top-k working set: a clear error, not a store that deadlocks.
  try {
    ExpertStore store(*m.layout, options(StoreMode::Direct, 4 * slot - 1));
    FAIL() << "a budget below the working set was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ExpertStore(*m.layout, options(StoreMode::Mmap, 8 * slot)), Error);
}

TEST(ExpertStore, MoreExpertsThanSlotsOverflowToTheMapping) {
  auto m = make_generated_model(1, 8, 2, 4000);
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  ExpertStore store(*m.layout, options(StoreMode::Direct, 3 * slot));
  ExpertLease lease = store.acquire(0, std::vector<int>{0, 1, 2, 3, 4, 5});
  for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 0, w));
  const StoreCounters t = store.stats().total();
  EXPECT_EQ(t.cold_misses, 3u);
  EXPECT_EQ(t.overflows, 3u);
  EXPECT_GT(t.bytes_tier1, 0u);
}

TEST(ExpertStore, PrefetchHidesMissesAndTracksAccuracy) {
  auto m = make_generated_model(2, 8, 2, 4000);
  ExpertStore store(*m.layout, options(StoreMode::Direct, 64 << 20));
  store.prefetch(1, std::vector<int>{2, 3, 4});
  {
    // Predicting (2, 3, 4) when (3, 4) are used: 2 of 3 predictions right, both uses predicted.
    ExpertLease lease = store.acquire(1, std::vector<int>{3, 4});
    for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 1, w));
  }
  const StoreStats s = store.stats();
  const StoreCounters& l1 = s.layers[1];
  EXPECT_EQ(l1.prefetch_issued, 3u);
  EXPECT_EQ(l1.predicted, 3u);
  EXPECT_EQ(l1.predicted_used, 2u);
  EXPECT_EQ(l1.used_after_prediction, 2u);
  EXPECT_EQ(l1.cold_misses, 0u);
  // Each of the two misses was either fully hidden or caught in flight, never cold.
  EXPECT_EQ(l1.prefetch_hits + l1.inflight_misses, 2u);
  EXPECT_DOUBLE_EQ(l1.prefetch_precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(l1.prefetch_recall(), 1.0);
  // A prediction is consumed by one acquire.
  { ExpertLease lease = store.acquire(1, std::vector<int>{3}); }
  EXPECT_EQ(store.stats().layers[1].used_after_prediction, 2u);
  // Out-of-range hints are ignored.
  store.prefetch(0, std::vector<int>{-1, 99});
  store.prefetch(7, std::vector<int>{0});
}

TEST(ExpertStore, UnusedPrefetchesEvictedAreCountedAsWasted) {
  auto m = make_generated_model(1, 8, 2, 4000);
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  ExpertStore store(*m.layout, options(StoreMode::Direct, 2 * slot));
  store.prefetch(0, std::vector<int>{6, 7});
  store.wait_idle();  // slots still loading could not be evicted
  { ExpertLease lease = store.acquire(0, std::vector<int>{0, 1}); }
  const StoreCounters t = store.stats().total();
  EXPECT_EQ(t.prefetch_wasted, 2u);
  EXPECT_EQ(t.evictions, 2u);
}

TEST(ExpertStore, ResidentLayersStayInSlots) {
  auto m = make_generated_model(3, 4, 2, 3000);
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  StoreOptions o = options(StoreMode::Direct, 6 * slot);
  o.resident_begin = 0;
  o.resident_end = 1;
  ExpertStore store(*m.layout, o);
  EXPECT_NE(std::string(store.describe()).find("resident"), std::string::npos);
  for (int round = 0; round < 3; ++round) {
    for (int l = 1; l < 3; ++l) {
      for (int e = 0; e < 4; e += 2) { ExpertLease lease = store.acquire(l, std::vector<int>{e, e + 1}); }
    }
  }
  ExpertLease lease = store.acquire(0, std::vector<int>{0, 1, 2, 3});
  for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 0, w));
  const StoreStats s = store.stats();
  EXPECT_EQ(s.layers[0].hits, 4u);
  EXPECT_EQ(s.layers[0].evictions, 0u);
  EXPECT_GT(s.layers[1].evictions, 0u);

  o.resident_end = 2;  // 8 pinned + top-2 > 6 slots
  EXPECT_THROW(ExpertStore(*m.layout, o), Error);
  o.resident_begin = 2;
  o.resident_end = 5;
  EXPECT_THROW(ExpertStore(*m.layout, o), Error);
}

// An injector that acts on the reads overlapping the file bytes [lo, hi).
class RangeInjector : public FaultInjector {
 public:
  RangeInjector(uint64_t lo, uint64_t hi) : lo_(lo), hi_(hi) {}

 protected:
  bool overlaps(uint64_t offset, uint64_t length) const { return offset < hi_ && lo_ < offset + length; }

 private:
  uint64_t lo_, hi_;
};

// Fails every read of the range while armed.
class FailExpert : public RangeInjector {
 public:
  using RangeInjector::RangeInjector;
  std::atomic<bool> armed{true};
  int64_t on_result(const ReadRequest&, uint64_t offset, uint64_t length, int64_t result) override {
    return armed && overlaps(offset, length) ? -EIO : result;
  }
};

TEST(ExpertStore, ReadErrorIsOneClearErrorAndRetriedLater) {
  auto m = make_generated_model(2, 4, 2, 5000);
  const ExpertPartLocation& down = m.layout->at(1, 2).parts[2];
  auto injector = std::make_shared<FailExpert>(down.offset, down.offset + down.nbytes);
  for (IoKind io : {IoKind::Auto, IoKind::Pread}) {
    injector->armed = true;
    StoreOptions o = options(StoreMode::Direct, 64 << 20, io);
    o.fault_injector = injector;
    ExpertStore store(*m.layout, o);
    try {
      ExpertLease lease = store.acquire(1, std::vector<int>{1, 2});
      FAIL() << "read error not reported";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("expert 2 of layer 1"), std::string::npos) << what;
      EXPECT_NE(what.find("Input/output error"), std::string::npos) << what;
      EXPECT_NE(what.find(m.file->path()), std::string::npos) << what;
    }
    injector->armed = false;
    ExpertLease lease = store.acquire(1, std::vector<int>{1, 2});
    for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 1, w));
  }
}

// Holds back the completion of reads of the range until opened.
class Gate : public RangeInjector {
 public:
  using RangeInjector::RangeInjector;
  std::atomic<bool> open{false};
  int64_t on_result(const ReadRequest&, uint64_t offset, uint64_t length, int64_t result) override {
    while (!open && overlaps(offset, length)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return result;
  }
};

TEST(ExpertStore, AsyncAcquireReadyExpertsFirstThenWaitsForTheRest) {
  auto m = make_generated_model(2, 4, 2, 5000);
  const ExpertPartLocation& up = m.layout->at(0, 1).parts[1];
  for (IoKind io : {IoKind::Auto, IoKind::Pread}) {
    auto gate = std::make_shared<Gate>(up.offset, up.offset + up.nbytes);
    StoreOptions o = options(StoreMode::Direct, 64 << 20, io);
    o.fault_injector = gate;
    ExpertStore store(*m.layout, o);
    store.acquire(0, std::vector<int>{0});  // expert 0 resident from here on
    ExpertLease lease = store.acquire_async(0, std::vector<int>{0, 1});
    EXPECT_TRUE(lease.ready(0));
    EXPECT_FALSE(lease.ready(1));  // its up matrix cannot arrive while the gate is shut
    EXPECT_FALSE(lease.all_ready());
    EXPECT_TRUE(weights_match(*m.layout, 0, lease.weights()[0]));
    gate->open = true;
    lease.wait_all();
    EXPECT_TRUE(lease.all_ready());
    for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 0, w));
    EXPECT_GT(store.stats().layers[0].stall_ns, 0u);
  }
}

// wait_any() returns as soon as one more expert has landed, so the forward pass computes it while
// the others still arrive: with one read in flight, expert 2 (asked first) lands while expert 1's
// reads are held back.
TEST(ExpertStore, WaitAnyReturnsEachExpertAsItLands) {
  auto m = make_generated_model(2, 4, 2, 5000);
  const ExpertPartLocation& up = m.layout->at(0, 1).parts[1];
  for (IoKind io : {IoKind::Auto, IoKind::Pread}) {
    auto gate = std::make_shared<Gate>(up.offset, up.offset + up.nbytes);
    StoreOptions o = options(StoreMode::Direct, 64 << 20, io);
    o.io_depth = 1;
    o.fault_injector = gate;
    ExpertStore store(*m.layout, o);
    ExpertLease lease = store.acquire_async(0, std::vector<int>{2, 1});
    EXPECT_FALSE(lease.all_ready());
    lease.wait_any();
    EXPECT_TRUE(lease.ready(0));
    EXPECT_FALSE(lease.ready(1));
    EXPECT_TRUE(weights_match(*m.layout, 0, lease.weights()[0]));
    gate->open = true;
    lease.wait_any();
    EXPECT_TRUE(lease.all_ready());
    for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, 0, w));
    lease.wait_any();  // nothing left to wait for
  }
}

// With the reads of layer 0 held back and one read in flight, layer 1's prefetches stay queued.
// Routing then asks for one of the two predicted experts: the other's reads are withdrawn
// unread and its slot given back; the wanted one still arrives, and so does the dropped one
// when it is asked for later.
TEST(ExpertStore, UnusedQueuedPrefetchesAreWithdrawnUnread) {
  auto m = make_generated_model(2, 4, 2, 5000);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int e = 0; e < 2; ++e) {
    for (const ExpertPartLocation& p : m.layout->at(0, e).parts) {
      lo = std::min(lo, p.offset);
      hi = std::max(hi, p.offset + p.nbytes);
    }
  }
  for (IoKind io : {IoKind::Auto, IoKind::Pread}) {
    auto gate = std::make_shared<Gate>(lo, hi);
    StoreOptions o = options(StoreMode::Direct, 64 << 20, io);
    o.io_depth = 1;
    o.fault_injector = gate;
    ExpertStore store(*m.layout, o);
    store.prefetch(0, std::vector<int>{0, 1});  // holds the backend's reader(s)
    store.prefetch(1, std::vector<int>{2, 3});
    ExpertLease lease = store.acquire_async(1, std::vector<int>{3});
    EXPECT_FALSE(lease.ready(0));
    const StoreCounters l1 = store.stats().layers[1];
    EXPECT_EQ(l1.prefetch_withdrawn, 1u);
    EXPECT_EQ(l1.prefetch_wasted, 1u);
    EXPECT_EQ(l1.inflight_misses, 1u);
    gate->open = true;
    lease.wait_all();
    EXPECT_TRUE(weights_match(*m.layout, 1, lease.weights()[0]));
    ExpertLease later = store.acquire(1, std::vector<int>{2});
    EXPECT_TRUE(weights_match(*m.layout, 1, later.weights()[0]));
    EXPECT_EQ(store.stats().layers[1].cold_misses, 1u);
    store.wait_idle();
  }
}

TEST(ExpertStore, AsyncAcquireReportsReadErrorsFromWait) {
  auto m = make_generated_model(2, 4, 2, 5000);
  const ExpertPartLocation& down = m.layout->at(1, 2).parts[2];
  auto injector = std::make_shared<FailExpert>(down.offset, down.offset + down.nbytes);
  StoreOptions o = options(StoreMode::Direct, 64 << 20);
  o.fault_injector = injector;
  ExpertStore store(*m.layout, o);
  {
    ExpertLease lease = store.acquire_async(1, std::vector<int>{2});
    try {
      lease.wait_all();
      FAIL() << "read error not reported";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expert 2 of layer 1"), std::string::npos) << e.what();
    }
  }
  {
    ExpertLease lease = store.acquire_async(1, std::vector<int>{2});
    EXPECT_THROW(lease.wait_any(), Error);
  }
  injector->armed = false;
  ExpertLease lease = store.acquire(1, std::vector<int>{2});
  EXPECT_TRUE(weights_match(*m.layout, 1, lease.weights()[0]));
}

// Short reads on every first attempt and a transient error on every second: the store still
// returns exact bytes.
class Flaky : public FaultInjector {
 public:
  std::atomic<int> injected{0};
  int64_t on_result(const ReadRequest& r, uint64_t offset, uint64_t, int64_t result) override {
    if (result <= 1) return result;
    if (offset == r.offset && (seen_.fetch_add(1) % 2 == 0)) {
      ++injected;
      return result / 3 + 1;  // unaligned short read
    }
    if (seen_.fetch_add(1) % 5 == 0) {
      ++injected;
      return -EINTR;
    }
    return result;
  }

 private:
  std::atomic<uint64_t> seen_{0};
};

TEST(ExpertStore, InjectedShortReadsAndInterruptsStillGiveExactBytes) {
  auto m = make_generated_model(2, 8, 2, 9000);
  for (IoKind io : {IoKind::Auto, IoKind::Pread}) {
    auto flaky = std::make_shared<Flaky>();
    StoreOptions o = options(StoreMode::Direct, 64 << 20, io);
    o.fault_injector = flaky;
    ExpertStore store(*m.layout, o);
    for (int l = 0; l < 2; ++l) {
      ExpertLease lease = store.acquire(l, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
      for (const ExpertWeights& w : lease.weights()) EXPECT_TRUE(weights_match(*m.layout, l, w));
    }
    EXPECT_GT(flaky->injected.load(), 8);
  }
}

// Many threads take leases on random experts through a cache far smaller than the model, so
// slots are evicted and rebound constantly; a leased expert's bytes must not change until its
// lease ends.
TEST(ExpertStore, ConcurrentLeasesAreNeverOverwritten) {
  auto m = make_generated_model(4, 16, 2, 6000);
  const uint64_t slot = ExpertStore::slot_bytes_for(*m.layout);
  for (EvictionKind kind : {EvictionKind::Lru, EvictionKind::Lfu, EvictionKind::Sieve}) {
    SCOPED_TRACE(eviction_kind_name(kind));
    StoreOptions o = options(StoreMode::Direct, 6 * slot);
    o.eviction = kind;
    ExpertStore store(*m.layout, o);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<uint32_t>(100 + t));
        for (int i = 0; i < 150; ++i) {
          const int l = static_cast<int>(rng() % 4);
          const int a = static_cast<int>(rng() % 16);
          const int b = (a + 1 + static_cast<int>(rng() % 15)) % 16;
          if (i % 7 == 0) store.prefetch((l + 1) % 4, std::vector<int>{a, b});
          ExpertLease lease = store.acquire(l, std::vector<int>{a, b}, std::vector<float>{0.7f, 0.3f});
          for (int check = 0; check < 3; ++check) {
            for (const ExpertWeights& w : lease.weights()) {
              if (!weights_match(*m.layout, l, w)) ++bad;
            }
            std::this_thread::yield();
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
    const StoreCounters t = store.stats().total();
    EXPECT_EQ(t.requests, 4u * 150u * 2u);
    EXPECT_GT(t.evictions, 100u);
    EXPECT_EQ(t.requests, t.hits + t.prefetch_hits + t.inflight_misses + t.cold_misses + t.overflows);
  }
}

}  // namespace
}  // namespace strata
