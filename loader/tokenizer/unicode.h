#pragma once
// Unicode support for the tokenizers: lenient UTF-8 decoding, the character classes the
// pre-tokenizer patterns use, and GPT-2's byte <-> character alphabet.
// All functions are pure and thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::unicode {

// Character class bits (generated tables: tools/unicode/gen_unicode_tables.py).
enum CpFlag : uint16_t {
  kLetter = 1 << 0,       // \p{L}
  kNumber = 1 << 1,       // \p{N}
  kMark = 1 << 2,         // \p{M}
  kPunct = 1 << 3,        // \p{P}
  kSymbol = 1 << 4,       // \p{S}
  kSpace = 1 << 5,        // \s (White_Space)
  kUpper = 1 << 6,        // \p{Lu}
  kLower = 1 << 7,        // \p{Ll}
  kTitle = 1 << 8,        // \p{Lt}
  kModifier = 1 << 9,     // \p{Lm}
  kOtherLetter = 1 << 10, // \p{Lo}
  kNfcSensitive = 1 << 11, // NFC may change text holding it (see normalize_nfc)
};

// Flags of one codepoint; 0 for unassigned codepoints, controls, and kInvalid.
uint16_t flags(uint32_t cp);

// Stands for one byte that is not part of a valid UTF-8 sequence: no class matches it, so
// a pre-tokenizer treats it like an unassigned character, and the byte itself is kept.
inline constexpr uint32_t kInvalid = 0x110000;

// Decodes the UTF-8 sequence starting at s[pos]. Returns the codepoint and sets `len` to the
// bytes consumed (1..4). Malformed input (bad lead or continuation byte, overlong form,
// surrogate, > U+10FFFF, truncated) decodes as kInvalid with len 1, so every byte of any
// input belongs to exactly one decoded unit.
uint32_t decode_utf8(std::string_view s, size_t pos, size_t& len);

// Appends the UTF-8 encoding of a valid codepoint.
void append_utf8(std::string& out, uint32_t cp);

// Length of the complete-or-not UTF-8 sequence a lead byte announces (1 for ASCII and for
// bytes that cannot start a sequence).
inline size_t utf8_seq_len(uint8_t lead) {
  if (lead < 0xC2) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 1;
}

// GPT-2 byte-level alphabet: every byte is shown as one printable character.
// byte_to_utf8(b) is that character's UTF-8 text; char_to_byte(cp) inverts it (-1 if cp is
// not in the alphabet).
std::string_view byte_to_utf8(uint8_t b);
int char_to_byte(uint32_t cp);

// Unicode Normalization Form C of valid UTF-8 `text`, appended to `out` (HF tokenizers' NFC
// normalizer). Bytes that are not valid UTF-8 are copied unchanged and block composition
// across them. Text without NFC-sensitive characters (nearly all text) is copied as is.
void normalize_nfc(std::string_view text, std::string& out);

namespace detail {
struct CpRange {
  uint32_t first;
  uint32_t last;
  uint16_t flags;
};
struct CccRange {
  uint32_t first;
  uint32_t last;
  uint8_t ccc;
};
struct Decomposition {
  uint32_t cp;
  uint32_t first;
  uint32_t second;  // 0 for a singleton
};
struct Composition {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};
extern const CpRange kCpRanges[];
extern const size_t kCpRangeCount;
extern const CccRange kCccRanges[];
extern const size_t kCccRangeCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
}  // namespace detail

}  // namespace strata::unicode
