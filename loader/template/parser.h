#pragma once
// Recursive-descent parser for the jinja2 statement and expression grammar (jinja2 3.1's
// precedence: or < and < not < comparisons < + - < ~ < * / // % < ** < unary, with filters,
// tests, calls, attributes and subscripts binding tightest).
#include "loader/template/ast.h"
#include "loader/template/lexer.h"

namespace strata::tmpl {

// Parses the tokens of a whole template. Throws TemplateError (with the line) for any syntax
// error, an unknown or unclosed tag, or nesting deeper than a fixed limit.
Body parse(const std::vector<Token>& tokens);

}  // namespace strata::tmpl
