#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "storage/read_request.h"

namespace strata {

ReadProgress::ReadProgress(const ReadRequest& request, uint64_t alignment)
    : request_(request), alignment_(alignment == 0 ? 1 : alignment) {
  STRATA_CHECK(request_.required <= request_.length);
  STRATA_CHECK(request_.offset % alignment_ == 0);
}

uint64_t ReadProgress::length() const {
  return std::min(request_.length - pos_, kMaxAttemptBytes);
}

ReadProgress::Next ReadProgress::advance(int64_t result) {
  if (result == -EINTR || result == -EAGAIN) {
    if (++transient_ > kMaxTransient) {
      error_ = fmt::format("read at offset {} kept failing: {}", offset(), std::strerror(-result));
      return Next::Failed;
    }
    ++resubmissions_;
    return Next::Again;
  }
  if (result < 0) {
    error_ = fmt::format("read of {} bytes at offset {} failed: {}", length(), offset(),
                         std::strerror(static_cast<int>(-result)));
    return Next::Failed;
  }
  if (result == 0) {
    error_ = fmt::format("unexpected end of file at offset {} ({} of {} bytes read)", offset(),
                         covered_, request_.required);
    return Next::Failed;
  }
  const auto got = std::min(static_cast<uint64_t>(result), length());
  bytes_ += got;
  transient_ = 0;
  covered_ = std::max(covered_, pos_ + got);
  if (covered_ >= request_.required) return Next::Done;
  const uint64_t next = covered_ / alignment_ * alignment_;
  if (next == pos_) {
    // A short read smaller than the alignment makes no progress once rounded down; a real
    // device does not keep doing that, so give up rather than spin.
    if (++stalled_ > kMaxStalled) {
      error_ = fmt::format("read at offset {} makes no progress (short reads of {} bytes)",
                           offset(), got);
      return Next::Failed;
    }
  } else {
    stalled_ = 0;
  }
  pos_ = next;
  ++resubmissions_;
  return Next::Again;
}

}  // namespace strata
