#include "loader/template/interpreter.h"

#include <memory>
#include <unordered_map>

#include "loader/template/builtins.h"
#include "loader/template/template_error.h"

namespace strata::tmpl {

namespace {

constexpr int kMaxCallDepth = 100;
// Statements, expressions and loop iterations one render may execute: real templates need well
// under a million even for long conversations with many tools.
constexpr int64_t kMaxSteps = 10'000'000;

struct Scope {
  explicit Scope(std::shared_ptr<Scope> p) : parent(std::move(p)) {}
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { Normal, Break, Continue };

class Interpreter {
 public:
  explicit Interpreter(const std::tm& now) : now_(now) {}

  std::string run(const Body& body, const Dict& variables) {
    auto root = std::make_shared<Scope>(nullptr);
    install_globals(*root);
    for (const auto& [k, v] : variables.items) root->vars[k.str()] = v;
    std::string out;
    try {
      exec(body, root, out);
    } catch (const TemplateError&) {
      throw;
    } catch (const Error& e) {
      throw TemplateError(line_, e.what());
    }
    return out;
  }

 private:
  void step(int line) {
    line_ = line;
    if (++steps_ > kMaxSteps) fail("template exceeded its work limit ({} steps)", kMaxSteps);
  }

  void install_globals(Scope& root) {
    root.vars["raise_exception"] = Value::function("raise_exception", [](CallArgs& a) -> Value {
      fail("{}", a.pos.empty() ? std::string("raise_exception() called") : a.pos[0].str());
    });
    root.vars["strftime_now"] = Value::function("strftime_now", [this](CallArgs& a) {
      if (a.pos.size() != 1 || !a.pos[0].is_string()) fail("strftime_now() takes one format string");
      const std::string& format = a.pos[0].as_string();
      if (format.empty()) return Value::string("");
      if (format.size() > 4096) fail("strftime_now(): format string too long");
      // strftime reports 0 both for "too small" and for an empty result; grow a few times.
      for (size_t cap = 256; cap <= (size_t{1} << 20); cap *= 8) {
        std::string buf(cap, '\0');
        size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &now_);
        if (n > 0) return Value::string(buf.substr(0, n));
      }
      return Value::string("");
    });
    root.vars["range"] = Value::function("range", [](CallArgs& a) {
      if (a.pos.empty() || a.pos.size() > 3 || !a.kw.empty()) fail("range() takes 1 to 3 positional arguments");
      for (const Value& v : a.pos) {
        if (!v.is_int() && !v.is_bool()) fail("range() arguments must be integers, not {}", v.type_name());
      }
      int64_t start = a.pos.size() == 1 ? 0 : a.pos[0].as_int();
      int64_t stop = a.pos.size() == 1 ? a.pos[0].as_int() : a.pos[1].as_int();
      int64_t stp = a.pos.size() == 3 ? a.pos[2].as_int() : 1;
      if (stp == 0) fail("range() arg 3 must not be zero");
      List out;
      for (int64_t i = start; stp > 0 ? i < stop : i > stop; i += stp) {
        if (static_cast<int64_t>(out.size()) >= kMaxRange) fail("range too big, maximum size is {}", kMaxRange);
        out.push_back(Value::integer(i));
      }
      return Value::list(std::move(out));
    });
    auto make_dict = [](CallArgs& a) {
      Dict d;
      if (a.pos.size() > 1) fail("expected at most 1 positional argument");
      if (!a.pos.empty()) {
        if (a.pos[0].is_mapping()) {
          d = a.pos[0].as_dict();
        } else {
          for (const Value& pair : iterate(a.pos[0])) {
            if (!pair.is_list() || pair.as_list().size() != 2) {
              fail("dictionary update sequence element must be a (key, value) pair");
            }
            d.set(pair.as_list()[0], pair.as_list()[1]);
          }
        }
      }
      for (auto& [k, v] : a.kw) d.set(k, v);
      return d;
    };
    root.vars["namespace"] = Value::function("namespace", [make_dict](CallArgs& a) { return Value::namespace_(make_dict(a)); });
    root.vars["dict"] = Value::function("dict", [make_dict](CallArgs& a) { return Value::dict(make_dict(a)); });
  }

  // ---- statements ----

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& s : body) {
      Flow f = exec_one(*s, scope, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  void emit(std::string& out, const std::string& text) {
    if (out.size() + text.size() > kMaxStringBytes) fail("rendered output exceeds {} bytes", kMaxStringBytes);
    out += text;
  }

  Flow exec_one(const Stmt& s, const ScopePtr& scope, std::string& out) {
    step(s.line);
    switch (s.kind) {
      case Stmt::Kind::Text:
        emit(out, s.text);
        return Flow::Normal;
      case Stmt::Kind::Print:
        emit(out, eval(*s.expr, scope).str());
        return Flow::Normal;
      case Stmt::Kind::If:
        for (size_t i = 0; i < s.conds.size(); ++i) {
          if (eval(*s.conds[i], scope).truthy()) return exec(s.bodies[i], scope, out);
        }
        return exec(s.else_body, scope, out);
      case Stmt::Kind::For:
        return exec_for(s, scope, out);
      case Stmt::Kind::Set:
        assign(s.target, eval(*s.expr, scope), scope, s.line);
        return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        std::string text;
        exec(s.body, std::make_shared<Scope>(scope), text);
        Value v = Value::string(std::move(text));
        for (const auto& f : s.filters) v = apply_filter_node(*f, v, scope);
        assign(s.target, v, scope, s.line);
        return Flow::Normal;
      }
      case Stmt::Kind::FilterBlock: {
        std::string text;
        Flow f = exec(s.body, scope, text);
        Value v = Value::string(std::move(text));
        for (const auto& flt : s.filters) v = apply_filter_node(*flt, v, scope);
        emit(out, v.str());
        return f;
      }
      case Stmt::Kind::Macro:
        scope->vars[s.name] = make_macro(s, scope);
        return Flow::Normal;
      case Stmt::Kind::CallBlock: {
        const Stmt* stmt = &s;
        Value caller = Value::function("caller", [this, stmt, scope](CallArgs& a) {
          auto inner = std::make_shared<Scope>(scope);
          bind_params(stmt->caller_params, a, inner, "caller");
          std::string text;
          exec(stmt->body, inner, text);
          return Value::string(std::move(text));
        });
        emit(out, eval_call(*s.expr, scope, &caller).str());
        return Flow::Normal;
      }
      case Stmt::Kind::Break:
        return Flow::Break;
      case Stmt::Kind::Continue:
        return Flow::Continue;
    }
    return Flow::Normal;
  }

  void assign(const Target& t, const Value& v, const ScopePtr& scope, int line) {
    if (!t.attr.empty()) {
      const Value* obj = scope->lookup(t.names[0]);
      if (!obj || !obj->is_namespace()) fail_at(line, "cannot assign attribute on non-namespace object");
      obj->as_dict().set(t.attr, v);
      return;
    }
    if (!t.unpack) {
      scope->vars[t.names[0]] = v;
      return;
    }
    List items = iterate(v);
    if (items.size() != t.names.size()) {
      fail_at(line, "cannot unpack {} values into {} names", items.size(), t.names.size());
    }
    for (size_t i = 0; i < items.size(); ++i) scope->vars[t.names[i]] = items[i];
  }

  Flow exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    List items = iterate(eval(*s.expr, scope));
    if (s.cond) {
      List kept;
      for (const Value& item : items) {
        step(s.line);
        auto probe = std::make_shared<Scope>(scope);
        assign(s.target, item, probe, s.line);
        if (eval(*s.cond, probe).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const size_t n = items.size();
    auto len = static_cast<int64_t>(n);
    // One loop object, updated in place each iteration as jinja2's LoopContext is; its fields
    // sit at fixed positions so the update needs no lookups.
    struct State {
      size_t index = 0;
      Value changed_last;
      bool changed_seen = false;
    };
    auto state = std::make_shared<State>();
    Dict loop_fields;
    for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "previtem", "nextitem"}) {
      loop_fields.set(key, Value());
    }
    loop_fields.set("length", Value::integer(len));
    loop_fields.set("depth", Value::integer(1));
    loop_fields.set("depth0", Value::integer(0));
    loop_fields.set("cycle", Value::function("cycle", [state](CallArgs& a) {
      if (a.pos.empty()) fail("no items for cycling given");
      return a.pos[state->index % a.pos.size()];
    }));
    loop_fields.set("changed", Value::function("changed", [state](CallArgs& a) {
      Value now = Value::list(a.pos);
      bool differs = !state->changed_seen || !equals(now, state->changed_last);
      state->changed_seen = true;
      state->changed_last = now;
      return Value::boolean(differs);
    }));
    Value loop = Value::namespace_(std::move(loop_fields));
    auto& fields = loop.as_dict().items;
    auto inner = std::make_shared<Scope>(scope);
    for (size_t i = 0; i < n; ++i) {
      step(s.line);
      state->index = i;
      auto idx = static_cast<int64_t>(i);
      fields[0].second = Value::integer(idx + 1);
      fields[1].second = Value::integer(idx);
      fields[2].second = Value::integer(len - idx);
      fields[3].second = Value::integer(len - idx - 1);
      fields[4].second = Value::boolean(i == 0);
      fields[5].second = Value::boolean(i + 1 == n);
      fields[6].second = i > 0 ? items[i - 1] : Value::undefined("there is no previous item");
      fields[7].second = i + 1 < n ? items[i + 1] : Value::undefined("there is no next item");
      // Each iteration starts from the enclosing scope: a `set` in the body does not survive it.
      inner->vars.clear();
      assign(s.target, items[i], inner, s.line);
      inner->vars["loop"] = loop;
      Flow f = exec(s.body, inner, out);
      if (f == Flow::Break) break;
    }
    if (n == 0) return exec(s.else_body, scope, out);
    return Flow::Normal;
  }

  // Binds call arguments to declared parameters the way jinja2 macros do: positionally, then
  // by keyword, then defaults; extras land in `varargs` / `kwargs`.
  void bind_params(const std::vector<std::pair<std::string, ExprPtr>>& params, CallArgs& a,
                   const ScopePtr& scope, const std::string& what) {
    List varargs;
    for (size_t i = params.size(); i < a.pos.size(); ++i) varargs.push_back(a.pos[i]);
    Dict kwargs;
    for (auto& [k, v] : a.kw) {
      bool known = k == "caller";
      for (const auto& p : params) known = known || p.first == k;
      if (!known) kwargs.set(k, v);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& [name, def] = params[i];
      const Value* given = nullptr;
      if (i < a.pos.size()) given = &a.pos[i];
      for (auto& [k, v] : a.kw) {
        if (k == name) {
          if (given) fail("macro '{}' got multiple values for argument '{}'", what, name);
          given = &v;
        }
      }
      if (given) scope->vars[name] = *given;
      else if (def) scope->vars[name] = eval(*def, scope);
      else scope->vars[name] = Value::undefined(fmt::format("parameter '{}' was not provided", name));
    }
    scope->vars["varargs"] = Value::tuple(std::move(varargs));
    scope->vars["kwargs"] = Value::dict(std::move(kwargs));
  }

  Value make_macro(const Stmt& s, const ScopePtr& defined_in) {
    const Stmt* stmt = &s;
    // Weak: the defining scope holds the macro, so a strong pointer would be a leaking cycle.
    std::weak_ptr<Scope> weak = defined_in;
    return Value::function(s.name, [this, stmt, weak](CallArgs& a) {
      ScopePtr parent = weak.lock();
      if (!parent) fail("macro '{}' called after its scope ended", stmt->name);
      if (++call_depth_ > kMaxCallDepth) {
        --call_depth_;
        fail("macro recursion deeper than {}", kMaxCallDepth);
      }
      auto scope = std::make_shared<Scope>(parent);
      std::string text;
      try {
        bind_params(stmt->params, a, scope, stmt->name);
        for (auto& [k, v] : a.kw) {
          if (k == "caller") scope->vars["caller"] = v;
        }
        exec(stmt->body, scope, text);
      } catch (...) {
        --call_depth_;
        throw;
      }
      --call_depth_;
      return Value::string(std::move(text));
    });
  }

  // ---- expressions ----

  CallArgs eval_args(const Arguments& args, const ScopePtr& scope) {
    CallArgs a;
    for (const auto& e : args.pos) a.pos.push_back(eval(*e, scope));
    for (const auto& [k, e] : args.kw) a.kw.emplace_back(k, eval(*e, scope));
    if (args.star) {
      for (Value& v : iterate(eval(*args.star, scope))) a.pos.push_back(std::move(v));
    }
    if (args.star_star) {
      Value d = eval(*args.star_star, scope);
      if (!d.is_mapping()) fail("argument after ** must be a mapping, not {}", d.type_name());
      for (auto& [k, v] : d.as_dict().items) {
        if (!k.is_string()) fail("keywords must be strings");
        a.kw.emplace_back(k.as_string(), v);
      }
    }
    return a;
  }

  Value apply_filter_node(const Expr& f, const Value& input, const ScopePtr& scope) {
    CallArgs a = eval_args(f.args, scope);
    step(f.line);
    return apply_filter(f.name, input, a);
  }

  Value eval_call(const Expr& e, const ScopePtr& scope, const Value* caller) {
    Value fn = eval(*e.a, scope);
    CallArgs a = eval_args(e.args, scope);
    if (caller) a.kw.emplace_back("caller", *caller);
    step(e.line);
    return call_value(fn, a);
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    step(e.line);
    switch (e.kind) {
      case Expr::Kind::Const:
        return e.value;
      case Expr::Kind::Name: {
        const Value* v = scope->lookup(e.name);
        return v ? *v : Value::undefined(fmt::format("'{}' is undefined", e.name));
      }
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        List items;
        for (const auto& x : e.items) items.push_back(eval(*x, scope));
        return e.kind == Expr::Kind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case Expr::Kind::Dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          Value k = eval(*e.items[i], scope);
          d.set(std::move(k), eval(*e.items[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
      case Expr::Kind::Getattr:
        return get_attr(eval(*e.a, scope), e.name);
      case Expr::Kind::Getitem: {
        Value obj = eval(*e.a, scope);
        return get_item(obj, eval(*e.b, scope));
      }
      case Expr::Kind::Slice: {
        Value obj = eval(*e.a, scope);
        Value b = e.b ? eval(*e.b, scope) : Value::none();
        Value c = e.c ? eval(*e.c, scope) : Value::none();
        Value d = e.d ? eval(*e.d, scope) : Value::none();
        return get_slice(obj, &b, &c, &d);
      }
      case Expr::Kind::Call:
        return eval_call(e, scope, nullptr);
      case Expr::Kind::Filter:
        return apply_filter_node(e, eval(*e.a, scope), scope);
      case Expr::Kind::Test: {
        Value v = eval(*e.a, scope);
        CallArgs a = eval_args(e.args, scope);
        step(e.line);
        return Value::boolean(apply_test(e.name, v, a) != e.negated);
      }
      case Expr::Kind::Not:
        return Value::boolean(!eval(*e.a, scope).truthy());
      case Expr::Kind::Neg:
      case Expr::Kind::Pos: {
        Value v = eval(*e.a, scope);
        if (v.is_undefined()) fail_undefined(v);
        if (!v.is_number()) fail("bad operand type for unary {}: '{}'", e.kind == Expr::Kind::Neg ? '-' : '+', v.type_name());
        if (e.kind == Expr::Kind::Pos) return v.is_bool() ? Value::integer(v.as_int()) : v;
        if (v.is_float()) return Value::number(-v.as_double());
        return arithmetic("-", Value::integer(0), v);
      }
      case Expr::Kind::Binary:
        return eval_binary(e, scope);
      case Expr::Kind::Compare: {
        Value left = eval(*e.items[0], scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i + 1], scope);
          if (!compare(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::Kind::Cond:
        if (eval(*e.b, scope).truthy()) return eval(*e.a, scope);
        if (e.c) return eval(*e.c, scope);
        return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                " evaluated to false and no else section was defined.");
    }
    return {};
  }

  static bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (op == "<") return less(a, b);
    if (op == ">") return less(b, a);
    if (op == "<=") return less(a, b) || equals(a, b);
    return less(b, a) || equals(a, b);  // >=
  }

  Value eval_binary(const Expr& e, const ScopePtr& scope) {
    const std::string& op = e.name;
    if (op == "and") {
      Value l = eval(*e.a, scope);
      return l.truthy() ? eval(*e.b, scope) : l;
    }
    if (op == "or") {
      Value l = eval(*e.a, scope);
      return l.truthy() ? l : eval(*e.b, scope);
    }
    Value l = eval(*e.a, scope);
    Value r = eval(*e.b, scope);
    if (op == "~") {
      std::string s = l.str();
      std::string t = r.str();
      if (s.size() + t.size() > kMaxStringBytes) fail("string too long");
      return Value::string(s + t);
    }
    return arithmetic(op, l, r);
  }

  std::tm now_;
  int line_ = 0;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace

std::string execute(const Body& body, const Dict& variables, const std::tm& now) {
  return Interpreter(now).run(body, variables);
}

}  // namespace strata::tmpl
