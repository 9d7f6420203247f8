// Real-world rasters: GDAL mask bands (alpha, per-dataset, .msk, JPEG-in-TIFF, per-band) are
// nodata everywhere; 32-bit integer nodata is compared exactly; RPCs and GCPs reach the products.
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/io/raster.hpp>
#include <luojia/io/ortho.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/products/segmentation.hpp>
#include <luojia/products/spectral_index.hpp>

#include <catch2/catch.hpp>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>

using namespace luojia;
using luojia::test::TempDir;

namespace {

constexpr int kW = 37, kH = 29;  // not a multiple of the tiles below

// Pixel (x, y) is masked out in these tests: a blob, the left third, and one stray pixel.
bool masked(int x, int y) { return x < kW / 3 || (x - 25) * (x - 25) + (y - 14) * (y - 14) < 20 || (x == 30 && y == 3); }

double value(int b, int x, int y) { return 20.0 + 200.0 * luojia::test::hash01(b, x, y, 15); }

struct Dataset {
  std::unique_ptr<GDALDataset> ds;
  GDALDataset* operator->() const { return ds.get(); }
};

// A Byte GeoTIFF of `bands` bands with the given creation options.
Dataset create(const std::string& path, int bands, std::vector<std::string> options = {}) {
  GDALAllRegister();
  char** list = nullptr;
  for (const auto& o : options) list = CSLAddString(list, o.c_str());
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  Dataset d{std::unique_ptr<GDALDataset>(gtiff->Create(path.c_str(), kW, kH, bands, GDT_Byte, list))};
  CSLDestroy(list);
  REQUIRE(d.ds);
  double gt[6] = {431000.0, 2.0, 0.0, 3381000.0, 0.0, -2.0};
  d->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(32650);
  d->SetSpatialRef(&srs);
  return d;
}

void fill(GDALRasterBand* band, const std::function<double(int, int)>& f) {
  std::vector<std::uint8_t> v(kW * kH);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x) v[static_cast<std::size_t>(y * kW + x)] = static_cast<std::uint8_t>(f(x, y));
  REQUIRE(band->RasterIO(GF_Write, 0, 0, kW, kH, v.data(), kW, kH, GDT_Byte, 0, 0, nullptr) == CE_None);
}

void fill_mask(GDALRasterBand* mask) { fill(mask, [](int x, int y) { return masked(x, y) ? 0 : 255; }); }

// Each mask kind, made as GDAL makes it; returns the path and the kind luojia should report.
std::pair<std::string, MaskKind> masked_raster(const TempDir& dir, const std::string& kind) {
  const std::string path = dir.file(kind + ".tif");
  if (kind == "alpha") {
    Dataset d = create(path, 4, {"ALPHA=YES"});
    for (int b = 1; b <= 3; ++b) fill(d->GetRasterBand(b), [b](int x, int y) { return value(b, x, y); });
    // Partly transparent pixels are data: only alpha 0 is not.
    fill(d->GetRasterBand(4), [](int x, int y) { return masked(x, y) ? 0 : 1 + (x * 7 + y) % 255; });
    return {path, MaskKind::Alpha};
  }
  const bool jpeg = kind == "jpeg";
  Dataset d = create(path, 3, jpeg ? std::vector<std::string>{"COMPRESS=JPEG", "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"}
                                   : std::vector<std::string>{});
  for (int b = 1; b <= 3; ++b) fill(d->GetRasterBand(b), [b](int x, int y) { return value(b, x, y); });
  if (kind == "per-band") {
    REQUIRE(d->GetRasterBand(1)->CreateMaskBand(0) == CE_None);
    fill_mask(d->GetRasterBand(1)->GetMaskBand());
    return {path, MaskKind::PerBand};
  }
  const char* internal = kind == "msk" ? "NO" : "YES";  // .msk sidecar, or inside the TIFF
  CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", internal);
  REQUIRE(d->CreateMaskBand(GMF_PER_DATASET) == CE_None);
  CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", nullptr);
  fill_mask(d->GetRasterBand(1)->GetMaskBand());
  return {path, MaskKind::PerDataset};
}

// NDVI of bands 1 and 2 as GDAL reads them (JPEG is lossy: not what was written).
std::vector<double> ndvi_expected(const std::string& path) {
  const auto r = luojia::test::read_band(path, 1), n = luojia::test::read_band(path, 2);
  std::vector<double> out(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out[i] = (n[i] - r[i]) / (n[i] + r[i]);
  return out;
}

// Where GDAL's RPC or GCP transformer puts pixel (x, y) of a raster: longitude, latitude.
std::pair<double, double> place(const std::string& path, const char* method, double x, double y) {
  std::unique_ptr<GDALDataset> d(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER));
  REQUIRE(d);
  const std::string m = std::string("METHOD=") + method;
  const char* options[] = {m.c_str(), "DST_SRS=EPSG:4326", nullptr};
  void* t = GDALCreateGenImgProjTransformer2(GDALDataset::ToHandle(d.get()), nullptr, const_cast<char**>(options));
  REQUIRE(t);
  double px = x, py = y, pz = 0;
  int ok = 0;
  GDALGenImgProjTransform(t, FALSE, 1, &px, &py, &pz, &ok);
  GDALDestroyGenImgProjTransformer(t);
  REQUIRE(ok);
  return {std::round(px * 1e9) / 1e9, std::round(py * 1e9) / 1e9};
}

}  // namespace

TEST_CASE("GDAL masks (alpha, per-dataset, .msk, JPEG-in-TIFF, per-band) are nodata in every tile, halo included", "[masks]") {
  TempDir dir;
  for (const std::string kind : {"alpha", "internal", "msk", "jpeg", "per-band"}) {
    INFO(kind);
    const auto [path, expected_kind] = masked_raster(dir, kind);
    if (kind == "msk") CHECK(std::filesystem::exists(path + ".msk"));
    const RasterInfo info = Raster::open(path).info();
    CHECK(info.band(1).mask == expected_kind);
    if (kind == "per-band") CHECK(info.band(2).mask == MaskKind::AllValid);

    // Indices: NDVI (bands 1 and 2) is nodata where the mask is 0; band 3 alone only where its
    // own mask says so (per-band: nowhere).
    IndexJob job;
    job.indices = {IndexSpec{"NDVI", "", {}}, IndexSpec{"B3", "b3 * 1", {}}};
    job.bands = {{"R", 1}, {"N", 2}};
    job.tile = 8;
    const std::string out = dir.file(kind + "_ndvi.tif");
    compute_indices(path, out, job);
    const auto got = luojia::test::read_band(out, 1), got3 = luojia::test::read_band(out, 2);
    const auto want = ndvi_expected(path), b3 = luojia::test::read_band(path, 3);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) {
        const auto i = static_cast<std::size_t>(y * kW + x);
        INFO("pixel " << x << "," << y);
        if (masked(x, y)) {
          CHECK(got[i] == -9999.0);
          CHECK(got3[i] == (kind == "per-band" ? Approx(b3[i]) : Approx(-9999.0)));
        } else {
          CHECK(got[i] == Approx(want[i]).epsilon(1e-6));
          CHECK(got3[i] == Approx(b3[i]));
        }
      }
  }
}

TEST_CASE("a masked raster segments as the same raster with nodata there, tiled as whole", "[masks][segment]") {
  TempDir dir;
  // The 4-band test U-Net: a 4-band Float32 raster with a per-dataset mask, and the same values
  // with nodata -9999 where the mask is 0.
  const std::string with_mask = dir.file("masked.tif"), with_nodata = dir.file("nodata.tif");
  GDALAllRegister();
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  for (const std::string& path : {with_mask, with_nodata}) {
    std::unique_ptr<GDALDataset> d(gtiff->Create(path.c_str(), kW, kH, 4, GDT_Float32, nullptr));
    REQUIRE(d);
    for (int b = 1; b <= 4; ++b) {
      std::vector<float> v(kW * kH);
      for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x)
          v[static_cast<std::size_t>(y * kW + x)] =
              path == with_nodata && masked(x, y) ? -9999.0f : static_cast<float>((luojia::test::hash01(b, x, y, 3) - 0.5) * 4.0);
      REQUIRE(d->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, kW, kH, v.data(), kW, kH, GDT_Float32, 0, 0, nullptr) == CE_None);
      if (path == with_nodata) d->GetRasterBand(b)->SetNoDataValue(-9999.0);
    }
    if (path == with_mask) {
      REQUIRE(d->CreateMaskBand(GMF_PER_DATASET) == CE_None);
      fill_mask(d->GetRasterBand(1)->GetMaskBand());
    }
  }
  const std::string model = LUOJIA_TEST_DATA "/nn/unet_op17.onnx";
  const auto run = [&](const std::string& in, const std::string& name, std::int64_t tile) {
    SegmentOptions o;
    o.tile = tile;
    o.output.overwrite = true;
    o.logits = dir.file(name + "_logits.tif");
    segment(in, model, dir.file(name + ".tif"), o);
    return std::pair{luojia::test::read_band(dir.file(name + ".tif"), 1), luojia::test::read_band(dir.file(name + "_logits.tif"), 1)};
  };
  const auto reference = run(with_nodata, "nodata", 4096);
  for (std::int64_t tile : {4096, 16}) {
    INFO("tile " << tile);
    const auto got = run(with_mask, "mask_" + std::to_string(tile), tile);
    CHECK(got.first == reference.first);
    for (std::size_t i = 0; i < got.second.size(); ++i) {
      if (std::isnan(reference.second[i])) CHECK(std::isnan(got.second[i]));  // the logits' nodata
      else CHECK(got.second[i] == Approx(reference.second[i]).margin(1e-5));
    }
    std::size_t nodata = 0;
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        if (masked(x, y)) nodata += got.first[static_cast<std::size_t>(y * kW + x)] == *Raster::open(dir.file("mask_" + std::to_string(tile) + ".tif")).info().band(1).nodata;
    std::size_t want = 0;
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) want += masked(x, y);
    CHECK(nodata == want);
  }
}

TEST_CASE("an RGBA raster runs a 3-band model on its colour bands, the alpha band being the mask", "[masks]") {
  TempDir dir;
  const auto [rgba, kind] = masked_raster(dir, "alpha");
  CHECK(kind == MaskKind::Alpha);
  const auto [rgb, rgb_kind] = masked_raster(dir, "internal");  // same colour values, same mask
  // luojia-info names the mask.
  const auto info = luojia::test::run_program({luojia::test::kInfo, rgba});
  CHECK(info.code == 0);
  CHECK(info.out.find("mask: alpha") != std::string::npos);
  // The test detector takes 3 bands: no --bands needed, and the boxes are those of the same
  // colour bands under a per-dataset mask.
  const std::string model = LUOJIA_TEST_DATA "/detection/yolo8_tiny.onnx";
  const auto run = [&](const std::string& in, const std::string& out) {
    const auto r = luojia::test::run_program({luojia::test::kDetect, "-q", "--tile", "16", "--conf", "0.05", in, model, out});
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::unique_ptr<GDALDataset> d(GDALDataset::Open(out.c_str(), GDAL_OF_VECTOR));
    REQUIRE(d);
    std::vector<std::string> boxes;
    for (auto& f : *d->GetLayer(0)) boxes.push_back(std::to_string(f->GetFieldAsInteger("class_id")) + " " + f->GetFieldAsString("score"));
    std::sort(boxes.begin(), boxes.end());
    return boxes;
  };
  const auto a = run(rgba, dir.file("rgba.geojson")), b = run(rgb, dir.file("rgb.geojson"));
  CHECK(a == b);
}

TEST_CASE("32-bit integer nodata is compared exactly, not after conversion to float", "[masks]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 4;
  spec.height = 1;
  spec.type = GDT_Int32;
  spec.nodata = 16777217.0;  // 2^24 + 1: one float with 2^24
  const std::string in = dir.file("int32.tif");
  const double values[4] = {16777216.0, 16777217.0, 2147483647.0, -5.0};
  luojia::test::make_raster(in, spec, [&](int, int x, int) { return values[x]; });
  IndexJob job;
  job.indices = {IndexSpec{"V", "b1 - 16777000", {}}};
  const std::string out = dir.file("out.tif");
  compute_indices(in, out, job);
  const auto got = luojia::test::read_band(out, 1);
  CHECK(got[0] == 216.0);
  CHECK(got[1] == -9999.0);
  CHECK(got[2] == Approx(2147483647.0 - 16777000.0));
  CHECK(got[3] == -16777005.0);

  spec.type = GDT_UInt32;
  spec.nodata = 4294967295.0;
  const std::string u = dir.file("uint32.tif");
  const double uvalues[4] = {4294967294.0, 4294967295.0, 0.0, 1.0};
  luojia::test::make_raster(u, spec, [&](int, int x, int) { return uvalues[x]; });
  job.indices = {IndexSpec{"V", "b1 - 4294967000", {}}};
  job.output.overwrite = true;
  compute_indices(u, out, job);
  const auto ugot = luojia::test::read_band(out, 1);
  // Values go through float32 (4294967294 is 4294967296 there); only validity is exact.
  CHECK(ugot[0] == Approx(294.0).margin(256));
  CHECK(ugot[1] == -9999.0);
  CHECK(ugot[2] == Approx(-4294967000.0));
}

TEST_CASE("RPCs and GCPs of L1 imagery reach every raster product, shifted for shards", "[masks][georef]") {
  TempDir dir;
  GDALAllRegister();
  const std::string in = dir.file("l1.tif");
  const char* rpc[][2] = {{"LINE_OFF", "2000"}, {"SAMP_OFF", "3000"}, {"LAT_OFF", "30.5"}, {"LONG_OFF", "114.3"},
                          {"HEIGHT_OFF", "50"}, {"LINE_SCALE", "2000"}, {"SAMP_SCALE", "3000"}, {"LAT_SCALE", "0.05"},
                          {"LONG_SCALE", "0.06"}, {"HEIGHT_SCALE", "500"},
                          {"LINE_NUM_COEFF", "0 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"LINE_DEN_COEFF", "1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"SAMP_NUM_COEFF", "0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"SAMP_DEN_COEFF", "1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"}};
  {
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    char** tiled = CSLAddString(CSLAddString(CSLAddString(nullptr, "TILED=YES"), "BLOCKXSIZE=16"), "BLOCKYSIZE=16");
    std::unique_ptr<GDALDataset> d(gtiff->Create(in.c_str(), kW, 40, 2, GDT_UInt16, tiled));
    CSLDestroy(tiled);
    for (const auto& item : rpc) d->SetMetadataItem(item[0], item[1], "RPC");
    for (int b = 1; b <= 2; ++b) {
      std::vector<std::uint16_t> v(kW * 40, static_cast<std::uint16_t>(100 * b));
      REQUIRE(d->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, kW, 40, v.data(), kW, 40, GDT_UInt16, 0, 0, nullptr) == CE_None);
    }
  }
  const std::string gcp_in = dir.file("gcp.tif");
  {
    GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
    char** tiled = CSLAddString(CSLAddString(CSLAddString(nullptr, "TILED=YES"), "BLOCKXSIZE=16"), "BLOCKYSIZE=16");
    std::unique_ptr<GDALDataset> d(gtiff->Create(gcp_in.c_str(), kW, 40, 2, GDT_UInt16, tiled));
    CSLDestroy(tiled);
    GDAL_GCP gcps[3] = {{const_cast<char*>("1"), const_cast<char*>(""), 0.5, 0.5, 114.30, 30.50, 0},
                        {const_cast<char*>("2"), const_cast<char*>(""), 36.5, 0.5, 114.31, 30.50, 0},
                        {const_cast<char*>("3"), const_cast<char*>(""), 0.5, 39.5, 114.30, 30.49, 12}};
    OGRSpatialReference wgs84;
    wgs84.importFromEPSG(4326);
    wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    REQUIRE(d->SetGCPs(3, gcps, &wgs84) == CE_None);
    for (int b = 1; b <= 2; ++b) {
      std::vector<std::uint16_t> v(kW * 40, static_cast<std::uint16_t>(100 * b));
      REQUIRE(d->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, kW, 40, v.data(), kW, 40, GDT_UInt16, 0, 0, nullptr) == CE_None);
    }
  }
  IndexJob job;
  job.indices = {IndexSpec{"NDVI", "", {}}};
  job.bands = {{"R", 1}, {"N", 2}};
  job.tile = 16;
  const std::string out = dir.file("rpc_ndvi.tif"), gcp_out = dir.file("gcp_ndvi.tif");
  compute_indices(in, out, job);
  compute_indices(gcp_in, gcp_out, job);
  {
    std::unique_ptr<GDALDataset> d(GDALDataset::Open(out.c_str(), GDAL_OF_RASTER));
    REQUIRE(d);
    for (const auto& item : rpc) {
      INFO(item[0]);
      const char* got = d->GetMetadataItem(item[0], "RPC");
      REQUIRE(got);
      if (std::string(item[0]).find("COEFF") != std::string::npos) CHECK(CPLStringList(CSLTokenizeString(got)).size() == 20);
      else CHECK(std::stod(got) == Approx(std::stod(item[1])));
    }
  }
  CHECK(place(out, "RPC", 10, 12) == place(in, "RPC", 10, 12));
  CHECK(place(gcp_out, "GCP_POLYNOMIAL", 10, 12) == place(gcp_in, "GCP_POLYNOMIAL", 10, 12));
  {
    std::unique_ptr<GDALDataset> src(GDALDataset::Open(gcp_in.c_str(), GDAL_OF_RASTER));
    std::unique_ptr<GDALDataset> d(GDALDataset::Open(gcp_out.c_str(), GDAL_OF_RASTER));
    REQUIRE(d->GetGCPCount() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(d->GetGCPs()[i].dfGCPPixel == src->GetGCPs()[i].dfGCPPixel);
      CHECK(d->GetGCPs()[i].dfGCPLine == src->GetGCPs()[i].dfGCPLine);
      CHECK(d->GetGCPs()[i].dfGCPX == src->GetGCPs()[i].dfGCPX);
      CHECK(d->GetGCPs()[i].dfGCPY == src->GetGCPs()[i].dfGCPY);
      CHECK(d->GetGCPs()[i].dfGCPZ == src->GetGCPs()[i].dfGCPZ);
    }
    REQUIRE(d->GetGCPSpatialRef());
    CHECK(std::string(d->GetGCPSpatialRef()->GetAuthorityCode(nullptr)) == "4326");
  }
  // The second of two shards starts further down: its RPC line offset and GCP lines move up.
  job.stream.shard = Shard{1, 2};
  const std::string shard = dir.file("rpc_shard.tif"), gcp_shard = dir.file("gcp_shard.tif");
  compute_indices(in, shard, job);
  compute_indices(gcp_in, gcp_shard, job);
  const RasterInfo part = Raster::open(shard).info();
  std::int64_t first_row = 0;
  for (const auto& [k, v] : part.metadata)
    if (k == "LUOJIA_SHARD_WINDOW") first_row = std::stoll(v.substr(v.find(',') + 1));
  REQUIRE(first_row > 0);
  for (const auto& [k, v] : part.rpc) {
    if (k == "LINE_OFF") CHECK(std::stod(v) == 2000.0 - static_cast<double>(first_row));
    if (k == "SAMP_OFF") CHECK(std::stod(v) == 3000.0);
  }
  // GDAL places the shard's pixels where it places the whole raster's, as gdalwarp -rpc would.
  CHECK(place(shard, "RPC", 10, 2) == place(in, "RPC", 10, 2 + static_cast<double>(first_row)));
  CHECK(place(gcp_shard, "GCP_POLYNOMIAL", 10, 2) == place(gcp_in, "GCP_POLYNOMIAL", 10, 2 + static_cast<double>(first_row)));
  const RasterInfo gpart = Raster::open(gcp_shard).info();
  REQUIRE(gpart.gcps.size() == 3);
  CHECK(gpart.gcps[2].line == 39.5 - static_cast<double>(first_row));
  CHECK(gpart.gcps[2].pixel == 0.5);
}

namespace {

// The RPC raster of the test above, with `bands` bands of the given values: a sensor model that is
// a plain affine map near (114.3, 30.5).
void set_test_rpc(GDALDataset& d) {
  const char* rpc[][2] = {{"LINE_OFF", "20"}, {"SAMP_OFF", "30"}, {"LAT_OFF", "30.5"}, {"LONG_OFF", "114.3"}, {"HEIGHT_OFF", "0"},
                          {"LINE_SCALE", "200"}, {"SAMP_SCALE", "300"}, {"LAT_SCALE", "0.01"}, {"LONG_SCALE", "0.012"},
                          {"HEIGHT_SCALE", "500"},
                          {"LINE_NUM_COEFF", "0 0.01 -1 0 0.002 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"LINE_DEN_COEFF", "1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"SAMP_NUM_COEFF", "0 1 0.02 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"},
                          {"SAMP_DEN_COEFF", "1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"}};
  for (const auto& item : rpc) d.SetMetadataItem(item[0], item[1], "RPC");
}

// Each vertex of every feature of a vector product.
std::vector<std::vector<std::pair<double, double>>> rings_of(const std::string& path, std::string* authority = nullptr) {
  std::unique_ptr<GDALDataset> d(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR));
  REQUIRE(d);
  OGRLayer* layer = d->GetLayer(0);
  if (authority && layer->GetSpatialRef()) *authority = layer->GetSpatialRef()->GetAuthorityCode(nullptr);
  std::vector<std::vector<std::pair<double, double>>> rings;
  for (auto& f : *layer) {
    const OGRLinearRing* ring = f->GetGeometryRef()->toPolygon()->getExteriorRing();
    rings.emplace_back();
    for (int i = 0; i < ring->getNumPoints(); ++i) rings.back().emplace_back(ring->getX(i), ring->getY(i));
  }
  return rings;
}

}  // namespace

TEST_CASE("vector products of RPC imagery are placed through GDAL's RPC transformer, as gdaltransform -rpc", "[masks][georef]") {
  TempDir dir;
  GDALAllRegister();
  // The same 3-band image twice: with an identity geotransform (polygons come out in pixels) and
  // with RPCs instead.
  const std::string pixels = dir.file("pixels.tif"), sensor = dir.file("sensor.tif");
  for (const std::string& path : {pixels, sensor}) {
    std::unique_ptr<GDALDataset> d(GetGDALDriverManager()->GetDriverByName("GTiff")->Create(path.c_str(), 96, 64, 3, GDT_Byte, nullptr));
    REQUIRE(d);
    for (int b = 1; b <= 3; ++b) {
      std::vector<std::uint8_t> v(96 * 64);
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 96; ++x)
          v[static_cast<std::size_t>(y * 96 + x)] = static_cast<std::uint8_t>(((x / 12 + y / 9) % 3 == 0 ? 200 : 40) + 30 * luojia::test::hash01(b, x, y, 2));
      REQUIRE(d->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, 96, 64, v.data(), 96, 64, GDT_Byte, 0, 0, nullptr) == CE_None);
    }
    if (path == pixels) {
      double gt[6] = {0, 1, 0, 0, 0, 1};
      d->SetGeoTransform(gt);
    } else {
      set_test_rpc(*d);
    }
  }
  const std::string model = LUOJIA_TEST_DATA "/detection/yolo8_tiny.onnx";
  for (const char* ext : {".geojson", ".gpkg"}) {
    INFO(ext);
    const std::string a = dir.file(std::string("pixels") + ext), b = dir.file(std::string("sensor") + ext);
    for (const auto& [in, out] : {std::pair{pixels, a}, std::pair{sensor, b}}) {
      const auto r = luojia::test::run_program({luojia::test::kDetect, "-q", "--conf", "0.05", "--tile", "32", in, model, out});
      INFO(r.err);
      REQUIRE(r.code == 0);
      if (in == sensor) CHECK(r.err.find("RPCs") != std::string::npos);
    }
    std::string authority;
    const auto in_pixels = rings_of(a), placed = rings_of(b, &authority);
    CHECK(authority == "4326");
    REQUIRE(in_pixels.size() == placed.size());
    REQUIRE(!placed.empty());
    for (std::size_t f = 0; f < placed.size(); ++f)
      for (std::size_t i = 0; i < placed[f].size(); ++i) {
        const auto want = place(sensor, "RPC", in_pixels[f][i].first, in_pixels[f][i].second);
        CHECK(placed[f][i].first == Approx(want.first).margin(1e-8));
        CHECK(placed[f][i].second == Approx(want.second).margin(1e-8));
      }
  }
  // Segmentation polygons: the class map's pixel corners, placed.
  const std::string unet = LUOJIA_TEST_DATA "/nn/unet_op17.onnx";
  SegmentOptions o;
  o.bands = {1, 2, 3, 1};
  o.vector = dir.file("sensor_classes.gpkg");
  segment(sensor, unet, dir.file("sensor_classes.tif"), o);
  o.vector = dir.file("pixel_classes.gpkg");
  segment(pixels, unet, dir.file("pixel_classes.tif"), o);
  std::string authority;
  const auto polygons = rings_of(dir.file("sensor_classes.gpkg"), &authority), corners = rings_of(dir.file("pixel_classes.gpkg"));
  CHECK(authority == "4326");
  REQUIRE(polygons.size() == corners.size());
  REQUIRE(!polygons.empty());
  for (std::size_t f = 0; f < polygons.size(); ++f) {
    REQUIRE(polygons[f].size() == corners[f].size());
    for (std::size_t i = 0; i < polygons[f].size(); ++i) {
      const auto want = place(sensor, "RPC", corners[f][i].first, corners[f][i].second);
      CHECK(polygons[f][i].first == Approx(want.first).margin(1e-8));
      CHECK(polygons[f][i].second == Approx(want.second).margin(1e-8));
    }
  }
}

TEST_CASE("orthorectification on the fly (--ortho): RPC imagery read through a warped virtual raster, products on the grid gdalwarp -rpc makes", "[masks][georef]") {
  TempDir dir;
  GDALAllRegister();
  const std::string sensor = dir.file("l1.tif");
  {
    std::unique_ptr<GDALDataset> d(GetGDALDriverManager()->GetDriverByName("GTiff")->Create(sensor.c_str(), 96, 64, 2, GDT_UInt16, nullptr));
    REQUIRE(d);
    for (int b = 1; b <= 2; ++b) {
      std::vector<std::uint16_t> v(96 * 64);
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 96; ++x) v[static_cast<std::size_t>(y * 96 + x)] = static_cast<std::uint16_t>(100 * b + x * 3 + y * (b + 1));
      REQUIRE(d->GetRasterBand(b)->RasterIO(GF_Write, 0, 0, 96, 64, v.data(), 96, 64, GDT_UInt16, 0, 0, nullptr) == CE_None);
    }
    set_test_rpc(*d);
  }
  // The reference: GDAL's own warp of the same raster to a GeoTIFF, as gdalwarp -rpc does it.
  const std::string warped = dir.file("gdalwarp.tif");
  {
    CPLStringList argv;
    for (const char* a : {"-of", "GTiff", "-r", "bilinear", "-dstalpha", "-t_srs", "EPSG:32650", "-rpc"}) argv.AddString(a);
    GDALWarpAppOptions* o = GDALWarpAppOptionsNew(argv.List(), nullptr);
    GDALDatasetH src = GDALOpen(sensor.c_str(), GA_ReadOnly);
    GDALDatasetH out = GDALWarp(warped.c_str(), nullptr, 1, &src, o, nullptr);
    GDALWarpAppOptionsFree(o);
    REQUIRE(out);
    GDALClose(out);
    GDALClose(src);
  }
  const std::string product = dir.file("sum.tif");
  const auto r = luojia::test::run_program({luojia::test::kIndex, "-q", "--ortho", "--tile", "16", sensor, product, "--expr", "S=b1+b2"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const RasterInfo got = Raster::open(product).info(), want = Raster::open(warped).info();
  CHECK(got.epsg == 32650);
  REQUIRE(got.geotransform);
  REQUIRE(got.width == want.width);
  REQUIRE(got.height == want.height);
  for (int k = 0; k < 6; ++k) CHECK(got.geotransform->c[static_cast<std::size_t>(k)] == Approx(want.geotransform->c[static_cast<std::size_t>(k)]));
  const auto sum = luojia::test::read_band(product, 1), b1 = luojia::test::read_band(warped, 1), b2 = luojia::test::read_band(warped, 2),
             alpha = luojia::test::read_band(warped, 3);
  std::size_t outside = 0;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    if (alpha[i] == 0) {
      CHECK(sum[i] == -9999.0);
      ++outside;
    } else {
      CHECK(sum[i] == Approx(b1[i] + b2[i]));
    }
  }
  CHECK(outside > 0);  // the warped footprint does not fill its bounding grid
  // A raster already on a map grid, or without a sensor model, is refused with one line.
  const auto refused = luojia::test::run_program({luojia::test::kIndex, "-q", "--ortho", warped, dir.file("no.tif"), "--expr", "S=b1"});
  CHECK(refused.code == 1);
  CHECK(refused.err.find("geotransform already") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("no.tif")));
}

TEST_CASE("an OrthoView's virtual raster lives as long as the view, and a refused input leaves none", "[masks][georef]") {
  TempDir dir;
  GDALAllRegister();
  const std::string sensor = dir.file("l1.tif");
  {
    std::unique_ptr<GDALDataset> d(GetGDALDriverManager()->GetDriverByName("GTiff")->Create(sensor.c_str(), 32, 24, 1, GDT_Byte, nullptr));
    REQUIRE(d);
    set_test_rpc(*d);
  }
  const auto exists = [](const std::string& path) {
    VSIStatBufL stat;
    return VSIStatL(path.c_str(), &stat) == 0;
  };
  std::string path;
  {
    luojia::OrthoView view(sensor);
    path = view.path();
    CHECK(path.rfind("/vsimem/", 0) == 0);
    CHECK(exists(path));
    CHECK(luojia::Raster::open(path).info().geotransform);
    luojia::OrthoView moved = std::move(view);
    CHECK(moved.path() == path);
    CHECK(view.path().empty());
    CHECK(exists(path));
  }
  CHECK_FALSE(exists(path));
  // On a map grid already: refused, and nothing is left in /vsimem/.
  char** before = VSIReadDir("/vsimem/");
  const int count = CSLCount(before);
  CSLDestroy(before);
  luojia::test::make_raster(dir.file("grid.tif"), luojia::test::RasterSpec{}, [](int, int x, int) { return x; });
  CHECK_THROWS_WITH(luojia::OrthoView(dir.file("grid.tif")), Catch::Contains("geotransform already"));
  char** after = VSIReadDir("/vsimem/");
  CHECK(CSLCount(after) == count);
  CSLDestroy(after);
}
