#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

class Unary : public Layer {
public:
  explicit Unary(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  enum class Kind {
    Activation, Copy, Abs, Neg, Exp, Log, Sqrt, Erf, Floor, Ceil, Reciprocal, Elu, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh,
    Asinh, Acosh, Atanh, Sign, Round, Not, IsNaN, IsInf, Softplus, Softsign, Mish, Selu, Celu, ThresholdedRelu, Gelu, GeluTanh
  };
  Kind kind_ = Kind::Activation;
  ActivationFn activation_;
  float alpha_ = 1.0f, gamma_ = 1.0f;
  bool detect_positive_ = true, detect_negative_ = true;  // IsInf
};

// y = a + b with numpy broadcasting (y may be a).
void add_broadcast(const Tensor& a, const Tensor& b, Tensor& y);

class Binary : public Layer {
public:
  explicit Binary(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  enum class Kind { Add, Sub, Mul, Div, Pow, Max, Min, PRelu, Mod, Equal, Less, Greater, LessOrEqual, GreaterOrEqual, And, Or, Xor };
  bool compares() const { return kind_ >= Kind::Equal; }
  bool fmod_ = false;  // Mod
  Kind kind_ = Kind::Add;
};

class Where : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

}  // namespace luojia::nn::layers
