#pragma once
// The Layer interface every operator implements (built-in or registered from user code).
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
// receptive field and stride analysis that sizes halos for exact tiled inference. Every layer says
// it through Layer::footprint(); a layer that does not (Undeclared) makes the model not exactly
// tileable, because a spatial layer counted as pointwise would get no halo and tiles would differ
// from the whole-image run without a word.
struct Footprint {
  enum class Kind {
    Undeclared,  // the layer has not said: the model is not exactly tileable
    Pointwise,   // each output pixel from the same input pixel (activations, 1x1, elementwise)
    Window,      // convolution or pooling: kernel, stride, dilation, begin padding
    Transposed,  // transposed convolution
    Resample,    // resize by a factor; reach in input pixels
    Global,      // depends on the whole input (global pooling, Gemm over space): not tileable
    Permute,     // moves axes as axes (a Transpose perm; empty reverses them)
    Reshape,     // pointwise while H and W survive: kept, flattened into one axis, or restored
    Shift,       // a slice: output element o reads input o + start on each sliced axis
    Combine,     // mixes values along axes (softmax, reductions, gathers): global on H or W
    Concatenate, // joins its inputs along axes[0]: global on H or W, except that grids flattened into
                 // one axis (a detector's levels, each a grid of anchors) are laid end to end
    Contract,    // a matrix product over the last axis, and across its inputs when both are data
    Upsample,    // output pixel o from input pixel floor(o / stride) and nothing else (DepthToSpace)
  };
  Kind kind = Kind::Undeclared;
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> pad_begin{0, 0};
  std::int64_t reach = 0;                 // Resample: input pixels an output pixel reads beyond its own
  bool translation_invariant = true;      // false for align_corners resizing
  // Permute: the perm. Combine: the axes (negative from the end; empty with every_axis_if_empty
  // means all of them). Shift: the axes the starts apply to (empty: 0, 1, ...).
  std::vector<std::int64_t> axes;
  bool every_axis_if_empty = false;
  bool through_last_axis = false;         // Combine: also every axis after the listed one
  std::vector<std::int64_t> starts;       // Shift
  // Combine and Shift: an input whose value, when it is known before the run (a constant or shape
  // arithmetic), replaces axes (axes_input) or starts (starts_input); -1 for none.
  int axes_input = -1;
  int starts_input = -1;
  // Window: an input holding ONNX pads (every axis' begins, then ends) that sets pad_begin when
  // its value is known before the run but not at load (pads made by shape arithmetic, as PyTorch
  // exports F.pad): a one-pixel window offset by each spatial axis' begin pad. -1 for none.
  int pads_input = -1;
  std::string reason;                     // Global: why, for the message

  static Footprint pointwise() { return with(Kind::Pointwise); }
  static Footprint global(std::string why = {}) {
    Footprint f = with(Kind::Global);
    f.reason = std::move(why);
    return f;
  }
  // A k x k window (a convolution, a blur): output (y, x) reads input
  // (y*stride - pad + [0, (k-1)*dilation]) on each axis.
  static Footprint window(std::array<std::int64_t, 2> kernel, std::array<std::int64_t, 2> pad_begin,
                          std::array<std::int64_t, 2> stride = {1, 1}, std::array<std::int64_t, 2> dilation = {1, 1}) {
    Footprint f = with(Kind::Window);
    f.kernel = kernel;
    f.pad_begin = pad_begin;
    f.stride = stride;
    f.dilation = dilation;
    return f;
  }
  // Each output pixel copies input pixel (y / factor, x / factor): a whole-factor nearest
  // upsampling, or DepthToSpace's pixel shuffle.
  static Footprint upsample(std::array<std::int64_t, 2> factor) {
    Footprint f = with(Kind::Upsample);
    f.stride = factor;
    return f;
  }
  static Footprint combine(std::vector<std::int64_t> axes) {
    Footprint f = with(Kind::Combine);
    f.axes = std::move(axes);
    return f;
  }

private:
  static Footprint with(Kind kind) {
    Footprint f;
    f.kind = kind;
    return f;
  }
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

  // How outputs depend on inputs in space. The default, Undeclared, makes the model not exactly
  // tileable: override it (Footprint::pointwise() for element-wise layers).
  virtual Footprint footprint() const { return {}; }

  // For a layer that lays its inputs end to end along one axis of its single output and leaves an
  // input alone when it already lies at its place there (checking that the data pointers differ
  // before copying): that axis, negative from the end. The planner may then have the producers
  // write straight into the output, which saves the copy and the memory of the inputs (U-Net
  // skips). The default, none, keeps every input in its own memory.
  virtual std::optional<std::int64_t> in_place_join_axis() const { return std::nullopt; }

  // For a layer whose single output is its first input's values in the same order, only the shape
  // differing (Reshape, Flatten, Squeeze, Unsqueeze), and which copies nothing when the output's
  // data pointer is the input's: true. The planner may then give the output the input's memory.
  virtual bool output_views_input() const { return false; }

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
