#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "storage/io_backend.h"
#include "storage/read_queue.h"

namespace strata {
namespace {

// The fallback when io_uring is unavailable: a few threads each doing blocking pread()s, with
// the same retry policy (ReadProgress) as the ring. Shutdown drops queued requests and waits
// for the ones being read.
class PreadBackend final : public IoBackend {
 public:
  PreadBackend(const IoConfig& config, Callback callback)
      : config_(config), callback_(std::move(callback)) {
    const unsigned n = config.pread_threads == 0 ? 1 : config.pread_threads;
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  ~PreadBackend() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  void submit(std::vector<ReadRequest> batch) override {
    {
      std::lock_guard lock(mutex_);
      for (const ReadRequest& r : batch) queue_.push(r);
    }
    cv_.notify_all();
  }

  void expedite(std::span<const uint64_t> tags) override {
    std::lock_guard lock(mutex_);
    queue_.expedite(tags);
  }

  bool withdraw(std::span<const uint64_t> tags, size_t expected) override {
    std::lock_guard lock(mutex_);
    return queue_.withdraw(tags, expected);
  }

  const char* name() const override { return "pread"; }

 private:
  void work() {
    for (;;) {
      ReadRequest request;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        request = *queue_.pop();
      }
      ReadProgress p(request, config_.alignment);
      for (;;) {
        const ssize_t n = ::pread(request.fd, p.dst(), p.length(), static_cast<off_t>(p.offset()));
        int64_t result = n < 0 ? -static_cast<int64_t>(errno) : static_cast<int64_t>(n);
        if (config_.fault_injector) {
          result = config_.fault_injector->on_result(request, p.offset(), p.length(), result);
        }
        const ReadProgress::Next next = p.advance(result);
        if (next == ReadProgress::Next::Again) {
          if (result == -EAGAIN) std::this_thread::yield();
          continue;
        }
        callback_({request.tag, next == ReadProgress::Next::Done,
                   next == ReadProgress::Next::Done ? std::string() : p.error(), p.bytes()});
        break;
      }
    }
  }

  IoConfig config_;
  Callback callback_;
  std::mutex mutex_;
  std::condition_variable cv_;
  ReadQueue queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<IoBackend> make_pread_backend(const IoConfig& config, IoBackend::Callback callback) {
  return std::make_unique<PreadBackend>(config, std::move(callback));
}

}  // namespace strata
