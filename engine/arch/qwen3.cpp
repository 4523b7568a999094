// Qwen3 (dense): per-head RMS norm of Q and K before RoPE (NeoX), no biases, SwiGLU FFN.
#include "engine/architecture.h"
#include "engine/layers.h"

namespace strata {
namespace {

constexpr AttentionSpec kAttention{QkNorm::PerHead};

class Qwen3 final : public Architecture {
 public:
  void validate(const Model& model) const override {
    for (int l = 0; l < model.hparams().n_layer; ++l) {
      validate_attention(model, l, kAttention);
      validate_dense_ffn(model, l);
    }
  }
  void forward_layer(ForwardContext& ctx, int layer) const override {
    attention_block(ctx, layer, kAttention);
    dense_ffn_block(ctx, layer);
  }
};

}  // namespace

std::unique_ptr<Architecture> make_qwen3_architecture() { return std::make_unique<Qwen3>(); }

}  // namespace strata
