#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/raster_writer.hpp>

#include <catch2/catch.hpp>
#include <gdal.h>

#include <filesystem>

using namespace luojia;
using luojia::test::TempDir;

namespace {

RasterLayout small_layout() {
  RasterLayout layout;
  layout.width = 300;
  layout.height = 200;
  layout.bands = 2;
  layout.type = DataType::Float32;
  layout.geotransform = GeoTransform{{1000.0, 2.0, 0.0, 5000.0, 0.0, -2.0}};
  layout.nodata = -1.0;
  return layout;
}

void fill(RasterWriter& writer) {
  Image image(2, 300, 200);
  for (int b = 0; b < 2; ++b)
    for (std::int64_t y = 0; y < 200; ++y)
      for (std::int64_t x = 0; x < 300; ++x) image.at(b, y, x) = float(b * 1000 + x + y);
  writer.write({0, 0, 300, 200}, image);
}

}  // namespace

TEST_CASE("outputs appear only on commit", "[writer]") {
  TempDir dir;
  const std::string path = dir.file("out.tif");
  {
    RasterWriter writer(path, small_layout());
    fill(writer);
    CHECK(!std::filesystem::exists(path));
    writer.commit();
  }
  CHECK(dir.entries() == std::vector<std::string>{"out.tif"});
  const RasterInfo info = Raster::open(path).info();
  CHECK(info.band(1).nodata == -1.0);
  // GTiff outputs are tiled by default, in blocks of 512 or the raster's size rounded up to 16 (a
  // small many-band product must not cost a 512 x 512 block per band), and band-interleaved.
  CHECK(info.band(1).block_width == 304);
  CHECK(info.band(1).block_height == 208);
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  REQUIRE(ds);
  CHECK(std::string(GDALGetMetadataItem(ds, "INTERLEAVE", "IMAGE_STRUCTURE")) == "BAND");
  GDALClose(ds);

  const std::string big = dir.file("big.tif");
  RasterLayout layout = small_layout();
  layout.width = 1500;
  layout.height = 600;
  RasterWriter writer(big, layout);
  writer.write({0, 0, 1, 1}, std::vector<float>(2, 0.0f).data(), 2, 1);
  writer.commit();
  CHECK(Raster::open(big).info().band(2).block_width == 512);
  CHECK(Raster::open(big).info().band(2).block_height == 512);
}

TEST_CASE("an uncommitted writer leaves nothing and never touches an existing output", "[writer]") {
  TempDir dir;
  const std::string path = dir.file("out.tif");
  {
    RasterWriter writer(path, small_layout());
    fill(writer);
    writer.commit();
  }
  const std::string before = luojia::test::read_file(path);
  OutputOptions options;
  options.overwrite = true;
  {
    RasterWriter writer(path, small_layout(), options);
    Image zeros(2, 10, 10);
    writer.write({0, 0, 10, 10}, zeros);
  }  // abandoned: as a failed or cancelled run would
  CHECK(dir.entries() == std::vector<std::string>{"out.tif"});
  CHECK(luojia::test::read_file(path) == before);
  CHECK_THROWS_WITH(RasterWriter(path, small_layout()), path + ": output already exists (`overwrite` replaces it)");
}

TEST_CASE("COG and other copy-only formats", "[writer]") {
  TempDir dir;
  for (const std::string& driver : {std::string("COG"), std::string("PNG")}) {
    RasterLayout layout = small_layout();
    if (driver == "PNG") {
      layout.type = DataType::Byte;
      layout.nodata.reset();
    }
    OutputOptions options;
    options.driver = driver;
    if (driver == "COG") options.creation_options = {"COMPRESS=DEFLATE", "OVERVIEWS=AUTO", "BLOCKSIZE=128"};
    const std::string path = dir.file("out." + std::string(driver == "COG" ? "tif" : "png"));
    RasterWriter writer(path, layout, options);
    fill(writer);
    writer.commit();
    const Raster raster = Raster::open(path);
    CHECK(raster.info().width == 300);
    if (driver == "COG") {
      GDALDataset* ds = static_cast<GDALDataset*>(raster.gdal_handle());
      const char* layout_item = ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE");
      REQUIRE(layout_item);
      CHECK(std::string(layout_item) == "COG");
      CHECK(raster.info().band(1).block_width == 128);
      CHECK(raster.info().geotransform == small_layout().geotransform);
      CHECK(luojia::test::read_band(path, 2)[301] == 1000 + 1 + 1);
    }
  }
  std::vector<std::string> names = dir.entries();
  std::sort(names.begin(), names.end());
  // PNG keeps its CRS and geotransform in a .aux.xml sidecar, which moves into place with it.
  CHECK(names == std::vector<std::string>{"out.png", "out.png.aux.xml", "out.tif"});
}

TEST_CASE("bad output requests are errors before anything is written", "[writer][errors]") {
  TempDir dir;
  const std::string path = dir.file("out.tif");
  OutputOptions options;
  options.creation_options = {"COMPRESS"};
  CHECK_THROWS_WITH(RasterWriter(path, small_layout(), options), path + ": creation option 'COMPRESS' is not KEY=VALUE");
  options.creation_options = {"COMPRESS=NO_SUCH_CODEC"};
  CHECK_THROWS_AS(RasterWriter(path, small_layout(), options), Error);
  options.creation_options = {};
  options.driver = "NoSuchFormat";
  CHECK_THROWS_WITH(RasterWriter(path, small_layout(), options), path + ": unknown raster output format 'NoSuchFormat'");
  const std::string nested = dir.file("missing/out.tif");
  CHECK_THROWS_WITH(RasterWriter(nested, small_layout()), nested + ": output folder " + dir.file("missing") + " does not exist");
  RasterLayout bad = small_layout();
  bad.type = DataType::Byte;
  bad.nodata = 300;
  CHECK_THROWS_AS(RasterWriter(path, bad), Error);
  // Root writes anywhere a permission bit allows; /proc refuses new files to everyone.
  CHECK_THROWS_AS(RasterWriter("/proc/luojia-out.tif", small_layout()), Error);
  CHECK(dir.entries().empty());
}
