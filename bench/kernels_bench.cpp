// GEMV/GEMM throughput of the dispatched kernels, as GB/s of weight bytes streamed, next to the
// machine's measured memory read bandwidth. Decode is memory-bound, so the ratio says how close
// a type's kernel comes to the hardware limit. Weights rotate through copies totalling 4x the
// last-level cache so every GEMV reads from DRAM, as a real model's weights do.
//
//   build-<you>/bench/kernels_bench [--benchmark_filter=q4_K]
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/thread_pool.h"

namespace strata {
namespace {

constexpr size_t kPoolBytes = size_t{128} << 20;
double g_mem_bw_1 = 0, g_mem_bw_2 = 0;  // GB/s, 1 and 2 threads
double g_mem_bw_cpu = 0;                // GB per CPU-second of the reading thread

// CPU time of the calling thread: on a shared, oversubscribed machine wall-clock rates mostly
// measure the scheduler, while bytes per CPU-second still measure the kernel.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Aligned {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, Aligned>;

Buffer alloc(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  std::memset(p, 1, bytes);  // fault the pages in before timing
  return Buffer(p);
}

__attribute__((target("avx2"))) uint64_t read_sum(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 3));
}

// Best of several passes over a buffer far larger than the caches, split over the pool.
double measure_read_bandwidth(ThreadPool& pool) {
  const size_t n = size_t{512} << 20;
  Buffer buf = alloc(n);
  std::vector<uint64_t> sink(static_cast<size_t>(pool.n_threads()));
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    if (pool.n_threads() == 1) {
      const double c0 = thread_cpu_seconds();
      sink[0] += read_sum(buf.get(), n);
      g_mem_bw_cpu = std::max(g_mem_bw_cpu, static_cast<double>(n) / (thread_cpu_seconds() - c0) / 1e9);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t chunks = 64;
    pool.parallel_for(chunks, [&](int64_t c, int thread) {
      sink[static_cast<size_t>(thread)] += read_sum(buf.get() + c * (n / chunks), n / chunks);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) / s / 1e9);
  }
  benchmark::DoNotOptimize(sink.data());
  return best;
}

struct Matrix {
  std::vector<Buffer> copies;
  std::vector<WeightView> views;
  size_t bytes = 0;
};

Matrix make_matrix(TensorType type, int64_t rows, int64_t cols) {
  Matrix m;
  m.bytes = static_cast<size_t>(row_bytes(type, cols) * rows);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.f, 0.02f);
  std::vector<float> row(static_cast<size_t>(cols));
  Buffer first = alloc(m.bytes);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    quantize_row(type, row.data(), first.get() + r * row_bytes(type, cols), cols);
  }
  const size_t n_copies = std::max<size_t>(2, kPoolBytes / m.bytes);
  for (size_t i = 0; i < n_copies; ++i) {
    Buffer b = alloc(m.bytes);
    std::memcpy(b.get(), first.get(), m.bytes);
    m.views.push_back(make_weight_view(b.get(), type, rows, cols));
    m.copies.push_back(std::move(b));
  }
  return m;
}

void bm_matmul(benchmark::State& state, TensorType type, int64_t rows, int64_t cols, int threads, int64_t n_tokens) {
  ThreadPool pool(threads);
  Matrix m = make_matrix(type, rows, cols);
  std::vector<float> x(static_cast<size_t>(cols * n_tokens)), y(static_cast<size_t>(rows * n_tokens));
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (auto& v : x) v = dist(rng);
  QuantizedActivations ws;
  size_t i = 0;
  const double c0 = thread_cpu_seconds();
  for (auto _ : state) {
    matmul(m.views[i], x.data(), n_tokens, y.data(), pool, ws);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % m.views.size();
  }
  if (threads == 1) {
    // Weight GB per CPU-second of the (only) thread, and its ratio to the same measure of memory.
    const double gb = static_cast<double>(m.bytes) * static_cast<double>(state.iterations()) / 1e9;
    const double cpu_rate = gb / (thread_cpu_seconds() - c0);
    state.counters["GB/cpu_s"] = cpu_rate;
    state.counters["of_mem_cpu"] = cpu_rate / (g_mem_bw_cpu > 0 ? g_mem_bw_cpu : 1);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.bytes));
  const double gbs_counter = static_cast<double>(m.bytes) / 1e9;
  state.counters["GB/s"] = benchmark::Counter(gbs_counter, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols * n_tokens) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  // Ratio to the memory read bandwidth with the same thread count (1.0 = at the DRAM limit).
  const double bw = threads == 1 ? g_mem_bw_1 : g_mem_bw_2;
  state.counters["of_mem_bw"] =
      benchmark::Counter(gbs_counter / (bw > 0 ? bw : 1), benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const TensorType types[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::MXFP4, TensorType::Q4_K,
                              TensorType::Q5_K, TensorType::Q6_K, TensorType::F16,   TensorType::BF16,
                              TensorType::F32};
  const struct {
    int64_t rows, cols;
  } shapes[] = {{768, 2048}, {4096, 2048}};
  for (int64_t n_tokens : {int64_t{1}, int64_t{32}}) {
    for (const auto& s : shapes) {
      for (TensorType t : types) {
        for (int threads : {1, 2}) {
          const std::string name = std::string(n_tokens == 1 ? "gemv/" : "gemm32/") + std::string(type_name(t)) +
                                   "/" + std::to_string(s.rows) + "x" + std::to_string(s.cols) + "/threads:" +
                                   std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), bm_matmul, t, s.rows, s.cols, threads, n_tokens)
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime()
              ->MinTime(0.3);
        }
      }
    }
  }
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  using namespace strata;
  benchmark::Initialize(&argc, argv);
  {
    ThreadPool p1(1), p2(2);
    g_mem_bw_1 = measure_read_bandwidth(p1);
    g_mem_bw_2 = measure_read_bandwidth(p2);
  }
  std::printf("kernels: %s (cpu: %s)\n", std::string(kernel_isa_name()).c_str(), cpu_features().describe().c_str());
  std::printf("memory read bandwidth: %.2f GB/s (1 thread), %.2f GB/s (2 threads), %.2f GB per CPU-second\n",
              g_mem_bw_1, g_mem_bw_2, g_mem_bw_cpu);
  std::printf("of_mem_bw = weight GB/s / memory read GB/s with the same thread count; of_mem_cpu = the same\n"
              "ratio per CPU-second of the thread (1 thread only; robust when the machine is shared)\n");
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
