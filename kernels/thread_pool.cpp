#include "kernels/thread_pool.h"

#include <immintrin.h>

#include <algorithm>

#include "common/error.h"

namespace strata {
namespace {

// Roughly 50-100 us of polling before a worker sleeps: bridges the gap between consecutive
// matmuls of one token without burning a core when the engine is idle.
constexpr int kSpinIterations = 4000;

constexpr int64_t kMaxTasks = int64_t{1} << 24;
uint32_t gen_of(uint64_t s) { return static_cast<uint32_t>(s >> 48); }
int64_t count_of(uint64_t s) { return static_cast<int64_t>((s >> 24) & (kMaxTasks - 1)); }
int64_t task_of(uint64_t s) { return static_cast<int64_t>(s & (kMaxTasks - 1)); }
uint64_t make_state(uint32_t gen, int64_t count) {
  return (static_cast<uint64_t>(gen & 0xffff) << 48) | (static_cast<uint64_t>(count) << 24);
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  state_.store(make_state(gen_of(state_.load()) + 1, 0));
  state_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t ThreadPool::work(int thread) {
  int64_t done = 0;
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (task_of(s) >= count_of(s)) break;
    // A CAS on the whole word rather than fetch_add: whatever generation s belongs to, the claim
    // only succeeds while it is still the current one.
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn_(ctx_, task_of(s), thread);
    ++done;
    s = state_.load(std::memory_order_acquire);
  }
  return done;
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  STRATA_CHECK(n_tasks < kMaxTasks);
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  completed_.store(0, std::memory_order_relaxed);
  const uint32_t gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
  // Publishing the new generation with task index 0 releases the job fields above.
  state_.store(make_state(gen, n_tasks), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) state_.notify_all();
  const int64_t mine = work(0);
  if (mine < n_tasks) {
    completed_.fetch_add(mine, std::memory_order_acq_rel);
    // Only tasks that other threads already started remain; wait for them, politely when the
    // machine is oversubscribed.
    for (int spin = 0; completed_.load(std::memory_order_acquire) != n_tasks; ++spin) {
      if (spin < kSpinIterations) {
        _mm_pause();
      } else {
        std::this_thread::yield();
      }
    }
  }
}

void ThreadPool::worker(int thread) {
  uint32_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int spin = 0; gen_of(s) == seen && spin < kSpinIterations; ++spin) {
      _mm_pause();
      s = state_.load(std::memory_order_acquire);
    }
    if (gen_of(s) == seen) {
      // Announce the sleep before re-checking the word inside wait(), so that the caller either
      // sees a sleeper and notifies, or this wait sees the new generation.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      state_.wait(s, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    seen = gen_of(s);
    if (stop_.load(std::memory_order_acquire)) return;
    const int64_t done = work(thread);
    if (done > 0) completed_.fetch_add(done, std::memory_order_acq_rel);
  }
}

}  // namespace strata
