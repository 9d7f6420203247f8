#pragma once
// Scaled dot-product attention, fused at load from what exports spell out:
// MatMul(Q, K^T) [Mul or Div by a constant] [Add a bias or mask] Softmax(last axis) MatMul(., V).
// It computes blocks of query rows at a time, so the score matrix (tokens x tokens per head, 805
// MB for a ViT at 1024² in float) never exists whole: a block of it per thread does.
#include "nn/layers/common.hpp"
#include "nn/layers/conv_gemm.hpp"

namespace luojia::nn::layers {

class Attention : public Layer {  // luojia.Attention: inputs Q, K^T, V, optional bias; attribute scale
public:
  using Layer::Layer;
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  // As the MatMuls it replaces: a product across data inputs.
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  const ConvGemm* gemm_ = nullptr;  // the build whose GEMM kernel runs both products
};

}  // namespace luojia::nn::layers
