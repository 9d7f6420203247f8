#pragma once
// Band math: a formula over band symbols and constants, compiled once into operations on whole
// rows of pixels. Each operation runs as one loop over a row (vectorised by the compiler), so a
// formula costs a few passes over cache-resident rows rather than a tree walk or a bytecode
// dispatch per pixel.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace luojia::detail {

// What a name in a formula stands for.
struct SymbolBinding {
  enum class Kind { Row, Scalar, Formula } kind = Kind::Scalar;
  int row = 0;          // Row: which input row
  double value = 0;     // Scalar
  std::string formula;  // Formula: an expression inlined in its place (kernel terms)
};
// Returns the binding of a name; throws Error when the name is unknown or missing.
using SymbolResolver = std::function<SymbolBinding(const std::string& name)>;

class BandExpression {
public:
  // Parses the Awesome Spectral Indices catalogue's Python syntax: + - * / ** (also ^), unary
  // minus, parentheses, numbers (1, 0.5, 1e-3) and names, plus the functions exp, log, sqrt and
  // abs. Scalar parts are folded. Throws Error saying where a formula does not parse.
  BandExpression(const std::string& formula, const SymbolResolver& resolve);

  // The names a formula (with the formulas inlined for it) uses, in order of first use.
  static std::vector<std::string> symbols(const std::string& formula);

  // out[i] = the formula at pixel i of n, inputs[k] being row k's n values. valid[i] is cleared
  // where a divisor is zero or the result is not finite. scratch is reused across calls.
  void evaluate(const double* const* inputs, std::size_t n, double* out, std::uint8_t* valid,
                std::vector<double>& scratch) const;

  std::size_t registers() const { return registers_; }

  enum class Op { Add, Sub, Mul, Div, Pow, Neg, Square, Sqrt, Exp, Log, Abs };
  struct Operand {
    enum class Kind { Register, Row, Scalar } kind = Kind::Scalar;
    int index = 0;
    double value = 0;
  };
  struct Instruction {
    Op op;
    Operand a, b;  // b unused for unary operations
    int target;    // register
  };

private:
  std::vector<Instruction> program_;
  Operand result_;
  std::size_t registers_ = 0;
};

}  // namespace luojia::detail
