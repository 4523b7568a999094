#pragma once
// The values a chat template computes with: a small model of the Python objects jinja2 sees
// (None, bool, int, float, str, list, tuple, dict, jinja2's Undefined, namespaces, callables),
// with Python's truthiness, equality, ordering and str()/repr()/json.dumps() spellings, because
// rendered prompts must match jinja2 byte for byte.
//
// Lists and dicts have reference semantics (shared_ptr) like Python objects, so that
// `ns.items.append(x)` is seen through every name that refers to the list. Not thread-safe to
// mutate concurrently; a rendered template owns all the values it creates.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::tmpl {

class Value;
using List = std::vector<Value>;

// A Python dict in insertion order (json.dumps and iteration keep it). Keys are hashable
// values: None, bool, int, float, str or tuples of those (1, 1.0 and True are one key).
struct Dict {
  std::vector<std::pair<Value, Value>> items;

  const Value* find(std::string_view key) const;
  const Value* find(const Value& key) const;
  void set(std::string key, Value value);
  // Throws strata::Error for an unhashable key (list, dict, ...).
  void set(Value key, Value value);
  bool erase(const Value& key);
};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  // Python-style binding: argument `index` by position, else keyword `name`, else nullptr.
  const Value* get(size_t index, std::string_view name) const;
  // Throws strata::Error when more positional arguments than `max_pos` were given or a keyword
  // not in `names` was passed, naming `what` (the function or filter).
  void check(std::string_view what, size_t max_pos, std::initializer_list<std::string_view> names) const;
};

using Function = std::function<Value(CallArgs&)>;

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Function };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  // jinja2's Markup (from `|safe` / `|escape`): a str that, when `+`-ed with a plain str,
  // HTML-escapes the other side. Without autoescape that is its only visible effect.
  static Value markup(std::string s);
  static Value list(List items);
  static Value tuple(List items);
  // A lazily evaluated iterable in jinja2 (map, select, reverse, ...): iterates like a list but
  // has no len(), is always truthy and is not JSON serializable.
  static Value generator(List items);
  static Value dict(Dict d);
  static Value namespace_(Dict d);
  static Value function(std::string name, Function fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && flavor_ == Flavor::Markup; }
  // The same text as `s`, Markup when this value is (string methods keep Markup-ness).
  Value same_flavor(std::string s) const { return is_markup() ? markup(std::move(s)) : string(std::move(s)); }
  bool is_list() const { return kind_ == Kind::List; }  // list, tuple or generator
  bool is_tuple() const { return kind_ == Kind::List && flavor_ == Flavor::Tuple; }
  bool is_generator() const { return kind_ == Kind::List && flavor_ == Flavor::Generator; }
  bool is_plain_list() const { return kind_ == Kind::List && flavor_ == Flavor::Plain; }
  bool is_dict() const { return kind_ == Kind::Dict; }  // dict or namespace
  bool is_namespace() const { return kind_ == Kind::Dict && flavor_ == Flavor::Namespace; }
  bool is_mapping() const { return kind_ == Kind::Dict && flavor_ == Flavor::Plain; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }  // Int, or Bool as 0/1
  double as_double() const;              // any number
  const std::string& as_string() const { return s_; }
  List& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }
  const Function& as_function() const { return *fn_; }
  // Undefined: jinja2's message for using it ("'x' is undefined"); Function: its name.
  const std::string& hint() const { return s_; }

  // Python bool(x).
  bool truthy() const;
  // Python str(x) (Undefined prints as "").
  std::string str() const;
  // Python repr(x), as used inside printed lists and dicts.
  std::string repr() const;
  // jinja2's name for the type in messages ("str object", "dict object", "None").
  std::string type_name() const;

 private:
  enum class Flavor : uint8_t { Plain, Tuple, Generator, Namespace, Markup };
  Kind kind_ = Kind::Undefined;
  Flavor flavor_ = Flavor::Plain;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Python ==, for values of any kind (1 == 1.0 == True; Undefined equals only Undefined).
bool equals(const Value& a, const Value& b);
// Python <, for numbers, strings and lists; throws strata::Error for other kinds.
bool less(const Value& a, const Value& b);

struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;  // < 0: single line
  std::string indent_str;  // used when non-empty instead of `indent` spaces
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
// Python json.dumps(x, ...) with the given options; throws strata::Error for values JSON cannot
// represent (Undefined, functions, generators, namespaces), like Python's TypeError.
std::string to_json(const Value& v, const JsonOptions& opts);

// Python float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string float_repr(double d);

}  // namespace strata::tmpl
