#pragma once
// Convolution, transposed convolution and pooling over three spatial axes (N, C, D, H, W):
// Prithvi's Conv3d patch embedding over dates, stereo networks' cost volumes. The analysis sees
// H and W (the last two axes) as a 2-D window; D is not spatial to it.
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// Geometry of a 3-D window, auto_pad resolved per input.
struct Window3d {
  std::array<std::int64_t, 3> kernel{0, 0, 0}, stride{1, 1, 1}, dilation{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  static Window3d from(const Layer& layer, const Attributes& attributes);
  std::int64_t output_size(int d, std::int64_t n, std::int64_t& pad_begin_out) const;
  Footprint footprint() const;  // the window on H and W
};

class Conv3d : public Layer {
public:
  explicit Conv3d(const NodeInfo& node);
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return window_.footprint(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  Window3d window_;
  std::int64_t group_ = 1;
  Tensor weights_;
  std::vector<float> bias_;
  ActivationFn activation_;
  bool residual_ = false;
};

class ConvTranspose3d : public Layer {
public:
  explicit ConvTranspose3d(const NodeInfo& node);
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::array<std::int64_t, 3> pads_begin(const Shape& x) const;
  Window3d window_;
  std::int64_t group_ = 1;
  std::vector<std::int64_t> output_padding_, output_shape_;
  Tensor weights_;  // [Cin, Cout/group, kd, kh, kw]
  std::vector<float> bias_;
  ActivationFn activation_;
};

class Pool3d : public Layer {  // MaxPool, AveragePool with a 3-D kernel
public:
  explicit Pool3d(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return window_.footprint(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  Window3d window_;
  bool max_ = true;
  bool count_include_pad_ = false;
};

// The Conv, ConvTranspose, MaxPool and AveragePool entries of the registry: a 3-D kernel_shape
// (or 5-D weights, for a Conv without kernel_shape) makes the 3-D layer, anything else the 2-D one.
std::unique_ptr<Layer> make_conv(const NodeInfo& node);
std::unique_ptr<Layer> make_conv_transpose(const NodeInfo& node);
std::unique_ptr<Layer> make_pool(const NodeInfo& node);

}  // namespace luojia::nn::layers
