#pragma once
// Syntax tree of a parsed template. Plain structs owned through unique_ptr; immutable after
// parsing, so one parsed template can be rendered from several threads at once.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loader/template/value.h"

namespace strata::tmpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arguments {
  std::vector<ExprPtr> pos;
  std::vector<std::pair<std::string, ExprPtr>> kw;
  ExprPtr star;       // *args
  ExprPtr star_star;  // **kwargs
};

struct Expr {
  enum class Kind {
    Const,      // value
    Name,       // name
    List,       // items
    Tuple,      // items
    Dict,       // items as key, value pairs (even, odd)
    Getattr,    // a.name
    Getitem,    // a[b]
    Slice,      // a[b:c:d]; missing parts are null
    Call,       // a(args)
    Filter,     // a | name(args)
    Test,       // a is [not] name(args)
    Not,        // not a
    Neg,        // -a
    Pos,        // +a
    Binary,     // a op b: + - * / // % ** ~ and or in notin
    Compare,    // a op b op c ... (ops, items)
    Cond,       // a if b else c (c may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // Name / Getattr attribute / Filter / Test name / Binary op
  bool negated = false;
  ExprPtr a, b, c, d;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;
  Arguments args;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

// Where a `set` or `for` stores: one name, several names (unpacking) or ns.attr.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attr;  // non-empty: names[0].attr
};

struct Stmt {
  enum class Kind {
    Text,        // text
    Print,       // {{ expr }}
    If,          // conds[i] -> bodies[i]; else_body
    For,         // target in expr [if cond]: body, else_body
    Set,         // target = expr
    SetBlock,    // target = rendered body, through filters
    Macro,       // name(params) body
    CallBlock,   // {% call macro(args) %} body: caller() renders body
    FilterBlock, // body through filters
    Break,
    Continue,
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  Target target;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  std::vector<ExprPtr> filters;  // Filter nodes whose `a` is null: applied in order
  // Macro
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
  std::vector<std::pair<std::string, ExprPtr>> caller_params;
};

}  // namespace strata::tmpl
