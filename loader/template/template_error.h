#pragma once
// An error found at a known template line; ChatTemplate turns it into strata::Error
// "NAME:LINE: message".
#include <string>

#include "common/error.h"

namespace strata::tmpl {

class TemplateError : public Error {
 public:
  TemplateError(int line, const std::string& message) : Error(message), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

template <typename... Args>
[[noreturn]] void fail_at(int line, fmt::format_string<Args...> format, Args&&... args) {
  throw TemplateError(line, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace strata::tmpl
