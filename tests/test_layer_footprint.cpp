// A researcher's own spatial layer: tiling stays exact when it declares its reach, and the model
// is refused (not silently wrong) when it does not.
#include "hostile_models.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/products/segmentation.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace luojia;
using namespace luojia::nn;
using luojia::test::TempDir;

namespace {

// The mean of the 3x3 neighbourhood, zeros outside: a spatial layer a user might write.
class Blur3 : public Layer {
public:
  using Layer::Layer;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& in) const override {
    return {ValueInfo{in.at(0).shape, ElementType::Float32, std::nullopt, true}};
  }

protected:
  void do_forward(std::span<const Tensor> in, std::span<Tensor> out) const override {
    const Shape& s = in[0].shape();
    const std::int64_t planes = s[0] * s[1], h = s[2], w = s[3];
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
          float sum = 0;
          for (std::int64_t dy = -1; dy <= 1; ++dy)
            for (std::int64_t dx = -1; dx <= 1; ++dx)
              if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w) sum += in[0].data()[(p * h + y + dy) * w + x + dx];
          out[0].data()[(p * h + y) * w + x] = sum / 9.0f;
        }
  }
};

class DeclaredBlur3 : public Blur3 {
public:
  using Blur3::Blur3;
  Footprint footprint() const override { return Footprint::window({3, 3}, {1, 1}); }
};

// input (1,1,H,W) -> Blur3 -> Blur3 -> 1x1 Conv to two classes.
std::string write_blur_model(const TempDir& dir) {
  using namespace luojia::test;
  onnx::ModelProto m = empty_model(17);
  auto* opset = m.add_opset_import();
  opset->set_domain("luojia.test");
  opset->set_version(1);
  onnx::GraphProto* g = m.mutable_graph();
  add_input(g, "x", {1, 1, -1, -1});
  add_node(g, "Blur3", {"x"}, {"b1"}, "luojia.test");
  add_node(g, "Blur3", {"b1"}, {"b2"}, "luojia.test");
  add_initializer(g, "w", {2, 1, 1, 1}, {1.0f, -1.0f});
  add_initializer(g, "bias", {2}, {0.0f, 0.05f});
  add_node(g, "Conv", {"b2", "w", "bias"}, {"logits"});
  add_output(g, "logits");
  return save(dir, "blur.onnx", m);
}

}  // namespace

TEST_CASE("a custom spatial layer is exact under tiling only when it declares its footprint", "[nn][footprint]") {
  TempDir dir;
  const std::string model_path = write_blur_model(dir);
  LayerRegistry declared = LayerRegistry::with_builtins();
  declared.add<DeclaredBlur3>("luojia.test", "Blur3");
  LayerRegistry silent = LayerRegistry::with_builtins();
  silent.add<Blur3>("luojia.test", "Blur3");

  const auto a = Model::load(model_path, declared).analyse({1, 1, 64, 64}).at(0);
  CHECK(a.tileable);
  CHECK(a.radius == 2);  // two 3x3 windows
  const auto b = Model::load(model_path, silent).analyse({1, 1, 64, 64}).at(0);
  CHECK_FALSE(b.tileable);
  CHECK_THAT(b.reason, Catch::Contains("declares no footprint") && Catch::Contains("Blur3"));

  luojia::test::RasterSpec spec;
  spec.width = 45;
  spec.height = 37;
  spec.bands = 1;
  spec.type = GDT_Float32;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, [](int band, int x, int y) { return luojia::test::hash01(band, x, y, 5) - 0.5; });

  auto run = [&](const LayerRegistry& registry, std::int64_t tile, const std::string& out) {
    SegmentOptions o;
    o.tile = tile;
    o.registry = &registry;
    o.logits = dir.file(out + "_logits.tif");
    o.output.overwrite = true;
    return segment(in, model_path, dir.file(out + ".tif"), o);
  };
  CHECK(run(declared, 4096, "whole").tiles == 1);
  const SegmentReport tiled = run(declared, 16, "tiled");
  CHECK(tiled.exact);
  CHECK(tiled.tiles > 4);
  double worst = 0;
  for (int band = 1; band <= 2; ++band) {
    const auto t = luojia::test::read_band(dir.file("tiled_logits.tif"), band);
    const auto w = luojia::test::read_band(dir.file("whole_logits.tif"), band);
    REQUIRE(t.size() == w.size());
    for (std::size_t i = 0; i < t.size(); ++i) worst = std::max(worst, std::fabs(t[i] - w[i]));
  }
  CHECK(worst <= 1e-6);

  // The silent layer: one tile is exact by definition; smaller tiles are refused without --blend.
  CHECK(run(silent, 4096, "silent_whole").exact);
  CHECK_THROWS_WITH(run(silent, 16, "silent_tiled"),
                    Catch::Contains("not exactly tileable") && Catch::Contains("declares no footprint") && Catch::Contains("`blend`"));
}

TEST_CASE("a shift made of a pad and a slice gets its halo: a cost volume's building block", "[nn][footprint]") {
  // x -> Pad 7 columns on the left -> Slice off the last 7 -> 1x1 Conv: output x reads input x - 7.
  // Stereo networks (GC-Net, PSMNet) build their cost volumes from such shifts, one per disparity.
  using namespace luojia::test;
  TempDir dir;
  onnx::ModelProto m = empty_model(13);
  onnx::GraphProto* g = m.mutable_graph();
  add_input(g, "x", {1, 1, -1, -1});
  // The pads as PyTorch exports F.pad's: computed (here a Concat), known when planned, not at load.
  add_int64_initializer(g, "begins", {0, 0, 0, 7});
  add_int64_initializer(g, "ends_of_pad", {0, 0, 0, 0});
  add_node(g, "Concat", {"begins", "ends_of_pad"}, {"pads"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(0);
    return a;
  }());
  add_node(g, "Pad", {"x", "pads"}, {"padded"});
  add_int64_initializer(g, "starts", {0});
  add_int64_initializer(g, "ends", {-7});
  add_int64_initializer(g, "axes", {3});
  add_node(g, "Slice", {"padded", "starts", "ends", "axes"}, {"shifted"});
  add_initializer(g, "w", {2, 1, 1, 1}, {1.0f, -1.0f});
  add_initializer(g, "bias", {2}, {0.0f, 0.05f});
  add_node(g, "Conv", {"shifted", "w", "bias"}, {"logits"});
  add_output(g, "logits");
  const std::string model_path = save(dir, "shift.onnx", m);
  const auto a = Model::load(model_path).analyse({1, 1, 64, 64}).at(0);
  CHECK(a.tileable);
  CHECK(a.radius >= 7);

  RasterSpec spec;
  spec.width = 53;
  spec.height = 29;
  const std::string in = dir.file("in.tif");
  make_raster(in, spec, [](int band, int x, int y) { return hash01(band, x, y, 9) - 0.5; });
  auto run = [&](std::int64_t tile, const std::string& out) {
    SegmentOptions o;
    o.tile = tile;
    o.logits = dir.file(out + "_logits.tif");
    o.output.overwrite = true;
    return segment(in, model_path, dir.file(out + ".tif"), o);
  };
  run(4096, "whole");
  CHECK(run(16, "tiled").tiles > 4);
  CHECK(read_band(dir.file("tiled_logits.tif"), 1) == read_band(dir.file("whole_logits.tif"), 1));
  // And it is the shift: column x of the output is column x - 7 of the input, zeros before.
  const auto logits = read_band(dir.file("whole_logits.tif"), 1), input = read_band(in, 1);
  CHECK(logits[3] == 0.0);
  CHECK(logits[20] == Approx(input[13]));
}
