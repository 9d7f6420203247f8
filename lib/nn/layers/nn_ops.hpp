#pragma once
#include "nn/layers/common.hpp"
#include "nn/layers/conv_gemm.hpp"

namespace luojia::nn::layers {

struct ConvGemm;

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
  ActivationFn activation_;  // fused at load (optimise.cpp)
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

// y (rows x n, row-major) += the epilogue's bias per column, then its activation: what the packed
// kernel does per tile, for the products that do not run on it.
void apply_epilogue(float* y, std::int64_t rows, std::int64_t n, const GemmEpilogue& epilogue);

// A right-hand side known at load, packed once for luojia's GEMM kernel (conv_gemm.hpp's sgemm).
struct PackedRhs {
  Tensor floats;
  Tensor original;          // B as given: a product of a few rows (a classifier's head) streams it
  bool transposed = false;  // original is n x k
  std::int64_t k = 0, n = 0;
  const ConvGemm* gemm = nullptr;  // the build it is packed for
  bool empty() const { return floats.empty(); }
  void pack(const Tensor& b, bool transposed, const ConvGemm& kernels);
  // y (rows x n) = a (rows x k, row-major) * B, then the epilogue (null: none), over the threads.
  void multiply(const float* a, std::int64_t rows, float* y, const GemmEpilogue* epilogue = nullptr) const;
};

class Gemm : public Layer {
public:
  using Layer::Layer;
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  PackedRhs packed_;        // B, when known at load and A is not transposed
  ActivationFn activation_;  // fused at load (optimise.cpp)
};

class MatMul : public Layer {
public:
  using Layer::Layer;
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  PackedRhs packed_;        // B, when it is a 2-D matrix known at load (a Linear layer's weight)
  ActivationFn activation_;  // fused at load with a bias, luojia's third input (optimise.cpp)
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
  std::array<std::int64_t, 2> spatial_begin_{0, 0};  // begin pads of H and W, when known at load
  bool pads_known_ = false;
};

}  // namespace luojia::nn::layers
