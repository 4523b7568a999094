#pragma once
// The building blocks every architecture's layer is made of. Each adds its sub-layer's output to
// the residual stream ctx.ws.x for all ctx.n_tokens tokens. Internal to the engine.
#include "engine/forward.h"

namespace strata {

enum class QkNorm {
  None,
  PerHead,  // qwen3: RMS-normalise each head of Q and K separately (norm weight of head_dim)
  Full,     // olmoe: RMS-normalise all of Q (and all of K) as one vector
};

struct AttentionSpec {
  QkNorm qk_norm = QkNorm::None;
};

// x += wo · softmax(q·kᵀ / sqrt(d) + causal mask) · v, with q/k/v from rms_norm(x) · attn_norm,
// optional biases (present tensors are used), optional QK norm, RoPE, GQA and the KV cache.
void attention_block(ForwardContext& ctx, int layer, const AttentionSpec& spec);

// x += ffn_down · (silu(ffn_gate · h) ⊙ ffn_up · h), h = rms_norm(x) · ffn_norm.
void dense_ffn_block(ForwardContext& ctx, int layer);

// x += Σ_k w_k · expert_k(h) (+ shared expert, sigmoid-gated when the model has a shared-expert
// gate), h = rms_norm(x) · ffn_norm. Routing (softmax/sigmoid, top-k, norm_topk_prob, scale) follows
// the model's Hparams; experts come from ctx.experts, grouped so each is applied once per chunk.
void moe_ffn_block(ForwardContext& ctx, int layer);

// Predicts the experts MoE layer `layer` will choose for the chunk by applying its router to the
// current residual stream (normalised with that layer's ffn_norm) and hands their union to
// ctx.experts.prefetch(). Returns how many experts were hinted. Uses the prediction scratch
// (ws.pred_*) only; moe_ffn_block calls it for layer + 1 once its own reads are queued.
int prefetch_experts(ForwardContext& ctx, int layer);

// Checks, once at start-up, that every tensor a layer uses has the shape and type the blocks
// above expect (the blocks then index without bounds checks). Throws strata::Error naming the
// tensor otherwise.
void validate_attention(const Model& model, int layer, const AttentionSpec& spec);
void validate_dense_ffn(const Model& model, int layer);
void validate_moe_ffn(const Model& model, int layer);

}  // namespace strata
