#include "engine/attention.h"

#include <cmath>

#include "engine/attention_kernels.h"
#include "engine/ops.h"

namespace strata {

void attend(ForwardContext& ctx, int layer, const float* q, float* out) {
  const Hparams& hp = ctx.hp;
  const int hd = hp.head_dim;
  const int hdv = hp.head_dim_v;
  const int group = hp.n_head / hp.n_head_kv;
  const int64_t qw = static_cast<int64_t>(hp.n_head) * hd;
  const int64_t ow = static_cast<int64_t>(hp.n_head) * hdv;
  const int kw = ctx.kv.k_width();
  const int vw = ctx.kv.v_width();
  const bool f16 = ctx.kv.type() == TensorType::F16;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int n_ctx = ctx.kv.n_ctx();
  const AttentionKernels& kern = attention_kernels();

  ctx.parallel_for(static_cast<int64_t>(ctx.n_tokens) * hp.n_head, [&](int64_t task, int thread) {
    const int64_t t = task / hp.n_head;
    const int h = static_cast<int>(task % hp.n_head);
    const int kvh = h / group;
    const BatchToken& bt = ctx.tokens[t];
    const float* qh = q + t * qw + static_cast<int64_t>(h) * hd;
    float* scores = ctx.ws.scores.ptr() + static_cast<int64_t>(thread) * n_ctx;
    const int n = bt.pos + 1;

    if (f16) {
      const auto* k0 = static_cast<const uint16_t*>(ctx.kv.k_row(layer, bt.seq, 0)) + kvh * hd;
      for (int j = 0; j < n; ++j) scores[j] = kern.dot_f16(qh, k0 + static_cast<int64_t>(j) * kw, hd) * scale;
    } else {
      const auto* k0 = static_cast<const float*>(ctx.kv.k_row(layer, bt.seq, 0)) + kvh * hd;
      for (int j = 0; j < n; ++j) scores[j] = kern.dot_f32(qh, k0 + static_cast<int64_t>(j) * kw, hd) * scale;
    }
    ops::softmax(scores, n);

    float* o = out + t * ow + static_cast<int64_t>(h) * hdv;
    for (int d = 0; d < hdv; ++d) o[d] = 0.0f;
    if (f16) {
      const auto* v0 = static_cast<const uint16_t*>(ctx.kv.v_row(layer, bt.seq, 0)) + kvh * hdv;
      for (int j = 0; j < n; ++j) kern.axpy_f16(o, scores[j], v0 + static_cast<int64_t>(j) * vw, hdv);
    } else {
      const auto* v0 = static_cast<const float*>(ctx.kv.v_row(layer, bt.seq, 0)) + kvh * hdv;
      for (int j = 0; j < n; ++j) kern.axpy_f32(o, scores[j], v0 + static_cast<int64_t>(j) * vw, hdv);
    }
  });
}

}  // namespace strata
