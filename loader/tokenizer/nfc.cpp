// Unicode Normalization Form C (UAX #15): full canonical decomposition, canonical ordering of
// combining marks, then canonical composition. Tables: tools/unicode/gen_unicode_tables.py.
#include <algorithm>
#include <vector>

#include "loader/tokenizer/unicode.h"

namespace strata::unicode {
namespace {

// Hangul syllables decompose and compose arithmetically.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

uint8_t ccc(uint32_t cp) {
  const detail::CccRange* begin = detail::kCccRanges;
  const detail::CccRange* end = begin + detail::kCccRangeCount;
  const auto* it = std::upper_bound(begin, end, cp, [](uint32_t c, const detail::CccRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const detail::Decomposition* begin = detail::kDecompositions;
  const detail::Decomposition* end = begin + detail::kDecompositionCount;
  const auto* it = std::lower_bound(begin, end, cp, [](const detail::Decomposition& d, uint32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->first, out);  // decompositions nest at most a few levels
  if (it->second != 0) decompose(it->second, out);
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const detail::Composition* begin = detail::kCompositions;
  const detail::Composition* end = begin + detail::kCompositionCount;
  const auto* it = std::lower_bound(begin, end, std::pair{a, b}, [](const detail::Composition& c, std::pair<uint32_t, uint32_t> k) {
    return c.first != k.first ? c.first < k.first : c.second < k.second;
  });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

// NFC of one run of valid codepoints.
void normalize_run(const std::vector<uint32_t>& cps, std::string& out) {
  std::vector<uint32_t> d;
  d.reserve(cps.size() + 8);
  for (uint32_t cp : cps) decompose(cp, d);
  // Canonical order: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (ccc(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && ccc(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                     [](uint32_t x, uint32_t y) { return ccc(x) < ccc(y); });
    i = j;
  }
  // Compose each character with the last starter unless it is blocked: some character between
  // them is a starter or has a combining class >= its own (in canonical order, the last one
  // between has the highest class).
  std::vector<uint32_t> r;
  r.reserve(d.size());
  bool have_starter = false;
  size_t starter = 0;
  for (uint32_t cp : d) {
    const uint8_t cls = ccc(cp);
    if (have_starter) {
      const bool adjacent = r.size() == starter + 1;
      const uint8_t last = ccc(r.back());
      if (adjacent || (last != 0 && last < cls)) {
        if (const uint32_t c = compose(r[starter], cp); c != 0) {
          r[starter] = c;
          continue;
        }
      }
    }
    if (cls == 0) {
      have_starter = true;
      starter = r.size();
    }
    r.push_back(cp);
  }
  for (uint32_t cp : r) append_utf8(out, cp);
}

}  // namespace

void normalize_nfc(std::string_view text, std::string& out) {
  // Fast path: nothing in the text can change.
  bool sensitive = false;
  for (size_t pos = 0; pos < text.size() && !sensitive;) {
    if (static_cast<uint8_t>(text[pos]) < 0xCC) {  // below U+0300 nothing is NFC-sensitive
      ++pos;
      continue;
    }
    size_t len = 1;
    sensitive = (flags(decode_utf8(text, pos, len)) & kNfcSensitive) != 0;
    pos += len;
  }
  if (!sensitive) {
    out.append(text);
    return;
  }
  std::vector<uint32_t> run;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 1;
    const uint32_t cp = decode_utf8(text, pos, len);
    if (cp == kInvalid) {
      normalize_run(run, out);
      run.clear();
      out += text[pos];
    } else {
      run.push_back(cp);
    }
    pos += len;
  }
  normalize_run(run, out);
}

}  // namespace strata::unicode
