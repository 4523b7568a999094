// jinja2's built-in filters and tests, with jinja2 3.1's argument names and defaults, and the
// `tojson` filter as Hugging Face transformers overrides it (no HTML escaping, unicode kept).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "loader/template/builtins.h"
#include "loader/template/text.h"

namespace strata::tmpl {

namespace {

const Value* arg(const CallArgs& a, size_t i, std::string_view name) { return a.get(i, name); }

bool arg_bool(const CallArgs& a, size_t i, std::string_view name, bool def) {
  const Value* v = a.get(i, name);
  return v ? v->truthy() : def;
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0, like getitem.
Value get_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = get_item(cur, digits ? Value::integer(std::strtoll(part.c_str(), nullptr, 10)) : Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string attribute_arg(const CallArgs& a, size_t i) {
  const Value* v = a.get(i, "attribute");
  if (!v || v->is_none()) return {};
  if (v->is_int()) return std::to_string(v->as_int());
  if (!v->is_string()) fail("attribute must be a string");
  return v->as_string();
}

// Key used for sorting / min / max / unique: strings are lower-cased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(ascii_lower(v.as_string()));
  return v;
}

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_length(v.as_string()));
    case Value::Kind::List:
      if (v.is_generator()) fail("object of type 'generator' has no len()");
      return static_cast<int64_t>(v.as_list().size());
    case Value::Kind::Dict:
      if (v.is_namespace()) break;
      return static_cast<int64_t>(v.as_dict().items.size());
    default: break;
  }
  fail("object of type '{}' has no len()", v.is_none() ? "NoneType" : v.type_name().substr(0, v.type_name().find(' ')));
}

// Python int(str): optional sign and surrounding whitespace, underscores between digits.
bool parse_int(const std::string& s, int64_t base, int64_t& out) {
  std::string t = py_strip(s, nullptr, true, true);
  std::string digits;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_' && i > 0 && i + 1 < t.size()) continue;
    digits += t[i];
  }
  if (digits.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
  if (errno != 0 || *end != '\0' || std::isspace(static_cast<unsigned char>(digits[0]))) return false;
  out = v;
  return true;
}

bool parse_float(const std::string& s, double& out) {
  std::string t = py_strip(s, nullptr, true, true);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return *end == '\0';
}

Value filter_tojson(const Value& v, CallArgs& a) {
  // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None,
  // sort_keys=False), so a positional argument is ensure_ascii, not jinja2's indent.
  a.check("tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
  o.sort_keys = arg_bool(a, 3, "sort_keys", false);
  if (const Value* ind = arg(a, 1, "indent"); ind && !ind->is_none()) {
    if (ind->is_string()) {
      o.indent_str = ind->as_string();
      o.indent = 0;
    } else if (ind->is_int()) {
      o.indent = static_cast<int>(std::clamp<int64_t>(ind->as_int(), 0, 64));
    } else {
      fail("tojson: indent must be an integer or a string");
    }
    o.item_sep = ",";
  }
  if (const Value* sep = arg(a, 2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().size() != 2 || !sep->as_list()[0].is_string() || !sep->as_list()[1].is_string()) {
      fail("tojson: separators must be a pair of strings");
    }
    o.item_sep = sep->as_list()[0].as_string();
    o.key_sep = sep->as_list()[1].as_string();
  }
  return Value::string(to_json(v, o));
}

Value filter_indent(const Value& v, CallArgs& a) {
  a.check("indent", 3, {"width", "first", "blank"});
  std::string ind = "    ";
  if (const Value* w = arg(a, 0, "width")) {
    if (w->is_string()) ind = w->as_string();
    else if (w->is_int()) ind = std::string(static_cast<size_t>(std::clamp<int64_t>(w->as_int(), 0, 1024)), ' ');
    else fail("indent: width must be an integer or a string");
  }
  bool first = arg_bool(a, 1, "first", false);
  bool blank = arg_bool(a, 2, "blank", false);
  std::string s = v.str() + "\n";
  std::vector<std::string> lines = py_splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else if (!lines.empty()) {
    rv = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? std::string() : ind + lines[i]);
  }
  if (first) rv = ind + rv;
  return Value::string(std::move(rv));
}

List select_items(const Value& v, CallArgs& a, bool by_attr, bool keep_when) {
  List out;
  if (!v.truthy()) return out;  // jinja2 iterates only `if value`
  std::string attr;
  size_t test_pos = 0;
  if (by_attr) {
    if (a.pos.empty()) fail("selectattr/rejectattr need an attribute name");
    attr = a.pos[0].str();
    test_pos = 1;
  }
  std::string test;
  CallArgs test_args;
  if (a.pos.size() > test_pos) {
    test = a.pos[test_pos].str();
    test_args.pos.assign(a.pos.begin() + static_cast<int64_t>(test_pos) + 1, a.pos.end());
    test_args.kw = a.kw;
  }
  for (const Value& item : iterate(v)) {
    Value subject = by_attr ? get_path(item, attr) : item;
    bool ok = test.empty() ? subject.truthy() : apply_test(test, subject, test_args);
    if (ok == keep_when) out.push_back(item);
  }
  return out;
}

Value filter_map(const Value& v, CallArgs& a) {
  List out;
  if (!v.truthy()) return Value::generator({});  // jinja2 maps only `if value`
  const Value* attr = nullptr;
  for (auto& [k, x] : a.kw) {
    if (k == "attribute") attr = &x;
  }
  if (attr) {
    const Value* def = nullptr;
    for (auto& [k, x] : a.kw) {
      if (k == "default") def = &x;
    }
    std::string path = attr->is_int() ? std::to_string(attr->as_int()) : attr->str();
    for (const Value& item : iterate(v)) {
      Value r = get_path(item, path);
      out.push_back((r.is_undefined() && def) ? *def : r);
    }
    return Value::generator(std::move(out));
  }
  if (a.pos.empty()) fail("map: needs a filter name or attribute=");
  std::string filter = a.pos[0].str();
  CallArgs rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const Value& item : iterate(v)) {
    CallArgs copy = rest;
    out.push_back(apply_filter(filter, item, copy));
  }
  return Value::generator(std::move(out));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  a.check(want_max ? "max" : "min", 2, {"case_sensitive", "attribute"});
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  std::string attr = attribute_arg(a, 1);
  List items = iterate(v);
  if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
  const Value* best = &items[0];
  Value best_key = sort_key(attr.empty() ? items[0] : get_path(items[0], attr), cs);
  for (size_t i = 1; i < items.size(); ++i) {
    Value key = sort_key(attr.empty() ? items[i] : get_path(items[i], attr), cs);
    if (want_max ? less(best_key, key) : less(key, best_key)) {
      best = &items[i];
      best_key = key;
    }
  }
  return *best;
}

Value round_value(const Value& v, CallArgs& a) {
  a.check("round", 2, {"precision", "method"});
  int64_t precision = 0;
  if (const Value* p = arg(a, 0, "precision")) precision = p->as_int();
  std::string method = "common";
  if (const Value* m = arg(a, 1, "method")) method = m->str();
  if (!v.is_number()) fail("round: value must be a number");
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  if (method == "common") x = std::nearbyint(x);  // Python round(): half to even
  else if (method == "ceil") x = std::ceil(x);
  else if (method == "floor") x = std::floor(x);
  else fail("round: method must be 'common', 'ceil' or 'floor'");
  return Value::number(x / scale);
}

std::string format_number(char conv, const std::string& flags, int width, int precision, const Value& v) {
  if (!v.is_number()) fail("%{} format: a real number is required, not {}", conv, v.type_name());
  std::string spec = "{:";
  bool left = flags.find('-') != std::string::npos;
  if (left) spec += '<';
  if (flags.find('+') != std::string::npos) spec += '+';
  else if (flags.find(' ') != std::string::npos) spec += ' ';
  if (flags.find('#') != std::string::npos) spec += '#';
  if (flags.find('0') != std::string::npos && !left) spec += '0';
  if (width > 0) spec += std::to_string(width);
  if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
    int64_t i = v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int();
    if (conv == 'x' || conv == 'X' || conv == 'o') spec += conv;
    else spec += 'd';
    return fmt::format(fmt::runtime(spec + "}"), i);
  }
  spec += "." + std::to_string(precision < 0 ? 6 : precision) + conv;
  return fmt::format(fmt::runtime(spec + "}"), v.as_double());
}

}  // namespace

std::string percent_format(const std::string& format, const Value& args) {
  List positional;
  const Dict* mapping = nullptr;
  if (args.is_tuple()) positional = args.as_list();
  else if (args.is_mapping()) mapping = &args.as_dict();
  else positional.push_back(args);
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) fail("incomplete format");
    const Value* arg = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos || !mapping) fail("format requires a mapping");
      arg = mapping->find(std::string_view(format).substr(i + 1, close - i - 1));
      if (!arg) fail("KeyError: '{}'", format.substr(i + 1, close - i - 1));
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() && std::string_view("-+ #0").find(format[i]) != std::string_view::npos) flags += format[i++];
    int width = 0;
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])) && width < 10000) {
      width = width * 10 + (format[i++] - '0');
    }
    int precision = -1;
    if (i < format.size() && format[i] == '.') {
      precision = 0;
      ++i;
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])) && precision < 1000) {
        precision = precision * 10 + (format[i++] - '0');
      }
    }
    if (i >= format.size()) fail("incomplete format");
    char conv = format[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!arg) {
      if (next >= positional.size()) fail("not enough arguments for format string");
      arg = &positional[next++];
    }
    std::string piece;
    switch (conv) {
      case 's': piece = arg->str(); break;
      case 'r': case 'a': piece = arg->repr(); break;
      case 'd': case 'i': case 'x': case 'X': case 'o': case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        piece = format_number(conv, flags, width, precision, *arg);
        width = 0;
        break;
      default: fail("unsupported format character '{}'", conv);
    }
    if (conv == 's' || conv == 'r' || conv == 'a') {
      if (precision >= 0) {
        auto chars = utf8_chars(piece);
        if (static_cast<size_t>(precision) < chars.size()) {
          std::string cut;
          for (size_t k = 0; k < static_cast<size_t>(precision); ++k) cut += chars[k];
          piece = cut;
        }
      }
      auto len = static_cast<int>(utf8_length(piece));
      if (width > len) {
        std::string pad(static_cast<size_t>(width - len), ' ');
        piece = flags.find('-') != std::string::npos ? piece + pad : pad + piece;
      }
    }
    out += piece;
  }
  if (!mapping && next < positional.size()) fail("not all arguments converted during string formatting");
  return out;
}

Value apply_filter(const std::string& name, const Value& v, CallArgs& a) {
  if (name == "length" || name == "count") return Value::integer(length_of(v));
  if (name == "default" || name == "d") {
    a.check(name, 2, {"default_value", "boolean"});
    const Value* def = arg(a, 0, "default_value");
    bool boolean = arg_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return def ? *def : Value::string("");
    return v;
  }
  if (name == "tojson") return filter_tojson(v, a);
  if (name == "string") return v.is_string() ? v : Value::string(v.str());
  if (name == "safe") return Value::markup(v.str());
  if (name == "e" || name == "escape") return v.is_markup() ? v : Value::markup(html_escape(v.str()));
  if (name == "forceescape") return Value::markup(html_escape(v.str()));
  if (name == "trim") {
    a.check("trim", 1, {"chars"});
    const Value* chars = arg(a, 0, "chars");
    if (chars && !chars->is_none()) {
      std::string c = chars->str();
      return v.same_flavor(py_strip(v.str(), &c, true, true));
    }
    return v.same_flavor(py_strip(v.str(), nullptr, true, true));
  }
  if (name == "upper") return v.same_flavor(ascii_upper(v.str()));
  if (name == "lower") return v.same_flavor(ascii_lower(v.str()));
  if (name == "capitalize") return v.same_flavor(py_capitalize(v.str()));
  if (name == "title") {
    // jinja2 splits on runs of whitespace and - ( { [ < and capitalizes each piece.
    std::string s = v.str();
    std::string out;
    bool at_start = true;
    for (char c : s) {
      bool sep = std::isspace(static_cast<unsigned char>(c)) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
      if (sep) {
        out += c;
        at_start = true;
      } else {
        out += at_start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                        : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        at_start = false;
      }
    }
    return v.same_flavor(std::move(out));
  }
  if (name == "replace") {
    a.check("replace", 3, {"old", "new", "count"});
    const Value* from = arg(a, 0, "old");
    const Value* to = arg(a, 1, "new");
    if (!from || !to) fail("replace filter needs old and new");
    const Value* count = arg(a, 2, "count");
    return Value::string(py_replace(v.str(), from->str(), to->str(), (count && !count->is_none()) ? count->as_int() : -1));
  }
  if (name == "first") {
    List items = iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
  }
  if (name == "last") {
    if (v.is_generator()) fail("'generator' object is not reversible");
    List items = iterate(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
  }
  if (name == "join") {
    a.check("join", 2, {"d", "attribute"});
    const Value* d = arg(a, 0, "d");
    std::string sep = d ? d->str() : "";
    std::string attr = attribute_arg(a, 1);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += (attr.empty() ? item : get_path(item, attr)).str();
      if (out.size() > kMaxStringBytes) fail("join result too long");
    }
    return Value::string(std::move(out));
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return Value::generator({});
    if (!v.is_mapping()) fail("Can only get item pairs from a mapping.");
    List out;
    for (auto& [k, x] : v.as_dict().items) out.push_back(Value::tuple({k, x}));
    return Value::generator(std::move(out));
  }
  if (name == "dictsort") {
    a.check("dictsort", 3, {"case_sensitive", "by", "reverse"});
    if (!v.is_mapping()) fail("You can only sort by either \"key\" or \"value\" of a mapping");
    bool cs = arg_bool(a, 0, "case_sensitive", false);
    std::string by = "key";
    if (const Value* b = arg(a, 1, "by")) by = b->str();
    if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
    bool reverse = arg_bool(a, 2, "reverse", false);
    List out;
    for (auto& [k, x] : v.as_dict().items) out.push_back(Value::tuple({k, x}));
    size_t pos = by == "key" ? 0 : 1;
    std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
      Value kx = sort_key(x.as_list()[pos], cs);
      Value ky = sort_key(y.as_list()[pos], cs);
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::list(std::move(out));
  }
  if (name == "sort") {
    a.check("sort", 3, {"reverse", "case_sensitive", "attribute"});
    bool reverse = arg_bool(a, 0, "reverse", false);
    bool cs = arg_bool(a, 1, "case_sensitive", false);
    std::string attr = attribute_arg(a, 2);
    List items = iterate(v);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      Value kx = sort_key(attr.empty() ? x : get_path(x, attr), cs);
      Value ky = sort_key(attr.empty() ? y : get_path(y, attr), cs);
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::list(std::move(items));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = utf8_chars(v.as_string());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value::string(std::move(out));
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::generator(std::move(items));
  }
  if (name == "unique") {
    a.check("unique", 2, {"case_sensitive", "attribute"});
    bool cs = arg_bool(a, 0, "case_sensitive", false);
    std::string attr = attribute_arg(a, 1);
    List out;
    List seen;
    for (const Value& item : iterate(v)) {
      Value key = sort_key(attr.empty() ? item : get_path(item, attr), cs);
      if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::generator(std::move(out));
  }
  if (name == "select" || name == "reject") return Value::generator(select_items(v, a, false, name == "select"));
  if (name == "selectattr" || name == "rejectattr") {
    return Value::generator(select_items(v, a, true, name == "selectattr"));
  }
  if (name == "map") return filter_map(v, a);
  if (name == "attr") {
    if (a.pos.size() != 1) fail("attr filter needs a name");
    return get_attr(v, a.pos[0].str());
  }
  if (name == "int") {
    a.check("int", 2, {"default", "base"});
    const Value* def = arg(a, 0, "default");
    int64_t base = 10;
    if (const Value* b = arg(a, 1, "base")) base = b->as_int();
    if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
    if (v.is_float() && std::isfinite(v.as_double()) && std::fabs(v.as_double()) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(v.as_double()));
    }
    if (v.is_string()) {
      int64_t i = 0;
      if (parse_int(v.as_string(), base, i)) return Value::integer(i);
      double d = 0;
      if (parse_float(v.as_string(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(static_cast<int64_t>(d));
    }
    return def ? *def : Value::integer(0);
  }
  if (name == "float") {
    a.check("float", 1, {"default"});
    const Value* def = arg(a, 0, "default");
    if (v.is_number()) return Value::number(v.as_double());
    double d = 0;
    if (v.is_string() && parse_float(v.as_string(), d)) return Value::number(d);
    return def ? *def : Value::number(0.0);
  }
  if (name == "abs") {
    if (v.is_int() || v.is_bool()) {
      if (v.as_int() == INT64_MIN) fail("integer overflow in abs");
      return Value::integer(std::llabs(v.as_int()));
    }
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    fail("bad operand type for abs(): '{}'", v.type_name());
  }
  if (name == "round") return round_value(v, a);
  if (name == "min" || name == "max") return min_max(v, a, name == "max");
  if (name == "sum") {
    a.check("sum", 2, {"attribute", "start"});
    std::string attr = attribute_arg(a, 0);
    Value total = Value::integer(0);
    if (const Value* s = arg(a, 1, "start")) total = *s;
    for (const Value& item : iterate(v)) total = arithmetic("+", total, attr.empty() ? item : get_path(item, attr));
    return total;
  }
  if (name == "batch") {
    a.check("batch", 2, {"linecount", "fill_with"});
    const Value* n = arg(a, 0, "linecount");
    if (!n || !n->is_int() || n->as_int() <= 0) fail("batch: linecount must be a positive integer");
    const Value* fill = arg(a, 1, "fill_with");
    List out;
    List cur;
    for (const Value& item : iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n->as_int()) {
        out.push_back(Value::list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (fill && !fill->is_none()) {
        while (static_cast<int64_t>(cur.size()) < n->as_int()) cur.push_back(*fill);
      }
      out.push_back(Value::list(std::move(cur)));
    }
    return Value::generator(std::move(out));
  }
  if (name == "indent") return filter_indent(v, a);
  if (name == "format") {
    // jinja2: format(value, *args, **kwargs) is `value % (args or kwargs)`.
    if (!a.pos.empty() && !a.kw.empty()) fail("can't handle positional and keyword arguments at the same time");
    if (!a.kw.empty()) {
      Dict d;
      for (auto& [k, x] : a.kw) d.set(k, x);
      return Value::string(percent_format(v.str(), Value::dict(std::move(d))));
    }
    return Value::string(percent_format(v.str(), Value::tuple(a.pos)));
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (char c : v.str()) {
      bool w = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (static_cast<unsigned char>(c) >= 0x80);
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::integer(n);
  }
  if (name == "center") {
    int64_t width = 80;
    if (const Value* w = arg(a, 0, "width")) width = std::clamp<int64_t>(w->as_int(), 0, 4096);
    std::string s = v.str();
    auto len = static_cast<int64_t>(utf8_length(s));
    if (len >= width) return Value::string(s);
    int64_t total = width - len;
    int64_t left = total / 2 + (total & width & 1);
    return Value::string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
  }
  fail("No filter named '{}'.", name);
}

bool apply_test(const std::string& name, const Value& v, CallArgs& a) {
  auto need = [&](size_t n) -> const Value& {
    if (a.pos.size() < n) fail("test '{}' needs an argument", name);
    return a.pos[n - 1];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_mapping();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "sequence") return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_generator()) || v.is_mapping();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && ascii_lower(v.as_string()) == v.as_string() && ascii_upper(v.as_string()) != v.as_string();
  if (name == "upper") return v.is_string() && ascii_upper(v.as_string()) == v.as_string() && ascii_lower(v.as_string()) != v.as_string();
  if (name == "odd" || name == "even") {
    if (!v.is_int() && !v.is_bool()) fail("test '{}' needs an integer", name);
    bool odd = (v.as_int() % 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "divisibleby") {
    const Value& n = need(1);
    if (!v.is_number() || !n.is_number()) fail("divisibleby needs numbers");
    if (n.as_double() == 0) fail("integer division or modulo by zero");
    return arithmetic("%", v, n).as_double() == 0;
  }
  if (name == "sameas") return v.kind() == need(1).kind() && equals(v, need(1));
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, need(1));
  if (name == "ne" || name == "!=") return !equals(v, need(1));
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, need(1));
  if (name == "gt" || name == "greaterthan" || name == ">") return less(need(1), v);
  if (name == "le" || name == "<=") return !less(need(1), v);
  if (name == "ge" || name == ">=") return !less(v, need(1));
  if (name == "in") return contains(need(1), v);
  if (name == "escaped") return false;
  fail("No test named '{}'.", name);
}

}  // namespace strata::tmpl
