// Change detection: CVA against the closed form on a real Landsat 5 pair, Otsu, --align, a
// Siamese model against PyTorch.
#include "support.hpp"

#include <luojia/products/change.hpp>
#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include <catch2/catch.hpp>
#include <gdal_utils.h>

#include <cmath>
#include <fstream>

using namespace luojia;
using luojia::test::TempDir;

namespace {

const std::string kLandsat = LUOJIA_TEST_DATA "/landsat5/";
const int kBands[] = {1, 2, 3, 4, 5, 7};

// The six band files of a date stacked into one VRT, with GDAL's own gdalbuildvrt -separate.
std::string stack_date(const TempDir& dir, const std::string& year, const std::string& ext) {
  std::vector<std::string> files;
  for (int b : kBands) files.push_back(kLandsat + year + "/B" + std::to_string(b) + ext);
  std::vector<const char*> names;
  for (const auto& f : files) names.push_back(f.c_str());
  char** argv = CSLAddString(nullptr, "-separate");
  GDALBuildVRTOptions* options = GDALBuildVRTOptionsNew(argv, nullptr);
  CSLDestroy(argv);
  const std::string path = dir.file(year + ".vrt");
  GDALAllRegister();
  GDALDatasetH vrt = GDALBuildVRT(path.c_str(), static_cast<int>(names.size()), nullptr, names.data(), options, nullptr);
  GDALBuildVRTOptionsFree(options);
  REQUIRE(vrt);
  GDALClose(vrt);
  return path;
}

}  // namespace

TEST_CASE("change vector analysis of the Landsat 5 pair equals the closed form", "[change]") {
  TempDir dir;
  const std::string before = stack_date(dir, "2000", ".TIF"), after = stack_date(dir, "2010", ".tif");
  ChangeOptions o;
  o.threshold = 20.0;
  o.magnitude = dir.file("magnitude.tif");
  const ChangeReport r = detect_change(before, after, dir.file("change.tif"), o);
  CHECK(!r.otsu);
  std::vector<std::vector<double>> a, b;
  for (int band : kBands) {
    a.push_back(luojia::test::read_band(kLandsat + "2000/B" + std::to_string(band) + ".TIF", 1));
    b.push_back(luojia::test::read_band(kLandsat + "2010/B" + std::to_string(band) + ".tif", 1));
  }
  const auto magnitude = luojia::test::read_band(dir.file("magnitude.tif"), 1);
  const auto change = luojia::test::read_band(dir.file("change.tif"), 1);
  std::int64_t valid = 0, changed = 0;
  for (std::size_t i = 0; i < magnitude.size(); ++i) {
    bool nodata = false;
    double sum = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
      nodata = nodata || a[k][i] == 255 || b[k][i] == 255;
      sum += (b[k][i] - a[k][i]) * (b[k][i] - a[k][i]);
    }
    INFO("pixel " << i);
    if (nodata) {
      REQUIRE(magnitude[i] == -1);
      REQUIRE(change[i] == 255);
      continue;
    }
    ++valid;
    REQUIRE(magnitude[i] == Approx(std::sqrt(sum)).epsilon(1e-6));
    REQUIRE(change[i] == (std::sqrt(sum) > 20.0 ? 1 : 0));
    changed += std::sqrt(sum) > 20.0;
  }
  CHECK(r.valid == valid);
  CHECK(r.changed == changed);
  CHECK(valid > 9000);
  const RasterInfo info = Raster::open(dir.file("change.tif")).info();
  CHECK(info.epsg == 32637);
  CHECK(info.geotransform == Raster::open(before).info().geotransform);
}

TEST_CASE("Otsu's threshold separates two populations", "[change]") {
  std::vector<std::int64_t> histogram(100, 0);
  for (int i = 10; i < 20; ++i) histogram[static_cast<std::size_t>(i)] = 50;
  for (int i = 70; i < 75; ++i) histogram[static_cast<std::size_t>(i)] = 30;
  const double t = otsu_threshold(histogram, 0.0, 100.0);
  CHECK(t >= 20.0);
  CHECK(t <= 70.0);
  // On rasters: small changes everywhere, large ones in a block; Otsu must find the block.
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 60;
  spec.height = 40;
  spec.bands = 2;
  luojia::test::make_raster(dir.file("a.tif"), spec, [](int b, int x, int y) { return 100 + b + (x + y) % 3; });
  luojia::test::make_raster(dir.file("b.tif"), spec, [](int b, int x, int y) {
    const double base = 100 + b + (x + y) % 3 + luojia::test::hash01(b, x, y);
    return (x >= 20 && x < 30 && y < 10) ? base + 50 : base;
  });
  const ChangeReport r = detect_change(dir.file("a.tif"), dir.file("b.tif"), dir.file("c.tif"), {});
  CHECK(r.otsu);
  CHECK(r.changed == 100);
  const auto c = luojia::test::read_band(dir.file("c.tif"), 1);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 60; ++x) REQUIRE(c[static_cast<std::size_t>(y * 60 + x)] == ((x >= 20 && x < 30 && y < 10) ? 1 : 0));
}

TEST_CASE("aligning warps a shifted copy back onto the grid, and without it a clear error", "[change]") {
  TempDir dir;
  const std::string before = stack_date(dir, "2000", ".TIF"), after = stack_date(dir, "2010", ".tif");
  // AFTER moved 3 pixels east: its pixel x holds what AFTER has at x + 3.
  GDALAllRegister();
  GDALDataset* src = GDALDataset::Open(after.c_str(), GDAL_OF_RASTER);
  const int w = src->GetRasterXSize(), h = src->GetRasterYSize(), n = src->GetRasterCount();
  GDALDataset* shifted = GetGDALDriverManager()->GetDriverByName("GTiff")->Create(dir.file("shifted.tif").c_str(), w, h, n, GDT_Byte, nullptr);
  double gt[6];
  src->GetGeoTransform(gt);
  gt[0] += 3 * gt[1];
  shifted->SetGeoTransform(gt);
  shifted->SetSpatialRef(src->GetSpatialRef());
  std::vector<std::uint8_t> row(static_cast<std::size_t>(w));
  for (int b = 1; b <= n; ++b) {
    shifted->GetRasterBand(b)->SetNoDataValue(255);
    for (int y = 0; y < h; ++y) {
      REQUIRE(src->GetRasterBand(b)->RasterIO(GF_Read, 0, y, w, 1, row.data(), w, 1, GDT_Byte, 0, 0) == CE_None);
      std::rotate(row.begin(), row.begin() + 3, row.end());
      std::fill(row.end() - 3, row.end(), std::uint8_t{255});
      REQUIRE(shifted->GetRasterBand(b)->RasterIO(GF_Write, 0, y, w, 1, row.data(), w, 1, GDT_Byte, 0, 0) == CE_None);
    }
  }
  GDALClose(shifted);
  GDALClose(src);
  CHECK_THROWS_WITH(detect_change(before, dir.file("shifted.tif"), dir.file("x.tif"), {}),
                    Catch::Contains("not on one grid: geotransforms differ") && Catch::Contains("`align`"));
  ChangeOptions o;
  o.threshold = 20.0;
  o.magnitude = dir.file("m_ref.tif");
  detect_change(before, after, dir.file("c_ref.tif"), o);
  o.align = true;
  o.resampling = "near";
  o.magnitude = dir.file("m_aligned.tif");
  detect_change(before, dir.file("shifted.tif"), dir.file("c_aligned.tif"), o);
  const auto ref = luojia::test::read_band(dir.file("m_ref.tif"), 1), aligned = luojia::test::read_band(dir.file("m_aligned.tif"), 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const auto i = static_cast<std::size_t>(y * w + x);
      if (x < 3) {
        REQUIRE(aligned[i] == -1);  // no data of the shifted copy reaches here
        continue;
      }
      REQUIRE(aligned[i] == Approx(ref[i]).margin(1e-4));
    }
  // A resampling gdalwarp does not know is the user's option, not AFTER's fault.
  o.resampling = "bilnear";
  o.magnitude = dir.file("m_typo.tif");
  try {
    detect_change(before, dir.file("shifted.tif"), dir.file("c_typo.tif"), o);
    FAIL("accepted");
  } catch (const UsageError& e) {
    CHECK(e.option() == "resampling");
    CHECK_THAT(e.what(), Catch::Contains("bilnear"));
  }
}

TEST_CASE("a Siamese change model matches PyTorch through luojia-change", "[change][nn]") {
  TempDir dir;
  const std::string nn_dir = LUOJIA_TEST_DATA "/nn/";
  const int w = 31, h = 23;
  std::ifstream fb(nn_dir + "siamese_change_0_before.f32", std::ios::binary), fa(nn_dir + "siamese_change_0_after.f32", std::ios::binary),
      fc(nn_dir + "siamese_change_0_change.f32", std::ios::binary);
  std::vector<float> vb(3 * w * h), va(3 * w * h), vc(2 * w * h);
  fb.read(reinterpret_cast<char*>(vb.data()), static_cast<std::streamsize>(vb.size() * 4));
  fa.read(reinterpret_cast<char*>(va.data()), static_cast<std::streamsize>(va.size() * 4));
  fc.read(reinterpret_cast<char*>(vc.data()), static_cast<std::streamsize>(vc.size() * 4));
  REQUIRE(fc.gcount() == static_cast<std::streamsize>(vc.size() * 4));
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = 3;
  luojia::test::make_raster(dir.file("before.tif"), spec, [&](int b, int x, int y) { return vb[static_cast<std::size_t>((b * h + y) * w + x)]; });
  luojia::test::make_raster(dir.file("after.tif"), spec, [&](int b, int x, int y) { return va[static_cast<std::size_t>((b * h + y) * w + x)]; });
  ChangeOptions o;
  o.model = nn_dir + "siamese_change_op17.onnx";
  o.segment.logits = dir.file("logits.tif");
  o.segment.tile = 16;  // several tiles: exact tiling of a two-input model too
  const ChangeReport r = detect_change(dir.file("before.tif"), dir.file("after.tif"), dir.file("change.tif"), o);
  CHECK(r.model);
  CHECK(r.segment.exact);
  double scale = 1;
  for (float v : vc) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  for (int k = 0; k < 2; ++k) {
    const auto got = luojia::test::read_band(dir.file("logits.tif"), k + 1);
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(std::fabs(got[i] - vc[static_cast<std::size_t>(k) * got.size() + i]) <= 1e-4 * scale);
  }
}
