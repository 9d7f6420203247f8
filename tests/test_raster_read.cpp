#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include <catch2/catch.hpp>

#include <cpl_vsi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

using namespace luojia;
using luojia::test::TempDir;

namespace {

double value_at(int b, int x, int y) { return b * 10000.0 + y * 100.0 + x; }

// The edge modes' definitions, written out independently of the library.
std::int64_t mirror(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}
std::int64_t clamp_index(std::int64_t i, std::int64_t n) { return std::clamp<std::int64_t>(i, 0, n - 1); }

std::string fixture(const TempDir& dir, int w, int h, int bands = 2, std::optional<double> nodata = {}) {
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = bands;
  spec.nodata = nodata;
  const std::string path = dir.file("in_" + std::to_string(w) + "x" + std::to_string(h) + ".tif");
  luojia::test::make_raster(path, spec, value_at);
  return path;
}

}  // namespace

TEST_CASE("info reports what GDAL stores", "[raster]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 37;
  spec.height = 21;
  spec.bands = 3;
  spec.type = GDT_UInt16;
  spec.nodata = 0;
  spec.options = {"TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"};
  const std::string path = dir.file("info.tif");
  luojia::test::make_raster(path, spec, [](int, int x, int) { return x + 1; });
  {
    GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_UPDATE);
    ds->GetRasterBand(2)->SetScale(0.5);
    ds->GetRasterBand(2)->SetOffset(-3.0);
    ds->SetMetadataItem("SENSOR", "test");
    GDALClose(ds);
  }
  const Raster raster = Raster::open(path);
  const RasterInfo& info = raster.info();
  CHECK(info.driver == "GTiff");
  CHECK(info.width == 37);
  CHECK(info.height == 21);
  REQUIRE(info.band_count() == 3);
  CHECK(info.band(1).type == DataType::UInt16);
  CHECK(info.band(1).nodata == 0.0);
  CHECK(info.band(2).scale == 0.5);
  CHECK(info.band(2).offset == -3.0);
  CHECK(info.band(1).block_width == 16);
  CHECK(info.epsg == 32618);
  CHECK(info.crs_wkt.find("UTM zone 18N") != std::string::npos);
  REQUIRE(info.geotransform);
  CHECK(info.geotransform->c[0] == 500000.0);
  CHECK(info.geotransform->c[5] == -10.0);
  CHECK(std::find(info.metadata.begin(), info.metadata.end(), std::pair<std::string, std::string>{"SENSOR", "test"}) !=
        info.metadata.end());
  const std::string json = to_json(info);
  CHECK(json.find("\"epsg\": 32618") != std::string::npos);
  CHECK(json.find("\"type\": \"UInt16\"") != std::string::npos);
  CHECK(to_text(info).find("EPSG:32618") != std::string::npos);
}

TEST_CASE("a window read with halo equals the direct read of the same pixels", "[raster]") {
  TempDir dir;
  const int w = 23, h = 17;
  Raster raster = Raster::open(fixture(dir, w, h));
  const std::vector<int> bands{2, 1};
  const Image whole = raster.read({0, 0, w, h}, bands);
  for (std::int64_t x0 : {0, 3, 11})
    for (std::int64_t y0 : {0, 5})
      for (std::int64_t size : {1, 4, 6}) {
        const Window win{x0, y0, std::min<std::int64_t>(size, w - x0), std::min<std::int64_t>(size, h - y0)};
        Mask mask;
        const Image part = raster.read(win, bands, {}, &mask);
        for (int b = 0; b < 2; ++b)
          for (std::int64_t y = 0; y < win.height; ++y)
            for (std::int64_t x = 0; x < win.width; ++x) {
              REQUIRE(part.at(b, y, x) == whole.at(b, win.y + y, win.x + x));
              REQUIRE(part.at(b, y, x) == static_cast<float>(value_at(bands[b] - 1, int(win.x + x), int(win.y + y))));
            }
        CHECK(std::all_of(mask.begin(), mask.end(), [](auto m) { return m == 1; }));
      }
}

TEST_CASE("edge modes fill outside the raster by their definitions", "[raster]") {
  TempDir dir;
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 9}, std::pair{9, 1}, std::pair{5, 4}, std::pair{13, 11}}) {
    Raster raster = Raster::open(fixture(dir, w, h));
    const std::vector<int> bands{1, 2};
    for (const Window win : {Window{-3, -2, w + 6, h + 4}, Window{-20, -1, 7, 3}, Window{w - 1, h - 1, 9, 9},
                             Window{w + 5, 0, 2, 2}}) {
      for (EdgeMode mode : {EdgeMode::Constant, EdgeMode::Reflect, EdgeMode::Replicate}) {
        ReadOptions options;
        options.edge = mode;
        options.fill_value = -7.0;
        Mask mask;
        const Image image = raster.read(win, bands, options, &mask);
        INFO(w << "x" << h << " window " << win.x << "," << win.y << " " << win.width << "x" << win.height
               << " mode " << static_cast<int>(mode));
        for (int b = 0; b < 2; ++b)
          for (std::int64_t y = 0; y < win.height; ++y)
            for (std::int64_t x = 0; x < win.width; ++x) {
              const std::int64_t gx = win.x + x, gy = win.y + y;
              const bool inside = gx >= 0 && gy >= 0 && gx < w && gy < h;
              double expected = -7.0;
              if (inside)
                expected = value_at(b, int(gx), int(gy));
              else if (mode == EdgeMode::Reflect)
                expected = value_at(b, int(mirror(gx, w)), int(mirror(gy, h)));
              else if (mode == EdgeMode::Replicate)
                expected = value_at(b, int(clamp_index(gx, w)), int(clamp_index(gy, h)));
              REQUIRE(image.at(b, y, x) == static_cast<float>(expected));
              REQUIRE(mask[static_cast<std::size_t>(y * win.width + x)] == (inside ? 1 : 0));
            }
        // The native path fills the same way.
        std::vector<float> native(static_cast<std::size_t>(2 * win.area()));
        raster.read_native(win, bands, DataType::Float32, native.data(), options);
        REQUIRE(std::equal(native.begin(), native.end(), image.data()));
      }
    }
  }
}

TEST_CASE("nodata, NaN and scale/offset", "[raster]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 8;
  spec.height = 3;
  spec.bands = 2;
  spec.nodata = -1;
  const std::string path = dir.file("nd.tif");
  luojia::test::make_raster(path, spec, [](int b, int x, int y) {
    if (b == 0 && x == 2) return -1.0;
    if (b == 1 && x == 5 && y == 1) return std::nan("");
    return double(x + b);
  });
  {
    GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_UPDATE);
    ds->GetRasterBand(2)->SetScale(2.0);
    ds->GetRasterBand(2)->SetOffset(1.0);
    GDALClose(ds);
  }
  Raster raster = Raster::open(path);
  ReadOptions options;
  options.apply_scale = true;
  options.edge = EdgeMode::Nodata;
  Mask mask;
  const Image image = raster.read({-1, 0, 10, 3}, std::vector<int>{1, 2}, options, &mask);
  for (std::int64_t y = 0; y < 3; ++y)
    for (std::int64_t x = 0; x < 10; ++x) {
      const std::int64_t gx = x - 1;
      const bool valid = gx >= 0 && gx < 8 && gx != 2 && !(gx == 5 && y == 1);
      REQUIRE(mask[static_cast<std::size_t>(y * 10 + x)] == (valid ? 1 : 0));
      if (gx >= 0 && gx < 8 && gx != 5) CHECK(image.at(1, y, x) == float((gx + 1) * 2.0 + 1.0));
      if (gx < 0 || gx >= 8) CHECK(image.at(0, y, x) == -1.0f);  // filled with the band's nodata
    }
  CHECK(image.at(0, 0, 3) == -1.0f);  // nodata is left as stored, never scaled
}

TEST_CASE("native reads keep the stored values", "[raster]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 300;
  spec.height = 2;
  spec.type = GDT_UInt16;
  const std::string path = dir.file("u16.tif");
  luojia::test::make_raster(path, spec, [](int, int x, int y) { return 60000 + x + y * 1000; });
  Raster raster = Raster::open(path);
  std::vector<std::uint16_t> pixels(600);
  raster.read_native({0, 0, 300, 2}, std::vector<int>{1}, DataType::UInt16, pixels.data());
  CHECK(pixels[0] == 60000);
  CHECK(pixels[299] == 60299);
  CHECK(pixels[300] == 61000);
}

TEST_CASE("virtual paths: /vsimem/, VRT and /vsizip/", "[raster]") {
  TempDir dir;
  const std::string source = fixture(dir, 6, 5);
  GDALAllRegister();
  // /vsimem/: a copy in memory.
  {
    GDALDataset* src = GDALDataset::Open(source.c_str(), GDAL_OF_RASTER);
    GDALDataset* mem = GetGDALDriverManager()->GetDriverByName("GTiff")->CreateCopy(
        "/vsimem/luojia_test.tif", src, FALSE, nullptr, nullptr, nullptr);
    GDALDataset* vrt = GetGDALDriverManager()->GetDriverByName("VRT")->CreateCopy(
        dir.file("copy.vrt").c_str(), src, FALSE, nullptr, nullptr, nullptr);
    GDALClose(vrt);
    GDALClose(mem);
    GDALClose(src);
  }
  // /vsizip/: the GeoTIFF's bytes streamed into a zip archive.
  {
    const std::string bytes = luojia::test::read_file(source);
    const std::string zip_member = "/vsizip/" + dir.file("a.zip") + "/in.tif";
    VSILFILE* f = VSIFOpenL(zip_member.c_str(), "wb");
    REQUIRE(f);
    VSIFWriteL(bytes.data(), 1, bytes.size(), f);
    VSIFCloseL(f);
  }
  for (const std::string path :
       {std::string("/vsimem/luojia_test.tif"), dir.file("copy.vrt"), "/vsizip/" + dir.file("a.zip") + "/in.tif"}) {
    INFO(path);
    Raster raster = Raster::open(path);
    CHECK(raster.info().width == 6);
    CHECK(raster.info().epsg == 32618);
    const Image image = raster.read({1, 1, 2, 2}, std::vector<int>{2});
    CHECK(image.at(0, 1, 1) == float(value_at(1, 2, 2)));
  }
  VSIUnlink("/vsimem/luojia_test.tif");
}

TEST_CASE("bad inputs are errors naming the file", "[raster][errors]") {
  TempDir dir;
  const auto message_of = [](const std::string& path) -> std::string {
    try {
      Raster raster = Raster::open(path);
      raster.read({0, 0, raster.info().width, raster.info().height}, std::vector<int>{1});
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  const std::string missing = dir.file("missing.tif");
  CHECK(message_of(missing) == missing + ": no such file");
  const std::string empty = dir.file("empty.tif");
  std::ofstream(empty).close();
  CHECK(message_of(empty) == empty + ": empty file (0 bytes)");
  const std::string text = dir.file("text.tif");
  std::ofstream(text) << "this is not a raster\n";
  CHECK(message_of(text).rfind(text + ": not a raster GDAL can read", 0) == 0);
  // A GeoTIFF cut short: either the header or the pixels are gone; both must be errors.
  luojia::test::RasterSpec spec;
  spec.width = 64;
  spec.height = 64;
  const std::string good = dir.file("good.tif");
  luojia::test::make_raster(good, spec, [](int, int x, int y) { return x * y; });
  const std::string bytes = luojia::test::read_file(good);
  for (std::size_t keep : {std::size_t{100}, bytes.size() / 2}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".tif");
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(keep));
    const std::string message = message_of(cut);
    CHECK(message.rfind(cut + ": ", 0) == 0);
  }
  // Band out of range and complex bands.
  Raster raster = Raster::open(good);
  CHECK_THROWS_WITH(raster.read({0, 0, 1, 1}, std::vector<int>{2}),
                    good + ": band 2 is out of range: the raster has 1 band");
  luojia::test::RasterSpec complex_spec;
  complex_spec.type = GDT_CInt16;
  const std::string complex_path = dir.file("complex.tif");
  luojia::test::make_raster(complex_path, complex_spec, [](int, int x, int) { return x; });
  Raster complex_raster = Raster::open(complex_path);
  CHECK_THROWS_WITH(complex_raster.read({0, 0, 1, 1}, std::vector<int>{1}),
                    complex_path + ", band 1: complex data type CInt16 is not supported");
}
