// jinja2's attribute / item lookup, iteration, calls, operators, and the Python methods of
// str / list / dict that templates call.
#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "loader/template/builtins.h"
#include "loader/template/text.h"

namespace strata::tmpl {

void fail_undefined(const Value& v) {
  if (!v.hint().empty()) fail("{}", v.hint());
  fail("value is undefined");
}

namespace {

int64_t to_index(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  fail("{} must be an integer, not {}", what, v.type_name());
}

std::string expect_str(const Value& v, const char* what) {
  if (!v.is_string()) fail("{} must be str, not {}", what, v.type_name());
  return v.as_string();
}

Value none() { return Value::none(); }

Value method(const std::string& name, Function fn) { return Value::function(name, std::move(fn)); }

// Markup stays Markup through the methods markupsafe wraps (strip, replace, case changes).
Value keep_flavor(bool markup, std::string s) { return markup ? Value::markup(std::move(s)) : Value::string(std::move(s)); }

Value str_method(const Value& self, const std::string& name) {
  const std::string& s = self.as_string();
  const bool mk = self.is_markup();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip";
    bool right = name != "lstrip";
    return method(name, [s, mk, left, right, name](CallArgs& a) {
      a.check(name, 1, {});
      const Value* chars = a.get(0, "chars");
      if (chars && !chars->is_none()) {
        std::string c = expect_str(*chars, "chars");
        return keep_flavor(mk, py_strip(s, &c, left, right));
      }
      return keep_flavor(mk, py_strip(s, nullptr, left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    bool right = name == "rsplit";
    return method(name, [s, right, name](CallArgs& a) {
      a.check(name, 2, {"sep", "maxsplit"});
      const Value* sep = a.get(0, "sep");
      const Value* max = a.get(1, "maxsplit");
      int64_t maxsplit = max ? to_index(*max, "maxsplit") : -1;
      std::vector<std::string> parts;
      if (sep && !sep->is_none()) {
        std::string sp = expect_str(*sep, "sep");
        parts = py_split(s, &sp, maxsplit, right);
      } else {
        parts = py_split(s, nullptr, maxsplit, right);
      }
      List out;
      for (auto& p : parts) out.push_back(Value::string(std::move(p)));
      return Value::list(std::move(out));
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    return method(name, [s, start, name](CallArgs& a) {
      a.check(name, 1, {});
      const Value* p = a.get(0, "");
      if (!p) fail("{}() takes at least 1 argument", name);
      List options = p->is_tuple() ? p->as_list() : List{*p};
      for (const Value& o : options) {
        std::string x = expect_str(o, name.c_str());
        bool hit = start ? s.compare(0, x.size(), x) == 0
                         : (s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    });
  }
  if (name == "replace") {
    return method(name, [s, mk](CallArgs& a) {
      a.check("replace", 3, {});
      const Value* from = a.get(0, "");
      const Value* to = a.get(1, "");
      if (!from || !to) fail("replace() takes at least 2 arguments");
      const Value* count = a.get(2, "");
      return keep_flavor(mk, py_replace(s, expect_str(*from, "old"), expect_str(*to, "new"),
                                      count ? to_index(*count, "count") : -1));
    });
  }
  if (name == "upper") return method(name, [s, mk](CallArgs&) { return keep_flavor(mk, ascii_upper(s)); });
  if (name == "lower") return method(name, [s, mk](CallArgs&) { return keep_flavor(mk, ascii_lower(s)); });
  if (name == "title") return method(name, [s, mk](CallArgs&) { return keep_flavor(mk, py_title(s)); });
  if (name == "capitalize") return method(name, [s, mk](CallArgs&) { return keep_flavor(mk, py_capitalize(s)); });
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return method(name, [s, name](CallArgs& a) {
      a.check(name, 1, {});
      const Value* sub = a.get(0, "");
      if (!sub) fail("{}() takes at least 1 argument", name);
      std::string x = expect_str(*sub, "substring");
      if (name == "count") {
        if (x.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
        int64_t n = 0;
        for (size_t p = s.find(x); p != std::string::npos; p = s.find(x, p + x.size())) ++n;
        return Value::integer(n);
      }
      size_t p = (name == "find" || name == "index") ? s.find(x) : s.rfind(x);
      if (p == std::string::npos) {
        if (name == "index" || name == "rindex") fail("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, p))));
    });
  }
  if (name == "splitlines") {
    return method(name, [s](CallArgs&) {
      List out;
      for (auto& l : py_splitlines(s)) out.push_back(Value::string(std::move(l)));
      return Value::list(std::move(out));
    });
  }
  if (name == "join") {
    return method(name, [s](CallArgs& a) {
      a.check("join", 1, {});
      const Value* it = a.get(0, "");
      if (!it) fail("join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const Value& v : iterate(*it)) {
        if (!first) out += s;
        first = false;
        out += expect_str(v, "sequence item");
      }
      return Value::string(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "islower" || name == "isupper") {
    return method(name, [s, name](CallArgs&) {
      if (s.empty()) return Value::boolean(false);
      if (name == "islower" || name == "isupper") {
        bool cased = false;
        for (char c : s) {
          if (std::isalpha(static_cast<unsigned char>(c))) {
            cased = true;
            if ((name == "islower") != static_cast<bool>(std::islower(static_cast<unsigned char>(c)))) {
              return Value::boolean(false);
            }
          }
        }
        return Value::boolean(cased);
      }
      for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        bool ok = name == "isdigit" ? std::isdigit(u) != 0
                  : name == "isalpha" ? std::isalpha(u) != 0
                  : name == "isalnum" ? std::isalnum(u) != 0
                                      : is_py_space(u);
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  if (name == "format") {
    return method(name, [s](CallArgs& a) {
      // str.format with automatic or explicit positional fields and named fields; no specs.
      std::string out;
      size_t auto_index = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '}' ) {
          if (i + 1 < s.size() && s[i + 1] == '}') ++i;
          else fail("Single '}}' encountered in format string");
          out += '}';
          continue;
        }
        if (c != '{') {
          out += c;
          continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '{') {
          out += '{';
          ++i;
          continue;
        }
        size_t close = s.find('}', i);
        if (close == std::string::npos) fail("Single '{{' encountered in format string");
        std::string field = s.substr(i + 1, close - i - 1);
        if (field.find_first_of(":!") != std::string::npos) fail("format specs are not supported in str.format()");
        const Value* v = nullptr;
        if (field.empty()) {
          v = auto_index < a.pos.size() ? &a.pos[auto_index] : nullptr;
          ++auto_index;
        } else if (std::all_of(field.begin(), field.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
          size_t idx = std::stoul(field);
          v = idx < a.pos.size() ? &a.pos[idx] : nullptr;
        } else {
          for (auto& [k, kv] : a.kw) {
            if (k == field) v = &kv;
          }
        }
        if (!v) fail("str.format(): no argument for field '{{{}}}'", field);
        out += v->str();
        i = close;
      }
      return Value::string(std::move(out));
    });
  }
  return Value::undefined(fmt::format("'str object' has no attribute '{}'", name));
}

int64_t normalize_index(int64_t i, size_t size) { return i < 0 ? i + static_cast<int64_t>(size) : i; }

Value list_method(const Value& self, const std::string& name) {
  List* list = &self.as_list();
  if (name == "append") {
    return method(name, [self, list](CallArgs& a) {
      a.check("append", 1, {});
      if (a.pos.size() != 1) fail("append() takes exactly one argument");
      list->push_back(a.pos[0]);
      return none();
    });
  }
  if (name == "extend") {
    return method(name, [self, list](CallArgs& a) {
      a.check("extend", 1, {});
      if (a.pos.size() != 1) fail("extend() takes exactly one argument");
      for (Value& v : iterate(a.pos[0])) list->push_back(v);
      return none();
    });
  }
  if (name == "insert") {
    return method(name, [self, list](CallArgs& a) {
      a.check("insert", 2, {});
      if (a.pos.size() != 2) fail("insert expected 2 arguments");
      int64_t i = normalize_index(to_index(a.pos[0], "index"), list->size());
      i = std::clamp<int64_t>(i, 0, static_cast<int64_t>(list->size()));
      list->insert(list->begin() + i, a.pos[1]);
      return none();
    });
  }
  if (name == "pop") {
    return method(name, [self, list](CallArgs& a) {
      a.check("pop", 1, {});
      if (list->empty()) fail("pop from empty list");
      int64_t i = a.pos.empty() ? -1 : to_index(a.pos[0], "index");
      i = normalize_index(i, list->size());
      if (i < 0 || i >= static_cast<int64_t>(list->size())) fail("pop index out of range");
      Value v = (*list)[static_cast<size_t>(i)];
      list->erase(list->begin() + i);
      return v;
    });
  }
  if (name == "index" || name == "count" || name == "remove") {
    return method(name, [self, list, name](CallArgs& a) {
      a.check(name, 1, {});
      if (a.pos.size() != 1) fail("{}() takes exactly one argument", name);
      int64_t n = 0;
      for (size_t i = 0; i < list->size(); ++i) {
        if (!equals((*list)[i], a.pos[0])) continue;
        if (name == "index") return Value::integer(static_cast<int64_t>(i));
        if (name == "remove") {
          list->erase(list->begin() + static_cast<int64_t>(i));
          return none();
        }
        ++n;
      }
      if (name == "count") return Value::integer(n);
      fail("{} is not in list", a.pos[0].repr());
    });
  }
  if (name == "reverse") {
    return method(name, [self, list](CallArgs&) {
      std::reverse(list->begin(), list->end());
      return none();
    });
  }
  if (name == "copy") {
    return method(name, [self, list](CallArgs&) { return Value::list(*list); });
  }
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", self.type_name(), name));
}

Value dict_method(const Value& self, const std::string& name) {
  Dict* d = &self.as_dict();
  if (name == "items" || name == "keys" || name == "values") {
    return method(name, [self, d, name](CallArgs&) {
      List out;
      for (auto& [k, v] : d->items) {
        if (name == "items") out.push_back(Value::tuple({k, v}));
        else if (name == "keys") out.push_back(k);
        else out.push_back(v);
      }
      return Value::list(std::move(out));
    });
  }
  if (name == "get") {
    return method(name, [self, d](CallArgs& a) {
      a.check("get", 2, {});
      if (a.pos.empty()) fail("get expected at least 1 argument, got 0");
      if (const Value* v = d->find(a.pos[0])) return *v;
      return a.pos.size() > 1 ? a.pos[1] : none();
    });
  }
  if (name == "pop") {
    return method(name, [self, d](CallArgs& a) {
      a.check("pop", 2, {});
      if (a.pos.empty()) fail("pop expected at least 1 argument, got 0");
      if (const Value* v = d->find(a.pos[0])) {
        Value out = *v;
        d->erase(a.pos[0]);
        return out;
      }
      if (a.pos.size() > 1) return a.pos[1];
      fail("KeyError: {}", a.pos[0].repr());
    });
  }
  if (name == "setdefault") {
    return method(name, [self, d](CallArgs& a) {
      a.check("setdefault", 2, {});
      if (a.pos.empty()) fail("setdefault expected at least 1 argument, got 0");
      if (const Value* v = d->find(a.pos[0])) return *v;
      Value def = a.pos.size() > 1 ? a.pos[1] : none();
      d->set(a.pos[0], def);
      return def;
    });
  }
  if (name == "update") {
    return method(name, [self, d](CallArgs& a) {
      a.check("update", 1, {});
      if (!a.pos.empty()) {
        if (!a.pos[0].is_mapping()) fail("update() needs a mapping");
        Dict src = a.pos[0].as_dict();
        for (auto& [k, v] : src.items) d->set(k, v);
      }
      for (auto& [k, v] : a.kw) d->set(k, v);
      return none();
    });
  }
  if (name == "copy") {
    return method(name, [self, d](CallArgs&) { return Value::dict(*d); });
  }
  return {};
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_undefined(obj);
    case Value::Kind::String:
      return str_method(obj, name);
    case Value::Kind::List:
      if (obj.is_generator()) break;
      return list_method(obj, name);
    case Value::Kind::Dict: {
      if (obj.is_namespace()) {
        if (const Value* v = obj.as_dict().find(name)) return *v;
        break;
      }
      Value m = dict_method(obj, name);
      if (!m.is_undefined()) return m;
      if (const Value* v = obj.as_dict().find(name)) return *v;
      break;
    }
    default:
      break;
  }
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", obj.type_name(), name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_mapping()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  }
  if ((obj.is_plain_list() || obj.is_tuple() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    if (obj.is_string()) {
      auto chars = utf8_chars(obj.as_string());
      int64_t i = normalize_index(key.as_int(), chars.size());
      if (i >= 0 && i < static_cast<int64_t>(chars.size())) return Value::string(std::string(chars[static_cast<size_t>(i)]));
    } else {
      const List& l = obj.as_list();
      int64_t i = normalize_index(key.as_int(), l.size());
      if (i >= 0 && i < static_cast<int64_t>(l.size())) return l[static_cast<size_t>(i)];
    }
  }
  if (key.is_string()) {
    Value v = get_attr(obj, key.as_string());
    if (!v.is_undefined()) return v;
    if (obj.is_dict() && !obj.is_namespace()) {
      return Value::undefined(fmt::format("'dict object' has no attribute '{}'", key.as_string()));
    }
  }
  return Value::undefined(fmt::format("{} has no element {}", obj.is_none() ? "None" : "'" + obj.type_name() + "'", key.repr()));
}

Value get_slice(const Value& obj, const Value* start, const Value* stop, const Value* step) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!obj.is_string() && !(obj.is_list() && !obj.is_generator())) {
    return Value::undefined(fmt::format("'{}' is not subscriptable", obj.type_name()));
  }
  auto opt = [](const Value* v) -> const Value* { return (v && !v->is_none()) ? v : nullptr; };
  start = opt(start);
  stop = opt(stop);
  step = opt(step);
  int64_t st = step ? to_index(*step, "slice step") : 1;
  if (st == 0) fail("slice step cannot be zero");
  std::vector<std::string_view> chars;
  size_t n = 0;
  if (obj.is_string()) {
    chars = utf8_chars(obj.as_string());
    n = chars.size();
  } else {
    n = obj.as_list().size();
  }
  auto len = static_cast<int64_t>(n);
  auto clampi = [&](const Value* v, int64_t def) {
    if (!v) return def;
    int64_t i = to_index(*v, "slice index");
    if (i < 0) i += len;
    if (st > 0) return std::clamp<int64_t>(i, 0, len);
    return std::clamp<int64_t>(i, -1, len - 1);
  };
  int64_t b = clampi(start, st > 0 ? 0 : len - 1);
  int64_t e = clampi(stop, st > 0 ? len : -1);
  std::vector<size_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::string out;
    for (size_t i : idx) out += chars[i];
    return Value::string(std::move(out));
  }
  List out;
  for (size_t i : idx) out.push_back(obj.as_list()[i]);
  return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::List:
      return v.as_list();
    case Value::Kind::Dict: {
      if (v.is_namespace()) break;
      List keys;
      for (auto& [k, x] : v.as_dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::String: {
      List out;
      for (auto c : utf8_chars(v.as_string())) out.push_back(Value::string(std::string(c)));
      return out;
    }
    default:
      break;
  }
  fail("'{}' object is not iterable", v.is_none() ? "NoneType" : v.type_name().substr(0, v.type_name().find(' ')));
}

Value call_value(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn);
  if (!fn.is_function()) fail("'{}' is not callable", fn.type_name());
  return fn.as_function()(args);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const Value& v : container.as_list()) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::Dict:
      if (container.is_namespace()) break;
      return container.as_dict().find(item) != nullptr;
    default:
      break;
  }
  fail("argument of type '{}' is not iterable", container.is_none() ? "NoneType" : container.type_name());
}

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (op == "%" && a.is_string()) return a.same_flavor(percent_format(a.as_string(), b));
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    bool ints = !a.is_float() && !b.is_float();
    if (op == "+" || op == "-" || op == "*") {
      if (ints) {
        int64_t r = 0;
        bool overflow = op == "+"   ? __builtin_add_overflow(a.as_int(), b.as_int(), &r)
                        : op == "-" ? __builtin_sub_overflow(a.as_int(), b.as_int(), &r)
                                    : __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
        if (overflow) fail("integer overflow in '{}'", op);
        return Value::integer(r);
      }
      double x = a.as_double(), y = b.as_double();
      return Value::number(op == "+" ? x + y : op == "-" ? x - y : x * y);
    }
    if (op == "/") {
      if (b.as_double() == 0) fail("division by zero");
      return Value::number(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
      if (b.as_double() == 0) fail("integer division or modulo by zero");
      if (ints) {
        if (a.as_int() == INT64_MIN && b.as_int() == -1) fail("integer overflow in '{}'", op);
        int64_t q = floor_div(a.as_int(), b.as_int());
        return Value::integer(op == "//" ? q : a.as_int() - q * b.as_int());
      }
      double x = a.as_double(), y = b.as_double();
      double q = std::floor(x / y);
      return Value::number(op == "//" ? q : x - q * y);
    }
    if (op == "**") {
      if (ints && b.as_int() >= 0) {
        int64_t r = 1;
        for (int64_t k = 0; k < b.as_int(); ++k) {
          if (__builtin_mul_overflow(r, a.as_int(), &r)) fail("integer overflow in '**'");
          if (r == 0 || r == 1) break;
        }
        return Value::integer(r);
      }
      return Value::number(std::pow(a.as_double(), b.as_double()));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > kMaxStringBytes) fail("string too long");
      if (a.is_markup() || b.is_markup()) {
        // Markup + str escapes the plain side (markupsafe's __add__ / __radd__).
        std::string l = a.is_markup() ? a.as_string() : html_escape(a.as_string());
        std::string r = b.is_markup() ? b.as_string() : html_escape(b.as_string());
        return Value::markup(l + r);
      }
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && !a.is_generator() && !b.is_generator() && a.is_tuple() == b.is_tuple()) {
      List out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return a.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string()) {
      fail("can only concatenate str (not \"{}\") to str", b.is_none() ? "NoneType" : b.type_name());
    }
  }
  if (op == "*") {
    const Value* seq = a.is_number() ? &b : &a;
    const Value* count = a.is_number() ? &a : &b;
    if (!count->is_float() && count->is_number() && (seq->is_string() || seq->is_plain_list() || seq->is_tuple())) {
      int64_t n = std::max<int64_t>(0, count->as_int());
      size_t unit = seq->is_string() ? seq->as_string().size() : seq->as_list().size() * sizeof(Value);
      if (unit != 0 && static_cast<uint64_t>(n) > kMaxStringBytes / unit) fail("repetition result too large");
      if (seq->is_string()) {
        std::string out;
        for (int64_t k = 0; k < n; ++k) out += seq->as_string();
        return Value::string(std::move(out));
      }
      List out;
      for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq->as_list().begin(), seq->as_list().end());
      return seq->is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
  }
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

}  // namespace strata::tmpl
