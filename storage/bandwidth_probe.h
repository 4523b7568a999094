#pragma once
// Measurements `strata bench` reports next to its token rates, so achieved throughput can be
// given as a fraction of what this machine's memory and disk can do.
#include <cstdint>
#include <string>

namespace strata {

struct BandwidthReport {
  uint64_t bytes = 0;
  double seconds = 0;
  double gib_per_s() const {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / (1024.0 * 1024.0 * 1024.0) : 0;
  }
};

// Read bandwidth of RAM: `threads` threads (0 = all) sum a `bytes` buffer, best of `repeats`.
// Throws strata::Error if the buffer cannot be allocated.
BandwidthReport measure_memory_bandwidth(uint64_t bytes, unsigned threads, int repeats = 5);

// Read bandwidth of the device holding `path`: `max_bytes` (whole chunks, at least one; ask for
// hundreds of MiB to measure a rate rather than a latency) of O_DIRECT reads of 4 MiB chunks
// spread evenly over the whole file (a small file is read over again), `depth` kept in flight through the
// expert store's I/O backend (so the page cache does not flatter it; falls back to buffered reads
// if O_DIRECT is refused, which `direct` then says). Throws strata::Error if the file cannot be read.
struct DiskReport : BandwidthReport {
  bool direct = true;
  std::string backend;
};
DiskReport measure_disk_bandwidth(const std::string& path, uint64_t max_bytes, unsigned depth = 32);

// Drops `path`'s pages from the page cache (posix_fadvise DONTNEED) so the next read is cold.
// Pages still mapped by a process stay. Returns false (and sets `why`) if the hint failed.
bool drop_page_cache(const std::string& path, std::string* why);

}  // namespace strata
