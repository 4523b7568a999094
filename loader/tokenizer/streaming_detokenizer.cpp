#include "loader/tokenizer/tokenizer.h"
#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

// Bytes at the end of `s` that begin a UTF-8 character which later bytes may still complete.
// Anything that can no longer become valid UTF-8 is not held back: it would wait forever.
size_t incomplete_tail(const std::string& s) {
  const size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    const auto lead = static_cast<uint8_t>(s[n - k]);
    if ((lead & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = unicode::utf8_seq_len(lead);
    if (need <= k) return 0;  // complete, or not a lead byte at all
    if (k >= 2) {
      // The second byte's range depends on the lead (no overlongs, surrogates, > U+10FFFF).
      const auto b1 = static_cast<uint8_t>(s[n - k + 1]);
      if ((lead == 0xE0 && b1 < 0xA0) || (lead == 0xED && b1 > 0x9F) ||
          (lead == 0xF0 && b1 < 0x90) || (lead == 0xF4 && b1 > 0x8F)) {
        return 0;
      }
    }
    return k;
  }
  return 0;
}

}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool render_special, bool sequence_start)
    : tok_(tokenizer), render_special_(render_special), state_(tokenizer.decode_start(sequence_start)) {}

std::string StreamingDetokenizer::feed(int32_t id) {
  tok_.append_piece(id, render_special_, state_, pending_);
  const size_t hold = incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamingDetokenizer::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace strata
