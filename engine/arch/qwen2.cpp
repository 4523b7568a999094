// Qwen2 (dense): biases on Q/K/V, NeoX RoPE, SwiGLU FFN.
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

class Qwen2 final : public Architecture {
 public:
  void validate(const Model& model) const override {
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      validate_attention(model, l, {});
      validate_dense_ffn(model, l);
    }
  }
  void forward_layer(ForwardContext& ctx, int layer) const override {
    attention_block(ctx, layer, {});
    dense_ffn_block(ctx, layer);
  }
};

}  // namespace

std::unique_ptr<Architecture> make_qwen2_architecture() { return std::make_unique<Qwen2>(); }

}  // namespace strata
