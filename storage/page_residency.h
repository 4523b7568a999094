#pragma once
// Tier 1 helpers: getting mapped file pages resident before compute touches them, and counting
// the major page faults that slip through.
#include <cstdint>
#include <span>
#include <vector>

namespace strata {

// Asks the kernel to start reading [p, p+n) of a file mapping (madvise WILLNEED, widened to
// whole pages). Never blocks on I/O and never fails: a refused hint only costs speed.
void advise_willneed(const uint8_t* p, uint64_t n);

// Whether every page of [p, p+n) is in the page cache (mincore). Much cheaper than asking the
// kernel to fault in or read ahead a range that is already there. False if mincore fails.
bool is_resident(const uint8_t* p, uint64_t n);

// Makes [p, p+n) of a read-only mapping resident, blocking until it is (MADV_POPULATE_READ,
// or touching one byte per page on kernels without it). Thread-safe.
void populate_read(const uint8_t* p, uint64_t n);

struct PrefaultReport {
  uint64_t bytes = 0;
  double seconds = 0;
  unsigned threads = 0;
  double gib_per_s() const {
    return seconds > 0 ? static_cast<double>(bytes) / seconds / (1024.0 * 1024.0 * 1024.0) : 0;
  }
};

// Populates all `ranges` with `threads` threads (0 = hardware concurrency) working on 32 MiB
// chunks, and reports how fast it went.
PrefaultReport prefault_parallel(const std::vector<std::span<const uint8_t>>& ranges,
                                 unsigned threads);

// Major page faults of the whole process so far (getrusage RUSAGE_SELF).
uint64_t process_major_faults();

// Bytes this process has caused to be read from storage so far (`read_bytes` of /proc/self/io):
// page-cache misses of mappings and reads alike, O_DIRECT reads included, cache hits not. The
// one measure of disk traffic that covers every expert mode. 0 where the kernel does not
// account I/O per task.
uint64_t process_storage_read_bytes();

}  // namespace strata
