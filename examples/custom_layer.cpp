// A layer of your own, without touching luojia: LeCun's scaled tanh, alpha * tanh(beta * x),
// registered for the custom ONNX domain "luojia.test" and used by a model that contains it.
//
//   custom_layer MODEL.onnx                          runs the model on a test pattern
//   custom_layer MODEL.onnx INPUT.f32 C H W EXPECTED.f32   and compares with a reference output
//
// The reference model tests/data/nn/custom_op_op17.onnx was exported from PyTorch with this op
// (tools/make_reference_models.py).
#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

using namespace luojia::nn;

class ScaledTanh : public Layer {
public:
  explicit ScaledTanh(const NodeInfo& node)
      : Layer(node),
        alpha_(node.attributes.get_float("alpha", 1.7159f)),
        beta_(node.attributes.get_float("beta", 2.0f / 3.0f)) {}

  // Same shape out as in: element-wise.
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override {
    if (inputs.at(0).type != ElementType::Float32) fail("ScaledTanh needs float input");
    return {ValueInfo{inputs[0].shape, ElementType::Float32, std::nullopt, true}};
  }
  // Element-wise, so tiles need no halo for it. A layer that does not say so (or gives its
  // window, Footprint::window) makes the model "not exactly tileable".
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override {
    const float* x = inputs[0].data();
    float* y = outputs[0].data();
    for (std::int64_t i = 0; i < inputs[0].size(); ++i) y[i] = alpha_ * std::tanh(beta_ * x[i]);
  }

private:
  float alpha_;
  float beta_;
};

namespace {

std::vector<float> read_floats(const std::string& path, std::int64_t count) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v(static_cast<std::size_t>(count));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (in.gcount() != static_cast<std::streamsize>(v.size() * sizeof(float)))
    throw luojia::Error("holds fewer than " + std::to_string(count) + " floats", {path, {}, {}, {}});
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 7) {
    std::cerr << "usage: custom_layer MODEL.onnx [INPUT.f32 C H W EXPECTED.f32]\n";
    return 2;
  }
  try {
    LayerRegistry registry = LayerRegistry::with_builtins();
    registry.add<ScaledTanh>("luojia.test", "ScaledTanh");
    const Model model = Model::load(argv[1], registry);

    Shape shape = model.inputs().at(0).shape;
    if (argc == 7) shape = {1, std::atoll(argv[3]), std::atoll(argv[4]), std::atoll(argv[5])};
    for (auto& d : shape)
      if (d < 0) d = 64;
    Tensor input(shape);
    if (argc == 7) {
      const auto values = read_floats(argv[2], input.size());
      std::copy(values.begin(), values.end(), input.data());
    } else {
      for (std::int64_t i = 0; i < input.size(); ++i) input.data()[i] = std::sin(0.01f * static_cast<float>(i));
    }
    const Tensor output = model.run({input}).at(0);
    const auto analysis = model.analyse(shape).at(0);
    std::cout << argv[1] << ": " << to_string(shape) << " -> " << to_string(output.shape()) << ", halo "
              << analysis.radius << (analysis.tileable ? "" : " (not tileable: " + analysis.reason + ")") << "\n";
    if (argc == 7) {
      const auto expected = read_floats(argv[6], output.size());
      double worst = 0.0;
      for (std::int64_t i = 0; i < output.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(output.data()[i]) - expected[static_cast<std::size_t>(i)]));
      std::cout << "max abs difference from the reference: " << worst << "\n";
      return worst <= 1e-4 ? 0 : 1;
    }
  } catch (const luojia::Error& e) {
    std::cerr << "custom_layer: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
