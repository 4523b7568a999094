// Both tier-2 backends over a real temp file: plain reads, O_DIRECT, and injected short reads,
// transient errors and hard errors; and the fallback to pread when io_uring cannot be set up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>

#include "common/error.h"
#include "storage/io_backend.h"
#include "storage/read_queue.h"
#include "store_test_util.h"

namespace strata {
namespace {

using test::TempModelFile;

// Collects completions so a test can wait for all of them.
struct Sink {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<uint64_t, ReadCompletion> done;
  std::vector<uint64_t> order;  // tags in completion order
  IoBackend::Callback callback() {
    return [this](const ReadCompletion& c) {
      std::lock_guard lock(mutex);
      done[c.tag] = c;
      order.push_back(c.tag);
      cv.notify_all();
    };
  }
  void wait_for(size_t n) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return done.size() >= n; });
  }
};

struct AlignedBuffer {
  explicit AlignedBuffer(size_t n) : size(n) {
    data = static_cast<uint8_t*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096));
  }
  ~AlignedBuffer() { std::free(data); }
  uint8_t* data;
  size_t size;
};

// Turns the first attempt of every request into a short read of a pseudo-random, unaligned
// size, and the second into -EINTR then -EAGAIN alternately.
class ShortAndTransient : public FaultInjector {
 public:
  int64_t on_result(const ReadRequest& r, uint64_t offset, uint64_t, int64_t result) override {
    std::lock_guard lock(mutex_);
    int& n = attempts_[r.tag];
    ++n;
    ++total_;
    if (result <= 0) return result;
    if (n == 1 && offset == r.offset && result > 1) return 1 + (result * 7 / 13) % (result - 1);
    if (n == 2) return (r.tag % 2) ? -EINTR : -EAGAIN;
    return result;
  }
  int total() {
    std::lock_guard lock(mutex_);
    return total_;
  }

 private:
  std::mutex mutex_;
  std::map<uint64_t, int> attempts_;
  int total_ = 0;
};

// Fails reads that touch `bad_offset` with EIO.
class FailAt : public FaultInjector {
 public:
  explicit FailAt(uint64_t bad) : bad_(bad) {}
  int64_t on_result(const ReadRequest&, uint64_t offset, uint64_t length, int64_t result) override {
    return (offset <= bad_ && bad_ < offset + length) ? -EIO : result;
  }

 private:
  uint64_t bad_;
};

// Holds the first read's completion until release(), so a test can queue more requests behind
// a read known to be in flight.
class HoldFirst : public FaultInjector {
 public:
  int64_t on_result(const ReadRequest&, uint64_t, uint64_t, int64_t result) override {
    std::unique_lock lock(mutex_);
    if (entered_) return result;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    return result;
  }
  void wait_entered() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

struct Backend {
  const char* name;
  bool uring;
};

class IoBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<IoBackend> make(const IoConfig& config, Sink& sink) {
    if (!GetParam().uring) return make_pread_backend(config, sink.callback());
    std::string error;
    auto b = make_uring_backend(config, sink.callback(), &error);
    if (!b) ADD_FAILURE() << "io_uring unavailable on this machine: " << error;
    return b;
  }
};

// Reads `n` chunks of a file through `fd` (aligned offsets, unaligned lengths) and checks the
// bytes against the mapping.
void read_and_check(IoBackend& backend, Sink& sink, const TempModelFile& f, int fd, size_t n,
                    uint64_t chunk) {
  std::vector<std::unique_ptr<AlignedBuffer>> buffers;
  std::vector<ReadRequest> batch;
  for (size_t i = 0; i < n; ++i) {
    buffers.push_back(std::make_unique<AlignedBuffer>(chunk + 4096));
    ReadRequest r;
    r.fd = fd;
    r.offset = i * chunk;
    r.length = (chunk + 4095) / 4096 * 4096;
    r.required = chunk - 100;
    r.dst = buffers.back()->data;
    r.tag = i;
    batch.push_back(r);
  }
  backend.submit(batch);
  sink.wait_for(n);
  for (size_t i = 0; i < n; ++i) {
    const ReadCompletion& c = sink.done.at(i);
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(std::memcmp(buffers[i]->data, f.file().data() + i * chunk, chunk - 100), 0) << i;
  }
}

TEST_P(IoBackendTest, ReadsBatchesExactly) {
  TempModelFile f(1 << 20, 7);
  Sink sink;
  IoConfig config;
  config.alignment = 4096;
  config.depth = 4;  // fewer than the batch: the rest waits for free entries
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  read_and_check(*backend, sink, f, f.file().fd(), 32, 12288);
}

TEST_P(IoBackendTest, ODirectReads) {
  TempModelFile f(1 << 20, 8);
  const int fd = ::open(f.path().c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) GTEST_SKIP() << "the temp filesystem refuses O_DIRECT";
  Sink sink;
  IoConfig config;
  config.alignment = 4096;
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  read_and_check(*backend, sink, f, fd, 16, 16384);
  ::close(fd);
}

TEST_P(IoBackendTest, ShortReadsAndTransientErrorsAreRetried) {
  TempModelFile f(1 << 20, 9);
  const int dfd = ::open(f.path().c_str(), O_RDONLY | O_DIRECT);
  const int fd = dfd >= 0 ? dfd : f.file().fd();
  Sink sink;
  IoConfig config;
  config.alignment = 4096;
  auto injector = std::make_shared<ShortAndTransient>();
  config.fault_injector = injector;
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  read_and_check(*backend, sink, f, fd, 16, 20480);
  // Every request took at least: a short read, a transient error and a resumed read.
  EXPECT_GE(injector->total(), 16 * 3);
  if (dfd >= 0) ::close(dfd);
}

TEST_P(IoBackendTest, HardErrorIsReportedOncePerRequest) {
  TempModelFile f(1 << 20, 10);
  Sink sink;
  IoConfig config;
  config.alignment = 4096;
  config.fault_injector = std::make_shared<FailAt>(5 * 8192 + 17);
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  std::vector<std::unique_ptr<AlignedBuffer>> buffers;
  std::vector<ReadRequest> batch;
  for (uint64_t i = 0; i < 8; ++i) {
    buffers.push_back(std::make_unique<AlignedBuffer>(8192));
    batch.push_back({f.file().fd(), i * 8192, 8192, 8192, buffers.back()->data, i});
  }
  backend->submit(batch);
  sink.wait_for(8);
  for (uint64_t i = 0; i < 8; ++i) {
    const ReadCompletion& c = sink.done.at(i);
    if (i == 5) {
      EXPECT_FALSE(c.ok);
      EXPECT_NE(c.error.find("Input/output error"), std::string::npos) << c.error;
    } else {
      EXPECT_TRUE(c.ok) << i << ": " << c.error;
    }
  }
}

TEST_P(IoBackendTest, ReadPastEndOfFileFails) {
  TempModelFile f(10000, 11);
  Sink sink;
  IoConfig config;
  config.alignment = 4096;
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  AlignedBuffer buffer(16384);
  backend->submit({{f.file().fd(), 8192, 8192, 8192, buffer.data, 1}});
  sink.wait_for(1);
  EXPECT_FALSE(sink.done.at(1).ok);
}

// With one read in flight, an urgent request and expedited speculative ones start before the
// speculative requests queued ahead of them; each class keeps its order.
TEST_P(IoBackendTest, UrgentAndExpeditedReadsOvertakeSpeculativeOnes) {
  TempModelFile f(1 << 16, 5);
  Sink sink;
  auto hold = std::make_shared<HoldFirst>();
  IoConfig config;
  config.depth = 1;
  config.pread_threads = 1;
  config.fault_injector = hold;
  auto backend = make(config, sink);
  ASSERT_TRUE(backend);
  AlignedBuffer buffer(4096 * 8);
  auto request = [&](uint64_t tag, bool urgent) {
    ReadRequest r{f.file().fd(), tag * 4096, 4096, 4096, buffer.data + tag * 4096, tag};
    r.urgent = urgent;
    return r;
  };
  std::vector<ReadRequest> speculative;
  for (uint64_t tag = 0; tag < 6; ++tag) speculative.push_back(request(tag, false));
  backend->submit(speculative);
  hold->wait_entered();  // tag 0 is in flight, 1..5 are queued
  const std::vector<uint64_t> needed_now = {4, 2};
  backend->expedite(needed_now);
  backend->submit({request(7, true)});
  hold->release();
  sink.wait_for(7);
  for (const auto& [tag, c] : sink.done) EXPECT_TRUE(c.ok) << tag << ": " << c.error;
  EXPECT_EQ(sink.order, (std::vector<uint64_t>{0, 2, 4, 7, 1, 3, 5}));
}

INSTANTIATE_TEST_SUITE_P(Backends, IoBackendTest,
                         ::testing::Values(Backend{"io_uring", true}, Backend{"pread", false}),
                         [](const auto& info) { return info.param.uring ? "uring" : "pread"; });

TEST(ReadQueue, UrgentFirstAndWithdrawOnlyWhatHasNotStarted) {
  ReadQueue q;
  auto request = [](uint64_t tag, bool urgent) {
    ReadRequest r;
    r.tag = tag;
    r.urgent = urgent;
    return r;
  };
  for (uint64_t tag : {1, 2, 2, 3}) q.push(request(tag, false));
  q.push(request(9, true));
  EXPECT_EQ(q.pop()->tag, 9u);
  EXPECT_EQ(q.pop()->tag, 1u);  // speculative reads keep their order
  const uint64_t two[] = {2};
  EXPECT_FALSE(q.withdraw(two, 3));  // three reads of tag 2 expected, two queued: one started
  EXPECT_TRUE(q.withdraw(two, 2));
  EXPECT_FALSE(q.withdraw(two, 2));
  EXPECT_EQ(q.pop()->tag, 3u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop().has_value());
}

TEST(IoBackendFactory, FallsBackToPreadWhenRingSetupFails) {
  Sink sink;
  IoConfig config;
  config.depth = 1u << 20;  // beyond IORING_MAX_ENTRIES: io_uring_queue_init fails
  std::string why;
  auto backend = make_io_backend(config, sink.callback(), &why);
  ASSERT_TRUE(backend);
  EXPECT_STREQ(backend->name(), "pread");
  EXPECT_NE(why.find("io_uring unavailable"), std::string::npos) << why;

  // Asking for io_uring explicitly turns the same failure into an error.
  config.kind = IoKind::Uring;
  EXPECT_THROW(make_io_backend(config, sink.callback(), &why), Error);
}

TEST(IoBackendFactory, PrefersIoUring) {
  Sink sink;
  IoConfig config;
  std::string why;
  auto backend = make_io_backend(config, sink.callback(), &why);
  ASSERT_TRUE(backend);
  std::cout << "[ info ] " << why << "\n";
  if (std::string(backend->name()) != "io_uring") GTEST_SKIP() << why;
  EXPECT_NE(why.find("io_uring"), std::string::npos);
}

}  // namespace
}  // namespace strata
