#include "loader/template/lexer.h"

#include <cctype>
#include <string_view>

#include "loader/template/template_error.h"
#include "loader/template/text.h"

namespace strata::tmpl {

namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// jinja2 unescapes string literals like Python's "unicode-escape" codec.
std::string unescape(std::string_view body, int line) {
  std::string out;
  size_t i = 0;
  auto hex = [&](size_t digits) -> uint32_t {
    if (i + digits > body.size()) fail_at(line, "truncated \\x/\\u escape in string literal");
    uint32_t v = 0;
    for (size_t k = 0; k < digits; ++k) {
      char c = body[i + k];
      int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : (c >= 'a' && c <= 'f')                   ? c - 'a' + 10
              : (c >= 'A' && c <= 'F')                   ? c - 'A' + 10
                                                         : -1;
      if (d < 0) fail_at(line, "invalid \\x/\\u escape in string literal");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    i += digits;
    return v;
  };
  while (i < body.size()) {
    char c = body[i++];
    if (c != '\\' || i >= body.size()) {
      out += c;
      continue;
    }
    char e = body[i++];
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': utf8_append(out, hex(2)); break;
      case 'u': utf8_append(out, hex(4)); break;
      case 'U': {
        uint32_t cp = hex(8);
        if (cp > 0x10FFFF) fail_at(line, "\\U escape out of range in string literal");
        utf8_append(out, cp);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k) {
            v = v * 8 + static_cast<uint32_t>(body[i++] - '0');
          }
          utf8_append(out, v);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    normalize();
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      int text_line = line_;
      advance_to(tag);
      if (tag == src_.size()) {
        emit_text(std::move(text), text_line);
        break;
      }
      char kind = src_[tag + 1];
      char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (modifier == '-') {
        text = rstrip_all(text);
      } else if (modifier != '+' && kind != '{') {
        // lstrip_blocks: indentation alone on its line before a block or comment goes.
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text, l_pos)) text.resize(l_pos);
      }
      emit_text(std::move(text), text_line);
      advance_to(tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0));
      if (kind == '#') {
        line_starting = lex_comment();
      } else if (kind == '{') {
        line_starting = lex_tag(true);
      } else {
        line_starting = lex_tag(false);
      }
    }
    tokens_.push_back({Tok::End, {}, line_});
    return std::move(tokens_);
  }

 private:
  // jinja2 reads \r\n and \r as \n, and drops one trailing newline.
  void normalize() {
    std::string out;
    out.reserve(src_.size());
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\r') {
        out += '\n';
        if (i + 1 < src_.size() && src_[i + 1] == '\n') ++i;
      } else {
        out += src_[i];
      }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    src_ = std::move(out);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void advance_to(size_t to) {
    for (; pos_ < to; ++pos_) {
      if (src_[pos_] == '\n') ++line_;
    }
  }

  static std::string rstrip_all(const std::string& s) {
    size_t end = s.size();
    while (end > 0 && is_space(s[end - 1])) --end;
    return s.substr(0, end);
  }

  static bool all_space(const std::string& s, size_t from) {
    for (size_t i = from; i < s.size(); ++i) {
      if (!is_space(s[i])) return false;
    }
    return true;
  }

  void emit_text(std::string text, int line) {
    if (!text.empty()) tokens_.push_back({Tok::Text, std::move(text), line});
  }

  // After a tag's closing delimiter: `-` strips all following whitespace; trim_blocks drops
  // one newline after a block or comment. Returns whether what was consumed ended a line.
  bool after_tag(char modifier, bool trim) {
    bool ended_line = false;
    if (modifier == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        ended_line = src_[pos_] == '\n';
        advance_to(pos_ + 1);
      }
    } else if (modifier != '+' && trim && pos_ < src_.size() && src_[pos_] == '\n') {
      advance_to(pos_ + 1);
      ended_line = true;
    }
    return ended_line;
  }

  bool lex_comment() {
    int start_line = line_;
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail_at(start_line, "unterminated comment");
    char modifier = (end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+')) ? src_[end - 1] : '\0';
    advance_to(end + 2);
    return after_tag(modifier, true);
  }

  // Tokens of one {{ ... }} or {% ... %}; a `raw` block is taken verbatim up to its endraw.
  bool lex_tag(bool variable) {
    int start_line = line_;
    size_t first = tokens_.size();
    tokens_.push_back({variable ? Tok::VarBegin : Tok::BlockBegin, {}, line_});
    int depth = 0;  // open brackets: a `}` inside a dict literal does not end the tag
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size()) fail_at(start_line, "unterminated {} tag", variable ? "'{{'" : "'{%'");
      char modifier = '\0';
      size_t p = pos_;
      if ((src_[p] == '-' || src_[p] == '+') && p + 1 < src_.size()) {
        modifier = src_[p];
        ++p;
      }
      const char* close = variable ? "}}" : "%}";
      if (depth == 0 && src_.compare(p, 2, close) == 0 && (modifier != '+' || !variable)) {
        advance_to(p + 2);
        tokens_.push_back({variable ? Tok::VarEnd : Tok::BlockEnd, {}, line_});
        bool ended = after_tag(modifier, !variable);
        if (!variable && tokens_.size() == first + 3 && tokens_[first + 1].type == Tok::Name &&
            tokens_[first + 1].value == "raw") {
          return lex_raw(first);
        }
        return ended;
      }
      lex_token(depth);
    }
  }

  bool lex_raw(size_t first) {
    int start_line = tokens_[first].line;
    tokens_.resize(first);
    // The body runs to the next {% endraw %} (with optional - modifiers).
    size_t search = pos_;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) fail_at(start_line, "missing {{% endraw %}} for {{% raw %}}");
      size_t p = open + 2;
      bool strip_before = p < src_.size() && src_[p] == '-';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      p += 6;
      while (p < src_.size() && is_space(src_[p])) ++p;
      char modifier = '\0';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) modifier = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) {
        search = open + 2;
        continue;
      }
      std::string body = src_.substr(pos_, open - pos_);
      if (strip_before) body = rstrip_all(body);
      emit_text(std::move(body), line_);
      advance_to(p + 2);
      return after_tag(modifier, true);
    }
  }

  void lex_token(int& depth) {
    int line = line_;
    char c = src_[pos_];
    if (is_name_start(c)) {
      size_t end = pos_;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      tokens_.push_back({Tok::Name, src_.substr(pos_, end - pos_), line});
      advance_to(end);
      return;
    }
    if (is_digit(c)) {
      lex_number();
      return;
    }
    if (c == '\'' || c == '"') {
      size_t i = pos_ + 1;
      while (i < src_.size() && src_[i] != c) {
        if (src_[i] == '\\') ++i;
        ++i;
      }
      if (i >= src_.size()) fail_at(line, "unterminated string literal");
      tokens_.push_back({Tok::String, unescape(std::string_view(src_).substr(pos_ + 1, i - pos_ - 1), line), line});
      advance_to(i + 1);
      return;
    }
    static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({Tok::Op, op, line});
        advance_to(pos_ + 2);
        return;
      }
    }
    static const std::string_view kOne = "+-*/%~<>=()[]{},.:|;";
    if (kOne.find(c) != std::string_view::npos) {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      tokens_.push_back({Tok::Op, std::string(1, c), line});
      advance_to(pos_ + 1);
      return;
    }
    fail_at(line, "unexpected character '{}' in tag", c);
  }

  void lex_number() {
    int line = line_;
    size_t i = pos_;
    auto digits = [&] {
      while (i < src_.size() && (is_digit(src_[i]) || (src_[i] == '_' && i + 1 < src_.size() && is_digit(src_[i + 1])))) ++i;
    };
    digits();
    bool is_float = false;
    if (i + 1 < src_.size() && src_[i] == '.' && is_digit(src_[i + 1])) {
      is_float = true;
      ++i;
      digits();
    }
    if (i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
      size_t j = i + 1;
      if (j < src_.size() && (src_[j] == '+' || src_[j] == '-')) ++j;
      if (j < src_.size() && is_digit(src_[j])) {
        is_float = true;
        i = j;
        digits();
      }
    }
    std::string lit;
    for (size_t k = pos_; k < i; ++k) {
      if (src_[k] != '_') lit += src_[k];
    }
    tokens_.push_back({is_float ? Tok::Float : Tok::Integer, lit, line});
    advance_to(i);
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(const std::string& source) { return Lexer(source).run(); }

}  // namespace strata::tmpl
