#include "storage/store_factory.h"

#include <algorithm>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/system_memory.h"
#include "loader/model.h"
#include "storage/expert_layout.h"
#include "storage/expert_store.h"
#include "storage/mmap_expert_source.h"
#include "storage/page_residency.h"
#include "storage/resident_mmap_source.h"

namespace strata {

StorePlan plan_store(const StoreOptions& options, const StoreSizes& sizes) {
  StorePlan plan;
  const bool fits =
      static_cast<double>(sizes.model_bytes) <= kFitFraction * static_cast<double>(sizes.available);
  const std::string fit_text =
      fmt::format("model {} {} in {:.0f}% of available memory ({})", format_size(sizes.model_bytes),
                  fits ? "fits" : "does not fit", kFitFraction * 100, format_size(sizes.available));
  plan.mode = options.mode == StoreMode::Auto ? (fits ? StoreMode::Mmap : StoreMode::Direct)
                                              : options.mode;
  plan.prefault_dense = options.prefault != PrefaultMode::Off;
  plan.prefault_all = options.prefault == PrefaultMode::On ||
                      (options.prefault == PrefaultMode::Auto && fits && plan.mode == StoreMode::Mmap);
  const std::string prefault_text = plan.prefault_all     ? "prefault all weights"
                                    : plan.prefault_dense ? "prefault dense weights"
                                                          : "no prefault";
  plan.reason = fmt::format("expert mode {} -> {}: {}", store_mode_name(options.mode),
                            store_mode_name(plan.mode),
                            options.mode == StoreMode::Auto ? fit_text : std::string("as requested; ") + fit_text);
  if (plan.mode == StoreMode::MmapPlain) {
    plan.reason += "; " + prefault_text + "; no residency hints (baseline: experts fault in during compute)";
    return plan;
  }
  if (plan.mode == StoreMode::Mmap) {
    plan.reason += "; " + prefault_text;
    return plan;
  }

  const uint64_t min_cache = sizes.slot_bytes * static_cast<uint64_t>(sizes.top_k);
  const uint64_t all_experts = sizes.slot_bytes * sizes.n_experts;
  std::string budget_text;
  if (options.cache_bytes != 0) {
    if (options.cache_bytes < min_cache) {
      fail("--expert-cache {} is too small: one layer's top-{} working set needs {} ({} slots of {})",
           format_size(options.cache_bytes), sizes.top_k, format_size(min_cache), sizes.top_k,
           format_size(sizes.slot_bytes));
    }
    plan.cache_bytes = std::min(options.cache_bytes, all_experts);
    budget_text = "as requested";
  } else {
    const uint64_t dense = sizes.model_bytes - std::min(sizes.model_bytes, sizes.expert_bytes);
    const uint64_t headroom = std::max<uint64_t>(1ull << 30, sizes.available / 10);
    const uint64_t taken = dense + options.kv_reserve_bytes + headroom;
    const uint64_t spare = sizes.available > taken ? sizes.available - taken : 0;
    plan.cache_bytes = std::clamp(spare, min_cache, std::max(min_cache, all_experts));
    budget_text = spare < min_cache
                      ? "the minimum: memory is tight after dense weights and KV cache"
                      : "from available memory after dense weights, KV cache and headroom";
  }
  plan.reason += fmt::format("; expert cache {} ({}, {} experts of {}); {}", format_size(plan.cache_bytes),
                             budget_text, plan.cache_bytes / sizes.slot_bytes,
                             format_size(sizes.slot_bytes), prefault_text);
  return plan;
}

namespace {

// Byte ranges of the tensors that are not routed experts (embeddings, attention, norms, router,
// shared experts): a tensor counts as an expert tensor if some expert part starts inside it.
std::vector<std::span<const uint8_t>> dense_ranges(const Model& model, const ExpertLayout* layout) {
  std::vector<std::vector<uint64_t>> starts(model.files().size());
  if (layout != nullptr) {
    for (int l = 0; l < layout->n_layer(); ++l) {
      if (!layout->has_experts(l)) continue;
      for (int e = 0; e < layout->n_expert(); ++e) {
        for (const ExpertPartLocation& p : layout->at(l, e).parts) {
          starts[static_cast<size_t>(p.file_index)].push_back(p.offset);
        }
      }
    }
  }
  for (auto& v : starts) std::sort(v.begin(), v.end());
  std::vector<std::span<const uint8_t>> ranges;
  for (const TensorRef& t : model.tensors()) {
    const auto& s = starts.at(static_cast<size_t>(t.file_index));
    auto it = std::lower_bound(s.begin(), s.end(), t.file_offset);
    if (it != s.end() && *it < t.file_offset + t.nbytes) continue;
    if (t.data != nullptr && t.nbytes != 0) ranges.emplace_back(t.data, t.nbytes);
  }
  return ranges;
}

void prefault(const std::vector<std::span<const uint8_t>>& ranges, unsigned threads, const char* what) {
  if (ranges.empty()) return;
  const PrefaultReport r = prefault_parallel(ranges, threads);
  spdlog::info("prefaulted {} of {} in {:.2f} s ({:.2f} GiB/s, {} threads)", format_size(r.bytes),
               what, r.seconds, r.gib_per_s(), r.threads);
}

}  // namespace

std::unique_ptr<ExpertSource> make_expert_source(const Model& model, const StoreOptions& options) {
  const SystemMemory memory = read_system_memory();
  const bool moe = model.hparams().n_expert > 0 && model.expert_bytes() > 0;
  if (!moe) {
    if (options.prefault != PrefaultMode::Off) {
      std::vector<std::span<const uint8_t>> all;
      for (const MappedFile& f : model.files()) {
        if (f.data() != nullptr) all.emplace_back(f.data(), f.size());
      }
      prefault(all, options.prefault_threads, "weights");
    }
    return std::make_unique<MmapExpertSource>(model);
  }

  ExpertLayout layout = ExpertLayout::from_model(model);
  StoreSizes sizes;
  sizes.model_bytes = model.total_bytes();
  sizes.expert_bytes = model.expert_bytes();
  sizes.available = memory.available();
  sizes.slot_bytes = ExpertStore::slot_bytes_for(layout);
  for (int l = 0; l < layout.n_layer(); ++l) {
    if (layout.has_experts(l)) sizes.n_experts += static_cast<uint64_t>(layout.n_expert());
  }
  sizes.top_k = layout.top_k();
  const StorePlan plan = plan_store(options, sizes);
  spdlog::info("{}", plan.reason);

  if (plan.prefault_all) {
    std::vector<std::span<const uint8_t>> all;
    for (const MappedFile& f : model.files()) {
      if (f.data() != nullptr) all.emplace_back(f.data(), f.size());
    }
    prefault(all, options.prefault_threads, "all weights");
  } else if (plan.prefault_dense) {
    prefault(dense_ranges(model, &layout), options.prefault_threads, "dense weights");
  }

  if (plan.mode == StoreMode::Mmap || plan.mode == StoreMode::MmapPlain) {
    const MmapResidency residency = plan.mode == StoreMode::MmapPlain ? MmapResidency::Demand
                                    : plan.prefault_all              ? MmapResidency::Prefaulted
                                                                     : MmapResidency::Populate;
    return std::make_unique<ResidentMmapSource>(std::make_unique<MmapExpertSource>(model),
                                                std::move(layout), residency);
  }
  StoreOptions resolved = options;
  resolved.mode = plan.mode;
  resolved.cache_bytes = plan.cache_bytes;
  auto store = std::make_unique<ExpertStore>(std::move(layout), resolved);
  spdlog::info("{}", store->io_backend_line());
  spdlog::info("{}", store->placement());
  return store;
}

}  // namespace strata
