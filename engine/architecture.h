#pragma once
// One implementation per model family, in engine/arch/<arch>.cpp. An architecture validates the
// model's layer tensors once and then computes one transformer layer for a chunk of tokens from
// the shared blocks in engine/layers.h. Adding a family (deepseek2's MLA, gpt-oss's sinks and
// sliding window) is a new file plus one line in make_architecture().
#include <memory>

#include "engine/forward.h"

namespace strata {

class Architecture {
 public:
  virtual ~Architecture() = default;
  // Throws strata::Error naming the tensor if the model lacks something this family needs.
  virtual void validate(const Model& model) const = 0;
  // Adds layer `layer` to the residual stream ctx.ws.x of the chunk's tokens.
  virtual void forward_layer(ForwardContext& ctx, int layer) const = 0;
};

// The implementation for model.arch(); throws strata::Error for a family the engine cannot run.
std::unique_ptr<Architecture> make_architecture(const Model& model);

// Factories, one per engine/arch/*.cpp.
std::unique_ptr<Architecture> make_llama_architecture();
std::unique_ptr<Architecture> make_qwen2_architecture();
std::unique_ptr<Architecture> make_qwen3_architecture();
std::unique_ptr<Architecture> make_qwen2moe_architecture();
std::unique_ptr<Architecture> make_qwen3moe_architecture();
std::unique_ptr<Architecture> make_olmoe_architecture();

}  // namespace strata
