// OLMoE: RMS norm over all of Q and all of K (not per head) before NeoX RoPE; routed experts with
// softmax gating, top-k weights used as they are (no renormalisation).
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

constexpr AttentionSpec kAttention{QkNorm::Full};

class Olmoe final : public Architecture {
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

std::unique_ptr<Architecture> make_olmoe_architecture() { return std::make_unique<Olmoe>(); }

}  // namespace strata
