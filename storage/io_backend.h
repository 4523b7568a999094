#pragma once
// Tier 2: asynchronous reads from the model file into promoted slots. Two backends share one
// interface and one retry policy (ReadProgress): io_uring (one ring owned by one I/O thread)
// and a pread thread pool used when io_uring cannot be set up.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/read_request.h"
#include "storage/store_options.h"

namespace strata {

class IoBackend {
 public:
  // Called once per request, from a backend thread, when it is done or has failed for good.
  using Callback = std::function<void(const ReadCompletion&)>;

  virtual ~IoBackend() = default;
  // Queues a batch of reads (submitted together where the backend can) and returns at once.
  // Thread-safe. Requests still queued when the backend is destroyed are dropped without a
  // callback; reads already in flight are waited for, so their buffers must outlive it.
  virtual void submit(std::vector<ReadRequest> batch) = 0;
  // Requests with one of these tags that have not started yet become urgent (a prefetched
  // expert is needed now). Thread-safe.
  virtual void expedite(std::span<const uint64_t> tags) = 0;
  // Drops the requests with one of these tags if exactly `expected` of them are still queued
  // (none started) and returns true; otherwise changes nothing. Dropped requests get no
  // callback. Thread-safe.
  virtual bool withdraw(std::span<const uint64_t> tags, size_t expected) = 0;
  virtual const char* name() const = 0;
};

struct IoConfig {
  IoKind kind = IoKind::Auto;
  uint64_t alignment = 1;     // 4096 for O_DIRECT descriptors
  // Reads in flight. The rest wait in the backend's ReadQueue, where urgent ones can overtake
  // speculative ones; deeper queues raise disk throughput but make a demand miss wait longer.
  unsigned depth = 32;
  unsigned pread_threads = 2;
  std::shared_ptr<FaultInjector> fault_injector;
};

// Io_uring for Auto and Uring, falling back to pread for Auto when the ring cannot be created
// (kernel without io_uring, seccomp, io_uring_disabled); `why` receives one line saying which
// backend is used and, after a fallback, why. Throws strata::Error for Uring when the ring
// cannot be created.
std::unique_ptr<IoBackend> make_io_backend(const IoConfig& config, IoBackend::Callback callback,
                                           std::string* why);

// The two backends directly (tests). make_uring_backend returns nullptr and sets `error` when
// io_uring is unavailable.
std::unique_ptr<IoBackend> make_uring_backend(const IoConfig& config, IoBackend::Callback callback,
                                              std::string* error);
std::unique_ptr<IoBackend> make_pread_backend(const IoConfig& config, IoBackend::Callback callback);

}  // namespace strata
