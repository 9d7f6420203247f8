#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// GridSample (opset 16; opset 20's names linear and cubic too) over 2 spatial axes: samples X at
// the normalised (x, y) positions of a grid, bilinear, nearest or bicubic (A = -0.75), with zeros,
// border or reflection padding, as PyTorch's grid_sample computes it.
class GridSample : public Layer {
public:
  explicit GridSample(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  enum class Mode { Linear, Nearest, Cubic };
  enum class Padding { Zeros, Border, Reflection };
  Mode mode_ = Mode::Linear;
  Padding padding_ = Padding::Zeros;
  bool align_corners_ = false;
};

}  // namespace luojia::nn::layers
