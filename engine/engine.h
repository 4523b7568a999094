#pragma once
// The forward pass: token ids in, logits out, with a KV cache per sequence slot.
//
//   auto model = Model::open(path);
//   MmapExpertSource experts(*model);
//   Engine engine(*model, experts, {.n_ctx = 4096, .n_seq = 4});
//   Batch b; b.add_sequence(prompt, /*seq*/0, /*pos*/0, /*logits_last*/true);
//   engine.decode(b);                       // prefill
//   auto row = engine.logits(0);            // n_vocab floats
//
// Everything model-specific comes from the model's Hparams and tensors; the per-architecture layer
// code lives in engine/arch/.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/batch.h"
#include "kernels/tensor_type.h"

namespace strata {

class Model;
class ExpertSource;
class RoutingTrace;
class RoutingWorkload;

struct EngineOptions {
  int n_ctx = 4096;    // tokens per sequence slot; 0 = the model's training context
  int n_seq = 1;       // number of sequence slots
  int n_batch = 512;   // scratch is sized for this many tokens (at most 4096); larger batches
                       // run in chunks
  TensorType kv_type = TensorType::F16;  // F16 or F32
  int n_threads = 0;   // 0 = all hardware threads
  // When a MoE layer starts (after its attention), predict the next MoE layer's experts by
  // applying that layer's router to the current hidden state and pass them to
  // ExpertSource::prefetch, so a tiered store reads them while this layer's experts and the next
  // layer's attention compute. Costs one small router matmul per layer; useless for mmap-only.
  bool prefetch_experts = false;
  // How many MoE layers ahead to predict (with prefetch_experts): each further layer gives its
  // reads one more layer's compute time to land, at some loss of prediction precision.
  int prefetch_depth = 1;
  // Storage studies only (bench --routing): a synthetic or replayed workload chooses the experts
  // instead of the routers, so outputs are no longer the model's. Not owned; outlives the engine.
  RoutingWorkload* routing = nullptr;
  // Records what the routers chose (run --record-routing), token index = position; needs
  // n_seq == 1. Not owned; outlives the engine.
  RoutingTrace* record_routing = nullptr;
};

// Where decode() spent its wall time. Every phase runs on all the engine's threads together, so
// the phases partition the decode time: what none of them covers (embeddings, the output head,
// combining expert outputs) is other_ns().
struct PhaseTimes {
  uint64_t decode_ns = 0;       // all of decode()
  uint64_t attention_ns = 0;    // norm, q/k/v/o projections, RoPE, attention over the KV cache
  uint64_t dense_ffn_ns = 0;    // dense FFN layers and shared experts (weights always resident)
  uint64_t routing_ns = 0;      // routers, top-k, and predicting the next layers' experts
  uint64_t experts_ns = 0;      // routed expert FFNs
  uint64_t expert_wait_ns = 0;  // in the expert source: acquiring experts, waiting for reads to land
  uint64_t other_ns() const;
  PhaseTimes& operator-=(const PhaseTimes& o);
};

struct EngineStats {
  uint64_t tokens_evaluated = 0;
  uint64_t forward_passes = 0;
  uint64_t experts_predicted = 0;  // (layer, expert) pairs passed to prefetch()
  PhaseTimes time;
};

class Engine {
 public:
  // Prepares the architecture, KV cache and scratch for `model`. `experts` supplies routed expert
  // weights and must outlive the engine. Throws strata::Error for an architecture the engine
  // cannot run, a bad option (kv_type not F16/F32, n_seq < 1, ...) or a cache too large to
  // allocate.
  Engine(const Model& model, ExpertSource& experts, const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One forward pass over `batch`. Each sequence's tokens must continue it: their positions,
  // in batch order, are seq_len(seq), seq_len(seq)+1, ... Throws strata::Error (and changes no
  // sequence) for a token id out of range, a bad slot, a position gap or a context overflow.
  // Not thread-safe: one decode at a time per engine (it uses all its threads internally).
  void decode(const Batch& batch);

  // Logits of the i-th token (in batch order) of the last batch that asked for logits;
  // valid until the next decode(). n_logits() rows are available.
  std::span<const float> logits(size_t i) const;
  size_t n_logits() const;

  // Tokens cached for `seq`.
  int seq_len(int seq) const;
  // Forgets a sequence (its slot becomes empty).
  void clear_seq(int seq);
  // Keeps the first `n_keep` positions of `seq` and forgets the rest (prefix reuse).
  void truncate_seq(int seq, int n_keep);

  const Model& model() const;
  int n_vocab() const;
  int n_ctx() const;
  int n_seq() const;
  int n_threads() const;
  TensorType kv_type() const;
  const char* expert_mode() const;  // the ExpertSource's description
  const EngineStats& stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
