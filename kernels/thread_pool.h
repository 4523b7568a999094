#pragma once
// A fixed pool of worker threads for the many small parallel loops of a forward pass.
//
// Dispatch is allocation-free: parallel_for publishes the job by bumping a generation number that
// shares one atomic word with the next-task index; idle workers spin briefly (a decode step
// issues ~1500 matmuls back to back), then sleep on that word (std::atomic::wait), so an idle
// pool costs no CPU. The caller claims tasks too and only waits for tasks that other threads have
// actually started, so a worker the OS has not scheduled yet never delays the caller.
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace strata {

class ThreadPool {
 public:
  // n_threads counts the caller: n_threads - 1 workers are started. 0 means one per hardware
  // thread (std::thread::hardware_concurrency, at least 1).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(task, thread) for every task in [0, n_tasks) (n_tasks < 2^24), spread over the
  // pool; thread is in [0, n_threads()) and identifies the executing thread (0 = caller), e.g. to
  // index per-thread scratch. Blocks until all tasks finished. One thread drives a pool: not
  // re-entrant, not for concurrent callers. fn must not throw (an escaping exception terminates).
  template <typename Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker(int thread);
  // Claims and runs tasks of generation gen until none are left; returns how many it ran.
  int64_t work(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  // Job description, written by the caller before it publishes a new generation in state_ and
  // left untouched until every task of that generation completed; a thread reads them only
  // after claiming a task.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  // Bits 63-48: generation (wraps); 47-24: task count; 23-0: next unclaimed task. One word, so a
  // claim (CAS) can only succeed on the job that is current.
  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<int64_t> completed_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace strata
