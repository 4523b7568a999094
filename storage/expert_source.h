#pragma once
// The one seam between the forward pass and expert storage.
//
// After routing a layer, the forward pass asks for the (layer, expert) pairs it needs and gets
// weight pointers that stay valid until the returned lease is destroyed. Whether they point into
// the mmap'd file (tier 1) or into promoted slots filled by io_uring (tiers 0/2) is invisible to
// the caller. Implementations: MmapExpertSource (tier 1 only) and the tiered ExpertStore.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/tensor_type.h"

namespace strata {

struct ExpertMatrix {
  const uint8_t* data = nullptr;
  TensorType type = TensorType::F32;
  int64_t rows = 0;  // output features
  int64_t cols = 0;  // input features (contiguous)
};

struct ExpertWeights {
  int expert = -1;
  ExpertMatrix gate, up, down;
};

class ExpertSource;

// Holds experts resident. Move-only; releasing (destruction) lets the store evict them again.
class ExpertLease {
 public:
  ExpertLease() = default;
  ExpertLease(ExpertSource* source, uint64_t ticket, std::vector<ExpertWeights> weights)
      : source_(source), ticket_(ticket), weights_(std::move(weights)) {}
  ExpertLease(ExpertLease&& o) noexcept { *this = std::move(o); }
  ExpertLease& operator=(ExpertLease&& o) noexcept;
  ExpertLease(const ExpertLease&) = delete;
  ExpertLease& operator=(const ExpertLease&) = delete;
  ~ExpertLease() { reset(); }

  // Same order as the `experts` passed to acquire().
  const std::vector<ExpertWeights>& weights() const { return weights_; }
  void reset();

 private:
  ExpertSource* source_ = nullptr;
  uint64_t ticket_ = 0;
  std::vector<ExpertWeights> weights_;
};

class ExpertSource {
 public:
  virtual ~ExpertSource() = default;

  // Makes `experts` of `layer` resident and returns their weights; blocks until they are.
  // `router_scores` (optional, same length as `experts`) lets heat-based policies weigh
  // experts by how strongly they were chosen. Throws strata::Error on an unrecoverable read
  // error. Thread-safe.
  virtual ExpertLease acquire(int layer, std::span<const int> experts,
                              std::span<const float> router_scores = {}) = 0;

  // Hint: these experts of `layer` are likely needed soon (predicted from an earlier layer's
  // hidden state). Starts reading them without blocking. Default: no-op.
  virtual void prefetch(int /*layer*/, std::span<const int> /*experts*/) {}

  // Human-readable one-line description of the mode in use (for `run` / `bench` output).
  virtual const char* describe() const = 0;

 protected:
  friend class ExpertLease;
  virtual void release(uint64_t ticket) = 0;
};

inline ExpertLease& ExpertLease::operator=(ExpertLease&& o) noexcept {
  if (this != &o) {
    reset();
    source_ = o.source_;
    ticket_ = o.ticket_;
    weights_ = std::move(o.weights_);
    o.source_ = nullptr;
  }
  return *this;
}

inline void ExpertLease::reset() {
  if (source_ != nullptr) source_->release(ticket_);
  source_ = nullptr;
  weights_.clear();
}

}  // namespace strata
