// Mode / prefault / budget decisions (pure), and the whole path over a real golden model:
// every expert's bytes from every source equal the mapped file's bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "common/error.h"
#include "loader/model.h"
#include "storage/expert_layout.h"
#include "storage/expert_store.h"
#include "storage/store_factory.h"
#include "storage/store_flags.h"
#include "storage/store_stats.h"

namespace strata {
namespace {

constexpr uint64_t GiB = 1ull << 30;
constexpr uint64_t MiB = 1ull << 20;

StoreSizes sizes(uint64_t model, uint64_t available) {
  StoreSizes s;
  s.model_bytes = model;
  s.expert_bytes = model * 9 / 10;
  s.available = available;
  s.slot_bytes = 4 * MiB;
  s.n_experts = s.expert_bytes / s.slot_bytes;
  s.top_k = 8;
  return s;
}

TEST(PlanStore, AutoPicksMmapWhenTheModelFits) {
  StoreOptions o;
  const StorePlan p = plan_store(o, sizes(16 * GiB, 20 * GiB));  // 16 <= 0.8 * 20
  EXPECT_EQ(p.mode, StoreMode::Mmap);
  EXPECT_TRUE(p.prefault_all);
  EXPECT_TRUE(p.prefault_dense);
  EXPECT_NE(p.reason.find("fits"), std::string::npos) << p.reason;
}

TEST(PlanStore, AutoPicksDirectSlotsWhenItDoesNot) {
  StoreOptions o;
  o.kv_reserve_bytes = 1 * GiB;
  const StorePlan p = plan_store(o, sizes(60 * GiB, 20 * GiB));
  EXPECT_EQ(p.mode, StoreMode::Direct);
  EXPECT_FALSE(p.prefault_all);
  EXPECT_TRUE(p.prefault_dense);
  // 20 GiB - 6 GiB dense - 1 GiB KV - 2 GiB headroom.
  EXPECT_EQ(p.cache_bytes, 11 * GiB);
  EXPECT_NE(p.reason.find("does not fit"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("direct"), std::string::npos) << p.reason;
}

TEST(PlanStore, DefaultBudgetIsClampedToWorkingSetAndAllExperts) {
  StoreOptions o;
  o.mode = StoreMode::Slots;
  StorePlan p = plan_store(o, sizes(60 * GiB, 4 * GiB));  // dense alone exceeds what is free
  EXPECT_EQ(p.cache_bytes, 8 * 4 * MiB);
  p = plan_store(o, sizes(1 * GiB, 100 * GiB));
  const StoreSizes s = sizes(1 * GiB, 100 * GiB);
  EXPECT_EQ(p.cache_bytes, s.n_experts * s.slot_bytes);
}

TEST(PlanStore, ExplicitBudgetBelowWorkingSetIsAnError) {
  StoreOptions o;
  o.mode = StoreMode::Direct;
  o.cache_bytes = 8 * 4 * MiB - 1;
  try {
    plan_store(o, sizes(60 * GiB, 20 * GiB));
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
  o.cache_bytes = 8 * 4 * MiB;
  EXPECT_EQ(plan_store(o, sizes(60 * GiB, 20 * GiB)).cache_bytes, 8 * 4 * MiB);
}

TEST(PlanStore, PrefaultSwitches) {
  StoreOptions o;
  o.prefault = PrefaultMode::Off;
  StorePlan p = plan_store(o, sizes(1 * GiB, 20 * GiB));
  EXPECT_FALSE(p.prefault_dense);
  EXPECT_FALSE(p.prefault_all);
  o.prefault = PrefaultMode::On;
  p = plan_store(o, sizes(60 * GiB, 20 * GiB));
  EXPECT_TRUE(p.prefault_all);
  EXPECT_EQ(parse_prefault_mode("ON"), PrefaultMode::On);
  EXPECT_EQ(parse_store_mode("direct"), StoreMode::Direct);
  EXPECT_EQ(parse_store_mode("mmap-plain"), StoreMode::MmapPlain);
  EXPECT_THROW(parse_store_mode("fast"), Error);
}

const char* kGolden = STRATA_SHARED_DIR "/golden/qwen3moe-q8_0/model.gguf";

// Every expert of every layer, through `source`, equals Model::expert's mapped bytes.
void expect_all_experts_exact(const Model& model, ExpertSource& source) {
  const Hparams& hp = model.hparams();
  int checked = 0;
  for (int l = 0; l < hp.n_layer; ++l) {
    if (!model.layer_has_experts(l)) continue;
    for (int e = 0; e < hp.n_expert; e += hp.n_expert_used) {
      std::vector<int> experts;
      for (int k = 0; k < hp.n_expert_used && e + k < hp.n_expert; ++k) experts.push_back(e + k);
      ExpertLease lease = source.acquire(l, experts);
      ASSERT_EQ(lease.weights().size(), experts.size());
      for (const ExpertWeights& w : lease.weights()) {
        const ExpertMatrix* m[3] = {&w.gate, &w.up, &w.down};
        for (int p = 0; p < 3; ++p) {
          const ExpertSlice s = model.expert(l, w.expert, static_cast<ExpertPart>(p));
          EXPECT_EQ(m[p]->type, s.type);
          EXPECT_EQ(m[p]->rows, s.rows);
          EXPECT_EQ(m[p]->cols, s.cols);
          ASSERT_NE(m[p]->data, nullptr);
          EXPECT_EQ(std::memcmp(m[p]->data, s.data, s.nbytes), 0)
              << "layer " << l << " expert " << w.expert << " part " << p;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * hp.n_expert * hp.n_layer);
}

TEST(RealModel, EveryExpertFromEveryModeEqualsTheMappedBytes) {
  auto model = Model::open(kGolden);
  const ExpertLayout layout = ExpertLayout::from_model(*model);
  const uint64_t slot = ExpertStore::slot_bytes_for(layout);
  for (StoreMode mode : {StoreMode::Direct, StoreMode::Slots}) {
    StoreOptions o;
    o.mode = mode;
    o.cache_bytes = 3 * slot;  // fewer slots than experts: evictions on every pass
    ExpertStore store(layout, o);
    SCOPED_TRACE(store.describe());
    expect_all_experts_exact(*model, store);
    expect_all_experts_exact(*model, store);
    EXPECT_GT(store.stats().total().evictions, 0u);
  }
  for (StoreMode mode : {StoreMode::Auto, StoreMode::Mmap, StoreMode::Direct, StoreMode::MmapPlain}) {
    StoreOptions o;
    o.mode = mode;
    // Without a load-time prefault, mmap mode must fault experts in on each acquire instead.
    if (mode == StoreMode::Mmap) o.prefault = PrefaultMode::Off;
    auto source = make_expert_source(*model, o);
    SCOPED_TRACE(source->describe());
    const std::string described = source->describe();
    if (mode == StoreMode::Auto) {
      EXPECT_NE(described.find("prefaulted at load"), std::string::npos);
    }
    if (mode == StoreMode::Mmap) {
      EXPECT_NE(described.find("faulted in before"), std::string::npos);
    }
    if (mode == StoreMode::Direct) {
      EXPECT_NE(described.find("direct mode"), std::string::npos);
    }
    // The baseline gives the kernel no hints and asks the engine for no prefetch.
    const bool hints = mode == StoreMode::Mmap || mode == StoreMode::Direct;
    if (hints || mode == StoreMode::MmapPlain) {
      EXPECT_EQ(source->uses_prefetch(), hints);
    }
    if (mode == StoreMode::MmapPlain) {
      EXPECT_NE(described.find("no hints"), std::string::npos);
    }
    expect_all_experts_exact(*model, *source);
    auto* stats = dynamic_cast<ExpertStatsSource*>(source.get());
    ASSERT_NE(stats, nullptr);
    const StoreCounters t = stats->stats().total();
    EXPECT_EQ(t.requests, 2u * 8u);
    // Pages were resident (or slots filled) before compute: no major fault while leased. The
    // plain baseline makes no such promise.
    if (mode != StoreMode::MmapPlain) {
      EXPECT_EQ(t.compute_major_faults, 0u);
    }
  }
}

TEST(RealModel, FactoryRejectsTooSmallCache) {
  auto model = Model::open(kGolden);
  StoreOptions o;
  o.mode = StoreMode::Direct;
  o.cache_bytes = 4096;
  EXPECT_THROW(make_expert_source(*model, o), Error);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(StoreFlags, ResolvesTextsAndRejectsBadOnes) {
  StoreFlags f;
  f.mode = "direct";
  f.cache = "512M";
  f.evict = "sieve";
  f.resident = "2:5";
  f.io = "pread";
  const StoreOptions o = f.resolve();
  EXPECT_EQ(o.mode, StoreMode::Direct);
  EXPECT_EQ(o.cache_bytes, 512ull << 20);
  EXPECT_EQ(o.eviction, EvictionKind::Sieve);
  EXPECT_EQ(o.io, IoKind::Pread);
  EXPECT_EQ(o.resident_begin, 2);
  EXPECT_EQ(o.resident_end, 5);
  for (const char* bad : {"5", "5:2", "a:3", "1:", "-1:2"}) {
    StoreFlags g;
    g.resident = bad;
    EXPECT_THROW(g.resolve(), Error) << bad;
  }
  StoreFlags h;
  h.cache = "lots";
  EXPECT_THROW(h.resolve(), Error);
  h.cache = "0";
  EXPECT_THROW(h.resolve(), Error);
}

}  // namespace
}  // namespace strata
