#pragma once
// Python str semantics over UTF-8 text: code-point indexing, whitespace, strip/split and case
// mapping as jinja2 templates see them. Case mapping covers ASCII only (non-ASCII letters are
// kept as they are), which is what prompt templates apply it to (role names, keywords).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::tmpl {

// Splits UTF-8 text into code points, each as a view into `s`. A byte that does not start a
// valid sequence counts as one code point, so any byte string can be indexed without error.
std::vector<std::string_view> utf8_chars(std::string_view s);
// Number of code points (Python len()).
size_t utf8_length(std::string_view s);
// Appends code point `cp` encoded as UTF-8.
void utf8_append(std::string& out, uint32_t cp);
// Decodes one code point at `s[i]`, advancing i; invalid bytes decode as themselves.
uint32_t utf8_decode(std::string_view s, size_t& i);

// Python str.isspace() for one code point.
bool is_py_space(uint32_t cp);

// str.strip / lstrip / rstrip: with `chars` null, Python whitespace; else any of those code points.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) / rsplit: with `sep` null, runs of whitespace (no empty parts).
// Throws strata::Error for an empty separator (Python's ValueError).
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right);
// str.splitlines() (without keepends).
std::vector<std::string> py_splitlines(std::string_view s);
// str.replace(old, new, count) with count < 0 meaning all.
std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);

// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(std::string_view s);

std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
// str.capitalize(): first code point upper-cased, the rest lower-cased.
std::string py_capitalize(std::string_view s);
// str.title(): each run of letters starts upper-case, continues lower-case.
std::string py_title(std::string_view s);

}  // namespace strata::tmpl
