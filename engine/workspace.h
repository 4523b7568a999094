#pragma once
// Scratch buffers of the forward pass, sized once for the largest chunk of tokens so the per-token
// hot path never allocates. Internal to the engine.
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "loader/model.h"

namespace strata {

// A float buffer for up to `rows` rows of at most `cols` values, allocated once. Users index it
// densely with the width of what they store (which may be less than `cols`).
struct Scratch {
  std::vector<float> data;
  void reserve(int64_t rows, int64_t cols) { data.assign(static_cast<size_t>(rows * cols), 0.0f); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
};

struct Workspace {
  Scratch x;        // hidden state (residual stream), [tokens, n_embd]
  Scratch xn;       // normalised input of the current sub-layer
  Scratch q, k, v;  // projections, [tokens, heads * head_dim]
  Scratch attn;     // attention output before wo
  Scratch proj;     // sub-layer output before the residual add
  Scratch tmp;      // a second [tokens, n_embd] result (shared expert)
  Scratch ffn_a, ffn_b;  // FFN intermediates (dense or shared expert)
  Scratch rope;     // per-token rotation angles
  Scratch scores;   // per-thread attention scores, [threads * kMaxAttnHeads, n_ctx]
  Scratch router;   // router probabilities, [tokens, n_expert]
  Scratch sel_w;    // chosen experts' weights, [tokens, n_expert_used]
  std::vector<int32_t> sel;  // chosen experts, [tokens, n_expert_used]
  Scratch shexp_gate;        // [tokens, 1]
  // MoE grouped by expert: every (token, slot) pair gathered in expert order.
  Scratch xe;       // [tokens * n_expert_used, n_embd]
  Scratch he_g, he_u;  // [tokens * n_expert_used, n_ff_exp]
  Scratch ye;       // [tokens * n_expert_used, n_embd]
  std::vector<int32_t> pair_row;      // (token * k + slot) -> row in xe/ye
  std::vector<int32_t> expert_count;  // tokens routed to each expert in this chunk
  std::vector<int32_t> expert_first;  // first row of each expert's group
  std::vector<float> expert_score;    // summed router weight of each expert in this chunk
  std::vector<int32_t> used_experts;  // experts with at least one token, ascending
  std::vector<float> used_scores;     // their summed router weight (for heat policies)
  std::vector<int> ready_experts;     // indices into used_experts resident at acquire time
  std::vector<int> pending_experts;   // ...and those still being read
  // Next-layer expert prediction, separate from the routing above so it can run while this
  // layer's experts are in use.
  Scratch pred_xn, pred_router, pred_sel_w;
  std::vector<int32_t> pred_sel;
  std::vector<char> pred_mark;        // [n_expert]
  std::vector<int> pred_experts;      // predicted experts, ascending
  std::vector<int32_t> logit_rows;    // tokens of the chunk that want logits
  QuantizedActivations qx;            // activations rounded to the current weight's dot type
  // Grouped expert GEMMs: each used expert's rows rounded once (up only when its dot type differs
  // from gate's), and one inline single-thread pool per engine thread so a task of the engine's
  // own parallel loop can run a slice of a matmul without nesting parallel regions.
  std::vector<QuantizedActivations> qa_gate, qa_up;
  std::vector<std::unique_ptr<ThreadPool>> solo;

  void reserve(const Hparams& hp, int n_tokens, int n_threads, int n_ctx);
};

}  // namespace strata
