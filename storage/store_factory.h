#pragma once
// Picks and builds the expert source for a model: mmap (tier 1, with pages faulted in before
// compute) when the model fits in memory, else the tiered store filling slots with io_uring;
// prefaults weights at load time; logs one line saying which mode was chosen and why.
#include <cstdint>
#include <memory>
#include <string>

#include "storage/expert_source.h"
#include "storage/store_options.h"

namespace strata {

class Model;

struct StoreSizes {
  uint64_t model_bytes = 0;   // all weights
  uint64_t expert_bytes = 0;  // routed experts only
  uint64_t available = 0;     // memory usable now (MemAvailable, cgroup limit - usage)
  uint64_t slot_bytes = 0;    // one tier-0 slot (an expert read as aligned supersets)
  uint64_t n_experts = 0;     // routed experts, all layers
  int top_k = 0;              // experts a token uses per layer
};

struct StorePlan {
  StoreMode mode = StoreMode::Mmap;  // resolved: Mmap, MmapPlain, Slots or Direct
  bool prefault_dense = false;       // populate the dense weights at load
  bool prefault_all = false;         // populate the whole file(s) at load
  uint64_t cache_bytes = 0;          // slot budget (slot modes)
  std::string reason;                // one line: mode chosen and why
};

// A model "fits" when it takes at most this fraction of available memory.
constexpr double kFitFraction = 0.8;

// Decides the mode, prefaulting and slot budget. The default budget is what is available after
// the dense weights, `kv_reserve_bytes` and a headroom of max(1 GiB, 10%), clamped to
// [one layer's top-k working set, all experts]. Throws strata::Error if an explicit
// cache_bytes is below the working set. Pure: no system calls.
StorePlan plan_store(const StoreOptions& options, const StoreSizes& sizes);

// Plans with the real memory figures (common/system_memory.h), prefaults in parallel (logging
// GiB/s), and returns a ResidentMmapSource over MmapExpertSource (mmap) or an ExpertStore
// (slots/direct). A model without routed experts gets the mmap source. Throws strata::Error
// for bad options or a failed read; the model must outlive the source.
std::unique_ptr<ExpertSource> make_expert_source(const Model& model, const StoreOptions& options);

}  // namespace strata
