#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "storage/io_backend.h"
#include "storage/read_queue.h"

namespace strata {
namespace {

// io_uring lifecycle and error policy
// -----------------------------------
// One ring, created in the constructor and owned by one I/O thread for its whole life, so no
// ring access is ever shared between threads. Callers hand batches to submit(), which appends
// them to a locked queue and bumps an eventfd; the thread keeps a POLL_ADD on that eventfd
// armed in the ring, so "new work" and "read finished" both arrive as completions and one
// io_uring_submit_and_wait() sleeps on both. Each turn of the loop:
//   1. takes from the shared ReadQueue (urgent reads before speculative ones) only as many
//      requests as can start now, behind any retries of earlier attempts;
//   2. fills free submission entries from them, at most `depth` reads in flight, so a layer's
//      misses go down in one io_uring_enter call while later prefetches wait in the queue;
//   3. submits and waits for at least one completion, then reaps every available one.
// Each completion goes through the fault injector (tests) and ReadProgress::advance():
//   - full read: the request's callback reports success;
//   - short read: resubmitted for the remainder (from the aligned-down first missing byte,
//     since O_DIRECT needs aligned offsets);
//   - -EINTR / -EAGAIN: resubmitted as is, a bounded number of times;
//   - any other error, end of file too early, or no progress: the callback reports one error
//     message and the store turns it into a strata::Error for whoever waits on that expert.
// A failing io_uring_enter itself (other than EINTR/EAGAIN/EBUSY) cannot be attributed to
// one read; it is logged and the loop carries on reaping, since completions already queued
// remain valid. Shutdown: the destructor sets `stopping`, wakes the thread, and the thread
// stops submitting, drops queued work, waits until every read in flight has completed (their
// buffers belong to the store) and exits; then the ring and the eventfd are closed.
class UringBackend final : public IoBackend {
 public:
  UringBackend(const IoConfig& config, Callback callback, io_uring ring, int event_fd)
      : config_(config), callback_(std::move(callback)), ring_(ring), event_fd_(event_fd) {
    thread_ = std::thread([this] { loop(); });
  }

  ~UringBackend() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake();
    thread_.join();
    io_uring_queue_exit(&ring_);
    ::close(event_fd_);
  }

  void submit(std::vector<ReadRequest> batch) override {
    if (batch.empty()) return;
    {
      std::lock_guard lock(mutex_);
      for (const ReadRequest& r : batch) queue_.push(r);
    }
    wake();
  }

  void expedite(std::span<const uint64_t> tags) override {
    std::lock_guard lock(mutex_);
    queue_.expedite(tags);
  }

  bool withdraw(std::span<const uint64_t> tags, size_t expected) override {
    std::lock_guard lock(mutex_);
    return queue_.withdraw(tags, expected);
  }

  const char* name() const override { return "io_uring"; }

 private:
  void wake() {
    const uint64_t one = 1;
    // Cannot fail short of a corrupted descriptor: the counter would need 2^64 wakes.
    [[maybe_unused]] ssize_t n = ::write(event_fd_, &one, sizeof one);
  }

  void loop() {
    std::deque<std::unique_ptr<ReadProgress>> ready;  // retries first, then popped from queue_
    size_t in_flight = 0;
    bool poll_armed = false;
    for (;;) {
      bool stop;
      {
        std::lock_guard lock(mutex_);
        stop = stopping_;
        if (stop) queue_.clear();
        // Take only what can start now; the rest stays queued, where urgent reads can still
        // overtake speculative ones.
        while (in_flight + ready.size() < config_.depth) {
          std::optional<ReadRequest> r = queue_.pop();
          if (!r) break;
          ready.push_back(std::make_unique<ReadProgress>(*r, config_.alignment));
        }
      }
      if (stop) {
        ready.clear();
        if (in_flight == 0) return;
      }
      if (!poll_armed && !stop) {
        if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
          io_uring_prep_poll_add(sqe, event_fd_, POLLIN);
          io_uring_sqe_set_data(sqe, &kWakeTag);
          poll_armed = true;
        }
      }
      while (!ready.empty() && in_flight < config_.depth) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) break;
        ReadProgress* p = ready.front().release();
        ready.pop_front();
        io_uring_prep_read(sqe, p->request().fd, p->dst(), static_cast<unsigned>(p->length()),
                           p->offset());
        io_uring_sqe_set_data(sqe, p);
        ++in_flight;
      }
      const int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        spdlog::error("io_uring_enter failed: {}", std::strerror(-rc));
      }
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        void* data = io_uring_cqe_get_data(cqe);
        if (data == &kWakeTag) {
          uint64_t value;
          [[maybe_unused]] ssize_t n = ::read(event_fd_, &value, sizeof value);
          poll_armed = false;
          continue;
        }
        std::unique_ptr<ReadProgress> p(static_cast<ReadProgress*>(data));
        --in_flight;
        int64_t result = cqe->res;
        if (config_.fault_injector) {
          result = config_.fault_injector->on_result(p->request(), p->offset(), p->length(), result);
        }
        switch (p->advance(result)) {
          case ReadProgress::Next::Done:
            callback_({p->request().tag, true, {}, p->bytes()});
            break;
          case ReadProgress::Next::Failed:
            callback_({p->request().tag, false, p->error(), p->bytes()});
            break;
          case ReadProgress::Next::Again:
            ready.push_front(std::move(p));
            break;
        }
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

  static inline char kWakeTag = 0;
  IoConfig config_;
  Callback callback_;
  io_uring ring_;
  int event_fd_;
  std::mutex mutex_;
  ReadQueue queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<IoBackend> make_uring_backend(const IoConfig& config, IoBackend::Callback callback,
                                              std::string* error) {
  STRATA_CHECK(config.depth > 0);
  io_uring ring{};
  const int rc = io_uring_queue_init(config.depth + 1, &ring, 0);
  if (rc < 0) {
    if (error != nullptr) *error = fmt::format("io_uring_queue_init: {}", std::strerror(-rc));
    return nullptr;
  }
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  if (efd < 0) {
    const int err = errno;
    io_uring_queue_exit(&ring);
    if (error != nullptr) *error = fmt::format("eventfd: {}", std::strerror(err));
    return nullptr;
  }
  return std::make_unique<UringBackend>(config, std::move(callback), ring, efd);
}

}  // namespace strata
