#include "storage/mmap_expert_source.h"

#include "common/error.h"

namespace strata {
namespace {

ExpertMatrix to_matrix(const ExpertSlice& s) { return {s.data, s.type, s.rows, s.cols}; }

}  // namespace

MmapExpertSource::MmapExpertSource(const Model& model)
    : n_layer_(model.hparams().n_layer), n_expert_(model.hparams().n_expert) {
  table_.resize(static_cast<size_t>(n_layer_) * static_cast<size_t>(n_expert_));
  for (int l = 0; l < n_layer_; ++l) {
    if (!model.layer_has_experts(l)) continue;
    for (int e = 0; e < n_expert_; ++e) {
      ExpertWeights& w = table_[static_cast<size_t>(l) * static_cast<size_t>(n_expert_) + static_cast<size_t>(e)];
      w.expert = e;
      w.gate = to_matrix(model.expert(l, e, ExpertPart::Gate));
      w.up = to_matrix(model.expert(l, e, ExpertPart::Up));
      w.down = to_matrix(model.expert(l, e, ExpertPart::Down));
    }
  }
}

ExpertLease MmapExpertSource::acquire(int layer, std::span<const int> experts,
                                      std::span<const float> /*router_scores*/) {
  if (layer < 0 || layer >= n_layer_) fail("expert source: layer {} out of range (0..{})", layer, n_layer_ - 1);
  std::vector<ExpertWeights> out;
  out.reserve(experts.size());
  for (int e : experts) {
    if (e < 0 || e >= n_expert_) fail("expert source: expert {} out of range (0..{})", e, n_expert_ - 1);
    const ExpertWeights& w = table_[static_cast<size_t>(layer) * static_cast<size_t>(n_expert_) + static_cast<size_t>(e)];
    if (w.expert < 0) fail("expert source: layer {} has no experts", layer);
    out.push_back(w);
  }
  return ExpertLease(this, 0, std::move(out));
}

}  // namespace strata
