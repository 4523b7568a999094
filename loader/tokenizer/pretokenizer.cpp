#include "loader/tokenizer/pretokenizer.h"

#include <algorithm>
#include <iterator>

#include "loader/tokenizer/unicode.h"

namespace strata {
namespace {

using namespace unicode;

// The text as codepoints with their classes and byte offsets (off[n] == text size).
struct Units {
  std::vector<uint32_t> cp;
  std::vector<uint16_t> fl;
  std::vector<uint32_t> off;

  explicit Units(std::string_view text) {
    cp.reserve(text.size());
    fl.reserve(text.size());
    off.reserve(text.size() + 1);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t len = 1;
      const uint32_t c = decode_utf8(text, pos, len);
      cp.push_back(c);
      fl.push_back(flags(c));
      off.push_back(static_cast<uint32_t>(pos));
      pos += len;
    }
    off.push_back(static_cast<uint32_t>(text.size()));
  }
  size_t size() const { return cp.size(); }
};

struct Piece {
  size_t begin;
  size_t end;
};

// A stage matcher: the end of the pattern's match starting at p (p < e), or p for none.
// Matches never look past e, the end of the piece being split.
using Matcher = size_t (*)(const Units& u, size_t p, size_t e);

bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

template <typename Pred>
size_t run(size_t p, size_t e, Pred pred) {
  while (p < e && pred(p)) ++p;
  return p;
}

// '(?i:'s|'t|'re|'ve|'m|'ll|'d)' (ASCII case folding when ci), or without (?i).
size_t contraction(const Units& u, size_t p, size_t e, bool ci) {
  if (u.cp[p] != '\'' || p + 1 >= e) return p;
  const auto lower = [&](size_t i) {
    const uint32_t c = u.cp[i];
    return (ci && c >= 'A' && c <= 'Z') ? c + 32 : c;
  };
  const uint32_t c1 = lower(p + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return p + 2;
  if (p + 2 >= e) return p;
  const uint32_t c2 = lower(p + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return p + 3;
  return p;
}

// Whitespace tails shared by most patterns:
//   \s*[\r\n]+ | \s+(?!\S) | \s+ (the last only when `any_ws`).
size_t whitespace_tail(const Units& u, size_t p, size_t e, bool crlf_alt, bool any_ws) {
  if (!(u.fl[p] & kSpace)) return p;
  const size_t r = run(p, e, [&](size_t i) { return (u.fl[i] & kSpace) != 0; });
  if (crlf_alt) {
    // Greedy \s* backs off to the last line break of the run; [\r\n]+ then ends right after it.
    for (size_t j = r; j > p; --j) {
      if (is_crlf(u.cp[j - 1])) return j;
    }
  }
  if (r == e) return r;           // \s+(?!\S) at the end of the piece
  if (r - p >= 2) return r - 1;   // leave one space to lead the next word
  return any_ws ? r : p;
}

bool gpt2_other(const Units& u, size_t i) { return !(u.fl[i] & (kSpace | kLetter | kNumber)); }

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
size_t match_gpt2(const Units& u, size_t p, size_t e) {
  size_t m = contraction(u, p, e, false);
  if (m > p) return m;
  const size_t s = (u.cp[p] == ' ' && p + 1 < e) ? p + 1 : p;
  if (u.fl[s] & kLetter) return run(s, e, [&](size_t i) { return (u.fl[i] & kLetter) != 0; });
  if (u.fl[s] & kNumber) return run(s, e, [&](size_t i) { return (u.fl[i] & kNumber) != 0; });
  if (gpt2_other(u, s)) return run(s, e, [&](size_t i) { return gpt2_other(u, i); });
  return whitespace_tail(u, p, e, false, false);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
template <size_t max_digits>
size_t match_llama3(const Units& u, size_t p, size_t e) {
  size_t m = contraction(u, p, e, true);
  if (m > p) return m;
  const auto letter = [&](size_t i) { return (u.fl[i] & kLetter) != 0; };
  if (letter(p)) return run(p, e, letter);
  if (!is_crlf(u.cp[p]) && !(u.fl[p] & kNumber) && p + 1 < e && letter(p + 1)) return run(p + 1, e, letter);
  if (u.fl[p] & kNumber) {
    size_t q = p;
    while (q < e && q - p < max_digits && (u.fl[q] & kNumber)) ++q;
    return q;
  }
  const size_t s = (u.cp[p] == ' ' && p + 1 < e) ? p + 1 : p;
  if (gpt2_other(u, s)) {
    const size_t q = run(s, e, [&](size_t i) { return gpt2_other(u, i); });
    return run(q, e, [&](size_t i) { return is_crlf(u.cp[i]); });
  }
  return whitespace_tail(u, p, e, true, true);
}

// o200k: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
//   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
//   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_gpt4o(const Units& u, size_t p, size_t e) {
  constexpr uint16_t kA = kUpper | kTitle | kModifier | kOtherLetter | kMark;
  constexpr uint16_t kB = kLower | kModifier | kOtherLetter | kMark;
  const auto A = [&](size_t i) { return (u.fl[i] & kA) != 0; };
  const auto B = [&](size_t i) { return (u.fl[i] & kB) != 0; };
  const auto with_suffix = [&](size_t q) {
    if (q >= e) return q;
    const size_t c = contraction(u, q, e, true);
    return c > q ? c : q;
  };
  const bool prefix = !is_crlf(u.cp[p]) && !(u.fl[p] & (kLetter | kNumber));
  // The optional prefix is tried consumed first, then not, as a backtracking engine does.
  for (int take = prefix ? 1 : 0; take >= 0; --take) {
    const size_t s = p + static_cast<size_t>(take);
    if (s >= e) continue;
    const size_t a_end = run(s, e, A);
    for (size_t j = a_end + 1; j-- > s;) {
      if (j < e && B(j)) return with_suffix(run(j, e, B));
    }
  }
  for (int take = prefix ? 1 : 0; take >= 0; --take) {
    const size_t s = p + static_cast<size_t>(take);
    if (s >= e || !A(s)) continue;
    return with_suffix(run(run(s, e, A), e, B));
  }
  if (u.fl[p] & kNumber) {
    size_t q = p;
    while (q < e && q - p < 3 && (u.fl[q] & kNumber)) ++q;
    return q;
  }
  const size_t s = (u.cp[p] == ' ' && p + 1 < e) ? p + 1 : p;
  if (gpt2_other(u, s)) {
    const size_t q = run(s, e, [&](size_t i) { return gpt2_other(u, i); });
    return run(q, e, [&](size_t i) { return is_crlf(u.cp[i]) || u.cp[i] == '/'; });
  }
  return whitespace_tail(u, p, e, true, true);
}

// \p{N}{1,3}
size_t match_digits3(const Units& u, size_t p, size_t e) {
  size_t q = p;
  while (q < e && q - p < 3 && (u.fl[q] & kNumber)) ++q;
  return q;
}

// \p{N}+
size_t match_numbers(const Units& u, size_t p, size_t e) {
  return run(p, e, [&](size_t i) { return (u.fl[i] & kNumber) != 0; });
}

// \p{N}
size_t match_number(const Units& u, size_t p, size_t) { return (u.fl[p] & kNumber) ? p + 1 : p; }

// [0-9][0-9][0-9]
size_t match_ascii_digits3(const Units& u, size_t p, size_t e) {
  const auto d = [&](size_t i) { return i < e && u.cp[i] >= '0' && u.cp[i] <= '9'; };
  return (d(p) && d(p + 1) && d(p + 2)) ? p + 3 : p;
}

bool ascii_symbol_punct(uint32_t c) {
  return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
}

// [\p{P}\$\+<=>\^~\|]+
size_t match_punct_default(const Units& u, size_t p, size_t e) {
  return run(p, e, [&](size_t i) { return (u.fl[i] & kPunct) || ascii_symbol_punct(u.cp[i]); });
}

// [\p{P}\$\+<=>\^~\|`]+
size_t match_punct_falcon(const Units& u, size_t p, size_t e) {
  return run(p, e, [&](size_t i) {
    return (u.fl[i] & kPunct) || ascii_symbol_punct(u.cp[i]) || u.cp[i] == '`';
  });
}

bool in_ranges(uint32_t c, const uint32_t (*ranges)[2], size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (c >= ranges[i][0] && c <= ranges[i][1]) return true;
  }
  return false;
}

// [一-龥぀-ゟ゠-ヿ]+
size_t match_cjk_kana(const Units& u, size_t p, size_t e) {
  static constexpr uint32_t kRanges[][2] = {{0x3040, 0x309F}, {0x30A0, 0x30FF}, {0x4E00, 0x9FA5}};
  return run(p, e, [&](size_t i) { return in_ranges(u.cp[i], kRanges, std::size(kRanges)); });
}

// deepseek-v3's main pattern:
//   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//   | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_deepseek3(const Units& u, size_t p, size_t e) {
  const auto ascii_alpha = [&](size_t i) {
    const uint32_t c = u.cp[i];
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  };
  const uint32_t c0 = u.cp[p];
  const bool ascii_punct = c0 >= 0x21 && c0 <= 0x7E && !(c0 >= '0' && c0 <= '9') &&
                           !(c0 >= 'A' && c0 <= 'Z') && !(c0 >= 'a' && c0 <= 'z');
  if (ascii_punct && p + 1 < e && ascii_alpha(p + 1)) return run(p + 1, e, ascii_alpha);
  const auto lm = [&](size_t i) { return (u.fl[i] & (kLetter | kMark)) != 0; };
  const bool prefix = !is_crlf(c0) && !(u.fl[p] & (kLetter | kPunct | kSymbol));
  if (prefix && p + 1 < e && lm(p + 1)) return run(p + 1, e, lm);
  if (lm(p)) return run(p, e, lm);
  const auto ps = [&](size_t i) { return (u.fl[i] & (kPunct | kSymbol)) != 0; };
  const size_t s = (c0 == ' ' && p + 1 < e) ? p + 1 : p;
  if (ps(s)) {
    const size_t q = run(s, e, ps);
    return run(q, e, [&](size_t i) { return is_crlf(u.cp[i]); });
  }
  return whitespace_tail(u, p, e, true, true);
}

// [\r\n]
size_t match_crlf(const Units& u, size_t p, size_t) { return is_crlf(u.cp[p]) ? p + 1 : p; }

// DeepSeek LLM's letter class: the cased letters of an older Unicode, spelled out in its regex.
constexpr uint32_t kDeepseekLetters[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

// \s?[<DeepSeek letters>]+
size_t match_deepseek_letters(const Units& u, size_t p, size_t e) {
  const auto letter = [&](size_t i) {
    return in_ranges(u.cp[i], kDeepseekLetters, std::size(kDeepseekLetters));
  };
  if ((u.fl[p] & kSpace) && p + 1 < e && letter(p + 1)) return run(p + 1, e, letter);
  return run(p, e, letter);
}

// \s?[!-/:-~！-／：-～‘-‟　-。]+
size_t match_deepseek_punct(const Units& u, size_t p, size_t e) {
  static constexpr uint32_t kRanges[][2] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
                                            {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
  const auto punct = [&](size_t i) { return in_ranges(u.cp[i], kRanges, std::size(kRanges)); };
  if ((u.fl[p] & kSpace) && p + 1 < e && punct(p + 1)) return run(p + 1, e, punct);
  return run(p, e, punct);
}


// [一-龥ࠀ-一가-퟿]+
size_t match_deepseek_cjk(const Units& u, size_t p, size_t e) {
  static constexpr uint32_t kRanges[][2] = {{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}};
  return run(p, e, [&](size_t i) { return in_ranges(u.cp[i], kRanges, std::size(kRanges)); });
}

// The stage \s+$ (line breaks are already pieces of their own there, so $ is the end of the
// piece): its first match is the piece's trailing whitespace run. Handled by the splitter
// directly, since trying each start in turn would be quadratic in a long run of spaces.
constexpr Matcher kTrailingSpace = nullptr;

struct Family {
  PreTokenizer pre;
  const char* name;
  std::vector<Matcher> stages;
};

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {PreTokenizer::Default, "default",
       {match_punct_default, match_gpt2, match_numbers, match_ascii_digits3}},
      {PreTokenizer::Gpt2, "gpt-2", {match_gpt2}},
      {PreTokenizer::Llama3, "llama-bpe", {match_llama3<3>}},
      {PreTokenizer::Qwen2, "qwen2", {match_llama3<1>}},
      {PreTokenizer::DeepseekLlm, "deepseek-llm",
       {match_crlf, match_deepseek_letters, match_deepseek_punct, kTrailingSpace,
        match_deepseek_cjk, match_numbers}},
      {PreTokenizer::Deepseek3, "deepseek-v3", {match_digits3, match_cjk_kana, match_deepseek3}},
      {PreTokenizer::Gpt4o, "gpt-4o", {match_gpt4o}},
      {PreTokenizer::Falcon, "falcon", {match_punct_falcon, match_gpt2, match_ascii_digits3}},
      {PreTokenizer::Starcoder, "starcoder", {match_number, match_gpt2}},
  };
  return f;
}

const Family& family(PreTokenizer pre) {
  for (const Family& f : families()) {
    if (f.pre == pre) return f;
  }
  return families().front();
}

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  struct Alias {
    std::string_view name;
    PreTokenizer pre;
  };
  static constexpr Alias kAliases[] = {
      {"", PreTokenizer::Default},           {"default", PreTokenizer::Default},
      {"gpt-2", PreTokenizer::Gpt2},         {"phi-2", PreTokenizer::Gpt2},
      {"olmo", PreTokenizer::Gpt2},          {"mpt", PreTokenizer::Gpt2},
      {"jais", PreTokenizer::Gpt2},          {"exaone4", PreTokenizer::Gpt2},
      {"llama3", PreTokenizer::Llama3},      {"llama-v3", PreTokenizer::Llama3},
      {"llama-bpe", PreTokenizer::Llama3},   {"falcon3", PreTokenizer::Llama3},
      {"pixtral", PreTokenizer::Llama3},     {"dbrx", PreTokenizer::Llama3},
      {"smaug-bpe", PreTokenizer::Llama3},   {"qwen2", PreTokenizer::Qwen2},
      {"stablelm2", PreTokenizer::Qwen2},    {"deepseek-r1-qwen", PreTokenizer::Qwen2},
      {"megrez", PreTokenizer::Qwen2},       {"hunyuan", PreTokenizer::Qwen2},
      {"deepseek-llm", PreTokenizer::DeepseekLlm}, {"deepseek-v3", PreTokenizer::Deepseek3},
      {"gpt-4o", PreTokenizer::Gpt4o},       {"llama4", PreTokenizer::Gpt4o},
      {"falcon", PreTokenizer::Falcon},      {"starcoder", PreTokenizer::Starcoder},
      {"refact", PreTokenizer::Starcoder},   {"command-r", PreTokenizer::Starcoder},
      {"smollm", PreTokenizer::Starcoder},   {"codeshell", PreTokenizer::Starcoder},
  };
  for (const Alias& a : kAliases) {
    if (a.name == name) return a.pre;
  }
  return std::nullopt;
}

const char* pre_tokenizer_name(PreTokenizer pre) { return family(pre).name; }

const char* const kHfByteLevelPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

std::optional<PreTokenizer> pre_tokenizer_from_hf_patterns(const std::vector<std::string>& patterns) {
  struct Known {
    PreTokenizer pre;
    std::vector<std::string> patterns;
  };
  static const std::vector<Known> kKnown = {
      {PreTokenizer::Gpt2, {kHfByteLevelPattern}},
      {PreTokenizer::Qwen2,
       {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
        "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
      {PreTokenizer::Llama3,
       {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
        "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
      {PreTokenizer::Gpt4o,
       {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
        "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}"
        "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
      {PreTokenizer::Deepseek3,
       {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
        "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
  };
  for (const Known& k : kKnown) {
    if (k.patterns == patterns) return k.pre;
  }
  // DeepSeek-V3's files differ in how they spell the CJK class (redundant ranges); the other
  // two patterns identify the family.
  const auto& ds3 = kKnown.back().patterns;
  if (patterns.size() == 3 && patterns[0] == ds3[0] && patterns[2] == ds3[2] &&
      patterns[1].rfind("[一-龥", 0) == 0) {
    return PreTokenizer::Deepseek3;
  }
  return std::nullopt;
}

void pre_tokenize(PreTokenizer pre, std::string_view text, std::vector<ByteSpan>& out) {
  if (text.empty()) return;
  const Units u(text);
  const Family& fam = family(pre);
  std::vector<Piece> pieces{{0, u.size()}};
  std::vector<Piece> next;
  for (Matcher match : fam.stages) {
    next.clear();
    for (const Piece& piece : pieces) {
      if (match == kTrailingSpace) {
        size_t t = piece.end;
        while (t > piece.begin && (u.fl[t - 1] & kSpace)) --t;
        if (t > piece.begin) next.push_back({piece.begin, t});
        if (t < piece.end) next.push_back({t, piece.end});
        continue;
      }
      size_t gap = piece.begin;
      size_t p = piece.begin;
      while (p < piece.end) {
        const size_t m = match(u, p, piece.end);
        if (m > p) {
          if (gap < p) next.push_back({gap, p});
          next.push_back({p, m});
          p = gap = m;
        } else {
          ++p;
        }
      }
      if (gap < piece.end) next.push_back({gap, piece.end});
    }
    pieces.swap(next);
  }
  out.reserve(out.size() + pieces.size());
  for (const Piece& piece : pieces) out.push_back({u.off[piece.begin], u.off[piece.end]});
}

}  // namespace strata
