#pragma once
// The model description: what every layer above the loader sees of a model, whichever file format
// it came from (GGUF file, or a safetensors file / sharded directory with HF config.json).
//
// Everything here is validated when the model is opened: every tensor lies inside its file, has
// the shape its architecture requires, and every expert is addressable as
// (layer, expert, gate|up|down) with its exact file, offset and byte size, which is what the
// expert store reads.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "kernels/tensor_type.h"
#include "loader/metadata.h"

namespace strata {

enum class Arch {
  Llama,      // dense Llama, and Mixtral (llama with ffn_*_exps)
  Qwen2,
  Qwen3,
  Qwen2Moe,
  Qwen3Moe,
  Olmoe,
  Deepseek2,
  GptOss,
};
// GGUF `general.architecture` spelling ("llama", "qwen3moe", "gpt-oss", ...).
const char* arch_name(Arch arch);
std::optional<Arch> parse_arch(std::string_view name);

enum class RopeOrder { Normal, Neox };          // llama.cpp's LLAMA_ROPE_TYPE_NORM / NEOX
enum class RopeScaling { None, Linear, Yarn };
enum class ExpertGating { Softmax, Sigmoid };   // how router logits become probabilities

struct Hparams {
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;      // key/query head dimension
  int head_dim_v = 0;    // value head dimension (== head_dim except MLA)
  int n_vocab = 0;
  int n_ctx_train = 0;
  int n_ff = 0;          // dense FFN size (dense models, and deepseek2's leading dense layers)

  // Mixture of experts (n_expert == 0 for dense models).
  int n_expert = 0;
  int n_expert_used = 0;
  int n_ff_exp = 0;      // one expert's intermediate size
  int n_ff_shexp = 0;    // shared expert's intermediate size (qwen2moe, deepseek2); 0 if none
  int n_expert_shared = 0;
  int n_leading_dense = 0;  // deepseek2: first layers use a dense FFN
  bool norm_topk_prob = false;  // renormalise the chosen experts' weights to sum 1
  ExpertGating gating = ExpertGating::Softmax;
  float expert_weights_scale = 1.0f;

  float rms_eps = 1e-6f;
  RopeOrder rope_order = RopeOrder::Normal;
  int n_rot = 0;                 // rotated dims per head (== head_dim unless partial)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
  RopeScaling rope_scaling = RopeScaling::None;
  int rope_orig_ctx = 0;         // YaRN: original training context
  float yarn_ext_factor = -1.0f;  // <0: derive from scale, as llama.cpp does
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  int sliding_window = 0;        // gpt-oss alternating layers; 0 = none
  bool tied_embeddings = false;  // output projection reuses token_embd
};

// One tensor as stored in a file. `ne` is in GGUF order (ne[0] is the contiguous dimension).
struct TensorRef {
  std::string name;
  TensorType type = TensorType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  int file_index = 0;          // index into Model::files()
  uint64_t file_offset = 0;    // absolute byte offset inside that file
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the file's mapping

  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
};

enum class ExpertPart { Gate = 0, Up = 1, Down = 2 };

// One expert's matrix (rows x cols, row-major in `cols`), cut from the stacked expert tensor.
struct ExpertSlice {
  int file_index = 0;
  uint64_t file_offset = 0;
  uint64_t nbytes = 0;
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;  // into the file's mapping (tier 1)
};

// Per-layer tensors; a pointer is null when the architecture / file does not have that tensor.
struct LayerTensors {
  const TensorRef* attn_norm = nullptr;
  const TensorRef* wq = nullptr;
  const TensorRef* wk = nullptr;
  const TensorRef* wv = nullptr;
  const TensorRef* wo = nullptr;
  const TensorRef* bq = nullptr;
  const TensorRef* bk = nullptr;
  const TensorRef* bv = nullptr;
  const TensorRef* bo = nullptr;
  const TensorRef* q_norm = nullptr;
  const TensorRef* k_norm = nullptr;
  const TensorRef* attn_sinks = nullptr;   // gpt-oss
  const TensorRef* ffn_norm = nullptr;
  // Dense FFN.
  const TensorRef* ffn_gate = nullptr;
  const TensorRef* ffn_up = nullptr;
  const TensorRef* ffn_down = nullptr;
  // Mixture of experts.
  const TensorRef* router = nullptr;        // ffn_gate_inp [n_embd, n_expert]
  const TensorRef* router_bias = nullptr;   // gpt-oss / deepseek-v3 exp_probs_b
  const TensorRef* gate_exps = nullptr;     // [n_embd, n_ff_exp, n_expert]
  const TensorRef* up_exps = nullptr;
  const TensorRef* down_exps = nullptr;     // [n_ff_exp, n_embd, n_expert]
  const TensorRef* gate_exps_bias = nullptr;
  const TensorRef* up_exps_bias = nullptr;
  const TensorRef* down_exps_bias = nullptr;
  // Shared expert (qwen2moe: gated by a sigmoid of shexp_gate_inp; deepseek2: always on).
  const TensorRef* shexp_gate = nullptr;
  const TensorRef* shexp_up = nullptr;
  const TensorRef* shexp_down = nullptr;
  const TensorRef* shexp_gate_inp = nullptr;  // [n_embd] (one output)
};

class Model {
 public:
  // Opens a GGUF file, a .safetensors file, or a directory holding safetensors + config.json.
  // Throws strata::Error with one clear message for a missing, corrupt or unsupported model.
  static std::unique_ptr<Model> open(const std::string& path);

  Arch arch() const { return arch_; }
  const Hparams& hparams() const { return hp_; }
  // Key/value metadata: GGUF's as stored; for HF directories, the equivalent GGUF keys
  // synthesised from config.json plus tokenizer data (see loader/metadata.h).
  const Metadata& metadata() const { return meta_; }
  const std::vector<TensorRef>& tensors() const { return tensors_; }
  const TensorRef* find(std::string_view name) const;  // nullptr if absent

  const TensorRef& token_embd() const { return *token_embd_; }
  const TensorRef& output_norm() const { return *output_norm_; }
  const TensorRef& output() const { return *output_; }  // token_embd when tied
  const LayerTensors& layer(int i) const { return layers_.at(static_cast<size_t>(i)); }

  // Exact location of one expert's matrix; (layer, expert) must be in range and the layer must
  // have experts (checked: throws strata::Error otherwise).
  ExpertSlice expert(int layer, int expert, ExpertPart part) const;
  bool layer_has_experts(int layer) const;

  const std::vector<MappedFile>& files() const { return files_; }
  const std::string& path() const { return path_; }
  // Directory holding HF tokenizer files (tokenizer.json, tokenizer_config.json) when the model
  // came from safetensors; empty for GGUF.
  const std::string& hf_dir() const { return hf_dir_; }

  // Sizes for inspect / fit analysis.
  uint64_t total_bytes() const;
  uint64_t expert_bytes() const;          // all routed experts, all layers
  uint64_t bytes_per_expert(int layer) const;  // gate + up + down of one expert
  uint64_t active_bytes_per_token() const;     // dense weights touched + n_expert_used experts/layer
  uint64_t total_params() const;
  uint64_t active_params() const;

  // Builders (GGUF / safetensors readers) fill these.
  struct Parts;
  explicit Model(Parts&& parts);
  ~Model();

 private:
  Arch arch_ = Arch::Llama;
  Hparams hp_;
  Metadata meta_;
  std::string path_;
  std::string hf_dir_;
  std::vector<MappedFile> files_;
  std::vector<TensorRef> tensors_;
  std::vector<LayerTensors> layers_;
  const TensorRef* token_embd_ = nullptr;
  const TensorRef* output_norm_ = nullptr;
  const TensorRef* output_ = nullptr;
  // Name -> index into tensors_, for find().
  std::map<std::string, size_t, std::less<>> index_;
  // Layouts that store each expert as its own tensor (HF checkpoints): [layer][part][expert],
  // flattened; empty for stacked *_exps layouts.
  std::vector<const TensorRef*> split_experts_;
};

}  // namespace strata
