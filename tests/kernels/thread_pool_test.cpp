#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace strata {
namespace {

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.n_threads(), threads);
    for (int64_t n : {0, 1, 2, 7, 100, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<bool> bad_thread{false};
      pool.parallel_for(n, [&](int64_t task, int thread) {
        if (thread < 0 || thread >= threads) bad_thread = true;
        hits[static_cast<size_t>(task)].fetch_add(1);
      });
      EXPECT_FALSE(bad_thread);
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "threads=" << threads << " n=" << n;
    }
  }
}

TEST(ThreadPool, ManyBackToBackCallsSeeCompletedWork) {
  // Each call depends on the previous call's results: a missing barrier shows up as a wrong sum.
  ThreadPool pool(4);
  std::vector<int64_t> v(64, 1);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<int64_t> next(v.size());
    pool.parallel_for(static_cast<int64_t>(v.size()), [&](int64_t t, int) {
      next[static_cast<size_t>(t)] = v[static_cast<size_t>(t)] + v[static_cast<size_t>((t + 1) % 64)] % 7;
    });
    v.swap(next);
  }
  // Same recurrence computed serially.
  std::vector<int64_t> s(64, 1);
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<int64_t> next(s.size());
    for (size_t t = 0; t < 64; ++t) next[t] = s[t] + s[(t + 1) % 64] % 7;
    s.swap(next);
  }
  EXPECT_EQ(v, s);
}

TEST(ThreadPool, PerThreadScratchIsPrivate) {
  ThreadPool pool(3);
  std::vector<int64_t> per_thread(3, 0);
  pool.parallel_for(10000, [&](int64_t task, int thread) { per_thread[static_cast<size_t>(thread)] += task; });
  int64_t total = 0;
  for (int64_t x : per_thread) total += x;
  EXPECT_EQ(total, int64_t{10000} * 9999 / 2);
}

TEST(ThreadPool, DefaultSizeUsesHardware) {
  ThreadPool pool;
  EXPECT_GE(pool.n_threads(), 1);
}

}  // namespace
}  // namespace strata
