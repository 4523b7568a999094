// Qwen3-MoE: Qwen3 attention (per-head QK norm, NeoX RoPE) and routed experts with softmax
// gating and top-k weights renormalised (norm_topk_prob), no shared expert.
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

constexpr AttentionSpec kAttention{QkNorm::PerHead};

class Qwen3Moe final : public Architecture {
 public:
  void validate(const Model& model) const override {
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      validate_attention(model, l, kAttention);
      validate_moe_ffn(model, l);
    }
  }
  void forward_layer(ForwardContext& ctx, int layer) const override {
    attention_block(ctx, layer, kAttention);
    moe_ffn_block(ctx, layer);
  }
};

}  // namespace

std::unique_ptr<Architecture> make_qwen3moe_architecture() { return std::make_unique<Qwen3Moe>(); }

}  // namespace strata
