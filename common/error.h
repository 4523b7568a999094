#pragma once
// One error policy for the whole project:
//  - bad user input, bad files and I/O failures throw strata::Error with one clear message that
//    names the problem (and the file / tensor / field involved); the edges (CLI, HTTP) catch it
//    and turn it into one line + non-zero exit, or a 4xx;
//  - broken internal invariants are bugs and use assert / STRATA_CHECK, which aborts.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

namespace strata {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace strata

// Internal invariant: a violation is a bug in strata, never a user error.
#define STRATA_CHECK(cond)                                                                   \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "strata: internal error: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
