#include "loader/template/text.h"

#include "common/error.h"
#include "common/utf8.h"

namespace strata::tmpl {

namespace {

// Length of the UTF-8 sequence starting with `b`, or 0 for a byte that cannot start one.
size_t sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 0;
}

bool valid_sequence(std::string_view s, size_t i, size_t len) {
  if (len == 0 || i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
  }
  return true;
}

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

uint32_t utf8_decode(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t len = sequence_length(b);
  if (len <= 1 || !valid_sequence(s, i, len)) {
    ++i;
    return b;
  }
  uint32_t cp = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    utf8_decode(s, i);
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    utf8_decode(s, i);
    ++n;
  }
  return n;
}

void utf8_append(std::string& out, uint32_t cp) { append_utf8_codepoint(out, cp); }

bool is_py_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) {
    size_t i = 0;
    while (i < chars->size()) set.push_back(utf8_decode(*chars, i));
  }
  auto strippable = [&](uint32_t cp) {
    if (!chars) return is_py_space(cp);
    for (uint32_t c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  std::vector<std::string_view> cps = utf8_chars(s);
  size_t begin = 0;
  size_t end = cps.size();
  auto cp_of = [](std::string_view c) {
    size_t i = 0;
    return utf8_decode(c, i);
  };
  if (left) {
    while (begin < end && strippable(cp_of(cps[begin]))) ++begin;
  }
  if (right) {
    while (end > begin && strippable(cp_of(cps[end - 1]))) --end;
  }
  if (begin == end) return {};
  size_t from = static_cast<size_t>(cps[begin].data() - s.data());
  size_t to = static_cast<size_t>(cps[end - 1].data() + cps[end - 1].size() - s.data());
  return std::string(s.substr(from, to - from));
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) fail("empty separator");
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        size_t hit = s.find(*sep, pos);
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(pos, hit - pos));
        pos = hit + sep->size();
      }
      parts.emplace_back(s.substr(pos));
      return parts;
    }
    size_t end = s.size();
    std::vector<std::string> rev;
    while (maxsplit < 0 || static_cast<int64_t>(rev.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      rev.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    rev.emplace_back(s.substr(0, end));
    return {rev.rbegin(), rev.rend()};
  }
  // Whitespace splitting: runs of whitespace separate, ends never give empty parts.
  std::vector<std::pair<size_t, size_t>> words;  // byte ranges
  size_t i = 0;
  size_t word_start = std::string_view::npos;
  while (i < s.size()) {
    size_t at = i;
    uint32_t cp = utf8_decode(s, i);
    if (is_py_space(cp)) {
      if (word_start != std::string_view::npos) words.emplace_back(word_start, at);
      word_start = std::string_view::npos;
    } else if (word_start == std::string_view::npos) {
      word_start = at;
    }
  }
  if (word_start != std::string_view::npos) words.emplace_back(word_start, s.size());
  if (maxsplit < 0 || static_cast<int64_t>(words.size()) <= maxsplit) {
    for (auto [a, b] : words) parts.emplace_back(s.substr(a, b - a));
    return parts;
  }
  // With a limit the unsplit remainder keeps its whitespace, except where the split consumed it.
  auto n = static_cast<size_t>(maxsplit);
  if (!from_right) {
    for (size_t k = 0; k < n; ++k) parts.emplace_back(s.substr(words[k].first, words[k].second - words[k].first));
    parts.emplace_back(s.substr(words[n].first));
    return parts;
  }
  size_t first_kept = words.size() - n;
  parts.emplace_back(s.substr(0, words[first_kept - 1].second));
  for (size_t k = first_kept; k < words.size(); ++k) {
    parts.emplace_back(s.substr(words[k].first, words[k].second - words[k].first));
  }
  return parts;
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    uint32_t cp = utf8_decode(s, i);
    bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
               cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!brk) continue;
    lines.emplace_back(s.substr(start, at - start));
    if (cp == '\r' && i < s.size() && s[i] == '\n') ++i;
    start = i;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every code point and at the end.
    std::vector<std::string_view> cps = utf8_chars(s);
    int64_t done = 0;
    for (auto c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out += s.substr(pos, hit - pos);
    out += to;
    pos = hit + from.size();
    ++done;
  }
  out += s.substr(pos);
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

std::string py_title(std::string_view s) {
  std::string out(s);
  bool prev_letter = false;
  for (char& c : out) {
    bool letter = is_ascii_alpha(c) || (static_cast<unsigned char>(c) >= 0x80);
    if (is_ascii_alpha(c)) c = prev_letter ? to_lower(c) : to_upper(c);
    prev_letter = letter;
  }
  return out;
}

}  // namespace strata::tmpl
