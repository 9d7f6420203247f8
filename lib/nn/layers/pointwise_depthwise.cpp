#include "nn/layers/pointwise_depthwise.hpp"

namespace luojia::nn::layers {
namespace {

// The two convolutions' nodes, named as in the model for their messages.
NodeInfo pointwise_node(const NodeInfo& fused) {
  NodeInfo n;
  n.name = fused.attributes.get_string("luojia.pointwise_node", fused.name);
  n.op_type = "Conv";
  n.opset = fused.opset;
  n.model_path = fused.model_path;
  n.attributes.set("luojia.activation", fused.attributes.get_string("luojia.pointwise_activation", ""));
  n.attributes.set("luojia.activation_params", fused.attributes.get_floats("luojia.pointwise_activation_params"));
  if (fused.attributes.has("luojia.isa")) n.attributes.set("luojia.isa", fused.attributes.get_string("luojia.isa", ""));
  return n;
}

NodeInfo depthwise_node(const NodeInfo& fused) {
  NodeInfo n = fused;
  n.op_type = "Conv";
  n.domain.clear();
  for (const char* own : {"luojia.pointwise_node", "luojia.pointwise_activation", "luojia.pointwise_activation_params"}) n.attributes.erase(own);
  return n;
}

}  // namespace

PointwiseDepthwise::PointwiseDepthwise(const NodeInfo& node)
    : Layer(node), pointwise_(pointwise_node(node)), depthwise_(depthwise_node(node)) {}

void PointwiseDepthwise::prepare(const std::vector<ValueInfo>& inputs) {
  if (inputs.size() != 5) fail("takes x, the pointwise weights and bias, the depthwise weights and bias");
  pointwise_.prepare({inputs[0], inputs[1], inputs[2]});
  depthwise_.prepare({ValueInfo{}, inputs[3], inputs[4]});
  const Tensor& wp = constant_input(inputs, 1);
  const Tensor& wd = constant_input(inputs, 3);
  // What optimise.cpp checked, again for a hand-made node.
  if (wp.rank() != 4 || wp.dim(0) < 8 || wp.dim(2) != 1 || wp.dim(3) != 1)
    fail("the pointwise weights must be [M >= 8, C, 1, 1], not " + to_string(wp.shape()));
  if (wd.rank() != 4 || wd.dim(0) != wp.dim(0) || wd.dim(1) != 1 || node().attributes.get_int("group", 1) != wd.dim(0))
    fail("the depthwise weights must be [" + std::to_string(wp.dim(0)) + ", 1, kh, kw] in as many groups, not " + to_string(wd.shape()));
}

std::vector<ValueInfo> PointwiseDepthwise::infer(const std::vector<ValueInfo>& inputs) const {
  return depthwise_.infer(pointwise_.infer({inputs.at(0)}));
}

Footprint PointwiseDepthwise::footprint() const { return depthwise_.footprint(); }

void PointwiseDepthwise::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  pointwise_.pointwise_into_depthwise(depthwise_, inputs[0], outputs[0]);
}

}  // namespace luojia::nn::layers
