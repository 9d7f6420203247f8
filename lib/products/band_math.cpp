#include "products/band_math.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>

namespace luojia::detail {
namespace {

using Op = BandExpression::Op;
using Operand = BandExpression::Operand;
using Instruction = BandExpression::Instruction;

struct Node {
  enum class Kind { Number, Name, Unary, Binary } kind = Kind::Number;
  double value = 0;
  std::string name;  // Name, or the function of a Unary call
  Op op = Op::Add;
  std::unique_ptr<Node> a, b;
};
using NodePtr = std::unique_ptr<Node>;

NodePtr make(Node::Kind kind) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  return n;
}

// Recursive descent with Python's precedence: ** binds tighter than a unary minus on its left
// (-x**2 is -(x**2)) and is right-associative; its exponent may carry a sign (2**-1).
class Parser {
public:
  explicit Parser(const std::string& text) : s_(text) {}

  NodePtr parse() {
    NodePtr n = sum();
    skip();
    if (i_ != s_.size()) fail("unexpected '" + std::string(1, s_[i_]) + "'");
    return n;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    raise("formula '" + s_ + "': " + what + " at character " + std::to_string(i_ + 1));
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(std::string_view token) {
    skip();
    if (s_.compare(i_, token.size(), token) != 0) return false;
    // "*" must not take the first half of "**".
    if (token == "*" && s_.compare(i_, 2, "**") == 0) return false;
    i_ += token.size();
    return true;
  }
  NodePtr binary(Op op, NodePtr a, NodePtr b) {
    NodePtr n = make(Node::Kind::Binary);
    n->op = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  NodePtr sum() {
    NodePtr n = product();
    for (;;) {
      if (eat("+")) n = binary(Op::Add, std::move(n), product());
      else if (eat("-")) n = binary(Op::Sub, std::move(n), product());
      else return n;
    }
  }
  NodePtr product() {
    NodePtr n = unary();
    for (;;) {
      if (eat("*")) n = binary(Op::Mul, std::move(n), unary());
      else if (eat("/")) n = binary(Op::Div, std::move(n), unary());
      else return n;
    }
  }
  NodePtr unary() {
    if (eat("-")) {
      NodePtr n = make(Node::Kind::Unary);
      n->op = Op::Neg;
      n->a = unary();
      return n;
    }
    if (eat("+")) return unary();
    return power();
  }
  NodePtr power() {
    NodePtr base = primary();
    if (eat("**") || eat("^")) return binary(Op::Pow, std::move(base), unary());
    return base;
  }
  NodePtr primary() {
    skip();
    if (i_ >= s_.size()) fail("an operand is missing");
    if (eat("(")) {
      NodePtr n = sum();
      if (!eat(")")) fail("')' expected");
      return n;
    }
    const char c = s_[i_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      std::size_t end = i_;
      while (end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) || s_[end] == '.')) ++end;
      if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
        std::size_t e = end + 1;
        if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
        if (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) {
          end = e;
          while (end < s_.size() && std::isdigit(static_cast<unsigned char>(s_[end]))) ++end;
        }
      }
      NodePtr n = make(Node::Kind::Number);
      const auto [ptr, ec] = std::from_chars(s_.data() + i_, s_.data() + end, n->value);
      if (ec != std::errc() || ptr != s_.data() + end) fail("a malformed number");
      i_ = end;
      return n;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t end = i_;
      while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) ++end;
      std::string name = s_.substr(i_, end - i_);
      i_ = end;
      if (eat("(")) {
        static const std::pair<const char*, Op> functions[] = {
            {"exp", Op::Exp}, {"log", Op::Log}, {"sqrt", Op::Sqrt}, {"abs", Op::Abs}};
        const auto f = std::find_if(std::begin(functions), std::end(functions), [&](const auto& p) { return name == p.first; });
        if (f == std::end(functions)) fail("unknown function '" + name + "' (exp, log, sqrt, abs)");
        NodePtr n = make(Node::Kind::Unary);
        n->op = f->second;
        n->name = name;
        n->a = sum();
        if (!eat(")")) fail("')' expected");
        return n;
      }
      NodePtr n = make(Node::Kind::Name);
      n->name = std::move(name);
      return n;
    }
    fail("unexpected '" + std::string(1, c) + "'");
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

void collect_names(const Node& n, std::vector<std::string>& out) {
  if (n.kind == Node::Kind::Name && std::find(out.begin(), out.end(), n.name) == out.end()) out.push_back(n.name);
  if (n.a) collect_names(*n.a, out);
  if (n.b) collect_names(*n.b, out);
}

double apply(Op op, double a, double b) {
  switch (op) {
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    case Op::Div: return a / b;
    case Op::Pow: return std::pow(a, b);
    case Op::Neg: return -a;
    case Op::Square: return a * a;
    case Op::Sqrt: return std::sqrt(a);
    case Op::Exp: return std::exp(a);
    case Op::Log: return std::log(a);
    case Op::Abs: return std::fabs(a);
  }
  return NAN;
}

// Emits instructions for a tree; registers are reused once their value is consumed.
class Compiler {
public:
  Compiler(const SymbolResolver& resolve, std::vector<Instruction>& program) : resolve_(resolve), program_(program) {}

  Operand emit(const Node& n, int depth = 0) {
    if (depth > 64) raise("formulas nest too deeply (a formula naming itself?)");
    switch (n.kind) {
      case Node::Kind::Number: return scalar(n.value);
      case Node::Kind::Name: {
        const SymbolBinding b = resolve_(n.name);
        if (b.kind == SymbolBinding::Kind::Scalar) return scalar(b.value);
        if (b.kind == SymbolBinding::Kind::Row) return Operand{Operand::Kind::Row, b.row, 0};
        const NodePtr inlined = Parser(b.formula).parse();
        return emit(*inlined, depth + 1);
      }
      case Node::Kind::Unary: {
        const Operand a = emit(*n.a, depth + 1);
        if (a.kind == Operand::Kind::Scalar) return scalar(apply(n.op, a.value, 0));
        return instruction(n.op, a, {});
      }
      case Node::Kind::Binary: {
        const Operand a = emit(*n.a, depth + 1), b = emit(*n.b, depth + 1);
        const bool scalars = a.kind == Operand::Kind::Scalar && b.kind == Operand::Kind::Scalar;
        // Fold, except a division by zero: that is for every pixel to report.
        if (scalars && !(n.op == Op::Div && b.value == 0)) return scalar(apply(n.op, a.value, b.value));
        if (n.op == Op::Pow && b.kind == Operand::Kind::Scalar) {
          if (b.value == 1) return a;
          if (b.value == 2) return instruction(Op::Square, a, {});
          if (b.value == 0.5) return instruction(Op::Sqrt, a, {});
        }
        return instruction(n.op, a, b);
      }
    }
    return scalar(NAN);
  }

  std::size_t registers() const { return used_; }

private:
  static Operand scalar(double v) { return Operand{Operand::Kind::Scalar, 0, v}; }
  Operand instruction(Op op, Operand a, Operand b) {
    release(a);
    release(b);
    int target;
    if (!free_.empty()) {
      target = free_.back();
      free_.pop_back();
    } else {
      target = static_cast<int>(used_++);
    }
    program_.push_back(Instruction{op, a, b, target});
    return Operand{Operand::Kind::Register, target, 0};
  }
  void release(const Operand& o) {
    if (o.kind == Operand::Kind::Register) free_.push_back(o.index);
  }

  const SymbolResolver& resolve_;
  std::vector<Instruction>& program_;
  std::vector<int> free_;
  std::size_t used_ = 0;
};

// One operation over a row; the operand kinds are resolved outside the pixel loop.
template <class F>
void over_row(std::size_t n, double* out, const double* a, double av, const double* b, double bv, F f) {
  if (a && b) {
    for (std::size_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (a) {
    for (std::size_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else if (b) {
    for (std::size_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else {
    const double v = f(av, bv);
    std::fill(out, out + n, v);
  }
}

}  // namespace

BandExpression::BandExpression(const std::string& formula, const SymbolResolver& resolve) {
  const NodePtr tree = Parser(formula).parse();
  Compiler compiler(resolve, program_);
  result_ = compiler.emit(*tree);
  registers_ = compiler.registers();
}

std::vector<std::string> BandExpression::symbols(const std::string& formula) {
  const NodePtr tree = Parser(formula).parse();
  std::vector<std::string> names;
  collect_names(*tree, names);
  return names;
}

void BandExpression::evaluate(const double* const* inputs, std::size_t n, double* out, std::uint8_t* valid,
                              std::vector<double>& scratch) const {
  if (scratch.size() < registers_ * n) scratch.resize(registers_ * n);
  const auto row_of = [&](const Operand& o) -> const double* {
    switch (o.kind) {
      case Operand::Kind::Register: return scratch.data() + static_cast<std::size_t>(o.index) * n;
      case Operand::Kind::Row: return inputs[o.index];
      case Operand::Kind::Scalar: return nullptr;
    }
    return nullptr;
  };
  for (const Instruction& ins : program_) {
    double* t = scratch.data() + static_cast<std::size_t>(ins.target) * n;
    const double* a = row_of(ins.a);
    const double* b = row_of(ins.b);
    const double av = ins.a.value, bv = ins.b.value;
    switch (ins.op) {
      case Op::Add: over_row(n, t, a, av, b, bv, [](double x, double y) { return x + y; }); break;
      case Op::Sub: over_row(n, t, a, av, b, bv, [](double x, double y) { return x - y; }); break;
      case Op::Mul: over_row(n, t, a, av, b, bv, [](double x, double y) { return x * y; }); break;
      case Op::Div:
        // A zero divisor makes the pixel nodata even where later steps would give a finite value.
        if (b) {
          for (std::size_t i = 0; i < n; ++i) valid[i] &= static_cast<std::uint8_t>(b[i] != 0.0);
        } else if (bv == 0.0) {
          std::fill(valid, valid + n, std::uint8_t{0});
        }
        over_row(n, t, a, av, b, bv, [](double x, double y) { return x / y; });
        break;
      case Op::Pow: over_row(n, t, a, av, b, bv, [](double x, double y) { return std::pow(x, y); }); break;
      case Op::Neg: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return -x; }); break;
      case Op::Square: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return x * x; }); break;
      case Op::Sqrt: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return std::sqrt(x); }); break;
      case Op::Exp: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return std::exp(x); }); break;
      case Op::Log: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return std::log(x); }); break;
      case Op::Abs: over_row(n, t, a, av, nullptr, 0, [](double x, double) { return std::fabs(x); }); break;
    }
  }
  const double* r = row_of(result_);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = r ? r[i] : result_.value;
    out[i] = v;
    valid[i] &= static_cast<std::uint8_t>(std::isfinite(v));
  }
}

}  // namespace luojia::detail
