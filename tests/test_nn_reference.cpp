// luojia against PyTorch: reference models exported by tools/make_reference_models.py.
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/version.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>

using namespace luojia;
using namespace luojia::nn;

namespace {

const std::string kData = LUOJIA_TEST_DATA "/nn/";

template <class T>
std::vector<T> read_raw(const std::string& dir, const std::string& file, std::int64_t count) {
  std::ifstream in(dir + file, std::ios::binary);
  std::vector<T> v(static_cast<std::size_t>(count));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(v.size() * sizeof(T)));
  return v;
}

Shape shape_of(const nlohmann::json& j) { return j.get<Shape>(); }

}  // namespace

// The custom operator of the custom_op reference model: alpha * tanh(beta * x).
class ScaledTanh : public Layer {
public:
  explicit ScaledTanh(const NodeInfo& node)
      : Layer(node), alpha_(node.attributes.get_float("alpha", 1.0f)), beta_(node.attributes.get_float("beta", 1.0f)) {}
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& in) const override {
    return {ValueInfo{in.at(0).shape, ElementType::Float32, std::nullopt, true}};
  }
  Footprint footprint() const override { return Footprint::pointwise(); }

protected:
  void do_forward(std::span<const Tensor> in, std::span<Tensor> out) const override {
    for (std::int64_t i = 0; i < in[0].size(); ++i) out[0].data()[i] = alpha_ * std::tanh(beta_ * in[0].data()[i]);
  }

private:
  float alpha_, beta_;
};

namespace {

// Runs every model of a manifest on its cases against PyTorch's outputs; returns the outputs checked.
int check_manifest(const std::string& dir, const LayerRegistry& registry) {
  std::ifstream in(dir + "manifest.json");
  REQUIRE(in);
  const auto manifest = nlohmann::json::parse(in);
  int checked = 0;
  for (const auto& entry : manifest["models"]) {
    for (const auto& file : entry["files"]) {
      const std::string path = dir + file.get<std::string>();
      INFO(path);
      const Model model = Model::load(path, registry);
      Session session(model);
      for (const auto& c : entry["cases"]) {
        // Single-input cases name one "input"; multi-input ones list "inputs".
        std::vector<Tensor> inputs;
        const auto specs = c.contains("inputs") ? c["inputs"] : nlohmann::json::array({c["input"]});
        for (const auto& spec : specs) {
          Tensor t(shape_of(spec["shape"]));
          const auto values = read_raw<float>(dir, spec["file"], t.size());
          std::copy(values.begin(), values.end(), t.data());
          inputs.push_back(t);
        }
        const Shape in_shape = inputs.front().shape();
        const auto outputs = session.run(inputs);
        REQUIRE(outputs.size() == c["outputs"].size());
        for (std::size_t k = 0; k < outputs.size(); ++k) {
          const auto& spec = c["outputs"][k];
          const Shape out_shape = shape_of(spec["shape"]);
          INFO("case " << to_string(in_shape) << " output " << spec["name"]);
          REQUIRE(outputs[k].shape() == out_shape);
          if (spec["type"] == "int64") {
            REQUIRE(outputs[k].type() == ElementType::Int64);
            const auto expected = read_raw<std::int64_t>(dir, spec["file"], element_count(out_shape));
            CHECK(outputs[k].to_ints() == expected);
            continue;
          }
          const auto expected = read_raw<float>(dir, spec["file"], element_count(out_shape));
          double scale = 1.0, worst = 0.0;
          for (float v : expected) scale = std::max(scale, static_cast<double>(std::fabs(v)));
          for (std::size_t i = 0; i < expected.size(); ++i)
            worst = std::max(worst, std::fabs(static_cast<double>(outputs[k].data()[i]) - expected[i]));
          CHECK(worst <= 1e-4 * scale);
          // Class decisions: identical wherever PyTorch's top two differ by more than 1e-3.
          if (out_shape.size() == 4 && out_shape[1] > 1) {
            const std::int64_t classes = out_shape[1], plane = out_shape[2] * out_shape[3];
            std::int64_t differing = 0;
            for (std::int64_t p = 0; p < plane; ++p) {
              std::int64_t best = 0, mine = 0;
              float top = -INFINITY, second = -INFINITY, my_top = -INFINITY;
              for (std::int64_t cls = 0; cls < classes; ++cls) {
                const float v = expected[static_cast<std::size_t>(cls * plane + p)];
                if (v > top) { second = top; top = v; best = cls; }
                else if (v > second) second = v;
                const float m = outputs[k].data()[cls * plane + p];
                if (m > my_top) { my_top = m; mine = cls; }
              }
              if (top - second > 1e-3f && mine != best) ++differing;
            }
            CHECK(differing == 0);
          }
          ++checked;
        }
      }
      CHECK(session.planned_shapes() == entry["cases"].size());
    }
  }
  return checked;
}

}  // namespace

TEST_CASE("reference models match PyTorch", "[nn][reference]") {
  LayerRegistry registry = LayerRegistry::with_builtins();
  registry.add<ScaledTanh>("luojia.test", "ScaledTanh");
  CHECK(check_manifest(kData, registry) >= 40);
}

TEST_CASE("transformers (ConvNeXt, Swin, ViT, SegFormer) and the operator probes match PyTorch", "[nn][reference][transformers]") {
  const std::string dir = LUOJIA_TEST_DATA "/transformers/";
  CHECK(check_manifest(dir, LayerRegistry::with_builtins()) >= 40);
  // The opset 13 exports spell LayerNorm and GELU out in elementary operators; load-time fusion
  // makes each one node again, as opset 17 exports LayerNormalization (GELU stays Erf there).
  for (const char* name : {"convnext", "segformer", "swin", "vit"}) {
    INFO(name);
    const Model fused = Model::load(dir + name + "_op13.onnx"), native = Model::load(dir + name + "_op17.onnx");
    CHECK(fused.node_count() == native.node_count());
  }
  // Attention over all tokens, and global pooling, reach the whole image: the analysis says so.
  for (const char* name : {"convnext_op17", "segformer_op17", "swin_op17", "vit_op17"}) {
    const auto analysis = Model::load(dir + name + ".onnx").analyse();
    INFO(name << ": " << analysis.front().reason);
    CHECK_FALSE(analysis.front().tileable);
    CHECK_FALSE(analysis.front().reason.empty());
  }
}


TEST_CASE("graph analysis gives the halo for exact tiling", "[nn][analysis]") {
  std::ifstream in(kData + "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  LayerRegistry registry = LayerRegistry::with_builtins();
  registry.add<ScaledTanh>("luojia.test", "ScaledTanh");
  for (const auto& entry : manifest["models"]) {
    const Model model = Model::load(kData + entry["files"][2].get<std::string>(), registry);
    const auto analysis = model.analyse();
    INFO(entry["name"] << ": " << analysis.front().reason << " radius " << analysis.front().radius);
    CHECK(analysis.front().tileable == entry["tileable"].get<bool>());
    if (entry["tileable"].get<bool>()) {
      // The hand-derived reach (and the script's crop test) bound what the analysis may say.
      CHECK(analysis.front().radius >= entry["halo"].get<std::int64_t>());
      CHECK(analysis.front().radius <= entry["halo"].get<std::int64_t>() + 8);
      CHECK(analysis.front().alignment == entry["tile_alignment"].get<std::int64_t>());
    } else {
      CHECK(!analysis.front().reason.empty());
    }
  }
}

namespace {

// How far an output pixel's value reaches into the input, found by perturbing single input
// pixels: the largest |output - input| offset, along either axis, of an output that changed.
// A lower bound on the true radius (a dead unit can hide a dependence), so with several phases
// of the stride and random images it is what an exact halo needs in practice.
std::int64_t brute_force_radius(const Model& model, std::int64_t size, std::int64_t alignment) {
  const std::int64_t channels = model.inputs().at(0).shape[1];
  Tensor base({1, channels, size, size});
  std::uint64_t state = 12345;
  for (std::int64_t i = 0; i < base.size(); ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    base.data()[i] = static_cast<float>(static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  const Tensor reference = model.run({base}).at(0);
  REQUIRE(reference.shape().size() == 4);
  REQUIRE(reference.shape()[2] == size);
  std::int64_t radius = 0;
  const std::int64_t centre = size / 2 - alignment / 2;
  for (std::int64_t phase = 0; phase < alignment; ++phase) {
    const std::int64_t p = centre + phase;
    for (const float delta : {8.0f, -8.0f}) {
      Tensor x = base;
      for (std::int64_t c = 0; c < channels; ++c) x.data()[(c * size + p) * size + p] += delta;
      const Tensor y = model.run({x}).at(0);
      const std::int64_t out_channels = y.shape()[1];
      for (std::int64_t c = 0; c < out_channels; ++c)
        for (std::int64_t oy = 0; oy < size; ++oy)
          for (std::int64_t ox = 0; ox < size; ++ox) {
            const std::int64_t i = (c * size + oy) * size + ox;
            if (y.data()[i] != reference.data()[i]) radius = std::max({radius, std::abs(ox - p), std::abs(oy - p)});
          }
    }
  }
  return radius;
}

}  // namespace

TEST_CASE("the analysed receptive radius is tight against a brute-force search by single-pixel perturbation", "[nn][analysis]") {
  std::ifstream in(kData + "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  LayerRegistry registry = LayerRegistry::with_builtins();
  registry.add<ScaledTanh>("luojia.test", "ScaledTanh");
  // Direct convolutions: a Winograd tile's rounding reaches every pixel of the tile's input
  // patch, past the receptive field that this search measures.
  const luojia::test::WinogradMode direct("off");
  int checked = 0;
  for (const auto& entry : manifest["models"]) {
    if (!entry["tileable"].get<bool>()) continue;
    const Model model = Model::load(kData + entry["files"][2].get<std::string>(), registry);
    if (model.inputs().size() != 1) continue;
    const auto analysis = model.analyse();
    const std::int64_t alignment = analysis.front().alignment, radius = analysis.front().radius;
    const std::int64_t size = (2 * radius + 2 * alignment + alignment - 1) / alignment * alignment + 2 * alignment;
    const std::int64_t brute = brute_force_radius(model, size, alignment);
    INFO(entry["name"] << ": analysis " << radius << ", brute force " << brute << " at " << size << " px");
    CHECK(radius >= brute);
    // Convolutions, pooling and resizing compose exactly (the U-Nets); a stride-2 encoder
    // followed by transposed convolutions back to full size is bounded phase by phase, which the
    // affine bounds merge: up to 4 pixels over (convtranspose_decoder: 14 for 10).
    if (entry["name"] == "unet") CHECK(radius == brute);
    CHECK(radius <= brute + 4);
    WARN(entry["name"] << ": analysed radius " << radius << ", brute force " << brute);
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("the network kernels say which instruction set they run", "[nn]") {
  const std::string isa(luojia::kernel_isa());
  CHECK((isa == "native" || isa == "sse2" || isa == "avx2" || isa == "avx512"));
  if (const char* forced = std::getenv("LUOJIA_ISA"); forced && *forced) CHECK(isa == forced);
}

TEST_CASE("kernel instruction set and Winograd are load options and threads a session option: checked and honoured", "[nn]") {
  const std::string path = kData + "unet_op17.onnx";
  const Model reference = Model::load(path);
  const Shape shape{1, reference.inputs()[0].shape[1], 40, 56};
  Tensor x(shape);
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
  const std::vector<Tensor> want = reference.run({x});
  const auto close_to_reference = [&](const std::vector<Tensor>& got) {
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      REQUIRE(got[k].shape() == want[k].shape());
      double scale = 0.0, worst = 0.0;
      for (std::int64_t i = 0; i < got[k].size(); ++i) {
        scale = std::max(scale, std::fabs(static_cast<double>(want[k].data()[i])));
        worst = std::max(worst, std::fabs(static_cast<double>(got[k].data()[i]) - static_cast<double>(want[k].data()[i])));
      }
      CHECK(worst <= 1e-4 * std::max(1.0, scale));
    }
  };
  const char* forced = std::getenv("LUOJIA_ISA");
  LoadOptions sse2;
  sse2.isa = "sse2";
  if (reference.kernel_isa() == "native") {
    // A build for this machine's CPU alone (-march=native) has one set of kernels.
    CHECK_THROWS_WITH(Model::load(path, LayerRegistry::with_builtins(), sse2), Catch::Contains("only its native kernels"));
  } else {
    const Model model = Model::load(path, LayerRegistry::with_builtins(), sse2);
    CHECK(model.kernel_isa() == (forced && *forced ? std::string(forced) : "sse2"));  // the environment wins
    close_to_reference(model.run({x}));
  }
  for (const char* mode : {"off", "f2", "f4"}) {
    INFO("winograd " << mode);
    LoadOptions o;
    o.winograd = mode;
    close_to_reference(Model::load(path, LayerRegistry::with_builtins(), o).run({x}));
  }
  {
    Session one_thread(reference, SessionOptions{1});
    close_to_reference(one_thread.run({x}));
  }
  LoadOptions bad_isa, bad_winograd;
  bad_isa.isa = "neon";
  bad_winograd.winograd = "f3";
  if (!(forced && *forced)) CHECK_THROWS_AS(Model::load(path, LayerRegistry::with_builtins(), bad_isa), UsageError);
  CHECK_THROWS_WITH(Model::load(path, LayerRegistry::with_builtins(), bad_winograd), Catch::Contains("auto, off, f2 or f4"));
  CHECK_THROWS_AS(Session(reference, SessionOptions{-1}), UsageError);
}
