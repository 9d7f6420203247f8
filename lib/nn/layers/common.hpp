#pragma once
// Helpers the built-in layers share.
#include <luojia/error.hpp>
#include <luojia/nn/layer.hpp>

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

}  // namespace luojia::nn::layers
