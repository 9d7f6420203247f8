#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/raster.hpp>
#include <luojia/spectral_index.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace luojia;
using luojia::test::TempDir;

namespace {

// Bands: 1 blue, 2 green, 3 red, 4 nir, 5 swir; band values in 0..999 with zeros and a nodata 0 collar.
double reflectance(int b, int x, int y) {
  if (x == 0) return 0.0;                         // nodata column
  if (b == 2 && x == 1) return 0.0;               // red = 0 ...
  if (b == 3 && x == 1) return 0.0;               // ... and nir = 0: NDVI's denominator is zero
  return std::floor(luojia::test::hash01(b, x, y, 7) * 999.0) + 1.0;
}

struct Closed {
  static double nd(double a, double b) { return (a - b) / (a + b); }
};

}  // namespace

TEST_CASE("indices equal their closed forms", "[index]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 45;
  spec.height = 31;
  spec.bands = 5;
  spec.type = GDT_UInt16;
  spec.nodata = 0;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, reflectance);

  IndexJob job;
  job.roles = {1, 2, 3, 4, 5};
  for (IndexKind k : {IndexKind::NDVI, IndexKind::NDWI, IndexKind::MNDWI, IndexKind::NDBI, IndexKind::SAVI, IndexKind::EVI}) {
    IndexSpec s;
    s.kind = k;
    s.savi_l = 0.25;
    job.indices.push_back(s);
  }
  IndexSpec nd;
  nd.kind = IndexKind::NormalizedDifference;
  nd.band_a = 5;
  nd.band_b = 1;
  job.indices.push_back(nd);
  job.tile_size = 16;  // several tiles, none aligned with the raster's size
  job.stream.threads = 2;
  const std::string out = dir.file("idx.tif");
  compute_indices(in, out, job);

  using F = double (*)(double, double, double, double, double);
  const std::vector<F> formulas{
      [](double, double, double r, double n, double) { return Closed::nd(n, r); },
      [](double, double g, double, double n, double) { return Closed::nd(g, n); },
      [](double, double g, double, double, double s) { return Closed::nd(g, s); },
      [](double, double, double, double n, double s) { return Closed::nd(s, n); },
      [](double, double, double r, double n, double) { return 1.25 * (n - r) / (n + r + 0.25); },
      [](double b, double, double r, double n, double) { return 2.5 * (n - r) / (n + 6.0 * r - 7.5 * b + 1.0); },
      [](double b, double, double, double, double s) { return Closed::nd(s, b); },
  };
  const Raster result = Raster::open(out);
  REQUIRE(result.info().band_count() == 7);
  CHECK(result.info().band(1).description == "NDVI");
  CHECK(result.info().band(7).description == "ND(5,1)");
  for (int k = 0; k < 7; ++k) {
    const std::vector<double> got = luojia::test::read_band(out, k + 1);
    for (int y = 0; y < spec.height; ++y)
      for (int x = 0; x < spec.width; ++x) {
        double v[5];
        for (int b = 0; b < 5; ++b) v[b] = reflectance(b, x, y);
        const double g = got[static_cast<std::size_t>(y * spec.width + x)];
        INFO("index " << k << " at " << x << "," << y);
        const bool any_nodata = x == 0 || (x == 1 && (k == 0 || k == 1 || k == 3 || k == 4 || k == 5));
        if (any_nodata) {
          REQUIRE(g == -9999.0);
          continue;
        }
        const double expected = formulas[static_cast<std::size_t>(k)](v[0], v[1], v[2], v[3], v[4]);
        if (!std::isfinite(expected)) {
          REQUIRE(g == -9999.0);
          continue;
        }
        REQUIRE(g == Approx(expected).epsilon(1e-6).margin(1e-6));
      }
  }
}

TEST_CASE("a zero denominator is nodata, not infinity", "[index]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 4;
  spec.height = 1;
  spec.bands = 2;
  spec.type = GDT_Int16;
  const std::string in = dir.file("in.tif");
  // red, nir: (3, -3) sums to zero; (0, 0) too; (1, 3) is 0.5.
  luojia::test::make_raster(in, spec, [](int b, int x, int) {
    const double red[4] = {3, 0, 1, 2};
    const double nir[4] = {-3, 0, 3, 2};
    return b == 0 ? red[x] : nir[x];
  });
  IndexJob job;
  job.roles.red = 1;
  job.roles.nir = 2;
  job.indices = {IndexSpec{}};
  job.nodata = -2.0f;
  const std::string out = dir.file("ndvi.tif");
  compute_indices(in, out, job);
  CHECK(luojia::test::read_band(out, 1) == std::vector<double>{-2.0, -2.0, 0.5, 0.0});
}

TEST_CASE("index products keep the input's georeferencing", "[index]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 20;
  spec.height = 10;
  spec.bands = 2;
  spec.epsg = 4326;
  spec.geotransform[0] = 114.3;
  spec.geotransform[1] = 0.001;
  spec.geotransform[3] = 30.6;
  spec.geotransform[5] = -0.002;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, [](int b, int x, int) { return b + x + 1; });
  IndexJob job;
  job.roles.red = 1;
  job.roles.nir = 2;
  job.indices = {IndexSpec{}};
  const std::string out = dir.file("out.tif");
  compute_indices(in, out, job);
  const RasterInfo a = Raster::open(in).info();
  const RasterInfo b = Raster::open(out).info();
  CHECK(b.width == a.width);
  CHECK(b.height == a.height);
  CHECK(b.geotransform == a.geotransform);
  CHECK(b.epsg == 4326);
  CHECK(b.band(1).type == DataType::Float32);
  CHECK(b.band(1).nodata == -9999.0);
}

TEST_CASE("index requests that cannot work are errors", "[index]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.bands = 3;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, [](int, int, int) { return 1; });
  IndexJob job;
  job.indices = {IndexSpec{}};
  job.roles.red = 3;
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job), in + ": ndvi needs the nir band (--nir N)");
  job.roles.nir = 4;
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job),
                    in + ": band 4 is out of range: the raster has 3 bands");
  CHECK_THROWS_AS(parse_index_kind("ndxi"), Error);
  CHECK(parse_index_kind("NDVI") == IndexKind::NDVI);
  CHECK(dir.entries() == std::vector<std::string>{"in.tif"});
}
