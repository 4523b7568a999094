#pragma once
// make-model's generator: a model of any supported architecture with seeded random weights of
// realistic magnitude, quantized per tensor, written as GGUF (or safetensors + config.json).
//
// Flow: load_preset() reads a configs/*.json description, plan_model() turns it into the exact
// metadata and tensor list (names, types, shapes) of the file, write_model() streams the tensors
// to disk one at a time (generated and quantized in parallel, little memory). plan_size() gives
// the size accounting of a plan without writing anything.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernels/tensor_type.h"
#include "loader/architectures.h"
#include "loader/metadata.h"
#include "loader/model.h"

namespace strata {

// A model description (one configs/*.json file).
struct SynthConfig {
  std::string name;
  Arch arch = Arch::Llama;
  int n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int n_ff = 0, n_expert = 0, n_expert_used = 0, n_ff_exp = 0, n_ff_shexp = 0;
  int n_vocab = 0, n_ctx_train = 4096;
  double rope_freq_base = 10000.0, rms_eps = 1e-6;
  std::optional<bool> norm_topk_prob;
  bool tied_embeddings = false;
  std::string type = "f32";  // default weight type of the preset
};

// Parses a preset's JSON text; `where` names it in errors. Throws strata::Error for malformed
// JSON, an unknown arch or missing/out-of-range dimensions.
SynthConfig parse_preset(const std::string& json_text, const std::string& where);
// `name_or_path`: a .json file, or a preset name looked up as <dir>/<name>.json in
// $STRATA_CONFIG_DIR, <executable dir>/configs, <executable dir>/../configs. Throws
// strata::Error listing the available presets when not found.
SynthConfig load_preset(const std::string& name_or_path);
// Names of the presets found in the first existing config directory.
std::vector<std::string> list_presets();

struct PlannedTensor {
  std::string name;          // GGUF name
  TensorType type = TensorType::F32;
  std::vector<int64_t> ne;   // GGUF order
  TensorRole role = TensorRole::Other;
  int layer = -1;
  float mean = 0.0f;         // values are mean + stddev * N(0, 1)-like noise
  float stddev = 0.0f;
  uint64_t nbytes = 0;
  int64_t rows() const;
};

struct SynthPlan {
  Arch arch = Arch::Llama;
  Hparams hp;
  Metadata meta;                      // every key of the output file, tokenizer included
  std::vector<PlannedTensor> tensors;
  int type_fallbacks = 0;             // tensors whose rows did not fit the requested type
};

// Builds the plan. `type` is a tensor type name ("q4_k", "q8_0", "f16", ...) or a llama.cpp
// mix ("q4_k_m": Q4_K with Q6_K for attn_v, ffn_down(_exps/_shexp) and output; "mxfp4": MXFP4
// experts with Q8_0 elsewhere); empty = the preset's type. Norms, biases and routers stay F32 as
// llama.cpp keeps them; a tensor whose row length does not fit the type's block size falls back
// to Q8_0, then F16. `vocab_path`: a GGUF whose tokenizer.* keys are copied (its token count
// becomes n_vocab); empty = a built-in byte-level GPT-2-style vocabulary padded to the preset's
// n_vocab. `layers` overrides n_layer. Throws strata::Error for bad input.
SynthPlan plan_model(const SynthConfig& cfg, const std::string& type, const std::string& vocab_path,
                     std::optional<int> layers);

SizeReport plan_size(const SynthPlan& plan);

// The float values of row `row` of tensor `t` (ne[0] of them) for `seed`: deterministic, and
// independent of thread count and output format, so tests can regenerate any row.
void synth_row(uint64_t seed, const PlannedTensor& t, int64_t row, float* out);

enum class SynthFormat { Gguf, Safetensors };

struct SynthWriteOptions {
  std::string out;            // GGUF file, or directory for safetensors
  SynthFormat format = SynthFormat::Gguf;
  uint64_t seed = 42;
  bool force = false;         // replace an existing output
  int threads = 0;            // 0 = hardware concurrency
  // Called after each chunk with (bytes written, total bytes); may be empty.
  std::function<void(uint64_t, uint64_t)> progress;
};

// Bytes the output will take on disk.
uint64_t planned_file_size(const SynthPlan& plan, SynthFormat format);

// Writes the model to `<out>.tmp` and renames it to `out` when complete. Checks free disk space
// first (statvfs) and refuses an existing `out` unless `force`. Safetensors output stores
// F32/F16/BF16 only (other types throw) with one tensor per expert in HF naming, plus
// config.json, and tokenizer.json / tokenizer_config.json when the vocabulary is GPT-2 style
// (the built-in one, or a copied gpt2/"gpt-2"/"default" GGUF vocabulary). Throws strata::Error for any failure; the temporary output is removed.
void write_model(const SynthPlan& plan, const SynthWriteOptions& opts);

}  // namespace strata
