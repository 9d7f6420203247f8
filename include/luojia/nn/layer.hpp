#pragma once
#include <luojia/export.hpp>
#include <luojia/nn/attributes.hpp>
#include <luojia/nn/tensor.hpp>

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace luojia::nn {

// One node of the graph, as the model file describes it.
struct NodeInfo {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for ONNX's own operators
  int opset = 0;       // of the node's domain
  Attributes attributes;
  std::vector<std::string> inputs;   // "" for an omitted optional input
  std::vector<std::string> outputs;
  std::string model_path;

  // "Conv_3 (Conv, opset 13)" for messages.
  std::string describe() const;
};

// What shape inference knows of an input: shape and type, and the value when it is known
// before the run (initializers, constants, shape arithmetic).
struct ValueInfo {
  Shape shape;
  ElementType type = ElementType::Float32;
  std::optional<Tensor> value;
  bool present = true;  // false for an omitted optional input
};

// How an operator's outputs depend on its inputs in space (the last two axes, H and W), for the
// receptive field and stride analysis that sizes halos for exact tiled inference.
struct Footprint {
  enum class Kind {
    Pointwise,  // each output pixel from the same input pixel (activations, 1x1, elementwise)
    Window,     // convolution or pooling: kernel, stride, dilation, begin padding
    Transposed, // transposed convolution
    Resample,   // resize by a factor; reach in input pixels
    Global,     // depends on the whole input (global pooling, Gemm over space): not tileable
  };
  Kind kind = Kind::Pointwise;
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> pad_begin{0, 0};
  std::array<double, 2> scale{1.0, 1.0};  // Resample: output size / input size
  std::int64_t reach = 0;                 // Resample: input pixels an output pixel reads beyond its own
  bool translation_invariant = true;      // false for align_corners resizing
};

// A layer: ncnn's shape, ONNX's vocabulary. Built-in operators and user layers alike derive
// from it and are created through a LayerRegistry. forward() is called concurrently from several
// threads on different tensors, so layers keep no per-run state.
class LUOJIA_API Layer {
public:
  explicit Layer(NodeInfo node) : node_(std::move(node)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const NodeInfo& node() const noexcept { return node_; }

  // Once, after loading: inputs whose values are fixed (weights) come with value set, so a
  // layer can repack them. Runtime inputs have no value.
  virtual void prepare(const std::vector<ValueInfo>& inputs) { (void)inputs; }

  // Output shapes and types for these inputs. A layer that can compute an output's value from
  // shapes alone (Shape, Size) returns it in value; the planner then folds it as a constant.
  virtual std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const = 0;

  // Computes outputs (already allocated with the inferred shapes) from inputs. Checks the counts,
  // and turns any failure into an Error naming the model file and this node.
  void forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const;

  virtual Footprint footprint() const { return {}; }

protected:
  virtual void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const = 0;

  // Error naming the model file and this node.
  [[noreturn]] void fail(const std::string& message) const;
  // The value of a constant input, or an error saying it must be constant.
  const Tensor& constant_input(const std::vector<ValueInfo>& inputs, std::size_t index) const;
  bool has_input(const std::vector<ValueInfo>& inputs, std::size_t index) const {
    return index < inputs.size() && inputs[index].present;
  }

private:
  NodeInfo node_;
};

}  // namespace luojia::nn
