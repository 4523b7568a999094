#pragma once
// Stop strings over streamed text: text is released as soon as it cannot be the start of a stop
// string, and generation ends at the first complete stop string (which is not emitted).
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// Not thread-safe; one per generation.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends newly generated text and returns the part that is safe to show now. Once a stop
  // string completes, stopped() is true and the returned text ends right before it; later calls
  // return "".
  std::string feed(std::string_view text);
  // The text still held back (a partial stop-string prefix) when generation ends for another
  // reason.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace strata
