#pragma once
// The one seam between the forward pass and expert storage.
//
// After routing a layer, the forward pass asks for the (layer, expert) pairs it needs and gets
// weight pointers that stay valid until the returned lease is destroyed. Whether they point into
// the mmap'd file (tier 1) or into promoted slots filled by io_uring (tiers 0/2) is invisible to
// the caller. Implementations: MmapExpertSource (tier 1 only) and the tiered ExpertStore.
#include <algorithm>
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
  // `ready` (empty = all) says which experts are resident already; see ExpertSource::acquire_async.
  ExpertLease(ExpertSource* source, uint64_t ticket, std::vector<ExpertWeights> weights,
              std::vector<char> ready = {})
      : source_(source), ticket_(ticket), weights_(std::move(weights)), ready_(std::move(ready)) {}
  ExpertLease(ExpertLease&& o) noexcept { *this = std::move(o); }
  ExpertLease& operator=(ExpertLease&& o) noexcept;
  ExpertLease(const ExpertLease&) = delete;
  ExpertLease& operator=(const ExpertLease&) = delete;
  ~ExpertLease() { reset(); }

  // Same order as the `experts` passed to acquire(). The weights of an expert that is not
  // ready() must not be read yet (their pointers are final, their bytes are still arriving).
  const std::vector<ExpertWeights>& weights() const { return weights_; }
  bool ready(size_t i) const { return ready_.empty() || ready_[i] != 0; }
  bool all_ready() const { return ready_.empty(); }
  // Blocks until every expert is resident; throws strata::Error if a read failed.
  void wait_all();
  // Blocks until at least one expert that was not ready() is (or none is left), so the caller
  // can compute each expert as soon as its own read lands; throws strata::Error if a read failed.
  void wait_any();
  void reset();

 private:
  void wait_for(bool all);

  ExpertSource* source_ = nullptr;
  uint64_t ticket_ = 0;
  std::vector<ExpertWeights> weights_;
  std::vector<char> ready_;  // empty once everything is resident
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

  // Like acquire(), but returns as soon as the reads are started: the lease says which experts
  // are resident already, and ExpertLease::wait_all() blocks for the rest, so the caller can
  // compute with the ready experts while the others load. Default: acquire() (all ready).
  virtual ExpertLease acquire_async(int layer, std::span<const int> experts,
                                    std::span<const float> router_scores = {}) {
    return acquire(layer, experts, router_scores);
  }

  // Hint: these experts of `layer` are likely needed soon (predicted from an earlier layer's
  // hidden state). Starts reading them without blocking. Default: no-op.
  virtual void prefetch(int /*layer*/, std::span<const int> /*experts*/) {}

  // Whether prefetch() hints do anything here, i.e. whether the engine should spend a router
  // matmul per layer predicting the next layer's experts.
  virtual bool uses_prefetch() const { return false; }

  // Human-readable one-line description of the mode in use (for `run` / `bench` output).
  virtual const char* describe() const = 0;

 protected:
  friend class ExpertLease;
  virtual void release(uint64_t ticket) = 0;
  // Blocks until the experts of a lease from acquire_async() are resident (`all`), or until at
  // least one whose flag in `ready` (one per expert of the lease) is 0 is; sets the flags of every
  // expert now resident. Throws strata::Error for a failed read. Only called for leases that had
  // experts not ready.
  virtual void wait(uint64_t /*ticket*/, std::vector<char>& ready, bool /*all*/) {
    std::fill(ready.begin(), ready.end(), 1);
  }
};

inline ExpertLease& ExpertLease::operator=(ExpertLease&& o) noexcept {
  if (this != &o) {
    reset();
    source_ = o.source_;
    ticket_ = o.ticket_;
    weights_ = std::move(o.weights_);
    ready_ = std::move(o.ready_);
    o.source_ = nullptr;
  }
  return *this;
}

inline void ExpertLease::wait_all() { wait_for(true); }
inline void ExpertLease::wait_any() { wait_for(false); }

inline void ExpertLease::wait_for(bool all) {
  if (ready_.empty()) return;
  if (source_ != nullptr) {
    source_->wait(ticket_, ready_, all);
  } else {
    std::fill(ready_.begin(), ready_.end(), 1);
  }
  if (std::all_of(ready_.begin(), ready_.end(), [](char r) { return r != 0; })) ready_.clear();
}

inline void ExpertLease::reset() {
  if (source_ != nullptr) source_->release(ticket_);
  source_ = nullptr;
  weights_.clear();
  ready_.clear();
}

}  // namespace strata
