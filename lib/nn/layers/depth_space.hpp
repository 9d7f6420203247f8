#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// DepthToSpace and SpaceToDepth: blocks of b x b pixels to b*b channels and back (PyTorch's
// PixelShuffle and PixelUnshuffle, the last step of ESPCN-style super-resolution networks).
class DepthToSpace : public Layer {
public:
  explicit DepthToSpace(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::upsample({block_, block_}); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::int64_t block_ = 1;
  bool column_row_depth_ = false;  // mode CRD (PyTorch's order) rather than DCR
};

class SpaceToDepth : public Layer {
public:
  explicit SpaceToDepth(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::window({block_, block_}, {0, 0}, {block_, block_}); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::int64_t block_ = 1;
};

}  // namespace luojia::nn::layers
