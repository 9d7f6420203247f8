#pragma once
// The model as luojia holds it between the file and the layers: ONNX's graph without protobuf.
#include <luojia/nn/layer.hpp>
#include <luojia/nn/model.hpp>

#include <map>
#include <string>
#include <vector>

namespace luojia::nn::detail {

struct Graph {
  std::string path;
  int opset = 0;                           // of ONNX's default domain
  std::map<std::string, int> opsets;       // every domain's
  std::vector<NodeInfo> nodes;             // in topological order
  std::map<std::string, Tensor> initializers;
  std::vector<TensorSpec> inputs;          // runtime inputs only
  std::vector<TensorSpec> outputs;
  std::vector<std::pair<std::string, std::string>> metadata_props;  // the file's, in order
};

Graph load_onnx(const std::string& path, const LoadOptions& options);

// Load-time rewrites: Identity/Dropout removed, Constant nodes made initializers,
// BatchNormalization folded into the convolution before it, activations fused into convolutions.
void optimise(Graph& graph);

// Orders nodes so every input is defined before use; throws on cycles and undefined inputs.
void sort_topologically(Graph& graph);

}  // namespace luojia::nn::detail
