// The retry policy shared by the io_uring and pread backends.
#include <gtest/gtest.h>

#include <cerrno>

#include "storage/read_request.h"

namespace strata {
namespace {

ReadRequest request(uint64_t length, uint64_t required) {
  static uint8_t buffer[1 << 16];
  ReadRequest r;
  r.fd = 3;
  r.offset = 8192;
  r.length = length;
  r.required = required;
  r.dst = buffer;
  return r;
}

TEST(ReadProgress, FullReadIsDone) {
  ReadProgress p(request(8192, 8000), 4096);
  EXPECT_EQ(p.offset(), 8192u);
  EXPECT_EQ(p.length(), 8192u);
  EXPECT_EQ(p.advance(8192), ReadProgress::Next::Done);
  EXPECT_EQ(p.bytes(), 8192u);
}

TEST(ReadProgress, ReadEndingAtEofAfterRequiredBytesIsDone) {
  ReadProgress p(request(8192, 5000), 4096);
  EXPECT_EQ(p.advance(6000), ReadProgress::Next::Done);
}

TEST(ReadProgress, ShortReadResumesAtAlignedRemainder) {
  ReadProgress p(request(16384, 16384), 4096);
  ASSERT_EQ(p.advance(5000), ReadProgress::Next::Again);
  EXPECT_EQ(p.offset(), 8192u + 4096u);  // 5000 rounded down to 4096
  EXPECT_EQ(p.length(), 16384u - 4096u);
  EXPECT_EQ(p.dst(), p.request().dst + 4096);
  ASSERT_EQ(p.advance(8192), ReadProgress::Next::Again);  // covered 12288
  EXPECT_EQ(p.offset(), 8192u + 12288u);
  EXPECT_EQ(p.advance(4096), ReadProgress::Next::Done);
  EXPECT_EQ(p.resubmissions(), 2);
}

TEST(ReadProgress, UnalignedBackendResumesExactly) {
  ReadProgress p(request(1000, 1000), 1);
  ASSERT_EQ(p.advance(333), ReadProgress::Next::Again);
  EXPECT_EQ(p.offset(), 8192u + 333u);
  EXPECT_EQ(p.length(), 667u);
  EXPECT_EQ(p.advance(667), ReadProgress::Next::Done);
}

TEST(ReadProgress, TransientErrorsRetryThenGiveUp) {
  ReadProgress p(request(4096, 4096), 4096);
  EXPECT_EQ(p.advance(-EINTR), ReadProgress::Next::Again);
  EXPECT_EQ(p.advance(-EAGAIN), ReadProgress::Next::Again);
  EXPECT_EQ(p.offset(), 8192u);
  EXPECT_EQ(p.advance(4096), ReadProgress::Next::Done);

  ReadProgress q(request(4096, 4096), 4096);
  ReadProgress::Next next = ReadProgress::Next::Again;
  int attempts = 0;
  while (next == ReadProgress::Next::Again && attempts < 1000) {
    next = q.advance(-EAGAIN);
    ++attempts;
  }
  EXPECT_EQ(next, ReadProgress::Next::Failed);
  EXPECT_EQ(attempts, ReadProgress::kMaxTransient + 1);
  EXPECT_NE(q.error().find("kept failing"), std::string::npos) << q.error();
}

TEST(ReadProgress, HardErrorFailsWithReason) {
  ReadProgress p(request(4096, 4096), 4096);
  EXPECT_EQ(p.advance(-EIO), ReadProgress::Next::Failed);
  EXPECT_NE(p.error().find("Input/output error"), std::string::npos) << p.error();
  EXPECT_NE(p.error().find("8192"), std::string::npos) << p.error();
}

TEST(ReadProgress, EndOfFileBeforeRequiredFails) {
  ReadProgress p(request(8192, 8192), 4096);
  ASSERT_EQ(p.advance(4096), ReadProgress::Next::Again);
  EXPECT_EQ(p.advance(0), ReadProgress::Next::Failed);
  EXPECT_NE(p.error().find("end of file"), std::string::npos) << p.error();
}

TEST(ReadProgress, TinyShortReadsThatNeverProgressFail) {
  ReadProgress p(request(8192, 8192), 4096);
  ReadProgress::Next next = ReadProgress::Next::Again;
  int attempts = 0;
  while (next == ReadProgress::Next::Again && attempts < 1000) {
    next = p.advance(10);  // rounds down to the same aligned offset every time
    ++attempts;
  }
  EXPECT_EQ(next, ReadProgress::Next::Failed);
  EXPECT_NE(p.error().find("no progress"), std::string::npos) << p.error();
}

TEST(ReadProgress, LongRequestsAreSplitBelowKernelLimit) {
  static uint8_t one;
  ReadRequest r;
  r.offset = 0;
  r.length = 3 * ReadProgress::kMaxAttemptBytes;
  r.required = r.length;
  r.dst = &one;  // never dereferenced here
  ReadProgress p(r, 4096);
  EXPECT_EQ(p.length(), ReadProgress::kMaxAttemptBytes);
  ASSERT_EQ(p.advance(static_cast<int64_t>(ReadProgress::kMaxAttemptBytes)), ReadProgress::Next::Again);
  EXPECT_EQ(p.offset(), ReadProgress::kMaxAttemptBytes);
}

}  // namespace
}  // namespace strata
