#pragma once
// Splits a jinja2 template into tokens, applying jinja2's whitespace control the way
// Hugging Face configures it: trim_blocks (drop the newline after a block or comment tag),
// lstrip_blocks (drop indentation before a block or comment tag that starts a line), `-` to
// strip all whitespace on that side of a tag and `+` to keep it; a single trailing newline of the
// template is dropped (keep_trailing_newline=False).
#include <string>
#include <vector>

namespace strata::tmpl {

enum class Tok {
  Text,         // literal output (value)
  VarBegin,     // {{
  VarEnd,       // }}
  BlockBegin,   // {%
  BlockEnd,     // %}
  Name,         // identifier or keyword (value)
  String,       // string literal, unescaped (value)
  Integer,      // value holds the digits
  Float,        // value holds the literal
  Op,           // operator or punctuation (value): + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  End,
};

struct Token {
  Tok type;
  std::string value;
  int line;
};

// Throws TemplateError (with the line) for an unterminated tag,
// comment or string, or a character that cannot start a token.
std::vector<Token> lex(const std::string& source);

}  // namespace strata::tmpl
