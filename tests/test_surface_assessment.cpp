// Disparity and DSM accuracy against closed-form errors: a prediction made from its reference
// with known offsets on known shares of pixels.
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/products/surface_assessment.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace luojia;
using namespace luojia::test;

TEST_CASE("surface assessment: disparity errors of known sizes", "[assess][stereo]") {
  TempDir dir;
  RasterSpec spec;
  spec.width = 200;
  spec.height = 100;
  spec.nodata = -9999.0;
  // 20000 pixels; the reference lacks a value on the first row (200), the prediction on rows 1-4
  // (800); of the rest (19000), rows 5-14 (2000) are off by +5, the others by +0.5.
  make_raster(dir.file("truth.tif"), spec, [](int, int x, int y) { return y == 0 ? -9999.0 : x / 10.0; });
  make_raster(dir.file("pred.tif"), spec, [](int, int x, int y) {
    if (y >= 1 && y <= 4) return -9999.0;
    return x / 10.0 + (y >= 5 && y <= 14 ? 5.0 : 0.5);
  });
  SurfaceOptions o;
  o.kind = SurfaceKind::Disparity;
  const SurfaceAssessment a = assess_surface(dir.file("pred.tif"), dir.file("truth.tif"), o);
  CHECK(a.reference_pixels == 19800);
  CHECK(a.compared == 19000);
  CHECK(a.completeness == Approx(19000.0 / 19800.0));
  CHECK(a.mean_abs == Approx((17000 * 0.5 + 2000 * 5.0) / 19000.0));
  CHECK(a.rmse == Approx(std::sqrt((17000 * 0.25 + 2000 * 25.0) / 19000.0)));
  CHECK(a.over_3 == Approx(2000.0 / 19000.0));
  CHECK(a.over_1 == Approx(2000.0 / 19000.0));
  CHECK(a.median_abs == Approx(0.5).margin(0.001));
  CHECK(a.bias == Approx(0.5).margin(0.001));
  CHECK(a.nmad == Approx(0.0).margin(0.002));
  const nlohmann::json j = nlohmann::json::parse(to_json(a));
  CHECK(j["kind"] == "disparity");
  CHECK(j["d1"].get<double>() == Approx(2000.0 / 19000.0));
  // Another grid is refused for disparities.
  spec.width = 199;
  make_raster(dir.file("other.tif"), spec, [](int, int, int) { return 1.0; });
  CHECK_THROWS_WITH(assess_surface(dir.file("pred.tif"), dir.file("other.tif"), o), Catch::Contains("on the prediction's grid"));
}

TEST_CASE("surface assessment: a DSM against a reference in another CRS", "[assess][stereo]") {
  TempDir dir;
  // The reference: a flat 30 m surface in geographic coordinates covering the DSM.
  RasterSpec reference;
  reference.width = reference.height = 50;
  reference.epsg = 4326;
  reference.geotransform[0] = 114.30;
  reference.geotransform[1] = 0.002;
  reference.geotransform[3] = 30.58;
  reference.geotransform[5] = -0.002;
  make_raster(dir.file("ref.tif"), reference, [](int, int, int) { return 30.0; });
  // The DSM: 1 m cells in UTM 50N inside it; heights alternate 31 and 29.5 by column, nodata on a tenth.
  RasterSpec dsm;
  dsm.width = dsm.height = 100;
  dsm.epsg = 32650;
  dsm.nodata = -9999.0;
  dsm.geotransform[0] = 245700.0;
  dsm.geotransform[1] = 1.0;
  dsm.geotransform[3] = 3380900.0;
  dsm.geotransform[5] = -1.0;
  make_raster(dir.file("dsm.tif"), dsm, [](int, int x, int y) { return y % 10 == 0 ? -9999.0 : (x % 2 ? 31.0 : 29.5); });
  const SurfaceAssessment a = assess_surface(dir.file("dsm.tif"), dir.file("ref.tif"));
  CHECK(a.reference_pixels == 10000);
  CHECK(a.compared == 9000);
  CHECK(a.completeness == Approx(0.9));
  CHECK(a.rmse == Approx(std::sqrt((1.0 + 0.25) / 2)).epsilon(1e-4));
  CHECK(a.mean_abs == Approx(0.75).epsilon(1e-4));
  CHECK(a.over_1 == Approx(0.0));
  // Program: the same figures as JSON.
  const ProgramResult r = run_program({kAssess, "--surface", "dsm", "--json", dir.file("dsm.tif"), dir.file("ref.tif")});
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["kind"] == "dsm");
  CHECK(j["completeness"].get<double>() == Approx(0.9));
  CHECK(run_program({kAssess, "--surface", "dsm", "--ignore", "3", dir.file("dsm.tif"), dir.file("ref.tif")}).code == 2);
}
