// Tier 1's background readahead hints: order, cancellation of hints a layer's acquire made
// moot, shutdown with work queued, and the real madvise path bringing dropped pages back.
#include "storage/readahead_hinter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/page_residency.h"

namespace strata {
namespace {

using Range = ReadaheadHinter::Range;

// Fake addresses: the recording actions never dereference them.
const uint8_t* fake(uintptr_t i) { return reinterpret_cast<const uint8_t*>(i * 4096); }

// Holds the hinter's thread inside its first action until open() is called.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(m_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_entered() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(m_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

TEST(ReadaheadHinter, HintsRunInOrderAndDrainWaitsForThem) {
  std::mutex m;
  std::vector<uint64_t> seen;
  ReadaheadHinter hinter([&](const uint8_t* p, uint64_t n) {
    std::lock_guard lock(m);
    seen.push_back(reinterpret_cast<uintptr_t>(p) / 4096 * 1000 + n);
  });
  const std::vector<Range> a{{fake(1), 10}, {fake(2), 20}};
  const std::vector<Range> b{{fake(3), 30}};
  hinter.hint(1, a);
  hinter.hint(2, b);
  hinter.hint(3, {});
  hinter.drain();
  std::lock_guard lock(m);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1010, 2020, 3030}));
}

TEST(ReadaheadHinter, CancelDropsOnlyThatLayersQueuedHints) {
  Gate gate;
  std::mutex m;
  std::vector<uintptr_t> seen;
  ReadaheadHinter hinter([&](const uint8_t* p, uint64_t) {
    const uintptr_t id = reinterpret_cast<uintptr_t>(p) / 4096;
    if (id == 1) gate.wait();
    std::lock_guard lock(m);
    seen.push_back(id);
  });
  const std::vector<Range> first{{fake(1), 1}};
  hinter.hint(0, first);
  gate.wait_entered();  // layer 0's hint is in progress; the rest queue behind it
  const std::vector<Range> l2{{fake(2), 1}, {fake(3), 1}};
  const std::vector<Range> l3{{fake(4), 1}};
  const std::vector<Range> l2_again{{fake(5), 1}};
  hinter.hint(2, l2);
  hinter.hint(3, l3);
  hinter.hint(2, l2_again);
  EXPECT_EQ(hinter.cancel(2), 3u);
  EXPECT_EQ(hinter.cancel(0), 0u);  // in progress, no longer queued
  gate.open();
  hinter.drain();
  std::lock_guard lock(m);
  EXPECT_EQ(seen, (std::vector<uintptr_t>{1, 4}));
}

TEST(ReadaheadHinter, DestructionDropsQueuedHints) {
  Gate gate;
  std::atomic<int> done{0};
  std::thread opener;
  {
    ReadaheadHinter hinter([&](const uint8_t*, uint64_t) {
      if (done == 0) gate.wait();
      ++done;
    });
    std::vector<Range> many(100, Range{fake(1), 1});
    hinter.hint(0, many);
    gate.wait_entered();
    // Opened while the destructor waits for the hint in progress.
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      gate.open();
    });
  }
  opener.join();
  EXPECT_LT(done.load(), 100);
}

// The default action: pages dropped from the page cache come back after a hint, without the
// caller touching them.
TEST(ReadaheadHinter, DefaultActionReadsDroppedPagesAhead) {
  std::string path = ::testing::TempDir() + "strata_hinter_XXXXXX";
  const int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  const size_t len = 1u << 20;
  std::vector<uint8_t> bytes(len, 3);
  ASSERT_EQ(::write(fd, bytes.data(), len), static_cast<ssize_t>(len));
  ASSERT_EQ(::fsync(fd), 0);  // clean pages can be dropped
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  const auto* p = static_cast<const uint8_t*>(m);
  ::posix_fadvise(fd, 0, static_cast<off_t>(len), POSIX_FADV_DONTNEED);
  const bool dropped = !is_resident(p, len);
  if (dropped) {
    ReadaheadHinter hinter;
    const std::vector<Range> r{{p, len}};
    hinter.hint(0, r);
    hinter.drain();
    // WILLNEED starts the reads; give them time to land.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!is_resident(p, len) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(is_resident(p, len));
  }
  ::munmap(m, len);
  ::close(fd);
  ::unlink(path.c_str());
  if (!dropped) GTEST_SKIP() << "this filesystem keeps the pages after POSIX_FADV_DONTNEED (tmpfs?)";
}

}  // namespace
}  // namespace strata
