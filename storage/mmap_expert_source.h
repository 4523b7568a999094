#pragma once
// Tier 1 only: experts are used in place in the memory-mapped model file (the OS page cache
// decides what is resident). The simplest ExpertSource and the reference for the tiered store.
#include <vector>

#include "loader/model.h"
#include "storage/expert_source.h"

namespace strata {

class MmapExpertSource final : public ExpertSource {
 public:
  // Resolves every expert of every MoE layer of `model` once (the model must outlive this).
  explicit MmapExpertSource(const Model& model);

  // Pointers into the mapping; never blocks on I/O itself (page faults happen during compute).
  // Throws strata::Error for a layer without experts or an expert id out of range. Thread-safe.
  ExpertLease acquire(int layer, std::span<const int> experts,
                      std::span<const float> router_scores = {}) override;
  const char* describe() const override { return "mmap (experts read in place from the mapped file)"; }

 protected:
  void release(uint64_t /*ticket*/) override {}

 private:
  int n_layer_ = 0;
  int n_expert_ = 0;
  std::vector<ExpertWeights> table_;  // [layer * n_expert + expert]; expert == -1 if none
};

}  // namespace strata
