#pragma once
// One read of the expert store's tier 2, and the retry policy shared by every I/O backend.
#include <cstdint>
#include <string>

namespace strata {

struct ReadRequest {
  int fd = -1;
  uint64_t offset = 0;    // file offset of dst[0]; a multiple of the backend's alignment
  uint64_t length = 0;    // bytes asked for (may run past end of file: aligned supersets)
  uint64_t required = 0;  // bytes that must arrive (<= length); fewer is an error
  uint8_t* dst = nullptr;
  uint64_t tag = 0;       // handed back in the completion
  bool urgent = false;    // a computation waits for it: started before speculative reads
};

struct ReadCompletion {
  uint64_t tag = 0;
  bool ok = false;
  std::string error;      // why it failed (strerror text and where), empty when ok
  uint64_t bytes = 0;     // bytes transferred, counting re-reads
};

// Test-only hook to exercise the completion paths: sees the raw result of every attempt (bytes
// read, or -errno) and returns what the backend should act on instead: a smaller count (a short
// read), -EINTR/-EAGAIN (transient) or another -errno (a hard error). Called from the backend's
// I/O thread(s); implementations must be thread-safe.
class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  virtual int64_t on_result(const ReadRequest& request, uint64_t attempt_offset,
                            uint64_t attempt_length, int64_t result) = 0;
};

// Progress of one request across attempts. A short read resumes at the first byte not yet
// read, rounded down to `alignment` so O_DIRECT constraints still hold (some bytes are read
// twice); a transient error repeats the attempt; a hard error, end of file before `required`
// bytes, or too many attempts without progress end it.
class ReadProgress {
 public:
  enum class Next { Done, Again, Failed };
  static constexpr uint64_t kMaxAttemptBytes = 1ull << 30;  // below the kernel's per-read cap
  static constexpr int kMaxTransient = 100;
  static constexpr int kMaxStalled = 100;

  ReadProgress(const ReadRequest& request, uint64_t alignment);

  // The next attempt: file offset, length and destination.
  uint64_t offset() const { return request_.offset + pos_; }
  uint64_t length() const;
  uint8_t* dst() const { return request_.dst + pos_; }

  // Accounts the result of the attempt just made (bytes read or -errno).
  Next advance(int64_t result);

  const ReadRequest& request() const { return request_; }
  const std::string& error() const { return error_; }
  uint64_t bytes() const { return bytes_; }
  int resubmissions() const { return resubmissions_; }

 private:
  ReadRequest request_;
  uint64_t alignment_;
  uint64_t pos_ = 0;       // start of the next attempt, relative to request_.offset
  uint64_t covered_ = 0;   // bytes [0, covered_) have arrived
  uint64_t bytes_ = 0;
  int transient_ = 0;
  int stalled_ = 0;
  int resubmissions_ = 0;
  std::string error_;
};

}  // namespace strata
