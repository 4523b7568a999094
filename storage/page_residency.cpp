#include "storage/page_residency.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <cstdio>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace strata {
namespace {

uint64_t page_size() {
  static const uint64_t size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

// [p, p+n) widened to whole pages.
std::pair<uint8_t*, uint64_t> page_range(const uint8_t* p, uint64_t n) {
  const uint64_t ps = page_size();
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = a / ps * ps;
  const uintptr_t hi = (a + n + ps - 1) / ps * ps;
  return {reinterpret_cast<uint8_t*>(lo), hi - lo};
}

}  // namespace

void advise_willneed(const uint8_t* p, uint64_t n) {
  if (p == nullptr || n == 0) return;
  auto [lo, len] = page_range(p, n);
  ::madvise(lo, len, MADV_WILLNEED);
}

bool is_resident(const uint8_t* p, uint64_t n) {
  if (p == nullptr || n == 0) return true;
  auto [lo, len] = page_range(p, n);
  thread_local std::vector<unsigned char> pages;
  pages.resize(len / page_size());
  if (::mincore(lo, len, pages.data()) != 0) return false;
  return std::all_of(pages.begin(), pages.end(), [](unsigned char v) { return (v & 1) != 0; });
}

void populate_read(const uint8_t* p, uint64_t n) {
  if (p == nullptr || n == 0) return;
  auto [lo, len] = page_range(p, n);
#ifdef MADV_POPULATE_READ
  if (::madvise(lo, len, MADV_POPULATE_READ) == 0) return;
#endif
  const uint64_t ps = page_size();
  volatile uint8_t sink = 0;
  for (uint64_t off = 0; off < len; off += ps) sink = sink + *reinterpret_cast<volatile const uint8_t*>(lo + off);
}

PrefaultReport prefault_parallel(const std::vector<std::span<const uint8_t>>& ranges,
                                 unsigned threads) {
  constexpr uint64_t kChunk = 32ull << 20;
  std::vector<std::span<const uint8_t>> chunks;
  PrefaultReport report;
  for (const auto& r : ranges) {
    report.bytes += r.size();
    for (uint64_t off = 0; off < r.size(); off += kChunk) {
      chunks.push_back(r.subspan(off, std::min<uint64_t>(kChunk, r.size() - off)));
    }
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(chunks.size(), 1)));
  report.threads = threads;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < chunks.size();) {
      populate_read(chunks[i].data(), chunks[i].size());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

uint64_t process_major_faults() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_majflt);
}

uint64_t process_storage_read_bytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char line[128];
  uint64_t bytes = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long long v = 0;
    if (std::sscanf(line, "read_bytes: %llu", &v) == 1) {
      bytes = v;
      break;
    }
  }
  std::fclose(f);
  return bytes;
}

}  // namespace strata
