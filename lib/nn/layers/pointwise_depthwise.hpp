#pragma once
// An inverted residual block's expansion and depthwise layers as one (luojia.PointwiseDepthwise,
// fused at load by optimise.cpp): a 1 x 1 convolution (and its activation) whose output only a
// depthwise convolution reads. Conv::pointwise_into_depthwise runs both band by band.
#include "nn/layers/common.hpp"
#include "nn/layers/conv.hpp"

namespace luojia::nn::layers {

// Inputs x, the pointwise weights and bias, the depthwise weights and bias (biases may be
// omitted). Attributes: the depthwise Conv's, and its pointwise partner's node name and activation
// as luojia.pointwise_node and luojia.pointwise_activation(_params).
class PointwiseDepthwise : public Layer {
public:
  explicit PointwiseDepthwise(const NodeInfo& node);
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;  // the depthwise window's: the pointwise one adds nothing

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  Conv pointwise_;
  Conv depthwise_;
};

}  // namespace luojia::nn::layers
