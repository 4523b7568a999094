#include "engine/engine.h"

#include <algorithm>

#include "common/error.h"
#include "engine/architecture.h"
#include "engine/forward.h"
#include "engine/kv_cache.h"
#include "engine/layers.h"
#include "engine/ops.h"
#include "engine/rope.h"
#include "engine/routing_trace.h"
#include "engine/routing_workload.h"
#include "engine/workspace.h"
#include "kernels/quant.h"
#include "kernels/thread_pool.h"
#include "loader/model.h"
#include "storage/expert_source.h"

namespace strata {
namespace {

// Larger chunks gain nothing (every weight is already reused across hundreds of tokens) and would
// only grow the scratch buffers.
constexpr int kMaxChunk = 4096;

int resolve_ctx(const EngineOptions& o, const Hparams& hp) {
  if (o.n_ctx < 0) fail("context size must be positive, got {}", o.n_ctx);
  if (o.n_ctx > 0) return o.n_ctx;
  return hp.n_ctx_train > 0 ? hp.n_ctx_train : 4096;
}

void check_hparams(const Hparams& hp) {
  if (hp.n_layer <= 0 || hp.n_embd <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.head_dim <= 0 ||
      hp.head_dim_v <= 0 || hp.n_vocab <= 0) {
    fail("model has invalid dimensions (layers {}, embedding {}, heads {}/{}, head size {})", hp.n_layer,
         hp.n_embd, hp.n_head, hp.n_head_kv, hp.head_dim);
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    fail("model has {} attention heads, not a multiple of its {} KV heads", hp.n_head, hp.n_head_kv);
  }
  if (!(hp.rms_eps >= 0.0f)) fail("model has an invalid RMS norm epsilon");
}

void check_embedding(const TensorRef& t, const Hparams& hp, const char* what) {
  if (t.ne[0] != hp.n_embd || t.ne[1] != hp.n_vocab || t.ne[2] != 1 || t.ne[3] != 1 ||
      !is_row_size_valid(t.type, hp.n_embd)) {
    fail("tensor '{}' ({}) has shape [{}, {}] {}, expected [{}, {}]", t.name, what, t.ne[0], t.ne[1],
         type_name(t.type), hp.n_embd, hp.n_vocab);
  }
}

}  // namespace

struct Engine::Impl {
  Impl(const Model& m, ExpertSource& e, const EngineOptions& o)
      : model(m),
        hp(m.hparams()),
        experts(e),
        options(o),
        n_ctx(resolve_ctx(o, hp)),
        n_batch(std::clamp(o.n_batch, 1, kMaxChunk)),
        arch(make_architecture(m)),
        rope(hp),
        kv(hp.n_layer, o.n_seq, n_ctx, hp.n_head_kv * hp.head_dim, hp.n_head_kv * hp.head_dim_v,
           o.kv_type),
        pool(o.n_threads) {}

  const Model& model;
  const Hparams& hp;
  ExpertSource& experts;
  EngineOptions options;
  int n_ctx;
  int n_batch;
  std::unique_ptr<Architecture> arch;
  Rope rope;
  KvCache kv;
  ThreadPool pool;
  Workspace ws;
  std::vector<float> logits;  // [n_logits, n_vocab]
  size_t n_logits = 0;
  std::vector<int> pending_len;  // validation scratch, one per sequence
  EngineStats stats;

  void validate(const Batch& batch);
  void run_chunk(const BatchToken* tokens, int n, size_t& logit_row);
};

void Engine::Impl::validate(const Batch& batch) {
  for (int s = 0; s < kv.n_seq(); ++s) pending_len[static_cast<size_t>(s)] = kv.length(s);
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchToken& t = batch[i];
    if (t.token < 0 || t.token >= hp.n_vocab) {
      fail("token id {} is out of range (vocabulary has {} tokens)", t.token, hp.n_vocab);
    }
    if (t.seq < 0 || t.seq >= kv.n_seq()) {
      fail("sequence slot {} is out of range (engine has {} slots)", t.seq, kv.n_seq());
    }
    int& len = pending_len[static_cast<size_t>(t.seq)];
    if (t.pos != len) {
      fail("sequence {}: token at position {} does not continue the sequence (next position is {})",
           t.seq, t.pos, len);
    }
    if (len >= n_ctx) {
      fail("context overflow: sequence {} would exceed the context of {} tokens", t.seq, n_ctx);
    }
    ++len;
  }
}

void Engine::Impl::run_chunk(const BatchToken* tokens, int n, size_t& logit_row) {
  ForwardContext ctx{model, hp, kv, experts, rope, ws, &pool, tokens, n};
  ctx.prefetch_depth = options.prefetch_experts ? options.prefetch_depth : 0;
  ctx.experts_predicted = &stats.experts_predicted;
  ctx.times = &stats.time;
  ctx.routing = options.routing;
  ctx.record_routing = options.record_routing;
  if (options.routing != nullptr) options.routing->begin_chunk({tokens, static_cast<size_t>(n)});
  const int64_t n_embd = hp.n_embd;

  // Embeddings.
  const TensorRef& embd = model.token_embd();
  const int64_t embd_row = row_bytes(embd.type, n_embd);
  float* x = ws.x.ptr();
  ctx.parallel_for(n, [&](int64_t t, int) {
    dequantize_row(embd.type, embd.data + static_cast<int64_t>(tokens[t].token) * embd_row, x + t * n_embd,
                   n_embd);
  });
  const int n_rot = rope.n_rot();
  for (int t = 0; t < n; ++t) rope.angles(tokens[t].pos, ws.rope.ptr() + static_cast<int64_t>(t) * n_rot);

  for (int l = 0; l < hp.n_layer; ++l) arch->forward_layer(ctx, l);

  for (int t = 0; t < n; ++t) kv.set_length(tokens[t].seq, tokens[t].pos + 1);

  // Output head only for the tokens that want logits.
  ws.logit_rows.clear();
  for (int t = 0; t < n; ++t) {
    if (tokens[t].want_logits) ws.logit_rows.push_back(t);
  }
  if (ws.logit_rows.empty()) return;
  const float* norm_w = reinterpret_cast<const float*>(model.output_norm().data);
  float* xn = ws.xn.ptr();
  for (size_t i = 0; i < ws.logit_rows.size(); ++i) {
    ops::rms_norm(x + ws.logit_rows[i] * n_embd, norm_w, xn + static_cast<int64_t>(i) * n_embd, n_embd,
                  hp.rms_eps);
  }
  const int64_t rows = static_cast<int64_t>(ws.logit_rows.size());
  ctx.matmul(weight_of(model.output()), xn, rows, logits.data() + logit_row * static_cast<size_t>(hp.n_vocab));
  logit_row += static_cast<size_t>(rows);
}

Engine::Engine(const Model& model, ExpertSource& experts, const EngineOptions& options) {
  const Hparams& hp = model.hparams();
  check_hparams(hp);
  if (options.n_seq < 1) fail("number of sequence slots must be at least 1, got {}", options.n_seq);
  if (options.n_batch < 1) fail("batch size must be at least 1, got {}", options.n_batch);
  if (options.n_threads < 0) fail("thread count must be >= 0, got {}", options.n_threads);
  if (options.prefetch_depth < 1) fail("prefetch depth must be at least 1, got {}", options.prefetch_depth);
  if (options.record_routing != nullptr && options.n_seq != 1) fail("recording the routing needs a single sequence slot");
  if (options.record_routing != nullptr && options.routing != nullptr) {
    fail("cannot record the routing while a routing workload replaces it");
  }
  if (const RoutingTrace* t = options.record_routing;
      t != nullptr && (t->n_layer() != hp.n_layer || t->n_expert() != hp.n_expert || t->n_used() != hp.n_expert_used)) {
    fail("the routing trace is shaped for {} layers of {} experts ({} used), not this model's {} of {} ({})",
         t->n_layer(), t->n_expert(), t->n_used(), hp.n_layer, hp.n_expert, hp.n_expert_used);
  }
  if (options.routing != nullptr && options.routing->n_used() != hp.n_expert_used) {
    fail("the routing workload chooses {} experts per token; the model uses {}", options.routing->n_used(),
         hp.n_expert_used);
  }
  check_embedding(model.token_embd(), hp, "token embeddings");
  check_embedding(model.output(), hp, "output projection");
  if (model.output_norm().type != TensorType::F32 || model.output_norm().elements() != hp.n_embd) {
    fail("tensor '{}' must be F32 with {} elements", model.output_norm().name, hp.n_embd);
  }
  impl_ = std::make_unique<Impl>(model, experts, options);
  impl_->arch->validate(model);
  impl_->ws.reserve(hp, impl_->n_batch, impl_->pool.n_threads(), impl_->n_ctx);
  impl_->pending_len.assign(static_cast<size_t>(options.n_seq), 0);
}

Engine::~Engine() = default;

uint64_t PhaseTimes::other_ns() const {
  const uint64_t covered = attention_ns + dense_ffn_ns + routing_ns + experts_ns + expert_wait_ns;
  return decode_ns > covered ? decode_ns - covered : 0;
}

PhaseTimes& PhaseTimes::operator-=(const PhaseTimes& o) {
  decode_ns -= o.decode_ns;
  attention_ns -= o.attention_ns;
  dense_ffn_ns -= o.dense_ffn_ns;
  routing_ns -= o.routing_ns;
  experts_ns -= o.experts_ns;
  expert_wait_ns -= o.expert_wait_ns;
  return *this;
}

void Engine::decode(const Batch& batch) {
  Impl& m = *impl_;
  ScopedTimer timer(&m.stats.time.decode_ns);
  m.validate(batch);
  size_t want = 0;
  for (const BatchToken& t : batch.tokens()) want += t.want_logits ? 1 : 0;
  const size_t need = want * static_cast<size_t>(m.hp.n_vocab);
  if (m.logits.size() < need) m.logits.resize(need);
  m.n_logits = 0;
  size_t row = 0;
  for (size_t first = 0; first < batch.size(); first += static_cast<size_t>(m.n_batch)) {
    const int n = static_cast<int>(std::min(batch.size() - first, static_cast<size_t>(m.n_batch)));
    m.run_chunk(batch.tokens().data() + first, n, row);
    m.stats.tokens_evaluated += static_cast<uint64_t>(n);
  }
  m.n_logits = row;
  ++m.stats.forward_passes;
}

std::span<const float> Engine::logits(size_t i) const {
  STRATA_CHECK(i < impl_->n_logits);
  const size_t nv = static_cast<size_t>(impl_->hp.n_vocab);
  return {impl_->logits.data() + i * nv, nv};
}

size_t Engine::n_logits() const { return impl_->n_logits; }

int Engine::seq_len(int seq) const {
  if (seq < 0 || seq >= impl_->kv.n_seq()) fail("sequence slot {} is out of range", seq);
  return impl_->kv.length(seq);
}

void Engine::clear_seq(int seq) { truncate_seq(seq, 0); }

void Engine::truncate_seq(int seq, int n_keep) {
  if (seq < 0 || seq >= impl_->kv.n_seq()) fail("sequence slot {} is out of range", seq);
  if (n_keep < 0) fail("cannot keep a negative number of positions");
  impl_->kv.set_length(seq, std::min(n_keep, impl_->kv.length(seq)));
}

const Model& Engine::model() const { return impl_->model; }
int Engine::n_vocab() const { return impl_->hp.n_vocab; }
int Engine::n_ctx() const { return impl_->n_ctx; }
int Engine::n_seq() const { return impl_->kv.n_seq(); }
int Engine::n_threads() const { return impl_->pool.n_threads(); }
TensorType Engine::kv_type() const { return impl_->kv.type(); }
const char* Engine::expert_mode() const { return impl_->experts.describe(); }
const EngineStats& Engine::stats() const { return impl_->stats; }

}  // namespace strata
