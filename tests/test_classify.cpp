// Scene classification over a window grid, against PyTorch and against windows cut here.
#include "hostile_models.hpp"
#include "support.hpp"

#include <luojia/products/classification.hpp>
#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>

#include <catch2/catch.hpp>
#include <gdal_priv.h>

#include <filesystem>

#include <memory>
#include <tuple>

#include <cmath>
#include <fstream>

using namespace luojia;
using luojia::test::TempDir;

namespace {
const std::string kNn = LUOJIA_TEST_DATA "/nn/";
}

TEST_CASE("each cell's scores are PyTorch's for its window", "[classify]") {
  TempDir dir;
  std::vector<float> input(4 * 32 * 32), expected(6);
  std::ifstream(kNn + "resnet_classifier_0_input.f32", std::ios::binary).read(reinterpret_cast<char*>(input.data()), 4 * 32 * 32 * 4);
  std::ifstream(kNn + "resnet_classifier_0_output.f32", std::ios::binary).read(reinterpret_cast<char*>(expected.data()), 6 * 4);
  luojia::test::RasterSpec spec;
  spec.width = 64;  // the reference input twice, side by side
  spec.height = 32;
  spec.bands = 4;
  luojia::test::make_raster(dir.file("in.tif"), spec,
                            [&](int b, int x, int y) { return input[static_cast<std::size_t>((b * 32 + y) * 32 + x % 32)]; });
  ClassifyOptions o;
  o.window = 32;
  o.scores = dir.file("scores.tif");
  const ClassifyReport r = classify(dir.file("in.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("labels.tif"), o);
  CHECK(r.columns == 2);
  CHECK(r.rows == 1);
  CHECK(r.windows == 2);
  const int best = static_cast<int>(std::max_element(expected.begin(), expected.end()) - expected.begin());
  CHECK(luojia::test::read_band(dir.file("labels.tif"), 1) == std::vector<double>{double(best), double(best)});
  for (int k = 0; k < 6; ++k) {
    const auto s = luojia::test::read_band(dir.file("scores.tif"), k + 1);
    CHECK(s[0] == Approx(expected[static_cast<std::size_t>(k)]).margin(1e-5));
    CHECK(s[1] == Approx(expected[static_cast<std::size_t>(k)]).margin(1e-5));
  }
  const RasterInfo info = Raster::open(dir.file("labels.tif")).info();
  CHECK(info.geotransform->c[1] == 320.0);  // 32 pixels of 10 m
  CHECK(info.geotransform->c[0] == 500000.0);
  CHECK(info.epsg == 32618);

  // The same from an open raster and a loaded model.
  Raster raster = Raster::open(dir.file("in.tif"));
  const nn::Model model = nn::Model::load(kNn + "resnet_classifier_op17.onnx");
  o.scores = dir.file("scores_open.tif");
  classify(raster, model, dir.file("labels_open.tif"), o);
  CHECK(luojia::test::read_band(dir.file("labels_open.tif"), 1) == luojia::test::read_band(dir.file("labels.tif"), 1));
  for (int k = 1; k <= 6; ++k) CHECK(luojia::test::read_band(dir.file("scores_open.tif"), k) == luojia::test::read_band(dir.file("scores.tif"), k));

  // Raw values, as every model task reads them: a band scale and offset in the raster (GDAL
  // metadata a model's normalisation knows nothing of) leave the scores PyTorch's.
  std::filesystem::copy_file(dir.file("in.tif"), dir.file("scaled.tif"));
  {
    std::unique_ptr<GDALDataset> ds(GDALDataset::Open(dir.file("scaled.tif").c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
    REQUIRE(ds);
    for (int b = 1; b <= 4; ++b) {
      ds->GetRasterBand(b)->SetScale(2.0);
      ds->GetRasterBand(b)->SetOffset(5.0);
    }
  }
  o.scores = dir.file("scores_scaled.tif");
  classify(dir.file("scaled.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("labels_scaled.tif"), o);
  for (int k = 0; k < 6; ++k)
    CHECK(luojia::test::read_band(dir.file("scores_scaled.tif"), k + 1)[0] == Approx(expected[static_cast<std::size_t>(k)]).margin(1e-5));
}

TEST_CASE("overlapping windows equal windows cut and reflected here", "[classify]") {
  TempDir dir;
  const int w = 61, h = 50;  // 1 and 2 pixels past a whole number of 12-pixel cells
  const auto value = [](int b, int x, int y) { return (luojia::test::hash01(b, x, y, 9) - 0.5) * 3.0; };
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = 4;
  luojia::test::make_raster(dir.file("in.tif"), spec, value);
  const nn::Model model = nn::Model::load(kNn + "resnet_classifier_op17.onnx");
  const auto mirror = [](int i, int n) {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  // Windows twice the stride; and windows whose margin is no multiple of the stride, where the
  // last, partial cell's window reaches furthest past the raster (and past a tile's read once).
  for (const auto& [window, stride, tile] : {std::tuple{32, 16, 512}, std::tuple{16, 12, 512}, std::tuple{16, 12, 24}, std::tuple{20, 7, 21}}) {
    INFO("window " << window << " stride " << stride << " tile " << tile);
    ClassifyOptions o;
    o.window = window;
    o.stride = stride;
    o.tile = tile;
    o.scores = dir.file("scores.tif");
    o.output.overwrite = true;
    const ClassifyReport r = classify(dir.file("in.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("labels.tif"), o);
    const int columns = (w + stride - 1) / stride, rows = (h + stride - 1) / stride;
    CHECK(r.columns == columns);
    CHECK(r.rows == rows);
    std::vector<std::vector<double>> scores;
    for (int k = 1; k <= 6; ++k) scores.push_back(luojia::test::read_band(dir.file("scores.tif"), k));
    for (int cy = 0; cy < rows; ++cy)
      for (int cx = 0; cx < columns; ++cx) {
        // The window centred on the cell: starts floor((stride - window) / 2) from it.
        const int margin = (stride - window) >= 0 ? (stride - window) / 2 : -((window - stride + 1) / 2);
        const int x0 = cx * stride + margin, y0 = cy * stride + margin;
        nn::Tensor x({1, 4, window, window});
        for (int b = 0; b < 4; ++b)
          for (int y = 0; y < window; ++y)
            for (int xx = 0; xx < window; ++xx)
              x.data()[(b * window + y) * window + xx] = static_cast<float>(value(b, mirror(x0 + xx, w), mirror(y0 + y, h)));
        const nn::Tensor out = model.run({x}).at(0);
        INFO("cell " << cx << ", " << cy);
        for (int k = 0; k < 6; ++k)
          REQUIRE(scores[static_cast<std::size_t>(k)][static_cast<std::size_t>(cy * columns + cx)] == Approx(out.data()[k]).margin(1e-5));
      }
  }
}

TEST_CASE("cells without data are nodata, and bad windows are errors", "[classify]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 64;
  spec.height = 32;
  spec.bands = 4;
  spec.nodata = -9999;
  luojia::test::make_raster(dir.file("in.tif"), spec, [](int b, int x, int y) { return x < 32 ? -9999.0 : luojia::test::hash01(b, x, y); });
  ClassifyOptions o;
  o.window = 32;
  const ClassifyReport r = classify(dir.file("in.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("labels.tif"), o);
  CHECK(r.skipped == 1);
  CHECK(luojia::test::read_band(dir.file("labels.tif"), 1)[0] == 255);
  CHECK(luojia::test::read_band(dir.file("labels.tif"), 1)[1] != 255);
  CHECK_THROWS_WITH(classify(dir.file("in.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("x.tif"), {}),
                    Catch::Contains("give the window with `window`"));
  CHECK_THROWS_WITH(classify(dir.file("in.tif"), kNn + "unet_op17.onnx", dir.file("x.tif"), o), Catch::Contains("is not (N, classes)"));
  // Every model task's options include a halo; the windows decide classification's, so one given is refused.
  o.halo = 8;
  try {
    classify(dir.file("in.tif"), kNn + "resnet_classifier_op17.onnx", dir.file("x.tif"), o);
    FAIL("a halo was accepted");
  } catch (const UsageError& e) {
    CHECK(e.option() == "halo");
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("x.tif")));
}

TEST_CASE("transformer classifiers (torchvision's ViT and ConvNeXt) through classify equal PyTorch, and over 254 classes give UInt16 labels",
          "[classify][transformers]") {
  TempDir dir;
  const std::string data = LUOJIA_TEST_DATA "/transformers/";
  for (const std::string name : {"vit", "convnext"}) {
    INFO(name);
    std::vector<float> input(3 * 32 * 32), expected(10);
    std::ifstream(data + name + "_0_input.f32", std::ios::binary).read(reinterpret_cast<char*>(input.data()), 3 * 32 * 32 * 4);
    std::ifstream(data + name + "_0_logits.f32", std::ios::binary).read(reinterpret_cast<char*>(expected.data()), 10 * 4);
    luojia::test::RasterSpec spec;
    spec.width = 64;
    spec.height = 32;
    spec.bands = 3;
    luojia::test::make_raster(dir.file(name + ".tif"), spec,
                              [&](int b, int x, int y) { return input[static_cast<std::size_t>((b * 32 + y) * 32 + x % 32)]; });
    ClassifyOptions o;
    o.window = 32;
    o.scores = dir.file(name + "_scores.tif");
    classify(dir.file(name + ".tif"), data + name + "_op17.onnx", dir.file(name + "_labels.tif"), o);
    for (int k = 0; k < 10; ++k) {
      const auto s = luojia::test::read_band(o.scores, k + 1);
      CHECK(s[0] == Approx(expected[static_cast<std::size_t>(k)]).margin(1e-4));
      CHECK(s[1] == Approx(expected[static_cast<std::size_t>(k)]).margin(1e-4));
    }
  }
  // 300 classes (a Gemm on the window's mean, class k scoring k / 300 of it): label 299, UInt16.
  onnx::ModelProto m = luojia::test::empty_model(17);
  auto* g = m.mutable_graph();
  luojia::test::add_input(g, "x", {1, 1, 8, 8});
  std::vector<float> w(300);
  for (int k = 0; k < 300; ++k) w[static_cast<std::size_t>(k)] = static_cast<float>(k) / 300.0f;
  luojia::test::add_initializer(g, "w", {1, 300}, w);
  luojia::test::add_node(g, "GlobalAveragePool", {"x"}, {"p"});
  luojia::test::add_node(g, "Flatten", {"p"}, {"f"});
  luojia::test::add_node(g, "Gemm", {"f", "w"}, {"y"});
  luojia::test::add_output(g, "y");
  const std::string model = luojia::test::save(dir, "wide.onnx", m);
  luojia::test::RasterSpec spec;
  spec.width = spec.height = 16;
  luojia::test::make_raster(dir.file("ones.tif"), spec, [](int, int, int) { return 1.0; });
  ClassifyOptions o;
  o.window = 8;
  classify(dir.file("ones.tif"), model, dir.file("wide.tif"), o);
  CHECK(luojia::test::read_band(dir.file("wide.tif"), 1) == std::vector<double>(4, 299.0));
  const RasterInfo info = Raster::open(dir.file("wide.tif")).info();
  CHECK(info.bands.at(0).type == DataType::UInt16);
  CHECK(info.bands.at(0).nodata == 65535.0);
}
