#pragma once
// jinja2's built-in filters and tests, the Python methods templates call on str / list / dict,
// and jinja2's attribute and item lookup rules. All of them throw strata::Error for misuse (wrong
// argument types, unknown filter or test, using an undefined value), with a message modelled on
// the Python exception jinja2 would raise; the interpreter adds the template name and line.
#include <string>

#include "loader/template/value.h"

namespace strata::tmpl {

// Limits that keep a hostile template from exhausting memory.
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;
inline constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox MAX_RANGE

// Throws the error jinja2's Undefined raises when it is used (printed: nothing; used: this).
[[noreturn]] void fail_undefined(const Value& v);

// `obj.name`: a Python attribute first (str/list/dict methods, bound), then obj["name"];
// Undefined (not an error) when neither exists, unless obj itself is Undefined.
Value get_attr(const Value& obj, const std::string& name);
// `obj[key]`: an item first, then for a string key an attribute; Undefined when neither exists.
Value get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]` with Python's slice rules; null parts are omitted ones.
Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step);

// Python iter(): list/tuple/generator items, dict keys, str code points; Undefined is empty.
List iterate(const Value& v);

// Calls a callable value; Undefined raises its error, other values "'x' object is not callable".
Value call_value(const Value& fn, CallArgs& args);

Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
bool apply_test(const std::string& name, const Value& input, CallArgs& args);

// The Python operators the interpreter needs ("+", "-", "*", "/", "//", "%", "**").
Value arithmetic(const std::string& op, const Value& a, const Value& b);
// Python's printf-style `format % args` (args: a tuple, a mapping for %(name)s, or one value),
// for the `%` operator on strings and the `format` filter. Throws strata::Error for a bad
// conversion or the wrong number of arguments.
std::string percent_format(const std::string& format, const Value& args);

// `a in b`.
bool contains(const Value& container, const Value& item);

}  // namespace strata::tmpl
