#pragma once
// Tier 1's prefetch, off the compute threads: madvise(MADV_WILLNEED) on a file mapping starts the
// page-cache reads, but the call itself can take milliseconds (page allocation, reclaim when
// memory is tight, a full block-device queue), which a compute thread would spend waiting. The
// hinter takes byte ranges tagged with the layer they were predicted for, and one thread issues
// the hints in order. Hints still queued for a layer that has meanwhile been acquired are
// dropped: acquire() makes those pages resident itself.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>

namespace strata {

class ReadaheadHinter {
 public:
  // What the thread does with each range; the default hints the pages of the range that are not
  // in the page cache yet.
  using Action = std::function<void(const uint8_t* p, uint64_t n)>;

  struct Range {
    const uint8_t* p = nullptr;
    uint64_t n = 0;
  };

  explicit ReadaheadHinter(Action action = {});
  ~ReadaheadHinter();  // drops what is still queued, finishes the hint in progress
  ReadaheadHinter(const ReadaheadHinter&) = delete;
  ReadaheadHinter& operator=(const ReadaheadHinter&) = delete;

  // Queues the ranges behind earlier ones and returns at once.
  void hint(int layer, std::span<const Range> ranges);
  // Forgets the ranges still queued for `layer`; returns how many.
  size_t cancel(int layer);
  // Blocks until the queue is empty and no hint is in progress (for tests).
  void drain();

 private:
  struct Item {
    int layer;
    Range range;
  };
  void loop();

  Action action_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata
