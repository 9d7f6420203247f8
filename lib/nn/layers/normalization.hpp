#pragma once
// Normalisations over a sample's own values (not over a training set's, as BatchNormalization):
// LayerNormalization, InstanceNormalization, GroupNormalization.
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// LayerNormalization (opset 17): each run of the axes from `axis` on to the last is normalised to
// mean 0 and variance 1, then scaled and shifted by Scale and B (broadcast to those axes). Also
// what load-time fusion makes of the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div pattern that
// PyTorch exports for older opsets. Optional outputs Mean and InvStdDev.
class LayerNorm : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

// InstanceNormalization: each (sample, channel) plane normalised over its spatial axes, then
// scale[c] * x + bias[c]. PyTorch exports GroupNorm as Reshape to (N, groups, -1), this, Reshape
// back, Mul, Add.
class InstanceNorm : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

// GroupNormalization (opset 18; 21 changed scale and bias from per group to per channel, both
// are read by their length): channels in num_groups groups, each group of a sample normalised
// over its channels and spatial axes together.
class GroupNorm : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

}  // namespace luojia::nn::layers
