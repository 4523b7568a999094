#include "storage/expert_layout.h"

#include "common/error.h"

namespace strata {

ExpertLayout::ExpertLayout(std::vector<ExpertFile> files, int n_layer, int n_expert, int top_k)
    : files_(std::move(files)), n_layer_(n_layer), n_expert_(n_expert), top_k_(top_k) {
  if (n_layer <= 0 || n_expert <= 0 || top_k <= 0 || top_k > n_expert) {
    fail("invalid expert layout: {} layers, {} experts, top-{}", n_layer, n_expert, top_k);
  }
  const size_t n = static_cast<size_t>(n_layer) * static_cast<size_t>(n_expert);
  table_.resize(n);
  present_.assign(n, 0);
  layer_present_.assign(static_cast<size_t>(n_layer), 0);
}

void ExpertLayout::set(int layer, int expert, const ExpertLocation& location) {
  if (layer < 0 || layer >= n_layer_ || expert < 0 || expert >= n_expert_) {
    fail("expert {} of layer {} is out of range ({} layers, {} experts)", expert, layer, n_layer_,
         n_expert_);
  }
  for (const ExpertPartLocation& p : location.parts) {
    if (p.file_index < 0 || static_cast<size_t>(p.file_index) >= files_.size()) {
      fail("expert {} of layer {} refers to unknown file #{}", expert, layer, p.file_index);
    }
    const ExpertFile& f = files_[static_cast<size_t>(p.file_index)];
    if (p.nbytes == 0 || p.offset > f.size || p.nbytes > f.size - p.offset) {
      fail("expert {} of layer {}: bytes [{}, +{}) lie outside '{}' ({} bytes)", expert, layer,
           p.offset, p.nbytes, f.path, f.size);
    }
  }
  const size_t i = static_cast<size_t>(layer) * static_cast<size_t>(n_expert_) +
                   static_cast<size_t>(expert);
  table_[i] = location;
  present_[i] = 1;
  layer_present_[static_cast<size_t>(layer)] = 1;
}

bool ExpertLayout::has_experts(int layer) const {
  return layer >= 0 && layer < n_layer_ && layer_present_[static_cast<size_t>(layer)] != 0;
}

const ExpertLocation& ExpertLayout::at(int layer, int expert) const {
  if (layer < 0 || layer >= n_layer_ || expert < 0 || expert >= n_expert_) {
    fail("expert {} of layer {} is out of range ({} layers, {} experts)", expert, layer, n_layer_,
         n_expert_);
  }
  const size_t i = static_cast<size_t>(layer) * static_cast<size_t>(n_expert_) +
                   static_cast<size_t>(expert);
  if (present_[i] == 0) fail("layer {} has no routed expert {}", layer, expert);
  return table_[i];
}

const uint8_t* ExpertLayout::mapped(const ExpertPartLocation& part) const {
  const ExpertFile& f = files_.at(static_cast<size_t>(part.file_index));
  STRATA_CHECK(f.data != nullptr);
  return f.data + part.offset;
}

uint64_t ExpertLayout::total_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < table_.size(); ++i) {
    if (present_[i] != 0) total += table_[i].nbytes();
  }
  return total;
}

}  // namespace strata
