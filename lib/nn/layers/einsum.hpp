#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// Einsum: operands contracted pairwise, each pair as one batched matrix product (batch labels,
// the first operand's own labels, the second's, the summed ones), labels no later term needs summed
// first; "..." broadcasts as numpy. Repeated labels within one operand (diagonals) are refused.
class Einsum : public Layer {
public:
  explicit Einsum(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  // Each term's labels (letters; -1 - k for the k-th axis covered by "...", counted from the
  // right), resolved for operands of these ranks, and the output's.
  struct Labels {
    std::vector<std::vector<int>> terms;
    std::vector<int> output;
  };
  Labels resolve(const std::vector<std::size_t>& ranks) const;
  std::vector<std::string> terms_;  // as written, "..." kept
  std::string output_;
  bool explicit_output_ = false;
};

}  // namespace luojia::nn::layers
