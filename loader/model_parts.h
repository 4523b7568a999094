#pragma once
// What a format reader (GGUF, safetensors) hands to Model's constructor, which validates it
// against the architecture and builds the per-layer view.
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "loader/metadata.h"
#include "loader/model.h"

namespace strata {

struct Model::Parts {
  std::string path;
  std::string hf_dir;               // set for HF checkpoints
  Metadata meta;                    // GGUF keys (synthesised for HF checkpoints)
  std::vector<MappedFile> files;
  // GGUF names and ne order; file_index/file_offset/nbytes set, data left null (Model fills it).
  std::vector<TensorRef> tensors;
  // HF checkpoints keep Q/K rows in the order HF's rotate_half expects; llama.cpp's converter
  // permutes them for llama, so unpermuted llama weights need NeoX rope.
  bool hf_layout = false;
};

}  // namespace strata
