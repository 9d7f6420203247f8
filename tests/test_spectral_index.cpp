// luojia-index: the catalogue's indices against an independent numpy evaluation of every formula
// (tools/make_index_reference.py), the classic ones against their closed forms, band symbols from
// flags, band descriptions and sensors, and the errors a request can meet.
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/products/index_catalogue.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/spectral_index.hpp>

#include <catch2/catch.hpp>
#include <gdal_priv.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>

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
  job.bands = {{"B", 1}, {"G", 2}, {"R", 3}, {"N", 4}, {"S1", 5}};
  // luojia's former names, SAVI with its own L; and the normalised difference of two bands by number.
  for (const char* name : {"ndvi", "ndwi", "mndwi", "ndbi", "savi", "evi"}) job.indices.push_back(IndexSpec{name, "", {}});
  job.indices[4].constants["L"] = 0.25;
  job.indices.push_back(IndexSpec{"ND(5,1)", "(b5 - b1) / (b5 + b1)", {}});
  job.tile = 16;  // several tiles, none aligned with the raster's size
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
  job.bands = {{"R", 1}, {"N", 2}};
  job.indices = {IndexSpec{"NDVI", "", {}}};
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
  job.bands = {{"R", 1}, {"N", 2}};
  job.indices = {IndexSpec{"NDVI", "", {}}};
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

TEST_CASE("index requests that cannot work are errors naming the index and what it misses", "[index]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.bands = 3;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, [](int, int, int) { return 1; });
  IndexJob job;
  job.indices = {IndexSpec{"NDVI", "", {}}};
  job.bands = {{"R", 3}};
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job), Catch::Contains("N (Near-Infrared (NIR)), which NDVI needs"));
  job.bands["N"] = 4;
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job), in + ": band 4 is out of range: the raster has 3 bands");
  job.indices = {IndexSpec{"NDXI", "", {}}};
  CHECK_THROWS_AS(compute_indices(in, dir.file("o.tif"), job), UsageError);
  // PAR has no default: a constant to give.
  job.indices = {IndexSpec{"MCARI", "", {}}};
  for (const auto& e : IndexCatalogue::builtin().indices())
    if (std::find(e.symbols.begin(), e.symbols.end(), "PAR") != e.symbols.end()) job.indices = {IndexSpec{e.short_name, "", {}}};
  job.bands = {{"R", 1}, {"N", 2}, {"G", 3}, {"B", 1}, {"RE1", 2}, {"S1", 3}, {"S2", 1}, {"N2", 2}};
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job), Catch::Contains("`const` PAR=VALUE"));
  job.indices = {IndexSpec{"MINE", "(N - R) / (N + ", {}}};
  CHECK_THROWS_AS(compute_indices(in, dir.file("o.tif"), job), UsageError);
  job.indices = {IndexSpec{"MINE", "(N - Q) / 2", {}}};
  CHECK_THROWS_WITH(compute_indices(in, dir.file("o.tif"), job), Catch::Contains("'Q'"));
  CHECK_THROWS_AS(assign_band_symbols(Raster::open(in).info(), {}, "sentinel7"), UsageError);
  CHECK(dir.entries() == std::vector<std::string>{"in.tif"});
}

namespace {

const std::string kIndices = LUOJIA_TEST_DATA "/indices/";

nlohmann::json index_manifest() {
  std::ifstream in(kIndices + "manifest.json");
  return nlohmann::json::parse(in);
}

template <class T>
std::vector<T> read_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// The reference's random raster as a Float32 GeoTIFF, one band per symbol in the manifest's order.
std::string reference_raster(TempDir& dir, const nlohmann::json& m) {
  const int h = m["height"], w = m["width"];
  const auto pixels = read_binary<float>(kIndices + "input.f32");
  const int bands = static_cast<int>(m["bands"].size());
  REQUIRE(pixels.size() == static_cast<std::size_t>(bands * h * w));
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = bands;
  const std::string path = dir.file("catalogue_input.tif");
  luojia::test::make_raster(path, spec, [&](int b, int x, int y) { return pixels[static_cast<std::size_t>((b * h + y) * w + x)]; });
  return path;
}

}  // namespace

TEST_CASE("every catalogue index equals an independent numpy evaluation of its formula", "[index]") {
  TempDir dir;
  const nlohmann::json m = index_manifest();
  const std::string in = reference_raster(dir, m);
  const int h = m["height"], w = m["width"];
  const IndexCatalogue& catalogue = IndexCatalogue::builtin();
  REQUIRE(catalogue.indices().size() == m["indices"].size());
  IndexJob job;
  for (std::size_t k = 0; k < m["bands"].size(); ++k) job.bands[m["bands"][k]] = static_cast<int>(k) + 1;
  for (const auto& [name, value] : m["constants"].items()) job.constants[name] = value.get<double>();
  for (const auto& name : m["indices"]) job.indices.push_back(IndexSpec{name, "", {}});
  job.tile = 4;  // tiles of 4 x 4 over 11 x 7: ragged edges
  job.stream.threads = 2;
  const std::string out = dir.file("catalogue.tif");
  compute_indices(in, out, job);

  const auto want = read_binary<double>(kIndices + "reference.f64");
  REQUIRE(want.size() == m["indices"].size() * static_cast<std::size_t>(h * w));
  std::size_t nodata = 0, valid = 0;
  for (std::size_t k = 0; k < m["indices"].size(); ++k) {
    const std::string name = m["indices"][k];
    CHECK(Raster::open(out).info().band(static_cast<int>(k) + 1).description == name);
    const std::vector<double> got = luojia::test::read_band(out, static_cast<int>(k) + 1);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double expected = want[k * got.size() + i];
      INFO(name << " = " << catalogue.find(name)->formula << " at pixel " << i);
      if (std::isnan(expected)) {
        CHECK(got[i] == -9999.0);
        ++nodata;
      } else {
        CHECK(got[i] == Approx(expected).epsilon(1e-5).margin(1e-6));
        ++valid;
      }
    }
  }
  CHECK(nodata == [&] {
    std::size_t n = 0;
    for (const auto& [name, count] : m["invalid"].items()) n += count.get<std::size_t>();
    return n;
  }());
  CHECK(valid > 20000);
}

TEST_CASE("kernel indices, constants, sensors and band descriptions", "[index]") {
  TempDir dir;
  const nlohmann::json m = index_manifest();
  const std::string in = reference_raster(dir, m);
  const int n = m["height"].get<int>() * m["width"].get<int>();
  std::map<std::string, int> bands;
  for (std::size_t k = 0; k < m["bands"].size(); ++k) bands[m["bands"][k]] = static_cast<int>(k) + 1;
  const auto band = [&](const std::string& symbol) { return luojia::test::read_band(in, bands.at(symbol)); };
  const auto N = band("N"), R = band("R");

  SECTION("kNDVI with the RBF kernel is tanh(((N - R) / (2 sigma))^2), for the default sigma and another") {
    for (double sigma : {0.5, 0.3}) {
      IndexJob job;
      job.bands = bands;
      job.indices = {IndexSpec{"kNDVI", "", {}}};
      if (sigma != 0.5) job.constants["sigma"] = sigma;
      compute_indices(in, dir.file("k.tif"), job);
      const auto got = luojia::test::read_band(dir.file("k.tif"), 1);
      for (int i = 0; i < n; ++i) {
        const double d = (N[static_cast<std::size_t>(i)] - R[static_cast<std::size_t>(i)]) / (2 * sigma);
        CHECK(got[static_cast<std::size_t>(i)] == Approx(std::tanh(d * d)).margin(1e-6));
      }
      std::filesystem::remove(dir.file("k.tif"));
    }
  }

  SECTION("a user's formula over symbols and band numbers, ^ and ** alike") {
    IndexJob job;
    job.bands = bands;
    const std::string nb = "b" + std::to_string(bands.at("N")), rb = "b" + std::to_string(bands.at("R"));
    job.indices = {IndexSpec{"MINE", "(N - R)^2 / 2 + -" + nb + "**0.5 * " + rb, {}}};
    compute_indices(in, dir.file("e.tif"), job);
    const auto got = luojia::test::read_band(dir.file("e.tif"), 1);
    CHECK(Raster::open(dir.file("e.tif")).info().band(1).description == "MINE");
    for (int i = 0; i < n; ++i) {
      const double x = N[static_cast<std::size_t>(i)], r = R[static_cast<std::size_t>(i)];
      CHECK(got[static_cast<std::size_t>(i)] == Approx((x - r) * (x - r) / 2 - std::sqrt(x) * r).margin(1e-6));
    }
  }

  SECTION("a sensor's band order, wavelengths and band names in descriptions") {
    // A Landsat 8 stack: band k is B_k (B4 red, B5 NIR); NIRvH2 uses the sensor's wavelengths.
    luojia::test::RasterSpec spec;
    spec.width = 5;
    spec.height = 3;
    spec.bands = 7;
    const std::string stack = dir.file("landsat8.tif");
    luojia::test::make_raster(stack, spec, [](int b, int x, int y) { return 0.05 * (b + 1) + 0.01 * x + 0.002 * y; });
    IndexJob job;
    job.sensor = "landsat8";
    job.constants["k"] = 0.001;
    job.indices = {IndexSpec{"NDVI", "", {}}, IndexSpec{"NIRvH2", "", {}}};
    compute_indices(stack, dir.file("l8.tif"), job);
    const auto ndvi = luojia::test::read_band(dir.file("l8.tif"), 1), nirv = luojia::test::read_band(dir.file("l8.tif"), 2);
    const auto b4 = luojia::test::read_band(stack, 4), b5 = luojia::test::read_band(stack, 5);
    const double lambda_n = IndexCatalogue::builtin().band("N")->sensors.at("landsat8").wavelength;
    const double lambda_r = IndexCatalogue::builtin().band("R")->sensors.at("landsat8").wavelength;
    CHECK(lambda_n == 865.0);
    CHECK(lambda_r == 655.0);
    for (std::size_t i = 0; i < ndvi.size(); ++i) {
      CHECK(ndvi[i] == Approx((b5[i] - b4[i]) / (b5[i] + b4[i])).margin(1e-6));
      CHECK(nirv[i] == Approx(b5[i] - b4[i] - 0.001 * (lambda_n - lambda_r)).margin(1e-6));
    }
    // Band descriptions win over the order: a Sentinel-2 subset named B04, B08.
    {
      std::unique_ptr<GDALDataset> ds(GDALDataset::Open(stack.c_str(), GDAL_OF_UPDATE | GDAL_OF_RASTER));
      ds->GetRasterBand(2)->SetDescription("B08");
      ds->GetRasterBand(6)->SetDescription("B04");
    }
    const RasterInfo info = Raster::open(stack).info();
    const auto s2 = assign_band_symbols(info, {}, "sentinel2");
    CHECK(s2.at("N") == 2);
    CHECK(s2.at("R") == 6);
    CHECK(s2.count("B") == 0);  // the descriptions name the bands, not the order: no B2 among them
    // Names a raster may give its bands, and explicit symbols over everything.
    {
      std::unique_ptr<GDALDataset> ds(GDALDataset::Open(stack.c_str(), GDAL_OF_UPDATE | GDAL_OF_RASTER));
      ds->GetRasterBand(1)->SetDescription("nir");
      ds->GetRasterBand(3)->SetColorInterpretation(GCI_RedBand);
    }
    const auto named = assign_band_symbols(Raster::open(stack).info(), {{"R", 7}}, "");
    CHECK(named.at("N") == 1);
    CHECK(named.at("R") == 7);
    CHECK(assign_band_symbols(Raster::open(stack).info(), {}, "").at("R") == 3);
  }

  SECTION("many indices read each band once") {
    std::vector<IndexSpec> specs;
    for (const char* name : {"NDVI", "EVI", "SAVI", "NDWI", "MNDWI", "NBR", "NDBI", "kNDVI", "GNDVI", "NDMI"})
      specs.push_back(IndexSpec{name, "", {}});
    const IndexPlan plan = plan_indices(specs, bands, {}, "", -9999.0f);
    CHECK(plan.names.size() == 10);
    CHECK(std::set<int>(plan.bands.begin(), plan.bands.end()).size() == plan.bands.size());
    CHECK(plan.bands.size() <= 6);  // B G R N S1 S2
  }
}

TEST_CASE("luojia-index --list, --expr, --const, --bands as a program", "[index][programs]") {
  using luojia::test::run_program;
  const auto list = run_program({luojia::test::kIndex, "--list"});
  CHECK(list.code == 0);
  CHECK(std::count(list.out.begin(), list.out.end(), '\n') == static_cast<long>(IndexCatalogue::builtin().indices().size()));
  CHECK(list.out.find("kNDVI\tkernel\t") != std::string::npos);
  const auto json = run_program({luojia::test::kIndex, "--list", "--json"});
  REQUIRE(json.code == 0);
  const auto parsed = nlohmann::json::parse(json.out);
  CHECK(parsed.size() == IndexCatalogue::builtin().indices().size());
  CHECK(parsed[0].contains("formula"));

  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 9;
  spec.height = 5;
  spec.bands = 4;
  const std::string in = dir.file("in.tif");
  luojia::test::make_raster(in, spec, [](int b, int x, int y) { return 0.1 + 0.1 * b + 0.01 * x + 0.001 * y; });
  const auto ok = run_program({luojia::test::kIndex, "-q", in, dir.file("o.tif"), "--index", "NDVI,savi", "--bands", "R=3,N=4",
                               "--expr", "RATIO=N/R", "--const", "L=0.25"});
  REQUIRE(ok.code == 0);
  const auto r = luojia::test::read_band(in, 3), nir = luojia::test::read_band(in, 4);
  const auto savi = luojia::test::read_band(dir.file("o.tif"), 2), ratio = luojia::test::read_band(dir.file("o.tif"), 3);
  CHECK(Raster::open(dir.file("o.tif")).info().band(3).description == "RATIO");
  for (std::size_t i = 0; i < r.size(); ++i) {
    CHECK(savi[i] == Approx(1.25 * (nir[i] - r[i]) / (nir[i] + r[i] + 0.25)).margin(1e-6));
    CHECK(ratio[i] == Approx(nir[i] / r[i]).margin(1e-6));
  }
  const auto missing = run_program({luojia::test::kIndex, "-q", in, dir.file("m.tif"), "--index", "NBR", "--bands", "N=4"});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("NBR") != std::string::npos);
  CHECK(missing.err.find("S2") != std::string::npos);
  CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);
  const auto bad = run_program({luojia::test::kIndex, "-q", in, dir.file("b.tif"), "--expr", "X=(N-", "--bands", "N=4"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--expr") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("m.tif")));
  CHECK_FALSE(std::filesystem::exists(dir.file("b.tif")));
}
