#pragma once
// Per-architecture knowledge: which GGUF metadata keys hold which hyperparameters, the defaults
// llama.cpp applies (rope order, expert weight normalisation), and the tensors each layer must
// have with their shapes.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/metadata.h"
#include "loader/model.h"

namespace strata {

// "llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, deepseek2, gpt-oss".
std::string supported_architectures();
// parse_arch, or strata::Error "unsupported architecture 'xyz' (supported: ...)".
Arch require_arch(std::string_view name);
// Reads `general.architecture`; throws strata::Error if missing or unsupported.
Arch arch_from_metadata(const Metadata& meta);

// Fills Hparams from GGUF keys `{arch}.*`. n_vocab is left 0 (it comes from token_embd).
// Throws strata::Error naming the key when a required key is missing or a value is out of range.
Hparams hparams_from_metadata(Arch arch, const Metadata& meta);

// Whether a layer uses routed experts (deepseek2's leading layers are dense).
bool layer_is_moe(const Hparams& hp, int layer);

// What one tensor of an architecture should look like.
enum class TensorRole {
  TokenEmbd, OutputNorm, Output,
  AttnNorm, Wq, Wk, Wv, Wo, Bq, Bk, Bv, Bo, QNorm, KNorm, AttnSinks,
  FfnNorm, FfnGate, FfnUp, FfnDown,
  Router, RouterBias, GateExps, UpExps, DownExps, GateExpsBias, UpExpsBias, DownExpsBias,
  ShexpGate, ShexpUp, ShexpDown, ShexpGateInp,
  Other,  // architecture-specific tensors only checked for presence (deepseek2's MLA)
};

struct TensorSpec {
  std::string name;               // GGUF name, e.g. "blk.3.ffn_gate_exps.weight"
  TensorRole role = TensorRole::Other;
  int layer = -1;                 // -1 for global tensors
  std::vector<int64_t> ne;        // expected GGUF shape
  bool required = true;
  bool is_norm_like = false;      // 1-D / router: llama.cpp keeps these F32
};

// Role of a GGUF tensor name ("blk.3.ffn_up_exps.weight" -> UpExps, layer 3), for accounting
// of files whose tensors were not matched against specs. Split per-expert tensors map to the
// stacked roles. Unknown names give Other.
TensorRole role_of_name(std::string_view name, int* layer);

// Every tensor an architecture can have, with its expected shape. `n_vocab` sizes the embedding
// and output. Optional ones (biases on llama, output when embeddings are tied) have required =
// false. The same list drives validation in Model and the generator in make-model.
// `meta` supplies architecture extras not in Hparams (deepseek2's LoRA ranks).
std::vector<TensorSpec> tensor_specs(Arch arch, const Hparams& hp, const Metadata& meta);

// GGUF name of expert `e`'s own tensor in layouts that store experts separately (HF checkpoints,
// old GGUF Mixtral): "blk.L.ffn_gate.E.weight".
std::string split_expert_name(int layer, int expert, ExpertPart part);

// Model size accounting over a list of tensors (from a file or planned by make-model).
struct TensorSize {
  TensorRole role = TensorRole::Other;
  int layer = -1;
  int64_t elements = 0;
  uint64_t nbytes = 0;
  int64_t row_elements = 0;  // ne[0]
  int64_t rows = 0;
};
struct SizeReport {
  uint64_t total_bytes = 0;
  uint64_t expert_bytes = 0;       // routed experts, all layers
  uint64_t dense_bytes = 0;        // everything else
  uint64_t active_bytes = 0;       // read per token: dense weights (one embedding row unless
                                   // tied) + n_expert_used experts in each MoE layer
  uint64_t total_params = 0;
  uint64_t active_params = 0;      // dense params (embeddings in full) + n_expert_used experts
  std::vector<uint64_t> bytes_per_expert;  // per layer; 0 for dense layers
};
// `roles` of routed-expert tensors are GateExps/UpExps/DownExps (stacked over experts; split
// per-expert tensors pass the same roles with their own sizes).
SizeReport compute_size(const Hparams& hp, const std::vector<TensorSize>& tensors);

}  // namespace strata
