#include "engine/layers.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>

#include "common/error.h"
#include "engine/attention.h"
#include "engine/ops.h"
#include "engine/routing_trace.h"
#include "engine/routing_workload.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"

namespace strata {
namespace {

const float* f32(const TensorRef* t) { return t ? reinterpret_cast<const float*>(t->data) : nullptr; }

void add_bias(float* y, const TensorRef* bias, int64_t n_tokens, int64_t width) {
  if (bias == nullptr) return;
  const float* b = f32(bias);
  for (int64_t t = 0; t < n_tokens; ++t) ops::add(y + t * width, b, width);
}

// h = rms_norm(x) · w for every token of the chunk.
void norm_rows(ForwardContext& ctx, const TensorRef* w, float* out) {
  const int64_t n = ctx.hp.n_embd;
  const float* x = ctx.ws.x.ptr();
  for (int64_t t = 0; t < ctx.n_tokens; ++t) ops::rms_norm(x + t * n, f32(w), out + t * n, n, ctx.hp.rms_eps);
}

void require(const TensorRef* t, const char* what, int layer) {
  if (t == nullptr) fail("layer {}: missing tensor {}", layer, what);
}

void check_vector(const TensorRef* t, int64_t n, int layer) {
  if (t == nullptr) return;
  if (t->type != TensorType::F32 || t->elements() != n) {
    fail("layer {}: tensor '{}' must be F32 with {} elements (is {} with {})", layer, t->name, n,
         type_name(t->type), t->elements());
  }
}

void check_matrix(const TensorRef* t, int64_t cols, int64_t rows, int layer) {
  if (t == nullptr) return;
  if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows) {
    fail("layer {}: tensor '{}' has shape [{}, {}], expected [{}, {}]", layer, t->name, t->ne[0],
         t->ne[1], cols, rows);
  }
  if (!is_row_size_valid(t->type, cols)) {
    fail("layer {}: tensor '{}': row of {} is not a whole number of {} blocks", layer, t->name, cols,
         type_name(t->type));
  }
}

}  // namespace

Weight weight_of(const TensorRef& t) { return {t.data, t.type, t.ne[1], t.ne[0]}; }
Weight weight_of(const ExpertMatrix& m) { return {m.data, m.type, m.rows, m.cols}; }

// ---------------------------------------------------------------------------------------------
// Attention

void validate_attention(const Model& model, int layer, const AttentionSpec& spec) {
  const Hparams& hp = model.hparams();
  const LayerTensors& L = model.layer(layer);
  require(L.attn_norm, "attn_norm", layer);
  require(L.wq, "attn_q", layer);
  require(L.wk, "attn_k", layer);
  require(L.wv, "attn_v", layer);
  require(L.wo, "attn_output", layer);
  const int64_t qw = static_cast<int64_t>(hp.n_head) * hp.head_dim;
  const int64_t kw = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim;
  const int64_t vw = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim_v;
  const int64_t ow = static_cast<int64_t>(hp.n_head) * hp.head_dim_v;
  check_vector(L.attn_norm, hp.n_embd, layer);
  check_matrix(L.wq, hp.n_embd, qw, layer);
  check_matrix(L.wk, hp.n_embd, kw, layer);
  check_matrix(L.wv, hp.n_embd, vw, layer);
  check_matrix(L.wo, ow, hp.n_embd, layer);
  check_vector(L.bq, qw, layer);
  check_vector(L.bk, kw, layer);
  check_vector(L.bv, vw, layer);
  check_vector(L.bo, hp.n_embd, layer);
  switch (spec.qk_norm) {
    case QkNorm::None:
      break;
    case QkNorm::PerHead:
      require(L.q_norm, "attn_q_norm", layer);
      require(L.k_norm, "attn_k_norm", layer);
      check_vector(L.q_norm, hp.head_dim, layer);
      check_vector(L.k_norm, hp.head_dim, layer);
      break;
    case QkNorm::Full:
      require(L.q_norm, "attn_q_norm", layer);
      require(L.k_norm, "attn_k_norm", layer);
      check_vector(L.q_norm, qw, layer);
      check_vector(L.k_norm, kw, layer);
      break;
  }
}

void attention_block(ForwardContext& ctx, int layer, const AttentionSpec& spec) {
  ScopedTimer timer(ctx.timer(&PhaseTimes::attention_ns));
  const Hparams& hp = ctx.hp;
  const LayerTensors& L = ctx.model.layer(layer);
  Workspace& ws = ctx.ws;
  const int64_t T = ctx.n_tokens;
  const int64_t qw = static_cast<int64_t>(hp.n_head) * hp.head_dim;
  const int64_t kw = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim;
  const int64_t vw = static_cast<int64_t>(hp.n_head_kv) * hp.head_dim_v;

  float* xn = ws.xn.ptr();
  norm_rows(ctx, L.attn_norm, xn);
  float* q = ws.q.ptr();
  float* k = ws.k.ptr();
  float* v = ws.v.ptr();
  ctx.matmul_shared({{weight_of(*L.wq), q}, {weight_of(*L.wk), k}, {weight_of(*L.wv), v}}, xn, T);
  add_bias(q, L.bq, T, qw);
  add_bias(k, L.bk, T, kw);
  add_bias(v, L.bv, T, vw);

  const int n_rot = ctx.rope.n_rot();
  for (int64_t t = 0; t < T; ++t) {
    float* qt = q + t * qw;
    float* kt = k + t * kw;
    if (spec.qk_norm == QkNorm::PerHead) {
      for (int h = 0; h < hp.n_head; ++h) {
        float* r = qt + static_cast<int64_t>(h) * hp.head_dim;
        ops::rms_norm(r, f32(L.q_norm), r, hp.head_dim, hp.rms_eps);
      }
      for (int h = 0; h < hp.n_head_kv; ++h) {
        float* r = kt + static_cast<int64_t>(h) * hp.head_dim;
        ops::rms_norm(r, f32(L.k_norm), r, hp.head_dim, hp.rms_eps);
      }
    } else if (spec.qk_norm == QkNorm::Full) {
      ops::rms_norm(qt, f32(L.q_norm), qt, qw, hp.rms_eps);
      ops::rms_norm(kt, f32(L.k_norm), kt, kw, hp.rms_eps);
    }
    const float* cs = ws.rope.ptr() + t * n_rot;
    ctx.rope.apply(qt, hp.n_head, cs);
    ctx.rope.apply(kt, hp.n_head_kv, cs);
    const BatchToken& bt = ctx.tokens[t];
    ctx.kv.store(layer, bt.seq, bt.pos, kt, v + t * vw);
  }

  float* out = ws.attn.ptr();
  attend(ctx, layer, q, out);

  float* proj = ws.proj.ptr();
  ctx.matmul(weight_of(*L.wo), out, T, proj);
  add_bias(proj, L.bo, T, hp.n_embd);
  ops::add(ws.x.ptr(), proj, T * hp.n_embd);
}

// ---------------------------------------------------------------------------------------------
// Dense FFN

void validate_dense_ffn(const Model& model, int layer) {
  const Hparams& hp = model.hparams();
  const LayerTensors& L = model.layer(layer);
  require(L.ffn_norm, "ffn_norm", layer);
  require(L.ffn_gate, "ffn_gate", layer);
  require(L.ffn_up, "ffn_up", layer);
  require(L.ffn_down, "ffn_down", layer);
  if (hp.n_ff <= 0) fail("layer {}: dense FFN size (feed_forward_length) is not set", layer);
  check_vector(L.ffn_norm, hp.n_embd, layer);
  check_matrix(L.ffn_gate, hp.n_embd, hp.n_ff, layer);
  check_matrix(L.ffn_up, hp.n_embd, hp.n_ff, layer);
  check_matrix(L.ffn_down, hp.n_ff, hp.n_embd, layer);
}

void dense_ffn_block(ForwardContext& ctx, int layer) {
  ScopedTimer timer(ctx.timer(&PhaseTimes::dense_ffn_ns));
  const Hparams& hp = ctx.hp;
  const LayerTensors& L = ctx.model.layer(layer);
  Workspace& ws = ctx.ws;
  const int64_t T = ctx.n_tokens;
  float* xn = ws.xn.ptr();
  norm_rows(ctx, L.ffn_norm, xn);
  float* a = ws.ffn_a.ptr();
  float* b = ws.ffn_b.ptr();
  ctx.matmul_shared({{weight_of(*L.ffn_gate), a}, {weight_of(*L.ffn_up), b}}, xn, T);
  ops::swiglu(a, b, T * hp.n_ff);
  float* proj = ws.proj.ptr();
  ctx.matmul(weight_of(*L.ffn_down), a, T, proj);
  ops::add(ws.x.ptr(), proj, T * hp.n_embd);
}

// ---------------------------------------------------------------------------------------------
// Mixture of experts

void validate_moe_ffn(const Model& model, int layer) {
  const Hparams& hp = model.hparams();
  const LayerTensors& L = model.layer(layer);
  require(L.ffn_norm, "ffn_norm", layer);
  require(L.router, "ffn_gate_inp", layer);
  if (hp.n_expert <= 0 || hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert) {
    fail("layer {}: invalid expert counts ({} experts, {} used)", layer, hp.n_expert, hp.n_expert_used);
  }
  if (hp.n_ff_exp <= 0) fail("layer {}: expert FFN size is not set", layer);
  if (!model.layer_has_experts(layer)) fail("layer {}: expert tensors are missing", layer);
  check_vector(L.ffn_norm, hp.n_embd, layer);
  check_matrix(L.router, hp.n_embd, hp.n_expert, layer);
  check_vector(L.router_bias, hp.n_expert, layer);
  const bool has_shexp = L.shexp_gate || L.shexp_up || L.shexp_down;
  if (has_shexp) {
    require(L.shexp_gate, "ffn_gate_shexp", layer);
    require(L.shexp_up, "ffn_up_shexp", layer);
    require(L.shexp_down, "ffn_down_shexp", layer);
    if (hp.n_ff_shexp <= 0) fail("layer {}: shared expert FFN size is not set", layer);
    check_matrix(L.shexp_gate, hp.n_embd, hp.n_ff_shexp, layer);
    check_matrix(L.shexp_up, hp.n_embd, hp.n_ff_shexp, layer);
    check_matrix(L.shexp_down, hp.n_ff_shexp, hp.n_embd, layer);
    if (L.shexp_gate_inp) check_matrix(L.shexp_gate_inp, hp.n_embd, 1, layer);
  }
  // Every expert slice must have the dimensions the grouped GEMMs use.
  for (int e = 0; e < hp.n_expert; e += std::max(1, hp.n_expert - 1)) {
    for (ExpertPart part : {ExpertPart::Gate, ExpertPart::Up, ExpertPart::Down}) {
      const ExpertSlice s = model.expert(layer, e, part);
      const bool down = part == ExpertPart::Down;
      const int64_t want_rows = down ? hp.n_embd : hp.n_ff_exp;
      const int64_t want_cols = down ? hp.n_ff_exp : hp.n_embd;
      if (s.rows != want_rows || s.cols != want_cols || !is_row_size_valid(s.type, s.cols)) {
        fail("layer {}: expert {} matrix is {}x{} {}, expected {}x{}", layer, e, s.rows, s.cols,
             type_name(s.type), want_rows, want_cols);
      }
    }
  }
}

namespace {

// Picks the top-k experts of one token. `probs` are the gating probabilities, `bias` (optional)
// shifts only the choice (deepseek-v3 / gpt-oss style), weights come from `probs`.
void route_token(const Hparams& hp, float* probs, const float* bias, int32_t* sel, float* w) {
  const int n = hp.n_expert;
  const int k = hp.n_expert_used;
  if (hp.gating == ExpertGating::Softmax) {
    ops::softmax(probs, n);
  } else {
    for (int e = 0; e < n; ++e) probs[e] = ops::sigmoid(probs[e]);
  }
  // k passes of argmax: k and n are small, and the lowest id wins a tie deterministically.
  for (int s = 0; s < k; ++s) {
    int best = -1;
    float best_score = 0.0f;
    for (int e = 0; e < n; ++e) {
      bool taken = false;
      for (int j = 0; j < s; ++j) taken |= sel[j] == e;
      if (taken) continue;
      const float score = probs[e] + (bias ? bias[e] : 0.0f);
      if (best < 0 || score > best_score) {
        best = e;
        best_score = score;
      }
    }
    sel[s] = best;
    w[s] = probs[best];
  }
  if (hp.norm_topk_prob) {
    float sum = 0.0f;
    for (int s = 0; s < k; ++s) sum += w[s];
    for (int s = 0; s < k; ++s) w[s] /= sum;
  }
  if (hp.expert_weights_scale != 1.0f) {
    for (int s = 0; s < k; ++s) w[s] *= hp.expert_weights_scale;
  }
}

// Applies the used experts listed in `which` (indices into ws.used_experts and `weights`) to their
// groups of rows in four parallel phases (round inputs, gate+up slices of all experts, round
// hidden, down slices of all experts), so the threads stay busy across experts and a decode step
// has a handful of parallel regions per layer instead of a few per expert.
void run_experts(ForwardContext& ctx, const std::vector<ExpertWeights>& weights, std::span<const int> which) {
  const Hparams& hp = ctx.hp;
  Workspace& ws = ctx.ws;
  const int64_t n_embd = hp.n_embd;
  const int64_t n_ff = hp.n_ff_exp;
  const int64_t n_used = static_cast<int64_t>(which.size());
  float* xe = ws.xe.ptr();
  float* hg = ws.he_g.ptr();
  float* hu = ws.he_u.ptr();
  float* ye = ws.ye.ptr();
  auto group = [&](int64_t i, int64_t& first, int64_t& n) {
    const size_t e = static_cast<size_t>(ws.used_experts[static_cast<size_t>(i)]);
    first = ws.expert_first[e];
    n = ws.expert_count[e];
  };
  auto view = [](const ExpertMatrix& m, int64_t r0, int64_t r1) {
    const int64_t rb = row_bytes(m.type, m.cols);
    return WeightView{m.data + r0 * rb, m.type, r1 - r0, m.cols, rb};
  };
  // Row slices: about four per thread over all experts, never tiny.
  const int64_t threads = static_cast<int64_t>(ws.solo.size());
  auto slices = [&](int64_t rows, int64_t mats) {
    const int64_t want = std::max<int64_t>(1, (4 * threads + mats - 1) / mats);
    return std::min<int64_t>(rows, std::max<int64_t>(want, 1));
  };

  ctx.parallel_for(n_used, [&](int64_t j, int th) {
    const int64_t i = which[static_cast<size_t>(j)];
    int64_t first, n;
    group(i, first, n);
    const ExpertWeights& w = weights[static_cast<size_t>(i)];
    ThreadPool& solo = *ws.solo[static_cast<size_t>(th)];
    ws.qa_gate[static_cast<size_t>(i)].quantize(w.gate.type, xe + first * n_embd, n, n_embd, n_embd, solo);
    if (dot_type(w.up.type) != dot_type(w.gate.type)) {
      ws.qa_up[static_cast<size_t>(i)].quantize(w.up.type, xe + first * n_embd, n, n_embd, n_embd, solo);
    }
  });

  const int64_t s_ff = slices(n_ff, 2 * n_used);
  const int64_t chunk_ff = (n_ff + s_ff - 1) / s_ff;
  ctx.parallel_for(n_used * 2 * s_ff, [&](int64_t task, int th) {
    const int64_t i = which[static_cast<size_t>(task / (2 * s_ff))];
    const bool up = (task / s_ff) % 2 == 1;
    const int64_t r0 = (task % s_ff) * chunk_ff, r1 = std::min(n_ff, r0 + chunk_ff);
    if (r0 >= r1) return;
    int64_t first, n;
    group(i, first, n);
    const ExpertWeights& w = weights[static_cast<size_t>(i)];
    const bool own_qa = up && dot_type(w.up.type) != dot_type(w.gate.type);
    const QuantizedActivations& qa = own_qa ? ws.qa_up[static_cast<size_t>(i)] : ws.qa_gate[static_cast<size_t>(i)];
    float* out = (up ? hu : hg) + first * n_ff + r0;
    matmul_quantized(view(up ? w.up : w.gate, r0, r1), qa, out, n_ff, *ws.solo[static_cast<size_t>(th)]);
  });

  ctx.parallel_for(n_used, [&](int64_t j, int th) {
    const int64_t i = which[static_cast<size_t>(j)];
    int64_t first, n;
    group(i, first, n);
    const ExpertWeights& w = weights[static_cast<size_t>(i)];
    ops::swiglu(hg + first * n_ff, hu + first * n_ff, n * n_ff);
    ws.qa_gate[static_cast<size_t>(i)].quantize(w.down.type, hg + first * n_ff, n, n_ff, n_ff,
                                                *ws.solo[static_cast<size_t>(th)]);
  });

  const int64_t s_d = slices(n_embd, n_used);
  const int64_t chunk_d = (n_embd + s_d - 1) / s_d;
  ctx.parallel_for(n_used * s_d, [&](int64_t task, int th) {
    const int64_t i = which[static_cast<size_t>(task / s_d)];
    const int64_t r0 = (task % s_d) * chunk_d, r1 = std::min(n_embd, r0 + chunk_d);
    if (r0 >= r1) return;
    int64_t first, n;
    group(i, first, n);
    const ExpertWeights& w = weights[static_cast<size_t>(i)];
    matmul_quantized(view(w.down, r0, r1), ws.qa_gate[static_cast<size_t>(i)], ye + first * n_embd + r0, n_embd,
                     *ws.solo[static_cast<size_t>(th)]);
  });
}

// Normalises the residual stream with the layer's ffn_norm into `xn` and routes every token:
// `sel` / `sel_w` receive each token's n_expert_used experts and their weights, `probs` is
// scratch. Shared by the MoE block and prediction, so the prediction is exactly the routing the
// layer would do on the same hidden state.
void route_tokens(ForwardContext& ctx, int layer, float* xn, float* probs, int32_t* sel, float* sel_w) {
  const Hparams& hp = ctx.hp;
  const LayerTensors& L = ctx.model.layer(layer);
  const int k = hp.n_expert_used;
  norm_rows(ctx, L.ffn_norm, xn);
  if (ctx.routing != nullptr) {
    for (int64_t t = 0; t < ctx.n_tokens; ++t) ctx.routing->select(layer, ctx.tokens[t], sel + t * k, sel_w + t * k);
    return;
  }
  ctx.matmul(weight_of(*L.router), xn, ctx.n_tokens, probs);
  for (int64_t t = 0; t < ctx.n_tokens; ++t) {
    route_token(hp, probs + t * hp.n_expert, f32(L.router_bias), sel + t * k, sel_w + t * k);
  }
}

}  // namespace

int prefetch_experts(ForwardContext& ctx, int layer) {
  const Hparams& hp = ctx.hp;
  Workspace& ws = ctx.ws;
  if (ctx.routing != nullptr) {
    // A workload has no router to apply; it emulates the predictor.
    for (int64_t t = 0; t < ctx.n_tokens; ++t) {
      ctx.routing->predict(layer, ctx.tokens[t], ws.pred_sel.data() + t * hp.n_expert_used);
    }
  } else {
    route_tokens(ctx, layer, ws.pred_xn.ptr(), ws.pred_router.ptr(), ws.pred_sel.data(), ws.pred_sel_w.ptr());
  }
  std::fill(ws.pred_mark.begin(), ws.pred_mark.end(), 0);
  for (int64_t p = 0; p < ctx.n_tokens * hp.n_expert_used; ++p) ws.pred_mark[static_cast<size_t>(ws.pred_sel[p])] = 1;
  ws.pred_experts.clear();
  for (int e = 0; e < hp.n_expert; ++e) {
    if (ws.pred_mark[static_cast<size_t>(e)] != 0) ws.pred_experts.push_back(e);
  }
  ctx.experts.prefetch(layer, ws.pred_experts);
  return static_cast<int>(ws.pred_experts.size());
}

void moe_ffn_block(ForwardContext& ctx, int layer) {
  const Hparams& hp = ctx.hp;
  const LayerTensors& L = ctx.model.layer(layer);
  Workspace& ws = ctx.ws;
  const int64_t T = ctx.n_tokens;
  const int k = hp.n_expert_used;
  const int64_t n_embd = hp.n_embd;
  const int64_t n_ff = hp.n_ff_exp;

  {
    ScopedTimer timer(ctx.timer(&PhaseTimes::routing_ns));
    route_tokens(ctx, layer, ws.xn.ptr(), ws.router.ptr(), ws.sel.data(), ws.sel_w.ptr());
  }
  if (ctx.record_routing != nullptr) {
    for (int64_t t = 0; t < T; ++t) {
      ctx.record_routing->record(ctx.tokens[t].pos, layer, {ws.sel.data() + t * k, static_cast<size_t>(k)},
                                 {ws.sel_w.ptr() + t * k, static_cast<size_t>(k)});
    }
  }
  float* xn = ws.xn.ptr();
  int32_t* sel = ws.sel.data();
  float* sel_w = ws.sel_w.ptr();

  // Group the (token, slot) pairs by expert so each expert's weights are streamed once.
  std::fill(ws.expert_count.begin(), ws.expert_count.end(), 0);
  std::fill(ws.expert_score.begin(), ws.expert_score.end(), 0.0f);
  for (int64_t p = 0; p < T * k; ++p) {
    ++ws.expert_count[static_cast<size_t>(sel[p])];
    ws.expert_score[static_cast<size_t>(sel[p])] += sel_w[p];
  }
  ws.used_experts.clear();
  ws.used_scores.clear();
  int32_t next = 0;
  for (int e = 0; e < hp.n_expert; ++e) {
    ws.expert_first[static_cast<size_t>(e)] = next;
    next += ws.expert_count[static_cast<size_t>(e)];
    if (ws.expert_count[static_cast<size_t>(e)] > 0) {
      ws.used_experts.push_back(e);
      ws.used_scores.push_back(ws.expert_score[static_cast<size_t>(e)]);
    }
  }
  // Fill rows in token order within each expert; reuse expert_count as the fill cursor.
  std::fill(ws.expert_count.begin(), ws.expert_count.end(), 0);
  float* xe = ws.xe.ptr();
  for (int64_t t = 0; t < T; ++t) {
    for (int s = 0; s < k; ++s) {
      const int e = sel[t * k + s];
      const int32_t row = ws.expert_first[static_cast<size_t>(e)] + ws.expert_count[static_cast<size_t>(e)]++;
      ws.pair_row[static_cast<size_t>(t * k + s)] = row;
      std::copy_n(xn + t * n_embd, n_embd, xe + row * n_embd);
    }
  }

  {
    std::optional<ScopedTimer> acquiring(std::in_place, ctx.timer(&PhaseTimes::expert_wait_ns));
    ExpertLease lease = ctx.experts.acquire_async(layer, ws.used_experts, ws.used_scores);
    acquiring.reset();
    // This layer's misses are queued first; the next layers' predicted experts (routed from the
    // same hidden state) are read behind them, nearest layer first, while this layer computes.
    std::optional<ScopedTimer> predicting(std::in_place, ctx.timer(&PhaseTimes::routing_ns));
    for (int ahead = layer + 1; ahead <= layer + ctx.prefetch_depth && ahead < hp.n_layer; ++ahead) {
      if (!ctx.model.layer_has_experts(ahead)) continue;
      const int hinted = prefetch_experts(ctx, ahead);
      if (ctx.experts_predicted != nullptr) *ctx.experts_predicted += static_cast<uint64_t>(hinted);
    }
    predicting.reset();
    const auto& weights = lease.weights();
    STRATA_CHECK(weights.size() == ws.used_experts.size());
    for (size_t i = 0; i < weights.size(); ++i) {
      const ExpertWeights& ew = weights[i];
      if (ew.gate.rows != n_ff || ew.gate.cols != n_embd || ew.up.rows != n_ff || ew.up.cols != n_embd ||
          ew.down.rows != n_embd || ew.down.cols != n_ff || !is_row_size_valid(ew.gate.type, n_embd) ||
          !is_row_size_valid(ew.up.type, n_embd) || !is_row_size_valid(ew.down.type, n_ff) ||
          ew.gate.type == TensorType::Q8_K || ew.up.type == TensorType::Q8_K || ew.down.type == TensorType::Q8_K) {
        fail("layer {}: expert {} weights have unexpected dimensions or types", layer, ws.used_experts[i]);
      }
    }
    // Compute with the experts already resident while the store reads the others.
    ws.ready_experts.clear();
    ws.pending_experts.clear();
    for (size_t i = 0; i < weights.size(); ++i) {
      (lease.ready(i) ? ws.ready_experts : ws.pending_experts).push_back(static_cast<int>(i));
    }
    if (!ws.ready_experts.empty()) {
      ScopedTimer timer(ctx.timer(&PhaseTimes::experts_ns));
      run_experts(ctx, weights, ws.ready_experts);
    }
    // Then each of the others as soon as its own read lands, while the rest still arrive.
    while (!ws.pending_experts.empty()) {
      {
        ScopedTimer timer(ctx.timer(&PhaseTimes::expert_wait_ns));
        lease.wait_any();
      }
      ws.ready_experts.clear();
      std::erase_if(ws.pending_experts, [&](int i) {
        if (!lease.ready(static_cast<size_t>(i))) return false;
        ws.ready_experts.push_back(i);
        return true;
      });
      ScopedTimer timer(ctx.timer(&PhaseTimes::experts_ns));
      run_experts(ctx, weights, ws.ready_experts);
    }
  }

  // Weighted sum in slot order, as llama.cpp adds its per-slot expert outputs.
  float* proj = ws.proj.ptr();
  const float* ye = ws.ye.ptr();
  for (int64_t t = 0; t < T; ++t) {
    float* out = proj + t * n_embd;
    for (int s = 0; s < k; ++s) {
      const float* y = ye + static_cast<int64_t>(ws.pair_row[static_cast<size_t>(t * k + s)]) * n_embd;
      const float w = sel_w[t * k + s];
      if (s == 0) {
        for (int64_t i = 0; i < n_embd; ++i) out[i] = y[i] * w;
      } else {
        for (int64_t i = 0; i < n_embd; ++i) out[i] += y[i] * w;
      }
    }
  }

  if (L.shexp_gate != nullptr) {
    ScopedTimer timer(ctx.timer(&PhaseTimes::dense_ffn_ns));
    const int64_t n_sh = hp.n_ff_shexp;
    float* a = ws.ffn_a.ptr();
    float* b = ws.ffn_b.ptr();
    float* sh = ws.tmp.ptr();
    ctx.matmul_shared({{weight_of(*L.shexp_gate), a}, {weight_of(*L.shexp_up), b}}, xn, T);
    ops::swiglu(a, b, T * n_sh);
    ctx.matmul(weight_of(*L.shexp_down), a, T, sh);
    if (L.shexp_gate_inp != nullptr) {
      float* g = ws.shexp_gate.ptr();
      ctx.matmul(weight_of(*L.shexp_gate_inp), xn, T, g);
      for (int64_t t = 0; t < T; ++t) {
        const float gate = ops::sigmoid(g[t]);
        for (int64_t i = 0; i < n_embd; ++i) sh[t * n_embd + i] *= gate;
      }
    }
    ops::add(proj, sh, T * n_embd);
  }
  ops::add(ws.x.ptr(), proj, T * n_embd);
}

}  // namespace strata
