// Accuracy assessment against a confusion matrix computed here, independently.
#include "support.hpp"

#include <luojia/products/assessment.hpp>
#include <luojia/error.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

using namespace luojia;
using luojia::test::TempDir;

TEST_CASE("accuracy figures equal an independent confusion matrix, nodata and ignore left out", "[assess]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 700;  // two tiles wide
  spec.height = 90;
  spec.type = GDT_Byte;
  spec.nodata = 255;
  const auto predicted = [](int, int x, int y) { return (x + y) % 17 == 0 ? 255.0 : std::floor(luojia::test::hash01(0, x, y, 1) * 4); };
  const auto reference = [](int, int x, int y) {
    if ((x * 3 + y) % 23 == 0) return 99.0;  // the reference's nodata
    const double h = luojia::test::hash01(0, x, y, 1);
    return luojia::test::hash01(0, x, y, 2) < 0.7 ? std::floor(h * 4) : std::floor(luojia::test::hash01(1, x, y) * 4);
  };
  luojia::test::make_raster(dir.file("pred.tif"), spec, predicted);
  spec.nodata = 99;
  luojia::test::make_raster(dir.file("ref.tif"), spec, reference);
  AssessOptions o;
  // An assessment is of the whole raster; the tile rows of a shard are refused, not counted.
  o.stream.shard = Shard{0, 2};
  CHECK_THROWS_WITH(assess(dir.file("pred.tif"), dir.file("ref.tif"), o), Catch::Contains("whole raster"));
  o.stream.shard = Shard{};
  o.ignore = 3;
  const Assessment a = assess(dir.file("pred.tif"), dir.file("ref.tif"), o);

  std::int64_t m[4][4] = {};
  std::int64_t n = 0;
  for (int y = 0; y < 90; ++y)
    for (int x = 0; x < 700; ++x) {
      const double p = predicted(0, x, y), r = reference(0, x, y);
      if (p == 255 || r == 99 || r == 3) continue;
      ++m[static_cast<int>(r)][static_cast<int>(p)];
      ++n;
    }
  REQUIRE(a.classes == 4);
  CHECK(a.pixels == n);
  for (int r = 0; r < 4; ++r)
    for (int p = 0; p < 4; ++p) CHECK(a.at(r, p) == m[r][p]);
  double diagonal = 0, expected = 0;
  for (int k = 0; k < 4; ++k) {
    diagonal += static_cast<double>(m[k][k]);
    double row = 0, col = 0;
    for (int j = 0; j < 4; ++j) {
      row += static_cast<double>(m[k][j]);
      col += static_cast<double>(m[j][k]);
    }
    expected += row * col;
    if (k == 3) {  // ignored in the reference: no recall, no IoU from reference side
      CHECK(std::isnan(a.recall[3]));
      continue;
    }
    CHECK(a.precision[static_cast<std::size_t>(k)] == Approx(static_cast<double>(m[k][k]) / col));
    CHECK(a.recall[static_cast<std::size_t>(k)] == Approx(static_cast<double>(m[k][k]) / row));
    CHECK(a.f1[static_cast<std::size_t>(k)] == Approx(2.0 * static_cast<double>(m[k][k]) / (row + col)));
    CHECK(a.iou[static_cast<std::size_t>(k)] == Approx(static_cast<double>(m[k][k]) / (row + col - static_cast<double>(m[k][k]))));
  }
  const double po = diagonal / static_cast<double>(n), pe = expected / (static_cast<double>(n) * static_cast<double>(n));
  CHECK(a.overall_accuracy == Approx(po));
  CHECK(a.kappa == Approx((po - pe) / (1 - pe)));
  const std::string json = to_json(a), csv = to_csv(a), text = to_text(a);
  CHECK(json.find("\"kappa\"") != std::string::npos);
  CHECK(csv.find("overall_accuracy,") != std::string::npos);
  CHECK(text.find("Cohen's kappa") != std::string::npos);
}

TEST_CASE("undefined figures are JSON null, never NaN or inf", "[assess]") {
  Assessment a;
  a.classes = 3;
  a.confusion = {5, 0, 0, 0, 0, 0, 0, 0, 0};  // every pixel class 0: kappa and classes 1, 2 undefined
  a.names = {"water", "crop", "urban \"new\""};
  finish(a);
  CHECK(std::isnan(a.kappa));
  a.mean_iou = INFINITY;  // a hand-built figure can be anything
  const auto doc = nlohmann::json::parse(to_json(a));  // throws on "inf" or "nan"
  CHECK(doc["overall_accuracy"] == 1.0);
  CHECK(doc["kappa"].is_null());
  CHECK(doc["mean_iou"].is_null());
  CHECK(doc["classes"][1]["precision"].is_null());
  CHECK(doc["classes"][2]["name"] == "urban \"new\"");
  CHECK(doc["confusion"][0][0] == 5);
  CHECK(to_csv(a).find("nan") == std::string::npos);
  CHECK(to_csv(a).find("inf") == std::string::npos);
}

TEST_CASE("a vector reference is rasterised on the class map's grid", "[assess]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 40;
  spec.height = 30;
  spec.type = GDT_Byte;
  // Class 1 in columns 0..19, class 2 in 20..39.
  luojia::test::make_raster(dir.file("pred.tif"), spec, [](int, int x, int) { return x < 20 ? 1 : 2; });
  // Pixels are 10 m; origin (500000, 4000000). Polygon A: columns 0..9, rows 0..9, class 1.
  // Polygon B: columns 15..24, rows 10..19, class 2 (half of it over predicted 1).
  std::ofstream(dir.file("ref.geojson")) << R"({"type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32618"}},
    "features": [
      {"type": "Feature", "properties": {"class": 1}, "geometry": {"type": "Polygon",
        "coordinates": [[[500000, 4000000], [500100, 4000000], [500100, 3999900], [500000, 3999900], [500000, 4000000]]]}},
      {"type": "Feature", "properties": {"class": 2}, "geometry": {"type": "Polygon",
        "coordinates": [[[500150, 3999900], [500250, 3999900], [500250, 3999800], [500150, 3999800], [500150, 3999900]]]}}]})";
  const Assessment a = assess(dir.file("pred.tif"), dir.file("ref.geojson"));
  REQUIRE(a.classes == 3);
  CHECK(a.pixels == 200);
  CHECK(a.at(1, 1) == 100);
  CHECK(a.at(2, 1) == 50);
  CHECK(a.at(2, 2) == 50);
  CHECK(a.overall_accuracy == Approx(0.75));
  CHECK_THROWS_WITH(assess(dir.file("pred.tif"), dir.file("ref.geojson"), AssessOptions{"label", {}, {}, {}}),
                    Catch::Contains("has no field 'label'"));
  // A {0, 255} mask remapped to classes {0, 1}.
  luojia::test::make_raster(dir.file("mask.tif"), spec, [](int, int x, int) { return x < 20 ? 255 : 0; });
  AssessOptions remap;
  remap.remap = {{255, 1}};
  const Assessment b = assess(dir.file("pred.tif"), dir.file("mask.tif"), remap);
  CHECK(b.at(1, 1) == 600);
  CHECK(b.at(0, 2) == 600);
}
