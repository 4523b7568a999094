#pragma once
// State shared by the layer functions during one forward chunk. Internal to the engine.
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/kv_cache.h"
#include "engine/rope.h"
#include "engine/workspace.h"
#include "kernels/thread_pool.h"
#include "loader/model.h"
#include "storage/expert_source.h"

namespace strata {

// Adds the wall time of its scope to *sink_ns (does nothing for a null sink).
class ScopedTimer {
 public:
  explicit ScopedTimer(uint64_t* sink_ns) : sink_(sink_ns) {
    if (sink_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~ScopedTimer() {
    if (sink_ != nullptr) {
      *sink_ += static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count());
    }
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  uint64_t* sink_;
  std::chrono::steady_clock::time_point start_;
};

// A weight matrix: `rows` outputs, each a row of `cols` inputs in `type`'s layout.
struct Weight {
  const uint8_t* data = nullptr;
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
};
Weight weight_of(const TensorRef& t);
Weight weight_of(const ExpertMatrix& m);

struct ForwardContext {
  const Model& model;
  const Hparams& hp;
  KvCache& kv;
  ExpertSource& experts;
  const Rope& rope;
  Workspace& ws;
  ThreadPool* pool = nullptr;

  // The chunk being evaluated.
  const BatchToken* tokens = nullptr;
  int n_tokens = 0;

  // Expert prediction for the next prefetch_depth layers (EngineOptions::prefetch_experts and
  // prefetch_depth; 0 = off); moe_ffn_block adds the number of experts it hinted to
  // *experts_predicted.
  int prefetch_depth = 0;
  uint64_t* experts_predicted = nullptr;
  // EngineOptions::routing / record_routing (null when unused).
  RoutingWorkload* routing = nullptr;
  RoutingTrace* record_routing = nullptr;
  // Phase wall times (EngineStats::time); the blocks add to it when it is set.
  PhaseTimes* times = nullptr;

  // Runs fn(task, thread) for task in [0, n_tasks) on the engine's threads; returns when all
  // are done. thread < n_threads.
  template <typename Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) const {
    pool->parallel_for(n_tasks, std::forward<Fn>(fn));
  }

  // y[t * w.rows + r] = sum_c W[r][c] * x[t * w.cols + c] for t < n (activations rounded to the
  // weight's dot type, as llama.cpp does).
  void matmul(const Weight& w, const float* x, int64_t n, float* y) const;
  // Several matrices applied to the same input (q/k/v, gate/up): x is rounded to each dot type
  // once, not once per matrix.
  struct Output {
    Weight w;
    float* y;
  };
  void matmul_shared(std::initializer_list<Output> outs, const float* x, int64_t n) const;

  // Where the phase timers of ScopedTimer go: &times->*field, or null when timing is off.
  uint64_t* timer(uint64_t PhaseTimes::*field) const { return times != nullptr ? &(times->*field) : nullptr; }
};

}  // namespace strata
