// Llama: dense SwiGLU FFN, or Mixtral's routed experts (softmax over all experts, top-k, weights
// renormalised) when the layer has ffn_*_exps. Normal-order RoPE, optional QKV/output biases.
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

class Llama final : public Architecture {
 public:
  void validate(const Model& model) const override {
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      validate_attention(model, l, {});
      if (model.layer_has_experts(l)) {
        validate_moe_ffn(model, l);
      } else {
        validate_dense_ffn(model, l);
      }
    }
  }
  void forward_layer(ForwardContext& ctx, int layer) const override {
    attention_block(ctx, layer, {});
    if (ctx.model.layer_has_experts(layer)) {
      moe_ffn_block(ctx, layer);
    } else {
      dense_ffn_block(ctx, layer);
    }
  }
};

}  // namespace

std::unique_ptr<Architecture> make_llama_architecture() { return std::make_unique<Llama>(); }

}  // namespace strata
