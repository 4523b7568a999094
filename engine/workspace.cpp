#include "engine/workspace.h"

#include <algorithm>

#include "engine/attention_kernels.h"

namespace strata {

void Workspace::reserve(const Hparams& hp, int n_tokens, int n_threads, int n_ctx) {
  const int64_t t = n_tokens;
  const int64_t q_width = static_cast<int64_t>(hp.n_head) * hp.head_dim;
  const int64_t kv_width = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim;
  const int64_t v_width = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim_v;
  const int64_t attn_width = static_cast<int64_t>(hp.n_head) * hp.head_dim_v;
  x.reserve(t, hp.n_embd);
  xn.reserve(t, std::max<int64_t>(hp.n_embd, std::max(q_width, attn_width)));
  q.reserve(t, q_width);
  k.reserve(t, kv_width);
  v.reserve(t, v_width);
  attn.reserve(t, attn_width);
  proj.reserve(t, hp.n_embd);
  tmp.reserve(t, hp.n_embd);
  const int64_t ff = std::max(hp.n_ff, hp.n_ff_shexp);
  ffn_a.reserve(ff > 0 ? t : 0, ff);
  ffn_b.reserve(ff > 0 ? t : 0, ff);
  rope.reserve(t, std::max(hp.n_rot, hp.head_dim));
  scores.reserve(static_cast<int64_t>(n_threads) * kMaxAttnHeads, n_ctx);
  if (hp.n_expert > 0) {
    const int64_t pairs = t * hp.n_expert_used;
    router.reserve(t, hp.n_expert);
    sel_w.reserve(t, hp.n_expert_used);
    sel.assign(static_cast<size_t>(pairs), 0);
    shexp_gate.reserve(t, 1);
    xe.reserve(pairs, hp.n_embd);
    he_g.reserve(pairs, hp.n_ff_exp);
    he_u.reserve(pairs, hp.n_ff_exp);
    ye.reserve(pairs, hp.n_embd);
    pair_row.assign(static_cast<size_t>(pairs), 0);
    expert_count.assign(static_cast<size_t>(hp.n_expert), 0);
    expert_first.assign(static_cast<size_t>(hp.n_expert), 0);
    expert_score.assign(static_cast<size_t>(hp.n_expert), 0.0f);
    used_experts.reserve(static_cast<size_t>(hp.n_expert));
    used_scores.reserve(static_cast<size_t>(hp.n_expert));
    pred_xn.reserve(t, hp.n_embd);
    pred_router.reserve(t, hp.n_expert);
    pred_sel_w.reserve(t, hp.n_expert_used);
    pred_sel.assign(static_cast<size_t>(pairs), 0);
    pred_mark.assign(static_cast<size_t>(hp.n_expert), 0);
    pred_experts.reserve(static_cast<size_t>(hp.n_expert));
    qa_gate.resize(static_cast<size_t>(hp.n_expert));
    qa_up.resize(static_cast<size_t>(hp.n_expert));
  }
  logit_rows.reserve(static_cast<size_t>(t));
  solo.clear();
  for (int i = 0; i < n_threads; ++i) solo.push_back(std::make_unique<ThreadPool>(1));
}

}  // namespace strata
