#pragma once
// Helpers the built-in layers share.
#include <luojia/error.hpp>
#include <luojia/nn/layer.hpp>

#include "nn/layers/vector_math.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace luojia::nn::layers {

// A scalar (rank 0) has no axis at all: every op that takes one refuses it (the fuzzer found
// Concat, ArgMax, Gather, Split and Pad indexing past an empty shape when axis 0 was let through).
inline int normalise_axis(std::int64_t axis, std::size_t rank, const Layer& layer) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    raise("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank) + " in " +
          layer.node().describe());
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

// Bytes per element: int64 (shape arithmetic, indices, bools) or float32.
inline std::size_t element_size(const Tensor& t) { return t.type() == ElementType::Int64 ? 8 : 4; }

// What infer() says of an output computed at run time: its shape and type, no value.
inline ValueInfo output_info(Shape shape, ElementType type) { return ValueInfo{std::move(shape), type, std::nullopt, true}; }

// The inputs of a run as infer() sees them (values known), for layers that reuse their inference.
std::vector<ValueInfo> infos_of(std::span<const Tensor> inputs);

// Row-major strides, in elements, of a dense tensor of this shape.
std::vector<std::int64_t> contiguous_strides(const Shape& shape);

// Numpy broadcasting of two shapes.
Shape broadcast(const Shape& a, const Shape& b);

// Strides (in elements) of shape as seen from an output of shape out (0 on broadcast axes).
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out);

// Output size of one axis of n inputs under a window (kernel, stride, dilation, pads, auto_pad,
// ceil_mode as ONNX defines them), and the begin padding it resolves to (SAME_* depend on n).
std::int64_t window_output_size(std::int64_t n, std::int64_t kernel, std::int64_t stride, std::int64_t dilation, std::int64_t pad_begin,
                                std::int64_t pad_end, const std::string& auto_pad, bool ceil_mode, std::int64_t& pad_begin_out);

// Spatial geometry of a 2-D convolution or pooling window, auto_pad resolved.
struct Window2d {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> pad_begin{0, 0};
  std::array<std::int64_t, 2> pad_end{0, 0};
  bool ceil_mode = false;
  std::string auto_pad = "NOTSET";

  static Window2d from(const Attributes& attributes, std::array<std::int64_t, 2> kernel);
  // Output size along axis d for an input of size n (and resolves SAME_* padding for it).
  std::int64_t output_size(int d, std::int64_t n, std::int64_t& pad_begin_out) const;
  Footprint footprint() const;
};

// Element-wise activations, also fused into convolutions.
enum class Activation { None, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, Silu, Gelu, GeluTanh };

struct ActivationFn {
  Activation kind = Activation::None;
  float p0 = 0.0f, p1 = 0.0f;

  static ActivationFn from(const std::string& op, const std::vector<float>& params);
  void apply(float* data, std::int64_t n) const;
};

// Calls run(g) with the activation as a function g of one vector (vector_math.hpp's width): the one
// definition of each activation that ActivationFn::apply and the GEMM's per-tile epilogue (compiled
// in each ISA object) both use. NaN stays NaN through Clip, as std::min(std::max(x, lo), hi) keeps it.
template <class Run>
void with_vector_activation(const ActivationFn& f, const Run& run) {
  const float p0 = f.p0, p1 = f.p1;
  switch (f.kind) {
    case Activation::None: return run([](f32x16 v) { return v; });
    case Activation::Relu: return run([](f32x16 v) { return v > 0.0f ? v : 0.0f; });
    case Activation::LeakyRelu: return run([p0](f32x16 v) { return v >= 0.0f ? v : v * p0; });
    case Activation::Clip:
      return run([p0, p1](f32x16 v) {
        v = v < p0 ? p0 : v;
        return v > p1 ? p1 : v;
      });
    case Activation::Sigmoid: return run([](f32x16 v) { return sigmoid16(v); });
    case Activation::Tanh: return run([](f32x16 v) { return tanh16(v); });
    case Activation::HardSigmoid:
      return run([p0, p1](f32x16 v) {
        v = v * p0 + p1;
        v = v < 0.0f ? 0.0f : v;
        return v > 1.0f ? 1.0f : v;
      });
    case Activation::HardSwish:
      return run([](f32x16 v) {
        f32x16 g = v * (1.0f / 6.0f) + 0.5f;  // within an ulp of v / 6, without a division
        g = g < 0.0f ? 0.0f : g;
        g = g > 1.0f ? 1.0f : g;
        return v * g;
      });
    case Activation::Silu: return run([](f32x16 v) { return silu16(v); });
    case Activation::Gelu: return run([](f32x16 v) { return gelu16(v); });
    case Activation::GeluTanh: return run([](f32x16 v) { return gelu_tanh16(v); });
  }
}

}  // namespace luojia::nn::layers
