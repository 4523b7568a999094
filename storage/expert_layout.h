#pragma once
// Where every routed expert lives on disk: for each (layer, expert) the file, offset and size of
// its gate, up and down matrices. The expert store reads through this table rather than through
// Model so that it can be exercised over small generated files in tests.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor_type.h"

namespace strata {

class Model;

struct ExpertFile {
  std::string path;
  int fd = -1;                     // buffered O_RDONLY descriptor, owned by the caller
  const uint8_t* data = nullptr;   // read-only mapping of the whole file (tier 1)
  uint64_t size = 0;
};

struct ExpertPartLocation {
  int file_index = 0;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct ExpertLocation {
  std::array<ExpertPartLocation, 3> parts{};  // gate, up, down (ExpertPart order)
  uint64_t nbytes() const { return parts[0].nbytes + parts[1].nbytes + parts[2].nbytes; }
};

class ExpertLayout {
 public:
  // An empty table for `n_layer` layers of `n_expert` experts, `top_k` of which a token uses.
  // Throws strata::Error if the counts are not positive.
  ExpertLayout(std::vector<ExpertFile> files, int n_layer, int n_expert, int top_k);

  // Builds the table from an opened model (all layers that have routed experts). Throws
  // strata::Error if the model has no routed experts.
  static ExpertLayout from_model(const Model& model);

  // Records where expert `expert` of `layer` lives. Throws strata::Error if the layer/expert is
  // out of range, a file index is unknown or a part does not lie inside its file.
  void set(int layer, int expert, const ExpertLocation& location);

  bool has_experts(int layer) const;
  // Throws strata::Error if (layer, expert) is out of range or was never set.
  const ExpertLocation& at(int layer, int expert) const;
  // Pointer to a part's bytes inside the file mapping (tier 1).
  const uint8_t* mapped(const ExpertPartLocation& part) const;

  const std::vector<ExpertFile>& files() const { return files_; }
  int n_layer() const { return n_layer_; }
  int n_expert() const { return n_expert_; }
  int top_k() const { return top_k_; }
  // Bytes of every expert that has been set, all layers.
  uint64_t total_bytes() const;

 private:
  std::vector<ExpertFile> files_;
  int n_layer_ = 0;
  int n_expert_ = 0;
  int top_k_ = 0;
  std::vector<ExpertLocation> table_;   // n_layer * n_expert
  std::vector<char> present_;           // same indexing
  std::vector<char> layer_present_;
};

}  // namespace strata
