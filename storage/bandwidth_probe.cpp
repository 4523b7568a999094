#include "storage/bandwidth_probe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/error.h"
#include "storage/io_backend.h"

namespace strata {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

uint64_t sum_words(const uint64_t* p, size_t n) {
  // Four independent accumulators so the loop is bound by loads, not by one add chain.
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

}  // namespace

BandwidthReport measure_memory_bandwidth(uint64_t bytes, unsigned threads, int repeats) {
  bytes = std::max<uint64_t>(bytes / 4096 * 4096, 4096);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate {} bytes to measure memory bandwidth", bytes);
  // Huge pages where the kernel has them: with 4 KiB pages on a fragmented machine the probe
  // measures TLB misses (half the bandwidth, seen here), not the memory.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  const size_t n = bytes / 8;
  // Distinct contents: identical pages may be merged (KSM on a VM's host), and then the probe
  // reads one page from cache.
  auto* fill = static_cast<uint64_t*>(p);
  for (size_t i = 0; i < n; ++i) fill[i] = i * 0x9E3779B97F4A7C15ull;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const auto* words = static_cast<const uint64_t*>(p);
  BandwidthReport best;
  std::atomic<uint64_t> sink{0};
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        sink += sum_words(words + lo, hi - lo);
      });
    }
    for (std::thread& th : pool) th.join();
    const double s = seconds_since(start);
    if (best.seconds == 0 || s < best.seconds) best = {bytes, s};
  }
  ::munmap(p, bytes);
  return best;
}

DiskReport measure_disk_bandwidth(const std::string& path, uint64_t max_bytes, unsigned depth) {
  DiskReport report;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    report.direct = false;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) fail("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st{};
  ::fstat(fd, &st);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size) / 4096 * 4096;
  if (file_size == 0) {
    ::close(fd);
    fail("'{}' is too small to measure disk bandwidth", path);
  }
  const uint64_t kChunk = std::min<uint64_t>(4ull << 20, file_size);
  // Chunks spread evenly over the whole file, as expert reads are; a small file is read over
  // again.
  const uint64_t total = std::max<uint64_t>(max_bytes / kChunk, 1);
  const uint64_t slots = file_size / kChunk;  // distinct chunk positions
  const uint64_t stride = std::max<uint64_t>(slots / std::min(slots, total), 1) * kChunk;
  const unsigned inflight = static_cast<unsigned>(std::min<uint64_t>(depth, total));
  void* buf = std::aligned_alloc(4096, inflight * kChunk);
  if (buf == nullptr) {
    ::close(fd);
    fail("cannot allocate disk bandwidth buffers");
  }
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t done = 0;
  std::string error;
  IoConfig config;
  config.alignment = 4096;
  config.depth = inflight;
  std::unique_ptr<IoBackend> backend;
  {
    std::string why;
    backend = make_io_backend(config, [&](const ReadCompletion& c) {
      std::lock_guard lock(mutex);
      ++done;
      if (!c.ok && error.empty()) error = c.error;
      cv.notify_all();
    }, &why);
  }
  report.backend = backend->name();
  // Everything is submitted at once and the backend keeps `inflight` reads going, so the device
  // queue never drains between waves. Reads share `inflight` buffers; their content is discarded.
  std::vector<ReadRequest> batch;
  for (uint64_t c = 0; c < total; ++c) {
    const uint64_t offset = (c * stride) % (slots * kChunk);
    batch.push_back({fd, offset, kChunk, kChunk, static_cast<uint8_t*>(buf) + (c % inflight) * kChunk, c});
  }
  const auto start = std::chrono::steady_clock::now();
  backend->submit(std::move(batch));
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return done >= total; });
  }
  report.seconds = seconds_since(start);
  report.bytes = total * kChunk;
  backend.reset();
  std::free(buf);
  ::close(fd);
  if (!error.empty()) fail("reading '{}' to measure disk bandwidth failed: {}", path, error);
  return report;
}

bool drop_page_cache(const std::string& path, std::string* why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (why != nullptr) *why = fmt::format("cannot open '{}': {}", path, std::strerror(errno));
    return false;
  }
  ::fdatasync(fd);
  const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) {
    if (why != nullptr) *why = fmt::format("posix_fadvise: {}", std::strerror(rc));
    return false;
  }
  return true;
}

}  // namespace strata
