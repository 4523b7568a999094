#include "loader/tokenizer/unicode.h"

#include <algorithm>

#include "common/utf8.h"

namespace strata::unicode {
namespace {

uint16_t lookup_ranges(uint32_t cp) {
  const detail::CpRange* begin = detail::kCpRanges;
  const detail::CpRange* end = begin + detail::kCpRangeCount;
  const detail::CpRange* it =
      std::upper_bound(begin, end, cp, [](uint32_t c, const detail::CpRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->flags : 0;
}

// Most text is Latin; a direct table keeps the binary search off the hot path.
struct Latin1Flags {
  std::array<uint16_t, 256> f{};
  Latin1Flags() {
    for (uint32_t c = 0; c < 256; ++c) f[c] = lookup_ranges(c);
  }
};

struct ByteAlphabet {
  std::array<std::string, 256> utf8;
  std::array<int, 324> back;  // every alphabet character is < U+0144
  ByteAlphabet() {
    back.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the 68 others take U+0100.. in order.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? b : next++;
      append_utf8(utf8[b], cp);
      back[cp] = static_cast<int>(b);
    }
  }
};

const Latin1Flags& latin1() {
  static const Latin1Flags t;
  return t;
}

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

uint16_t flags(uint32_t cp) {
  if (cp < 256) return latin1().f[cp];
  if (cp >= kInvalid) return 0;
  return lookup_ranges(cp);
}

uint32_t decode_utf8(std::string_view s, size_t pos, size_t& len) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(pos);
  len = 1;
  if (b0 < 0x80) return b0;
  const size_t n = utf8_seq_len(b0);
  if (n == 1 || pos + n > s.size()) return kInvalid;
  uint32_t cp = b0 & (0xFF >> (n + 1));
  for (size_t i = 1; i < n; ++i) {
    const uint8_t b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong 3/4-byte forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return kInvalid;
  }
  len = n;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) { append_utf8_codepoint(out, cp); }

std::string_view byte_to_utf8(uint8_t b) { return alphabet().utf8[b]; }

int char_to_byte(uint32_t cp) {
  const auto& back = alphabet().back;
  return cp < back.size() ? back[cp] : -1;
}

}  // namespace strata::unicode
