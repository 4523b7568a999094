#include "loader/template/parser.h"

#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "loader/template/template_error.h"

namespace strata::tmpl {

namespace {

// Bounds recursion so a hostile template cannot overflow the stack.
constexpr int kMaxDepth = 200;

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Text: return "text";
    case Tok::VarBegin: return "'{{'";
    case Tok::VarEnd: return "'}}'";
    case Tok::BlockBegin: return "'{%'";
    case Tok::BlockEnd: return "'%}'";
    case Tok::End: return "end of template";
    case Tok::String: return "string";
    default: return "'" + t.value + "'";
  }
}

ExprPtr make(Expr::Kind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : toks_(tokens) {}

  Body parse_template() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) fail_at(p_.cur().line, "template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().value == op; }
  bool is_name(const char* name) const { return cur().type == Tok::Name && cur().value == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  [[noreturn]] void unexpected(const char* wanted) const {
    fail_at(cur().line, "expected {}, got {}", wanted, describe(cur()));
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) unexpected(op);
  }
  void expect(Tok type, const char* wanted) {
    if (cur().type != type) unexpected(wanted);
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) unexpected("a name");
    std::string n = cur().value;
    next();
    return n;
  }

  // Statements up to one of `ends` ({% end... %}); the end tag's name is stored in `end` and the
  // parser is left just after that name (the caller finishes the tag).
  // `opener` names the block being parsed ("if", ...) and `open_line` where it started, for the
  // error when the template ends before the block is closed.
  Body parse_body(std::initializer_list<const char*> ends, std::string& end, const char* opener = nullptr,
                  int open_line = 0) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::End) {
        if (ends.size() == 0) return body;
        std::string wanted;
        for (const char* e : ends) wanted += (wanted.empty() ? "'" : " or '") + std::string(e) + "'";
        fail_at(open_line, "unexpected end of template: the '{}' block opened here is not closed (expected {})",
                opener ? opener : "?", wanted);
      }
      if (t.type == Tok::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
        continue;
      }
      if (t.type == Tok::VarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Print;
        s->line = t.line;
        next();
        s->expr = parse_tuple(true);
        expect(Tok::VarEnd, "'}}'");
        body.push_back(std::move(s));
        continue;
      }
      if (t.type != Tok::BlockBegin) unexpected("text or a tag");
      next();
      if (cur().type != Tok::Name) unexpected("a statement name");
      for (const char* e : ends) {
        if (cur().value == e) {
          end = e;
          next();
          return body;
        }
      }
      body.push_back(parse_statement());
    }
  }

  void end_tag() { expect(Tok::BlockEnd, "'%}'"); }

  std::unique_ptr<Stmt> parse_statement() {
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    std::string tag = cur().value;
    next();
    std::string end;
    if (tag == "if") {
      s->kind = Stmt::Kind::If;
      s->conds.push_back(parse_tuple(true));
      end_tag();
      while (true) {
        s->bodies.push_back(parse_body({"elif", "else", "endif"}, end, "if", s->line));
        if (end == "elif") {
          s->conds.push_back(parse_tuple(true));
          end_tag();
          continue;
        }
        if (end == "else") {
          end_tag();
          s->else_body = parse_body({"endif"}, end, "if", s->line);
        }
        break;
      }
      end_tag();
    } else if (tag == "for") {
      s->kind = Stmt::Kind::For;
      s->target = parse_target(false);
      if (!skip_name("in")) unexpected("'in'");
      s->expr = parse_tuple(false);
      if (skip_name("if")) s->cond = parse_expression(true);
      if (is_name("recursive")) fail_at(cur().line, "recursive loops are not supported");
      end_tag();
      s->body = parse_body({"endfor", "else"}, end, "for", s->line);
      if (end == "else") {
        end_tag();
        s->else_body = parse_body({"endfor"}, end, "for", s->line);
      }
      end_tag();
    } else if (tag == "set") {
      s->target = parse_target(true);
      if (skip_op("=")) {
        s->kind = Stmt::Kind::Set;
        s->expr = parse_tuple(true);
        end_tag();
      } else {
        if (s->target.unpack || !s->target.attr.empty()) fail_at(s->line, "a block set assigns one name");
        s->kind = Stmt::Kind::SetBlock;
        while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
        end_tag();
        s->body = parse_body({"endset"}, end, "set", s->line);
        end_tag();
      }
    } else if (tag == "macro") {
      s->kind = Stmt::Kind::Macro;
      s->name = expect_name();
      parse_params(s->params);
      end_tag();
      s->body = parse_body({"endmacro"}, end, "macro", s->line);
      if (cur().type == Tok::Name) next();
      end_tag();
    } else if (tag == "call") {
      s->kind = Stmt::Kind::CallBlock;
      if (is_op("(")) parse_params(s->caller_params);
      s->expr = parse_expression(true);
      if (s->expr->kind != Expr::Kind::Call) fail_at(s->line, "expected a call after 'call'");
      end_tag();
      s->body = parse_body({"endcall"}, end, "call", s->line);
      end_tag();
    } else if (tag == "filter") {
      s->kind = Stmt::Kind::FilterBlock;
      do {
        s->filters.push_back(parse_filter(nullptr));
      } while (skip_op("|"));
      end_tag();
      s->body = parse_body({"endfilter"}, end, "filter", s->line);
      end_tag();
    } else if (tag == "generation") {
      // transformers' AssistantTracker: marks assistant text, renders its body unchanged.
      s->kind = Stmt::Kind::If;
      s->conds.push_back(make(Expr::Kind::Const, s->line));
      s->conds.back()->value = Value::boolean(true);
      end_tag();
      s->bodies.push_back(parse_body({"endgeneration"}, end, "generation", s->line));
      end_tag();
    } else if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      end_tag();
    } else {
      fail_at(s->line, "unknown or unsupported tag '{}'", tag);
    }
    return s;
  }

  void parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
    expect_op("(");
    bool need_default = false;
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string name = expect_name();
      ExprPtr def;
      if (skip_op("=")) {
        def = parse_expression(true);
        need_default = true;
      } else if (need_default) {
        fail_at(cur().line, "parameter '{}' without a default follows one with a default", name);
      }
      params.emplace_back(std::move(name), std::move(def));
    }
    expect_op(")");
  }

  Target parse_target(bool allow_attr) {
    Target t;
    bool paren = skip_op("(");
    t.names.push_back(expect_name());
    if (allow_attr && !paren && skip_op(".")) {
      t.attr = expect_name();
      return t;
    }
    while (skip_op(",")) {
      t.unpack = true;
      if (cur().type != Tok::Name) break;
      t.names.push_back(expect_name());
    }
    if (paren) {
      expect_op(")");
      t.unpack = true;
    }
    return t;
  }

  // A comma-separated list forms a tuple, as in `{{ a, b }}` or `{% set x = 1, 2 %}`.
  ExprPtr parse_tuple(bool with_condexpr) {
    int line = cur().line;
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto t = make(Expr::Kind::Tuple, line);
    t->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_name("if") || is_op(")")) break;
      t->items.push_back(parse_expression(with_condexpr));
    }
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      next();
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (skip_name("else")) other = parse_condexpr();
      auto e = make(Expr::Kind::Cond, line);
      e->a = std::move(expr1);
      e->b = std::move(cond);
      e->c = std::move(other);
      expr1 = std::move(e);
    }
    return expr1;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
    auto e = make(Expr::Kind::Binary, line);
    e->name = op;
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      next();
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      next();
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(Expr::Kind::Not, cur().line);
      next();
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                    cur().value == ">" || cur().value == "<=" || cur().value == ">=")) {
        op = cur().value;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == Tok::Name && peek().value == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::Compare, line);
        cmp->items.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().value;
      int line = cur().line;
      next();
      left = binary(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      next();
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().value;
      int line = cur().line;
      next();
      left = binary(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      next();
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(is_op("-") ? Expr::Kind::Neg : Expr::Kind::Pos, cur().line);
      next();
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    switch (t.type) {
      case Tok::Name: {
        auto e = make(Expr::Kind::Const, line);
        if (t.value == "true" || t.value == "True") e->value = Value::boolean(true);
        else if (t.value == "false" || t.value == "False") e->value = Value::boolean(false);
        else if (t.value == "none" || t.value == "None") e->value = Value::none();
        else {
          e->kind = Expr::Kind::Name;
          e->name = t.value;
        }
        next();
        return e;
      }
      case Tok::String: {
        std::string s;
        while (cur().type == Tok::String) {
          s += cur().value;
          next();
        }
        auto e = make(Expr::Kind::Const, line);
        e->value = Value::string(std::move(s));
        return e;
      }
      case Tok::Integer: {
        auto e = make(Expr::Kind::Const, line);
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
        if (ec != std::errc()) fail_at(line, "integer literal {} out of range", t.value);
        e->value = Value::integer(v);
        next();
        return e;
      }
      case Tok::Float: {
        auto e = make(Expr::Kind::Const, line);
        e->value = Value::number(std::strtod(t.value.c_str(), nullptr));
        next();
        return e;
      }
      case Tok::Op:
        if (t.value == "(") {
          next();
          if (skip_op(")")) return make(Expr::Kind::Tuple, line);
          ExprPtr first = parse_expression(true);
          if (skip_op(")")) return first;
          auto tup = make(Expr::Kind::Tuple, line);
          tup->items.push_back(std::move(first));
          while (skip_op(",")) {
            if (is_op(")")) break;
            tup->items.push_back(parse_expression(true));
          }
          expect_op(")");
          return tup;
        }
        if (t.value == "[") {
          next();
          auto list = make(Expr::Kind::List, line);
          while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression(true));
          }
          expect_op("]");
          return list;
        }
        if (t.value == "{") {
          next();
          auto dict = make(Expr::Kind::Dict, line);
          while (!is_op("}")) {
            if (!dict->items.empty()) expect_op(",");
            if (is_op("}")) break;
            dict->items.push_back(parse_expression(true));
            expect_op(":");
            dict->items.push_back(parse_expression(true));
          }
          expect_op("}");
          return dict;
        }
        break;
      default:
        break;
    }
    unexpected("an expression");
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      int line = cur().line;
      if (is_op(".")) {
        next();
        if (cur().type == Tok::Name) {
          auto e = make(Expr::Kind::Getattr, line);
          e->a = std::move(node);
          e->name = cur().value;
          next();
          node = std::move(e);
        } else if (cur().type == Tok::Integer) {
          auto e = make(Expr::Kind::Getitem, line);
          e->a = std::move(node);
          e->b = make(Expr::Kind::Const, line);
          e->b->value = Value::integer(std::strtoll(cur().value.c_str(), nullptr, 10));
          next();
          node = std::move(e);
        } else {
          unexpected("an attribute name");
        }
      } else if (is_op("[")) {
        next();
        node = parse_subscript(std::move(node), line);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int line) {
    ExprPtr parts[3];
    bool slice = false;
    int part = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        slice = true;
        if (++part > 2) unexpected("']'");
        continue;
      }
      if (parts[part]) unexpected("':' or ']'");
      parts[part] = parse_expression(true);
    }
    next();
    if (!slice) {
      if (!parts[0]) fail_at(line, "empty subscript");
      auto e = make(Expr::Kind::Getitem, line);
      e->a = std::move(obj);
      e->b = std::move(parts[0]);
      return e;
    }
    auto e = make(Expr::Kind::Slice, line);
    e->a = std::move(obj);
    e->b = std::move(parts[0]);
    e->c = std::move(parts[1]);
    e->d = std::move(parts[2]);
    return e;
  }

  void parse_call_args(Arguments& args) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (skip_op("*")) {
        args.star = parse_expression(true);
      } else if (skip_op("**")) {
        args.star_star = parse_expression(true);
      } else if (cur().type == Tok::Name && peek().type == Tok::Op && peek().value == "=") {
        std::string key = cur().value;
        next();
        next();
        args.kw.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!args.kw.empty()) fail_at(cur().line, "positional argument after keyword argument");
        args.pos.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(Expr::Kind::Call, cur().line);
    e->a = std::move(callee);
    parse_call_args(e->args);
    return e;
  }

  // `| name(args)`, the `|` already consumed; `node` may be null (filter blocks).
  ExprPtr parse_filter(ExprPtr node) {
    auto e = make(Expr::Kind::Filter, cur().line);
    e->name = expect_name();
    while (skip_op(".")) e->name += "." + expect_name();
    if (is_op("(")) parse_call_args(e->args);
    e->a = std::move(node);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        int line = cur().line;
        next();
        auto e = make(Expr::Kind::Test, line);
        e->negated = skip_name("not");
        e->name = expect_name();
        while (skip_op(".")) e->name += "." + expect_name();
        const Token& t = cur();
        bool arg_start = t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Integer ||
                         t.type == Tok::Float || (t.type == Tok::Op && (t.value == "[" || t.value == "{"));
        if (is_op("(")) {
          parse_call_args(e->args);
        } else if (arg_start && !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail_at(line, "You cannot chain multiple tests with is");
          e->args.pos.push_back(parse_postfix(parse_primary()));
        }
        e->a = std::move(node);
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace strata::tmpl
