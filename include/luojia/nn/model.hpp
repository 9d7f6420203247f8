#pragma once
// An ONNX model loaded, analysed for tiling and run in Sessions.
#include <luojia/export.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model_metadata.hpp>
#include <luojia/nn/tensor.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace luojia::nn {

struct LoadOptions {
  // No tensor, initializer or plan may need more: a crafted file cannot make luojia allocate
  // without bound.
  std::size_t max_tensor_bytes = std::size_t{2} << 30;
  std::size_t max_plan_bytes = std::size_t{8} << 30;
  // The kernels' instruction set: "" (the best this CPU has), "sse2", "avx2" or "avx512".
  // LUOJIA_ISA in the environment overrides it (for benchmarks and tests).
  std::string isa;
  // 3x3 convolutions through Winograd: "auto" (F(4x4) where it pays), "off", "f2" or "f4" (on
  // every shape). LUOJIA_WINOGRAD overrides it.
  std::string winograd = "auto";
};

// How a Session runs: threads = 0 runs in the caller's TBB arena (all cores unless the caller
// limited it); N > 0 runs every layer in an arena of N threads of its own.
struct SessionOptions {
  int threads = 0;
};

// A graph input or output: name, and shape with -1 for dynamic axes.
struct TensorSpec {
  std::string name;
  Shape shape;
  ElementType type = ElementType::Float32;
};

// One level of a detector's anchors: a grid of cells flattened into the output's anchor axis
// (YOLO's N in (1, 4+nc, N)), cell (y, x) covering input pixels [x*stride, (x+1)*stride) and
// [y*stride, (y+1)*stride).
struct AnchorGrid {
  std::int64_t first = 0;   // index of the level's first anchor along the axis
  std::int64_t groups = 1;  // anchors per cell (YOLOv5 has three), the outermost of the flattening
  std::int64_t height = 0, width = 0;  // cells
  std::int64_t stride = 1;  // input pixels per cell
  std::int64_t radius = 0;  // input pixels beyond its cell an anchor's output depends on
  std::int64_t count() const { return groups * height * width; }
  bool operator==(const AnchorGrid&) const = default;
};

// Receptive field and stride of one output with respect to the (first) input, in input pixels.
struct OutputAnalysis {
  std::string name;
  Shape shape;            // at the analysed input shape
  bool tileable = true;   // false: global context (global pooling, Gemm over space, align_corners)
  std::string reason;     // why not, naming the node
  std::int64_t radius = 0;      // input pixels on each side an output pixel depends on
  std::int64_t stride = 1;      // input pixels per output pixel (total downsampling)
  std::int64_t upscale = 1;     // output pixels per input pixel (super-resolution); stride is then 1
  bool probabilities = false;   // made by a Softmax over the channel axis: class probabilities, not logits
  std::int64_t alignment = 1;   // tile offsets must be multiples of this for exact results
  // Set when the spatial grids are flattened into one axis of anchors (a detector's output):
  // which axis, and its levels end to end. radius and stride are then the largest of the levels'.
  int anchor_axis = -1;
  std::vector<AnchorGrid> anchors;
};

class Session;

// A loaded ONNX model: graph after load-time rewrites (Identity removed, BatchNormalization folded
// into convolutions, activations fused), layers created through a registry, metadata.
// Immutable after load and safe to share between threads; runs happen in Sessions.
class LUOJIA_API Model {
public:
  static Model load(const std::string& path, const LayerRegistry& registry = LayerRegistry::with_builtins(),
                    const LoadOptions& options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& path() const noexcept;
  const std::vector<TensorSpec>& inputs() const noexcept;
  const std::vector<TensorSpec>& outputs() const noexcept;
  const ModelMetadata& metadata() const noexcept;
  int opset() const noexcept;
  std::size_t node_count() const noexcept;
  // The instruction set its kernels run with (LoadOptions::isa, or the environment's).
  std::string kernel_isa() const;
  // Receptive field and stride of each output, found by planning a run at input_shape (default:
  // the declared input shape with 256 for dynamic spatial axes and 1 for others).
  std::vector<OutputAnalysis> analyse(const Shape& input_shape = {}) const;

  // Convenience: one run in a temporary session.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

  struct Impl;  // the library's own; opaque to users

private:
  friend class Session;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One operator type as a model file uses it, and whether luojia can run it: its layer is
// registered and accepts every node's attributes (luojia-info --check).
struct OperatorUse {
  std::string domain;     // "" for ONNX's own operators
  std::string op_type;
  int opset = 0;          // of the domain, as the file imports it
  std::size_t nodes = 0;  // how many nodes use it
  bool supported = false;
  std::string problem;    // when not supported: why, for the first node that fails
};

// The operators of an ONNX file, read without planning or running it, in order of first use.
// Throws for a file that cannot be read as ONNX at all.
LUOJIA_API std::vector<OperatorUse> list_operators(const std::string& path,
                                                   const LayerRegistry& registry = LayerRegistry::with_builtins(),
                                                   const LoadOptions& options = {});

// Time one node took over the runs a Session profiled (Session::profile).
struct LayerTime {
  std::string node;     // the node's name in the model
  std::string op_type;
  Shape output;         // its first output's shape in the last profiled run
  double seconds = 0;   // summed over the profiled runs
  std::int64_t runs = 0;
};

// Runs a model. Plans once per input shape (shape arithmetic folded, buffers laid out in one arena
// by liveness) and reuses plan and arena for every later run of that shape. One session per thread.
class LUOJIA_API Session {
public:
  explicit Session(const Model& model, const SessionOptions& options = {});
  Session(Session&&) noexcept;
  ~Session();

  // Outputs are owned tensors, valid after the next run.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // Arena bytes of the plan for the last input shape: the activations between its inputs and outputs.
  std::size_t peak_bytes() const noexcept;
  // Bytes of that plan's outputs, which the session keeps for its next run (peak_bytes() +
  // output_bytes() is the memory one tile needs).
  std::size_t output_bytes() const noexcept;
  std::size_t planned_shapes() const noexcept;
  // Times every node of the following runs (off by default: it reads the clock twice per node).
  void profile(bool on);
  // Per node, in run order, summed since profiling was switched on.
  const std::vector<LayerTime>& layer_times() const noexcept;

private:
  struct Impl;
  std::vector<Tensor> run_here(const std::vector<Tensor>& inputs);
  std::unique_ptr<Impl> impl_;
};

}  // namespace luojia::nn
