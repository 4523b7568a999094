#include "server/generation.h"

namespace strata::server {

bool Generation::wait(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return false;
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return true;
}

void Generation::cancel() {
  std::lock_guard lk(mu_);
  cancelled_ = true;
}

bool Generation::cancelled() const {
  std::lock_guard lk(mu_);
  return cancelled_;
}

void Generation::push(GenerationEvent ev) {
  {
    std::lock_guard lk(mu_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

}  // namespace strata::server
