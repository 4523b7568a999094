// Qwen2-MoE: Qwen2 attention (QKV biases, NeoX RoPE); routed experts with softmax gating (weights
// not renormalised unless norm_topk_prob) plus a shared expert scaled by sigmoid(ffn_gate_inp_shexp·h).
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

class Qwen2Moe final : public Architecture {
 public:
  void validate(const Model& model) const override {
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      validate_attention(model, l, {});
      validate_moe_ffn(model, l);
    }
  }
  void forward_layer(ForwardContext& ctx, int layer) const override {
    attention_block(ctx, layer, {});
    moe_ffn_block(ctx, layer);
  }
};

}  // namespace

std::unique_ptr<Architecture> make_qwen2moe_architecture() { return std::make_unique<Qwen2Moe>(); }

}  // namespace strata
