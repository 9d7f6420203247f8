// luojia-segment's library side: exact tiling, georeferencing, nodata, products, vectors.
#include "product_compare.hpp"
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include "products/majority.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/products/segmentation.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

using namespace luojia;
using luojia::test::TempDir;

namespace {

const std::string kNn = LUOJIA_TEST_DATA "/nn/";

std::string make_input(const TempDir& dir, const std::string& name, int w, int h, int bands, std::optional<double> nodata = {},
                       std::function<double(int, int, int)> value = {}) {
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = bands;
  spec.type = GDT_Float32;
  spec.nodata = nodata;
  if (!value) value = [](int b, int x, int y) { return (luojia::test::hash01(b, x, y, 3) - 0.5) * 4.0; };
  const std::string path = dir.file(name);
  luojia::test::make_raster(path, spec, value);
  return path;
}

SegmentReport run(const std::string& in, const std::string& model, const std::string& out, std::int64_t tile,
                  SegmentOptions o = {}) {
  o.tile = tile;
  o.output.overwrite = true;
  return segment(in, model, out, o);
}

}  // namespace

TEST_CASE("tiled segmentation equals one whole-image run", "[segment][exact]") {
  TempDir dir;
  std::vector<std::pair<std::string, int>> models{{kNn + "unet_op17.onnx", 4}, {kNn + "convtranspose_decoder_op13.onnx", 2}};
  const std::string demo = LUOJIA_SOURCE_DIR "/data/demo_roads.onnx";
  if (std::filesystem::exists(demo)) models.emplace_back(demo, 1);
  for (const auto& [model, bands] : models)
    for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 37}, std::pair{45, 37}, std::pair{130, 77}}) {
      const std::string in = make_input(dir, "in.tif", w, h, bands);
      SegmentOptions whole;
      whole.logits = dir.file("whole_logits.tif");
      if (model == demo) whole.scale = {1.0};  // synthetic data: no 11-bit scaling
      const SegmentReport one = run(in, model, dir.file("whole.tif"), 4096, whole);
      CHECK(one.tiles == 1);
      const auto ref_classes = luojia::test::read_band(dir.file("whole.tif"), 1);
      for (std::int64_t tile : {16, 24, 40}) {
        INFO(model << " " << w << "x" << h << " tile " << tile);
        SegmentOptions tiled = whole;
        tiled.logits = dir.file("tiled_logits.tif");
        const SegmentReport r = run(in, model, dir.file("tiled.tif"), tile, tiled);
        CHECK(r.exact);
        CHECK(luojia::test::read_band(dir.file("tiled.tif"), 1) == ref_classes);
        const int channels = Raster::open(dir.file("tiled_logits.tif")).info().band_count();
        // Float tolerance relative to the logits' range: Winograd convolutions round each pixel by
        // where it falls in its 4x4 tile, and the tiles of a tiled run fall elsewhere.
        double worst = 0, scale = 1;
        for (int b = 1; b <= channels; ++b) {
          const auto a = luojia::test::read_band(dir.file("tiled_logits.tif"), b);
          const auto e = luojia::test::read_band(dir.file("whole_logits.tif"), b);
          for (std::size_t i = 0; i < a.size(); ++i) {
            worst = std::max(worst, std::fabs(a[i] - e[i]));
            scale = std::max(scale, std::fabs(e[i]));
          }
        }
        INFO("worst " << worst << " of logits up to " << scale);
        CHECK(worst <= 1e-5 * scale);
      }
    }
}

TEST_CASE("products keep georeferencing, nodata stays nodata and empty tiles are skipped", "[segment]") {
  TempDir dir;
  // Rows 0..39 are nodata in every band: with 32-pixel tiles, the first row of tiles has no data.
  const std::string in = make_input(dir, "in.tif", 70, 90, 4, -9999.0, [](int b, int x, int y) {
    if (y < 40 || (x == 50 && y == 60)) return -9999.0;
    return (luojia::test::hash01(b, x, y) - 0.5) * 3.0;
  });
  SegmentOptions o;
  o.probabilities = dir.file("prob.tif");
  o.confidence = dir.file("conf.tif");
  const SegmentReport r = run(in, kNn + "unet_op17.onnx", dir.file("classes.tif"), 32, o);
  CHECK(r.skipped == 3);
  const RasterInfo src = Raster::open(in).info();
  for (const std::string& product : {dir.file("classes.tif"), dir.file("prob.tif"), dir.file("conf.tif")}) {
    const RasterInfo out = Raster::open(product).info();
    CHECK(out.width == src.width);
    CHECK(out.height == src.height);
    CHECK(out.geotransform == src.geotransform);
    CHECK(out.epsg == 32618);
  }
  const RasterInfo classes = Raster::open(dir.file("classes.tif")).info();
  CHECK(classes.band(1).type == DataType::Byte);
  CHECK(classes.band(1).nodata == 255.0);
  CHECK(classes.band(1).color_interpretation == "Palette");
  const auto c = luojia::test::read_band(dir.file("classes.tif"), 1);
  const auto p1 = luojia::test::read_band(dir.file("prob.tif"), 1);
  const auto p2 = luojia::test::read_band(dir.file("prob.tif"), 2);
  const auto p3 = luojia::test::read_band(dir.file("prob.tif"), 3);
  const auto conf = luojia::test::read_band(dir.file("conf.tif"), 1);
  for (int y = 0; y < 90; ++y)
    for (int x = 0; x < 70; ++x) {
      const auto i = static_cast<std::size_t>(y * 70 + x);
      const bool nodata = y < 40 || (x == 50 && y == 60);
      INFO(x << "," << y);
      if (nodata) {
        REQUIRE(c[i] == 255);
        REQUIRE(conf[i] == -1);
        REQUIRE(p1[i] == -1);
        continue;
      }
      REQUIRE(c[i] < 3);
      REQUIRE(p1[i] + p2[i] + p3[i] == Approx(1.0).margin(1e-5));
      REQUIRE(conf[i] == Approx(std::max({p1[i], p2[i], p3[i]})));
      const double pc[3] = {p1[i], p2[i], p3[i]};
      REQUIRE(pc[static_cast<std::size_t>(c[i])] == Approx(conf[i]));
    }
}

TEST_CASE("polygons carry class, name, area and confidence, checked against GDAL", "[segment][vector]") {
  TempDir dir;
  const std::string in = make_input(dir, "in.tif", 60, 50, 4);
  SegmentOptions o;
  o.vector = dir.file("polys.gpkg");
  run(in, kNn + "unet_op17.onnx", dir.file("classes.tif"), 32, o);
  // Area per class from the class map itself.
  const auto c = luojia::test::read_band(dir.file("classes.tif"), 1);
  std::map<int, double> expected;
  for (double v : c) expected[static_cast<int>(v)] += 100.0;  // 10 m x 10 m pixels
  GDALAllRegister();
  GDALDataset* ds = GDALDataset::Open(dir.file("polys.gpkg").c_str(), GDAL_OF_VECTOR);
  REQUIRE(ds);
  OGRLayer* layer = ds->GetLayer(0);
  std::map<int, double> got;
  for (auto& f : *layer) {
    const int cls = f->GetFieldAsInteger("class_id");
    got[cls] += f->GetFieldAsDouble("area");
    CHECK(f->GetFieldAsDouble("area") == Approx(OGR_G_Area(OGRGeometry::ToHandle(f->GetGeometryRef()))));
    CHECK(std::string(f->GetFieldAsString("class_name")) == "class " + std::to_string(cls));
    CHECK(f->GetFieldAsDouble("mean_conf") > 0.3);
    CHECK(f->GetFieldAsDouble("mean_conf") <= 1.0);
  }
  CHECK(layer->GetSpatialRef()->GetAuthorityCode(nullptr) == std::string("32618"));
  GDALClose(ds);
  REQUIRE(got.size() == expected.size());
  for (const auto& [cls, area] : expected) CHECK(got[cls] == Approx(area));
  std::vector<std::string> names = dir.entries();
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"classes.tif", "classes.tif.aux.xml", "in.tif", "polys.gpkg"});
}

TEST_CASE("models with global context need --blend, and blending stays in probability space", "[segment][blend]") {
  TempDir dir;
  const std::string in = make_input(dir, "in.tif", 90, 70, 4);
  CHECK_THROWS_WITH(run(in, kNn + "deeplab_op17.onnx", dir.file("a.tif"), 32),
                    Catch::Contains("not exactly tileable") && Catch::Contains("`blend`"));
  // Fits in one tile: exact by definition, no blending needed.
  CHECK(run(in, kNn + "deeplab_op17.onnx", dir.file("one.tif"), 128).exact);
  SegmentOptions o;
  o.blend = true;
  o.probabilities = dir.file("prob.tif");
  const SegmentReport r = run(in, kNn + "deeplab_op17.onnx", dir.file("b.tif"), 32, o);
  CHECK(!r.exact);
  CHECK(r.note.find("not exact") != std::string::npos);
  double total = 0;
  std::vector<std::vector<double>> p;
  for (int b = 1; b <= 5; ++b) p.push_back(luojia::test::read_band(dir.file("prob.tif"), b));
  const auto c = luojia::test::read_band(dir.file("b.tif"), 1);
  for (std::size_t i = 0; i < c.size(); ++i) {
    double sum = 0;
    for (const auto& band : p) sum += band[i];
    REQUIRE(sum == Approx(1.0).margin(1e-5));
    double top = 0;
    for (const auto& band : p) top = std::max(top, band[i]);
    REQUIRE(p[static_cast<std::size_t>(c[i])][i] == Approx(top));
    total += sum;
  }
  CHECK(total == Approx(static_cast<double>(c.size())));
  SegmentOptions bad = o;
  bad.logits = dir.file("l.tif");
  CHECK_THROWS_WITH(run(in, kNn + "deeplab_op17.onnx", dir.file("c.tif"), 32, bad), Catch::Contains("logits cannot be combined"));
}

TEST_CASE("D4 test-time augmentation is exact under tiling and a no-op for pointwise models", "[segment][tta]") {
  TempDir dir;
  const std::string in3 = make_input(dir, "in3.tif", 41, 29, 3);
  SegmentOptions plain, tta;
  plain.probabilities = dir.file("p_plain.tif");
  tta.probabilities = dir.file("p_tta.tif");
  tta.tta = true;
  run(in3, kNn + "misc_ops_op17.onnx", dir.file("plain.tif"), 16, plain);
  run(in3, kNn + "misc_ops_op17.onnx", dir.file("tta.tif"), 16, tta);
  for (int b = 1; b <= 5; ++b) {
    const auto a = luojia::test::read_band(dir.file("p_plain.tif"), b), t = luojia::test::read_band(dir.file("p_tta.tif"), b);
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(t[i] == Approx(a[i]).margin(1e-6));
  }
  const std::string in4 = make_input(dir, "in4.tif", 45, 38, 4);
  SegmentOptions whole = tta;
  whole.probabilities = dir.file("p_whole.tif");
  run(in4, kNn + "unet_op17.onnx", dir.file("whole.tif"), 4096, whole);
  run(in4, kNn + "unet_op17.onnx", dir.file("tiled.tif"), 16, tta);
  CHECK(luojia::test::read_band(dir.file("whole.tif"), 1) == luojia::test::read_band(dir.file("tiled.tif"), 1));
  const auto a = luojia::test::read_band(dir.file("p_whole.tif"), 2), t = luojia::test::read_band(dir.file("p_tta.tif"), 2);
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(t[i] == Approx(a[i]).margin(1e-5));
}

TEST_CASE("areas of interest: a mask raster and a polygon", "[segment][aoi]") {
  TempDir dir;
  const std::string in = make_input(dir, "in.tif", 64, 64, 4);
  luojia::test::RasterSpec spec;
  spec.width = spec.height = 64;
  spec.type = GDT_Byte;
  luojia::test::make_raster(dir.file("mask.tif"), spec, [](int, int x, int y) { return (x < 20 && y < 20) ? 1 : 0; });
  SegmentOptions o;
  o.mask = dir.file("mask.tif");
  const SegmentReport r = run(in, kNn + "unet_op17.onnx", dir.file("masked.tif"), 32, o);
  CHECK(r.skipped == 3);  // only the top-left tile holds mask pixels
  auto c = luojia::test::read_band(dir.file("masked.tif"), 1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) REQUIRE((c[static_cast<std::size_t>(y * 64 + x)] != 255) == (x < 20 && y < 20));
  // The left half of the raster as a GeoJSON polygon in the raster's CRS (x from 500000 to 500320).
  std::ofstream(dir.file("aoi.geojson")) << R"({"type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32618"}},
    "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
      "coordinates": [[[500000, 4000000], [500320, 4000000], [500320, 3999360], [500000, 3999360], [500000, 4000000]]]}}]})";
  SegmentOptions v;
  v.aoi = dir.file("aoi.geojson");
  run(in, kNn + "unet_op17.onnx", dir.file("aoi.tif"), 32, v);
  c = luojia::test::read_band(dir.file("aoi.tif"), 1);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) REQUIRE((c[static_cast<std::size_t>(y * 64 + x)] != 255) == (x < 32));
}

TEST_CASE("majority regularisation equals a naive majority filter", "[segment][regularize]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 53;
  spec.height = 41;
  spec.type = GDT_Byte;
  spec.nodata = 255;
  const auto cls = [](int, int x, int y) { return (x == 7 && y == 9) ? 255.0 : std::floor(luojia::test::hash01(0, x, y) * 3.0); };
  luojia::test::make_raster(dir.file("c.tif"), spec, cls);
  StreamOptions so;
  OutputOptions oo;
  detail::majority_filter(dir.file("c.tif"), dir.file("r.tif"), 2, {"a", "b", "c"}, {{0, 0, 0, 255}, {1, 1, 1, 255}, {2, 2, 2, 255}}, oo, so).commit();
  const auto got = luojia::test::read_band(dir.file("r.tif"), 1);
  for (int y = 0; y < 41; ++y)
    for (int x = 0; x < 53; ++x) {
      const int own = static_cast<int>(cls(0, x, y));
      int votes[3] = {0, 0, 0};
      for (int dy = -2; dy <= 2; ++dy)
        for (int dx = -2; dx <= 2; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= 53 || yy >= 41) continue;
          const int v = static_cast<int>(cls(0, xx, yy));
          if (v != 255) ++votes[v];
        }
      int best = own;
      if (own != 255)
        for (int k = 0; k < 3; ++k)
          if (votes[k] > votes[best]) best = k;
      REQUIRE(got[static_cast<std::size_t>(y * 53 + x)] == best);
    }
}

TEST_CASE("segmentation requests that cannot work fail before writing", "[segment][errors]") {
  TempDir dir;
  const std::string in3 = make_input(dir, "in3.tif", 40, 40, 3);
  CHECK_THROWS_WITH(run(in3, kNn + "unet_op17.onnx", dir.file("o.tif"), 32), Catch::Contains("the model takes 4 bands and the raster has 3"));
  SegmentOptions o;
  o.bands = {1, 2};
  CHECK_THROWS_WITH(run(in3, kNn + "unet_op17.onnx", dir.file("o.tif"), 32, o),
                    Catch::Contains("takes 4 bands, but 2 are given with `bands`"));
  o = {};
  o.vector = dir.file("o.txt");
  CHECK_THROWS_WITH(run(in3, kNn + "misc_ops_op17.onnx", dir.file("o.tif"), 32, o), Catch::Contains("vector outputs are .gpkg"));
  CHECK_THROWS_WITH(run(in3, kNn + "resnet_classifier_op17.onnx", dir.file("o.tif"), 32), Catch::Contains("bands"));
  std::vector<std::string> names = dir.entries();
  CHECK(names == std::vector<std::string>{"in3.tif"});
}

TEST_CASE("nodata is zeroed before the edge padding mirrors it", "[segment][exact]") {
  TempDir dir;
  const int w = 45, h = 37;
  const auto value = [](int b, int x, int y) {
    if (b == 1 && (x == w - 1 || y == 3)) return -9999.0;  // nodata touching the right edge
    return (luojia::test::hash01(b, x, y, 5) - 0.5) * 4.0;
  };
  const std::string in = make_input(dir, "in.tif", w, h, 4, -9999.0, value);
  SegmentOptions o;
  o.logits = dir.file("logits.tif");
  run(in, kNn + "unet_op17.onnx", dir.file("c.tif"), 4096, o);
  // The policy written out: zero every nodata pixel of any band, then mirror to a multiple of 8.
  const auto mirror = [](int i, int n) { return i < n ? i : 2 * (n - 1) - i; };
  nn::Tensor x({1, 4, 40, 48});
  for (int y = 0; y < 40; ++y)
    for (int xx = 0; xx < 48; ++xx) {
      const int sx = mirror(xx, w), sy = mirror(y, h);
      bool nodata = false;
      for (int b = 0; b < 4; ++b) nodata = nodata || value(b, sx, sy) == -9999.0;
      for (int b = 0; b < 4; ++b) x.data()[(b * 40 + y) * 48 + xx] = nodata ? 0.0f : static_cast<float>(value(b, sx, sy));
    }
  const nn::Tensor expected = nn::Model::load(kNn + "unet_op17.onnx").run({x}).at(0);
  for (int k = 0; k < 3; ++k) {
    const auto got = luojia::test::read_band(dir.file("logits.tif"), k + 1);
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < w; ++xx) {
        const double g = got[static_cast<std::size_t>(y * w + xx)];
        bool nodata = false;
        for (int b = 0; b < 4; ++b) nodata = nodata || value(b, xx, y) == -9999.0;
        if (nodata) {
          REQUIRE(std::isnan(g));
          continue;
        }
        REQUIRE(g == Approx(expected.data()[(k * 40 + y) * 48 + xx]).margin(1e-5));
      }
  }
}

TEST_CASE("one loaded model segments several open rasters, as the path form does", "[segment][api]") {
  TempDir dir;
  const std::string a = make_input(dir, "a.tif", 70, 45, 4), b = make_input(dir, "b.tif", 33, 81, 4, -9999.0);
  const nn::Model model = nn::Model::load(kNn + "unet_op17.onnx");
  SegmentOptions o;
  o.tile = 32;
  o.probabilities = dir.file("open_a_probs.tif");
  Raster ra = Raster::open(a), rb = Raster::open(b);
  segment(ra, model, dir.file("open_a.tif"), o);
  o.probabilities.clear();
  segment(rb, model, dir.file("open_b.tif"), o);
  o.probabilities = dir.file("path_a_probs.tif");
  segment(a, kNn + "unet_op17.onnx", dir.file("path_a.tif"), o);
  o.probabilities.clear();
  segment(b, kNn + "unet_op17.onnx", dir.file("path_b.tif"), o);
  using luojia::test::read_product;
  luojia::test::check_same(read_product(dir.file("open_a.tif")), read_product(dir.file("path_a.tif")));
  luojia::test::check_same(read_product(dir.file("open_a_probs.tif")), read_product(dir.file("path_a_probs.tif")));
  luojia::test::check_same(read_product(dir.file("open_b.tif")), read_product(dir.file("path_b.tif")));

  // The README's library example, as a program.
  const auto many = luojia::test::run_program({luojia::test::kSegmentMany, kNn + "unet_op17.onnx", a, b});
  CHECK(many.code == 0);
  CHECK(many.out.find(a + ".classes.tif: ") != std::string::npos);
  luojia::test::check_same(read_product(a + ".classes.tif"), read_product(dir.file("path_a.tif")));
  luojia::test::check_same(read_product(b + ".classes.tif"), read_product(dir.file("path_b.tif")));
}

TEST_CASE("a model with global context runs a raster that fits one tile at the raster's own size, as PyTorch runs it", "[segment][exact]") {
  // SegFormer (attention over all tokens) and UperNet on ConvNeXt (global pooling) on 45 x 61 and
  // 61 x 45 rasters: PyTorch's output on those pixels, not on the raster padded to the stride.
  TempDir dir;
  const std::string data = LUOJIA_TEST_DATA "/transformers/";
  const auto manifest = nlohmann::json::parse(luojia::test::read_file(data + "manifest.json"));
  for (const std::string name : {"segformer", "upernet"}) {
    INFO(name);
    nlohmann::json entry;
    for (const auto& e : manifest["models"])
      if (e["name"] == name) entry = e;
    const auto& c = entry["cases"][2];
    const std::vector<std::int64_t> shape = c["input"]["shape"];
    const int h = static_cast<int>(shape.at(2)), w = static_cast<int>(shape.at(3));
    REQUIRE(h % 8 != 0);  // not a multiple of the stride: padding would change the result
    const auto bytes = luojia::test::read_file(data + c["input"]["file"].get<std::string>());
    const auto* x = reinterpret_cast<const float*>(bytes.data());
    const std::string in = make_input(dir, name + ".tif", w, h, 3, std::nullopt, [&](int b, int xx, int y) { return x[(b * h + y) * w + xx]; });
    const std::string model = data + name + "_op17.onnx";
    SegmentOptions o;
    o.logits = dir.file(name + "_logits.tif");
    const auto report = run(in, model, dir.file(name + "_classes.tif"), 64, o);
    CHECK(report.exact);
    const auto expected_bytes = luojia::test::read_file(data + c["outputs"][0]["file"].get<std::string>());
    const auto* expected = reinterpret_cast<const float*>(expected_bytes.data());
    const int classes = static_cast<int>(c["outputs"][0]["shape"][1]);
    double worst = 0, scale = 1;
    for (int b = 0; b < classes; ++b) {
      const auto got = luojia::test::read_band(o.logits, b + 1);
      REQUIRE(got.size() == static_cast<std::size_t>(w * h));
      for (std::size_t i = 0; i < got.size(); ++i) {
        worst = std::max(worst, std::fabs(got[i] - expected[static_cast<std::size_t>(b * w * h) + i]));
        scale = std::max(scale, static_cast<double>(std::fabs(expected[static_cast<std::size_t>(b * w * h) + i])));
      }
    }
    CHECK(worst <= 1e-4 * scale);
    // Past one tile: refused without --blend, naming the reason; with it, run and said not exact.
    CHECK_THROWS_WITH(run(in, model, dir.file(name + "_tiled.tif"), 32), Catch::Contains("`blend`"));
    SegmentOptions blend;
    blend.blend = true;
    const auto blended = run(in, model, dir.file(name + "_blended.tif"), 32, blend);
    CHECK_FALSE(blended.exact);
    CHECK(blended.note.find("not exact") != std::string::npos);
    CHECK(Raster::open(dir.file(name + "_blended.tif")).info().width == w);
  }
}
