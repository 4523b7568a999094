#include <fmt/format.h>

#include "common/error.h"
#include "storage/io_backend.h"

namespace strata {

std::unique_ptr<IoBackend> make_io_backend(const IoConfig& config, IoBackend::Callback callback,
                                           std::string* why) {
  std::string line;
  std::unique_ptr<IoBackend> backend;
  if (config.kind == IoKind::Pread) {
    backend = make_pread_backend(config, std::move(callback));
    line = "expert reads: pread thread pool (requested)";
  } else {
    std::string error;
    backend = make_uring_backend(config, callback, &error);
    if (backend) {
      line = fmt::format("expert reads: io_uring, queue depth {}", config.depth);
    } else if (config.kind == IoKind::Uring) {
      fail("io_uring is unavailable: {}", error);
    } else {
      backend = make_pread_backend(config, std::move(callback));
      line = fmt::format("expert reads: pread thread pool (io_uring unavailable: {})", error);
    }
  }
  if (why != nullptr) *why = line;
  return backend;
}

}  // namespace strata
