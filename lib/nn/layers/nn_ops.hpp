#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

class BatchNorm : public Layer {  // BatchNormalization not folded into a convolution
public:
  using Layer::Layer;
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::vector<float> scale_, shift_;
};

class Softmax : public Layer {  // Softmax, LogSoftmax
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class ArgMax : public Layer {  // ArgMax, ArgMin
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Gemm : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class MatMul : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Pad : public Layer {
public:
  using Layer::Layer;
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::vector<std::int64_t> pads(const std::vector<ValueInfo>& inputs) const;
  std::array<std::int64_t, 2> spatial_reach_{0, 0};  // widest pad of H and W, when known at load
};

}  // namespace luojia::nn::layers
