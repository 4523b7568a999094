#include "storage/readahead_hinter.h"

#include <algorithm>

#include "storage/page_residency.h"

namespace strata {

ReadaheadHinter::ReadaheadHinter(Action action) : action_(std::move(action)) {
  if (!action_) {
    action_ = [](const uint8_t* p, uint64_t n) {
      if (!is_resident(p, n)) advise_willneed(p, n);
    };
  }
  thread_ = std::thread([this] { loop(); });
}

ReadaheadHinter::~ReadaheadHinter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  thread_.join();
}

void ReadaheadHinter::hint(int layer, std::span<const Range> ranges) {
  if (ranges.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (const Range& r : ranges) queue_.push_back({layer, r});
  }
  wake_.notify_one();
}

size_t ReadaheadHinter::cancel(int layer) {
  std::lock_guard lock(mutex_);
  const auto end = std::remove_if(queue_.begin(), queue_.end(), [&](const Item& i) { return i.layer == layer; });
  const auto n = static_cast<size_t>(queue_.end() - end);
  queue_.erase(end, queue_.end());
  if (queue_.empty() && !busy_) idle_.notify_all();
  return n;
}

void ReadaheadHinter::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void ReadaheadHinter::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const Item item = queue_.front();
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    action_(item.range.p, item.range.n);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace strata
