#pragma once
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

// Operators that move or reinterpret elements without arithmetic. Most of them run at plan time
// on shape arithmetic; all of them also run on data.

class ShapeOf : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Size : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Gather : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Unsqueeze : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  bool output_views_input() const override { return true; }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Squeeze : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  bool output_views_input() const override { return true; }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Concat : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  std::optional<std::int64_t> in_place_join_axis() const override { return node().attributes.get_int("axis", 0); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Slice : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Cast : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Reshape : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  bool output_views_input() const override { return true; }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Flatten : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  bool output_views_input() const override { return true; }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class ConstantOfShape : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Expand : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Range : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Transpose : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

class Split : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;
};

}  // namespace luojia::nn::layers
