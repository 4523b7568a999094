#include "engine/attention.h"

#include <algorithm>
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

  // A task is one token and up to kMaxAttnHeads query heads of one GQA group: they share the
  // group's key and value rows, which the kernels then read once for all of them.
  const int chunk = std::min(group, kMaxAttnHeads);
  const int chunks_per_group = (group + chunk - 1) / chunk;
  const int64_t tasks_per_token = static_cast<int64_t>(hp.n_head_kv) * chunks_per_group;
  ctx.parallel_for(static_cast<int64_t>(ctx.n_tokens) * tasks_per_token, [&](int64_t task, int thread) {
    const int64_t t = task / tasks_per_token;
    const int kvh = static_cast<int>(task % tasks_per_token) / chunks_per_group;
    const int h0 = kvh * group + (static_cast<int>(task % tasks_per_token) % chunks_per_group) * chunk;
    const int nq = std::min(chunk, (kvh + 1) * group - h0);
    const BatchToken& bt = ctx.tokens[t];
    const float* qh = q + t * qw + static_cast<int64_t>(h0) * hd;
    float* scores = ctx.ws.scores.ptr() + static_cast<int64_t>(thread) * kMaxAttnHeads * n_ctx;
    const int n = bt.pos + 1;
    float s[kMaxAttnHeads];

    // The same loops over F16 or F32 cache rows.
    auto over_rows = [&](const auto* k0, const auto* v0, auto dot, auto axpy) {
      for (int j = 0; j < n; ++j) {
        dot(qh, hd, nq, k0 + static_cast<int64_t>(j) * kw, hd, s);
        for (int g = 0; g < nq; ++g) scores[g * n_ctx + j] = s[g] * scale;
      }
      for (int g = 0; g < nq; ++g) ops::softmax(scores + g * n_ctx, n);
      float* o = out + t * ow + static_cast<int64_t>(h0) * hdv;
      std::fill(o, o + static_cast<int64_t>(nq) * hdv, 0.0f);
      for (int j = 0; j < n; ++j) {
        for (int g = 0; g < nq; ++g) s[g] = scores[g * n_ctx + j];
        axpy(o, hdv, s, nq, v0 + static_cast<int64_t>(j) * vw, hdv);
      }
    };
    const void* k_base = ctx.kv.k_row(layer, bt.seq, 0);
    const void* v_base = ctx.kv.v_row(layer, bt.seq, 0);
    if (f16) {
      over_rows(static_cast<const uint16_t*>(k_base) + kvh * hd, static_cast<const uint16_t*>(v_base) + kvh * hdv,
                kern.dot_f16, kern.axpy_f16);
    } else {
      over_rows(static_cast<const float*>(k_base) + kvh * hd, static_cast<const float*>(v_base) + kvh * hdv,
                kern.dot_f32, kern.axpy_f32);
    }
  });
}

}  // namespace strata
