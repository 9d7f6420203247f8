// Element-wise operators: activations, arithmetic with numpy broadcasting, comparisons, Where.
#include "nn/layers/common.hpp"
#include "core/parallel.hpp"
#include "nn/layers/elementwise.hpp"
#include "nn/layers/vector_math.hpp"

#include <map>


namespace luojia::nn::layers {
namespace {

constexpr std::int64_t kGrain = 1 << 15;

// b[i] = f(a[i]) for i in [i0, i1), sixteen at a time (b may be a: in place).
template <class F>
void map_into(const float* a, float* b, std::int64_t i0, std::int64_t i1, F f) {
  if (b != a) std::copy(a + i0, a + i1, b + i0);
  map16(b + i0, i1 - i0, f);
}

// Calls f(out_index, a_index, b_index, c_index) over out_shape with broadcast strides, innermost
// axis in a tight loop.
template <class F>
void for_each_broadcast(const Shape& out, const std::vector<Shape>& ins, F f) {
  const std::size_t rank = out.size();
  std::vector<std::vector<std::int64_t>> strides;
  for (const auto& s : ins) strides.push_back(broadcast_strides(s, out));
  while (strides.size() < 3) strides.push_back(std::vector<std::int64_t>(rank, 0));
  const std::int64_t total = element_count(out);
  if (total == 0) return;
  if (rank == 0) {
    f(0, 0, 0, 0);
    return;
  }
  const std::int64_t inner = out[rank - 1];
  std::vector<std::int64_t> index(rank, 0);
  for (std::int64_t o = 0; o < total; o += inner) {
    std::int64_t ia = 0, ib = 0, ic = 0;
    for (std::size_t d = 0; d + 1 < rank; ++d) {
      ia += index[d] * strides[0][d];
      ib += index[d] * strides[1][d];
      ic += index[d] * strides[2][d];
    }
    const std::int64_t sa = strides[0][rank - 1], sb = strides[1][rank - 1], sc = strides[2][rank - 1];
    for (std::int64_t x = 0; x < inner; ++x) f(o + x, ia + x * sa, ib + x * sb, ic + x * sc);
    for (std::size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < out[d]) break;
      index[d] = 0;
    }
  }
}

// y = op(a, b) with numpy broadcasting, in runs along the innermost axes over which each operand
// either moves one element at a time or stays on one value (a per-channel scale over an NCHW map,
// a scalar, an SE block's gate): each run is one vectorised loop, runs are spread over threads.
template <class Op>
void float_binary(const Tensor& a, const Tensor& b, Tensor& y, Op op) {
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = y.data();
  const Shape& out = y.shape();
  const std::size_t rank = out.size();
  const std::int64_t total = element_count(out);
  if (total == 0) return;
  const auto sa = broadcast_strides(a.shape(), out), sb = broadcast_strides(b.shape(), out);
  // The run: the innermost axes along which each operand either moves contiguously or stays put.
  enum class Along { Unknown, Moves, Stays };
  Along along_a = Along::Unknown, along_b = Along::Unknown;
  const auto extends = [](Along& along, std::int64_t stride, std::int64_t run) {
    if (stride == 0 && along != Along::Moves) return along = Along::Stays, true;
    if (stride != 0 && along != Along::Stays && stride == run) return along = Along::Moves, true;
    return false;
  };
  std::size_t first = rank;
  std::int64_t run = 1;
  for (; first > 0; --first) {
    const std::size_t d = first - 1;
    if (out[d] == 1) continue;
    Along next_a = along_a, next_b = along_b;
    if (!extends(next_a, sa[d], run) || !extends(next_b, sb[d], run)) break;
    along_a = next_a;
    along_b = next_b;
    run *= out[d];
  }
  const bool a_moves = along_a == Along::Moves, b_moves = along_b == Along::Moves;
  // A run longer than a task's share (a residual Add over one contiguous tensor is one run) is cut
  // into pieces, so that it spreads over the threads too.
  std::int64_t pieces = 1;
  if (run > kGrain && total / run < 2 * luojia::detail::max_threads()) pieces = (run + kGrain - 1) / kGrain;
  const std::int64_t piece = (run + pieces - 1) / pieces;
  const std::int64_t runs = total / run;
  const std::int64_t per_task = std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(piece, 1));
  luojia::detail::parallel_for(std::int64_t{0}, runs * pieces, per_task, [&](std::int64_t t0) {
    for (std::int64_t t = t0; t < std::min(runs * pieces, t0 + per_task); ++t) {
      const std::int64_t r = t / pieces, offset = t % pieces * piece, length = std::max<std::int64_t>(0, std::min(piece, run - offset));
      // The run's first element in each operand.
      std::int64_t ia = 0, ib = 0, rest = r;
      for (std::size_t d = first; d-- > 0;) {
        const std::int64_t i = rest % out[d];
        rest /= out[d];
        ia += i * sa[d];
        ib += i * sb[d];
      }
      float* dst = py + r * run + offset;
      const float* u = pa + ia + (a_moves ? offset : 0);
      const float* v = pb + ib + (b_moves ? offset : 0);
      if (a_moves && b_moves) {
#pragma omp simd
        for (std::int64_t i = 0; i < length; ++i) dst[i] = op(u[i], v[i]);
      } else if (a_moves) {
        const float c = v[0];
#pragma omp simd
        for (std::int64_t i = 0; i < length; ++i) dst[i] = op(u[i], c);
      } else if (b_moves) {
        const float c = u[0];
#pragma omp simd
        for (std::int64_t i = 0; i < length; ++i) dst[i] = op(c, v[i]);
      } else {
        std::fill(dst, dst + length, op(u[0], v[0]));
      }
    }
  });
}

}  // namespace

void add_broadcast(const Tensor& a, const Tensor& b, Tensor& y) {
  float_binary(a, b, y, [](float u, float v) { return u + v; });
}

// ---- unary --------------------------------------------------------------------------------------

Unary::Unary(const NodeInfo& node) : Layer(node) {
  static const std::map<std::string, Kind> kinds{
      {"Abs", Kind::Abs},     {"Neg", Kind::Neg},       {"Exp", Kind::Exp},         {"Log", Kind::Log},
      {"Sqrt", Kind::Sqrt},   {"Erf", Kind::Erf},       {"Sin", Kind::Sin},         {"Cos", Kind::Cos},
      {"Tan", Kind::Tan},     {"Asin", Kind::Asin},     {"Acos", Kind::Acos},       {"Atan", Kind::Atan},
      {"Sinh", Kind::Sinh},   {"Cosh", Kind::Cosh},     {"Asinh", Kind::Asinh},     {"Acosh", Kind::Acosh},
      {"Atanh", Kind::Atanh}, {"Floor", Kind::Floor},   {"Ceil", Kind::Ceil},       {"Reciprocal", Kind::Reciprocal},
      {"Sign", Kind::Sign},   {"Round", Kind::Round},   {"Not", Kind::Not},         {"IsNaN", Kind::IsNaN},
      {"IsInf", Kind::IsInf}, {"Softplus", Kind::Softplus}, {"Softsign", Kind::Softsign}, {"Mish", Kind::Mish},
      {"Identity", Kind::Copy}, {"Dropout", Kind::Copy}};
  const std::string& op = node.op_type;
  const Attributes& a = node.attributes;
  if (const auto it = kinds.find(op); it != kinds.end()) {
    kind_ = it->second;
  } else if (op == "Elu") {
    kind_ = Kind::Elu;
    alpha_ = a.get_float("alpha", 1.0f);
  } else if (op == "Selu") {
    kind_ = Kind::Selu;
    alpha_ = a.get_float("alpha", 1.67326319217681884765625f);
    gamma_ = a.get_float("gamma", 1.05070102214813232421875f);
  } else if (op == "Celu") {
    kind_ = Kind::Celu;
    alpha_ = a.get_float("alpha", 1.0f);
  } else if (op == "ThresholdedRelu") {
    kind_ = Kind::ThresholdedRelu;
    alpha_ = a.get_float("alpha", 1.0f);
  } else if (op == "Gelu") {
    const std::string approximate = a.get_string("approximate", "none");
    if (approximate != "none" && approximate != "tanh") fail("approximate must be none or tanh, not '" + approximate + "'");
    kind_ = approximate == "tanh" ? Kind::GeluTanh : Kind::Gelu;
  } else {
    kind_ = Kind::Activation;
    std::vector<float> params;
    if (op == "LeakyRelu") params = {a.get_float("alpha", 0.01f)};
    else if (op == "HardSigmoid") params = {a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f)};
    else if (op == "Clip") params = {a.get_float("min", -INFINITY), a.get_float("max", INFINITY)};  // opset < 11
    activation_ = ActivationFn::from(op, params);
  }
  if (op == "IsInf") {
    detect_positive_ = a.get_int("detect_positive", 1) != 0;
    detect_negative_ = a.get_int("detect_negative", 1) != 0;
  }
}

std::vector<ValueInfo> Unary::infer(const std::vector<ValueInfo>& in) const {
  const bool boolean = kind_ == Kind::IsNaN || kind_ == Kind::IsInf || kind_ == Kind::Not;  // bools are int64 here
  std::vector<ValueInfo> out{ValueInfo{in.at(0).shape, boolean ? ElementType::Int64 : in.at(0).type, std::nullopt, true}};
  if (node().op_type == "Dropout" && node().outputs.size() > 1)
    out.push_back(ValueInfo{in.at(0).shape, ElementType::Int64, std::nullopt, true});
  return out;
}

void Unary::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const std::int64_t n = x.size();
  if (x.type() == ElementType::Int64) {
    if (kind_ != Kind::Copy && kind_ != Kind::Abs && kind_ != Kind::Neg && kind_ != Kind::Sign && kind_ != Kind::Not &&
        kind_ != Kind::IsNaN && kind_ != Kind::IsInf)
      fail("this operator needs float input");
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t v = x.ints()[i];
      switch (kind_) {
        case Kind::Abs: y.ints()[i] = v < 0 ? -v : v; break;
        case Kind::Neg: y.ints()[i] = -v; break;
        case Kind::Sign: y.ints()[i] = (v > 0) - (v < 0); break;
        case Kind::Not: y.ints()[i] = v == 0; break;
        case Kind::IsNaN:
        case Kind::IsInf: y.ints()[i] = 0; break;
        default: y.ints()[i] = v;
      }
    }
    return;
  }
  if (kind_ == Kind::Not) fail("Not needs boolean input");
  if (kind_ == Kind::IsNaN || kind_ == Kind::IsInf) {
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = x.data()[i];
      y.ints()[i] = kind_ == Kind::IsNaN ? std::isnan(v) : std::isinf(v) && (v > 0 ? detect_positive_ : detect_negative_);
    }
    return;
  }
  ActivationFn act = activation_;
  if (node().op_type == "Clip" && node().opset >= 11) {
    act.kind = Activation::Clip;
    act.p0 = inputs.size() > 1 && !inputs[1].empty() ? inputs[1].to_floats().at(0) : -INFINITY;
    act.p1 = inputs.size() > 2 && !inputs[2].empty() ? inputs[2].to_floats().at(0) : INFINITY;
  }
  if (outputs.size() > 1) std::fill(outputs[1].ints(), outputs[1].ints() + n, 1);
  luojia::detail::parallel_for(std::int64_t{0}, n, kGrain, [&](std::int64_t i0) {
    const std::int64_t i1 = std::min(n, i0 + kGrain);
    const float* a = x.data();
    float* b = y.data();
    switch (kind_) {
      case Kind::Activation:
        if (b != a) std::copy(a + i0, a + i1, b + i0);
        act.apply(b + i0, i1 - i0);
        break;
      case Kind::Copy: std::copy(a + i0, a + i1, b + i0); break;
      case Kind::Abs: for (auto i = i0; i < i1; ++i) b[i] = std::fabs(a[i]); break;
      case Kind::Neg: for (auto i = i0; i < i1; ++i) b[i] = -a[i]; break;
      case Kind::Exp: map_into(a, b, i0, i1, [](f32x16 v) { return exp16(v); }); break;
      case Kind::Log: for (auto i = i0; i < i1; ++i) b[i] = std::log(a[i]); break;
      case Kind::Sqrt: for (auto i = i0; i < i1; ++i) b[i] = std::sqrt(a[i]); break;
      case Kind::Erf: map_into(a, b, i0, i1, [](f32x16 v) { return erf16(v); }); break;  // relative error < 4e-7
      case Kind::Sin: for (auto i = i0; i < i1; ++i) b[i] = std::sin(a[i]); break;
      case Kind::Cos: for (auto i = i0; i < i1; ++i) b[i] = std::cos(a[i]); break;
      case Kind::Floor: for (auto i = i0; i < i1; ++i) b[i] = std::floor(a[i]); break;
      case Kind::Ceil: for (auto i = i0; i < i1; ++i) b[i] = std::ceil(a[i]); break;
      case Kind::Reciprocal: for (auto i = i0; i < i1; ++i) b[i] = 1.0f / a[i]; break;
      case Kind::Elu: {
        const float alpha = alpha_;
        map_into(a, b, i0, i1, [alpha](f32x16 v) { return v >= 0.0f ? v : alpha * (exp16(v) - 1.0f); });
        break;
      }
      case Kind::Tan: for (auto i = i0; i < i1; ++i) b[i] = std::tan(a[i]); break;
      case Kind::Asin: for (auto i = i0; i < i1; ++i) b[i] = std::asin(a[i]); break;
      case Kind::Acos: for (auto i = i0; i < i1; ++i) b[i] = std::acos(a[i]); break;
      case Kind::Atan: for (auto i = i0; i < i1; ++i) b[i] = std::atan(a[i]); break;
      case Kind::Sinh: for (auto i = i0; i < i1; ++i) b[i] = std::sinh(a[i]); break;
      case Kind::Cosh: for (auto i = i0; i < i1; ++i) b[i] = std::cosh(a[i]); break;
      case Kind::Asinh: for (auto i = i0; i < i1; ++i) b[i] = std::asinh(a[i]); break;
      case Kind::Acosh: for (auto i = i0; i < i1; ++i) b[i] = std::acosh(a[i]); break;
      case Kind::Atanh: for (auto i = i0; i < i1; ++i) b[i] = std::atanh(a[i]); break;
      case Kind::Sign: for (auto i = i0; i < i1; ++i) b[i] = a[i] > 0 ? 1.0f : a[i] < 0 ? -1.0f : a[i]; break;
      // Round half to even, as the spec says: nearbyint in the default rounding mode.
      case Kind::Round: for (auto i = i0; i < i1; ++i) b[i] = std::nearbyint(a[i]); break;
      case Kind::Softplus: for (auto i = i0; i < i1; ++i) b[i] = a[i] > 20.0f ? a[i] : std::log1p(std::exp(a[i])); break;
      case Kind::Softsign: for (auto i = i0; i < i1; ++i) b[i] = a[i] / (1.0f + std::fabs(a[i])); break;
      // x tanh(softplus(x)) = x n / (n + 2) with n = e^x (e^x + 2): no log, no tanh; above 20 it is x
      // to float precision (and n would overflow).
      case Kind::Mish:
        map_into(a, b, i0, i1, [](f32x16 v) {
          const f32x16 e = exp16(v), n = e * (e + 2.0f);
          return v > 20.0f ? v : v * n / (n + 2.0f);
        });
        break;
      case Kind::Selu: {
        const float alpha = alpha_, gamma = gamma_;
        map_into(a, b, i0, i1, [alpha, gamma](f32x16 v) { return gamma * (v > 0.0f ? v : alpha * (exp16(v) - 1.0f)); });
        break;
      }
      case Kind::Celu: {
        const float alpha = alpha_;
        map_into(a, b, i0, i1, [alpha](f32x16 v) {
          const f32x16 negative = alpha * (exp16(v / alpha) - 1.0f);
          return (v > 0.0f ? v : 0.0f) + (negative < 0.0f ? negative : 0.0f);
        });
        break;
      }
      case Kind::ThresholdedRelu: for (auto i = i0; i < i1; ++i) b[i] = a[i] > alpha_ ? a[i] : 0.0f; break;
      case Kind::Gelu: map_into(a, b, i0, i1, [](f32x16 v) { return gelu16(v); }); break;
      case Kind::GeluTanh: map_into(a, b, i0, i1, [](f32x16 v) { return gelu_tanh16(v); }); break;
      case Kind::Not:
      case Kind::IsNaN:
      case Kind::IsInf: break;  // handled above
    }
  });
}

// ---- binary -------------------------------------------------------------------------------------

Binary::Binary(const NodeInfo& node) : Layer(node) {
  const std::string& op = node.op_type;
  if (op == "Add") kind_ = Kind::Add;
  else if (op == "Sub") kind_ = Kind::Sub;
  else if (op == "Mul") kind_ = Kind::Mul;
  else if (op == "Div") kind_ = Kind::Div;
  else if (op == "Pow") kind_ = Kind::Pow;
  else if (op == "Max") kind_ = Kind::Max;
  else if (op == "Min") kind_ = Kind::Min;
  else if (op == "PRelu") kind_ = Kind::PRelu;
  else if (op == "Equal") kind_ = Kind::Equal;
  else if (op == "Less") kind_ = Kind::Less;
  else if (op == "Greater") kind_ = Kind::Greater;
  else if (op == "LessOrEqual") kind_ = Kind::LessOrEqual;
  else if (op == "GreaterOrEqual") kind_ = Kind::GreaterOrEqual;
  else if (op == "Mod") {
    kind_ = Kind::Mod;
    fmod_ = node.attributes.get_int("fmod", 0) != 0;
  }
  else if (op == "And") kind_ = Kind::And;
  else if (op == "Or") kind_ = Kind::Or;
  else if (op == "Xor") kind_ = Kind::Xor;
  else fail("not a binary operator");
}

std::vector<ValueInfo> Binary::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2 || !in[0].present || !in[1].present) fail("needs two inputs");
  Shape b = in[1].shape;
  if (kind_ == Kind::PRelu && in[0].shape.size() == 4 && b.size() == 1 && b[0] == in[0].shape[1] && b[0] != 1)
    b = {b[0], 1, 1};  // per-channel slope given as [C]
  if (kind_ == Kind::Mod && node().attributes.get_int("fmod", 0) == 0 &&
      (in[0].type == ElementType::Float32 || in[1].type == ElementType::Float32))
    fail("Mod of floats needs fmod = 1");
  const ElementType type = compares() ? ElementType::Int64
                           : (in[0].type == ElementType::Int64 && in[1].type == ElementType::Int64) ? ElementType::Int64
                                                                                                     : ElementType::Float32;
  return {ValueInfo{broadcast(in[0].shape, b), type, std::nullopt, true}};
}

void Binary::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& a = inputs[0];
  Tensor b = inputs[1];
  Tensor& y = outputs[0];
  if (kind_ == Kind::PRelu && a.rank() == 4 && b.rank() == 1 && b.size() == a.dim(1) && b.size() != 1)
    b = b.reshaped({b.size(), 1, 1});
  if (y.type() == ElementType::Int64 && a.type() == ElementType::Int64 && b.type() == ElementType::Int64 && !compares()) {
    const std::int64_t* pa = a.ints();
    const std::int64_t* pb = b.ints();
    std::int64_t* py = y.ints();
    for_each_broadcast(y.shape(), {a.shape(), b.shape()}, [&](std::int64_t o, std::int64_t i, std::int64_t j, std::int64_t) {
      const std::int64_t u = pa[i], v = pb[j];
      switch (kind_) {
        case Kind::Add: py[o] = u + v; break;
        case Kind::Sub: py[o] = u - v; break;
        case Kind::Mul: py[o] = u * v; break;
        case Kind::Div:
          if (v == 0) fail("integer division by zero");
          py[o] = u / v;
          break;
        case Kind::Max: py[o] = std::max(u, v); break;
        case Kind::Min: py[o] = std::min(u, v); break;
        case Kind::Mod: {
          if (v == 0) fail("integer modulo by zero");
          const std::int64_t r = u % v;
          // fmod = 0: the remainder takes the divisor's sign (Python's %, PyTorch's remainder).
          py[o] = fmod_ || r == 0 || ((r < 0) == (v < 0)) ? r : r + v;
          break;
        }
        default: py[o] = static_cast<std::int64_t>(std::pow(static_cast<double>(u), static_cast<double>(v)));
      }
    });
    return;
  }
  if (y.type() == ElementType::Int64) {  // comparisons
    const auto fa = a.type() == ElementType::Float32 ? a : Tensor::from_floats(a.to_floats(), a.shape());
    const auto fb = b.type() == ElementType::Float32 ? b : Tensor::from_floats(b.to_floats(), b.shape());
    for_each_broadcast(y.shape(), {a.shape(), b.shape()}, [&](std::int64_t o, std::int64_t i, std::int64_t j, std::int64_t) {
      const float u = fa.data()[i], v = fb.data()[j];
      switch (kind_) {
        case Kind::Equal: y.ints()[o] = u == v; break;
        case Kind::Less: y.ints()[o] = u < v; break;
        case Kind::Greater: y.ints()[o] = u > v; break;
        case Kind::LessOrEqual: y.ints()[o] = u <= v; break;
        case Kind::GreaterOrEqual: y.ints()[o] = u >= v; break;
        case Kind::And: y.ints()[o] = u != 0 && v != 0; break;
        case Kind::Or: y.ints()[o] = u != 0 || v != 0; break;
        default: y.ints()[o] = (u != 0) != (v != 0); break;
      }
    });
    return;
  }
  const Tensor fa = a.type() == ElementType::Float32 ? a : Tensor::from_floats(a.to_floats(), a.shape());
  const Tensor fb = b.type() == ElementType::Float32 ? b : Tensor::from_floats(b.to_floats(), b.shape());
  switch (kind_) {
    case Kind::Add: return float_binary(fa, fb, y, [](float u, float v) { return u + v; });
    case Kind::Sub: return float_binary(fa, fb, y, [](float u, float v) { return u - v; });
    case Kind::Mul: return float_binary(fa, fb, y, [](float u, float v) { return u * v; });
    case Kind::Div: return float_binary(fa, fb, y, [](float u, float v) { return u / v; });
    case Kind::Pow: return float_binary(fa, fb, y, [](float u, float v) { return std::pow(u, v); });
    case Kind::Max: return float_binary(fa, fb, y, [](float u, float v) { return std::max(u, v); });
    case Kind::Min: return float_binary(fa, fb, y, [](float u, float v) { return std::min(u, v); });
    case Kind::PRelu: return float_binary(fa, fb, y, [](float u, float v) { return u >= 0 ? u : u * v; });
    case Kind::Mod: return float_binary(fa, fb, y, [](float u, float v) { return std::fmod(u, v); });
    default: fail("not a float operator");
  }
}

// ---- Where --------------------------------------------------------------------------------------

std::vector<ValueInfo> Where::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 3) fail("needs three inputs");
  return {ValueInfo{broadcast(broadcast(in[0].shape, in[1].shape), in[2].shape), in[1].type, std::nullopt, true}};
}

void Where::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const std::vector<std::int64_t> c = in[0].to_ints();
  Tensor& y = out[0];
  if (y.type() == ElementType::Int64) {
    const auto a = in[1].to_ints(), b = in[2].to_ints();
    for_each_broadcast(y.shape(), {in[0].shape(), in[1].shape(), in[2].shape()},
                       [&](std::int64_t o, std::int64_t i, std::int64_t j, std::int64_t k) {
                         y.ints()[o] = c[static_cast<std::size_t>(i)] ? a[static_cast<std::size_t>(j)] : b[static_cast<std::size_t>(k)];
                       });
  } else {
    const auto a = in[1].to_floats(), b = in[2].to_floats();
    for_each_broadcast(y.shape(), {in[0].shape(), in[1].shape(), in[2].shape()},
                       [&](std::int64_t o, std::int64_t i, std::int64_t j, std::int64_t k) {
                         y.data()[o] = c[static_cast<std::size_t>(i)] ? a[static_cast<std::size_t>(j)] : b[static_cast<std::size_t>(k)];
                       });
  }
}

}  // namespace luojia::nn::layers
