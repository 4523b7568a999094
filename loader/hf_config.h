#pragma once
// Hugging Face checkpoints seen as GGUF: config.json becomes the equivalent GGUF metadata keys
// (`general.architecture`, `{arch}.block_count`, ...) and HF tensor names become GGUF names, so
// everything above the loader sees one model description whatever the file format.
#include <optional>
#include <string>
#include <string_view>

#include "loader/metadata.h"
#include "loader/model.h"

namespace strata {

struct HfConfig {
  Arch arch = Arch::Llama;
  std::string model_type;  // as in config.json ("qwen3_moe", "mixtral", ...)
  Metadata meta;           // synthesised GGUF keys
};

// Parses config.json text. `where` names the file in errors. Throws strata::Error for malformed
// JSON, an unsupported model_type ("unsupported architecture 'x' (supported: ...)") or a missing
// required field (hidden_size, num_hidden_layers, num_attention_heads, ...).
HfConfig parse_hf_config(std::string_view json_text, const std::string& where);
HfConfig read_hf_config(const std::string& path);

// GGUF name for an HF tensor name ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"; per-expert tensors -> "blk.L.ffn_gate.E.weight"). nullopt for tensors
// strata never uses (rotary inv_freq buffers); unknown names are returned unchanged.
std::optional<std::string> hf_to_gguf_name(std::string_view hf_name);
// HF name for a GGUF name of `arch` (the inverse, used to write safetensors). Throws
// strata::Error for a name with no HF equivalent (stacked expert tensors).
std::string gguf_to_hf_name(Arch arch, std::string_view gguf_name);

// config.json for a model with these GGUF metadata keys (make-model's safetensors output).
std::string hf_config_json(Arch arch, const Metadata& meta, bool tied_embeddings);

}  // namespace strata
