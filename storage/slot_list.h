#pragma once
// An intrusive doubly linked list over slot indices 0..n-1 (each slot at most once), used by the
// ordered eviction policies. Head is the newest end. All operations O(1).
#include <cstddef>
#include <vector>

namespace strata {

class SlotList {
 public:
  explicit SlotList(size_t n) : older_(n, -1), newer_(n, -1), in_(n, 0) {}

  bool contains(int s) const { return in_[static_cast<size_t>(s)] != 0; }
  int newest() const { return head_; }
  int oldest() const { return tail_; }
  int older(int s) const { return older_[static_cast<size_t>(s)]; }
  int newer(int s) const { return newer_[static_cast<size_t>(s)]; }
  size_t size() const { return size_; }

  void push_newest(int s) {
    if (contains(s)) remove(s);
    const auto i = static_cast<size_t>(s);
    older_[i] = head_;
    newer_[i] = -1;
    if (head_ >= 0) newer_[static_cast<size_t>(head_)] = s;
    head_ = s;
    if (tail_ < 0) tail_ = s;
    in_[i] = 1;
    ++size_;
  }

  void remove(int s) {
    if (!contains(s)) return;
    const auto i = static_cast<size_t>(s);
    if (older_[i] >= 0) newer_[static_cast<size_t>(older_[i])] = newer_[i];
    else tail_ = newer_[i];
    if (newer_[i] >= 0) older_[static_cast<size_t>(newer_[i])] = older_[i];
    else head_ = older_[i];
    older_[i] = newer_[i] = -1;
    in_[i] = 0;
    --size_;
  }

 private:
  std::vector<int> older_, newer_;
  std::vector<char> in_;
  int head_ = -1, tail_ = -1;
  size_t size_ = 0;
};

}  // namespace strata
