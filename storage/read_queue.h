#pragma once
// The reads a backend has been given but not yet started, in two classes: urgent (a computation
// waits for them) before speculative (prefetch). Backends keep only a bounded number of reads in
// flight and take the rest from here, so a demand miss overtakes the prefetches queued before it
// instead of waiting behind them in the device queue. Not thread-safe: the backend locks.
#include <algorithm>
#include <deque>
#include <optional>
#include <span>

#include "storage/read_request.h"

namespace strata {

class ReadQueue {
 public:
  void push(const ReadRequest& r) { (r.urgent ? urgent_ : speculative_).push_back(r); }

  // Queued speculative reads with one of these tags become urgent, keeping their order.
  void expedite(std::span<const uint64_t> tags) {
    if (tags.empty() || speculative_.empty()) return;
    auto is_wanted = [&](const ReadRequest& r) { return std::find(tags.begin(), tags.end(), r.tag) != tags.end(); };
    for (auto it = speculative_.begin(); it != speculative_.end();) {
      if (is_wanted(*it)) {
        urgent_.push_back(*it);
        urgent_.back().urgent = true;
        it = speculative_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Removes the queued reads with one of these tags, but only if exactly `expected` are queued,
  // i.e. none has started; returns whether it removed them.
  bool withdraw(std::span<const uint64_t> tags, size_t expected) {
    auto is_wanted = [&](const ReadRequest& r) { return std::find(tags.begin(), tags.end(), r.tag) != tags.end(); };
    const auto queued = static_cast<size_t>(std::count_if(urgent_.begin(), urgent_.end(), is_wanted) +
                                            std::count_if(speculative_.begin(), speculative_.end(), is_wanted));
    if (queued != expected) return false;
    std::erase_if(urgent_, is_wanted);
    std::erase_if(speculative_, is_wanted);
    return true;
  }

  std::optional<ReadRequest> pop() {
    std::deque<ReadRequest>& q = urgent_.empty() ? speculative_ : urgent_;
    if (q.empty()) return std::nullopt;
    ReadRequest r = q.front();
    q.pop_front();
    return r;
  }

  bool empty() const { return urgent_.empty() && speculative_.empty(); }
  void clear() {
    urgent_.clear();
    speculative_.clear();
  }

 private:
  std::deque<ReadRequest> urgent_;
  std::deque<ReadRequest> speculative_;
};

}  // namespace strata
