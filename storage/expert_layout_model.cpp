// Kept apart from expert_layout.cpp so that code using only the table (and its tests) does not
// pull in the model loader.
#include "common/error.h"
#include "loader/model.h"
#include "storage/expert_layout.h"

namespace strata {

ExpertLayout ExpertLayout::from_model(const Model& model) {
  const Hparams& hp = model.hparams();
  if (hp.n_expert <= 0 || hp.n_expert_used <= 0) {
    fail("model '{}' has no routed experts", model.path());
  }
  std::vector<ExpertFile> files;
  for (const MappedFile& f : model.files()) {
    files.push_back({f.path(), f.fd(), f.data(), f.size()});
  }
  ExpertLayout layout(std::move(files), hp.n_layer, hp.n_expert, hp.n_expert_used);
  for (int l = 0; l < hp.n_layer; ++l) {
    if (!model.layer_has_experts(l)) continue;
    for (int e = 0; e < hp.n_expert; ++e) {
      ExpertLocation loc;
      for (int p = 0; p < 3; ++p) {
        const ExpertSlice s = model.expert(l, e, static_cast<ExpertPart>(p));
        loc.parts[static_cast<size_t>(p)] = {s.file_index, s.file_offset, s.nbytes, s.type, s.rows,
                                             s.cols};
      }
      layout.set(l, e, loc);
    }
  }
  return layout;
}

}  // namespace strata
