#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

class Pool : public Layer {  // MaxPool, AveragePool
public:
  explicit Pool(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  Window2d window_;
  bool max_ = true;
  bool count_include_pad_ = false;
};

class GlobalPool : public Layer {  // GlobalAveragePool, GlobalMaxPool
public:
  explicit GlobalPool(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  bool max_ = false;
};

class Reduce : public Layer {  // ReduceMean, ReduceSum, ReduceMax, ReduceMin
public:
  explicit Reduce(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::vector<int> axes(const std::vector<ValueInfo>& inputs) const;
  bool reduce_block(const Tensor& x, const std::vector<int>& ax, Tensor& y) const;  // false: not one block, take the walk
  enum class Kind { Mean, Sum, Max, Min };
  Kind kind_ = Kind::Mean;
  bool keepdims_ = true;
};

}  // namespace luojia::nn::layers
