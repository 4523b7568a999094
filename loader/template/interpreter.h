#pragma once
// Executes a parsed template: jinja2's scoping (a `for` body and a macro body get their own
// scope; `if` does not), loop variables, macros, `namespace()`, break/continue, and the globals
// Hugging Face provides (raise_exception, strftime_now) besides jinja2's (range, namespace, dict).
#include <ctime>
#include <string>

#include "loader/template/ast.h"

namespace strata::tmpl {

// Renders `body` with the given top-level variables. `now` is what strftime_now() formats.
// Throws TemplateError (with the line being executed) for any error the template raises or
// causes, including raise_exception(), and for exceeding the work / output / recursion limits
// that keep a hostile template from hanging or exhausting memory.
std::string execute(const Body& body, const Dict& variables, const std::tm& now);

}  // namespace strata::tmpl
