#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

class Resize : public Layer {  // Resize, Upsample
public:
  explicit Resize(const NodeInfo& node);
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  void geometry(const std::vector<ValueInfo>& inputs, Shape& out, std::vector<double>& scales) const;
  double source(std::int64_t out_index, double scale, std::int64_t out_len, std::int64_t in_len) const;
  std::int64_t nearest(double x, std::int64_t in_len) const;
  void cubic(const Tensor& x, std::int64_t h, std::int64_t w, std::int64_t ho, std::int64_t wo, double scale_y, double scale_x,
             Tensor& y) const;
  bool upsample_ = false;
  std::string mode_;
  std::string transform_;
  std::string nearest_;
  std::vector<std::int64_t> axes_;  // opset 18
  bool antialias_ = false;
  float cubic_a_ = -0.75f;
  bool exclude_outside_ = false;
};

}  // namespace luojia::nn::layers
