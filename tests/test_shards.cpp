// --shard K/N and luojia-merge: shards merged equal the whole run bit for bit, for every streaming
// program; polygons joined across shard borders equal the whole run's; merge refuses what is not
// one job's complete set of shards.
#include "product_compare.hpp"
#include "program_runner.hpp"
#include "program_paths.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <filesystem>
#include <tuple>

namespace fs = std::filesystem;
using namespace luojia::test;

namespace {


ProgramResult run_ok(const std::vector<std::string>& argv) {
  const ProgramResult r = run_program(argv);
  INFO(argv[0] << ": " << r.err);
  REQUIRE(r.code == 0);
  return r;
}

std::string input_raster(const TempDir& dir) {
  RasterSpec spec;
  spec.width = 301;
  spec.height = 263;  // not a multiple of any tile or network stride
  spec.bands = 4;
  spec.type = GDT_Float32;
  spec.nodata = -1.0;
  make_raster(dir.file("in.tif"), spec, [](int b, int x, int y) {
    if ((x - 150) * (x - 150) + (y - 40) * (y - 40) < 60) return -1.0;  // a nodata hole on a shard border
    return 100.0 + 50.0 * std::sin(x / (7.0 + b)) * std::cos(y / 9.0) + b * 10.0;
  });
  return dir.file("in.tif");
}

}  // namespace

TEST_CASE("shards of every streaming program merge into the whole run, bit for bit", "[programs][shards]") {
  TempDir dir;
  const std::string in = input_raster(dir);
  RasterSpec later;
  later.width = 301;
  later.height = 263;
  later.bands = 4;
  later.type = GDT_Float32;
  make_raster(dir.file("later.tif"), later, [](int b, int x, int y) { return 100.0 + ((x / 20 + y / 30) % 3) * 20.0 + b; });
  struct Job {
    std::string name;
    std::vector<std::string> command;  // OUT and EXTRA (a second product) replaced
    std::string tile;
  };
  const std::vector<Job> jobs{
      {"index", {kIndex, "-q", in, "OUT", "--index", "ndvi,savi", "--red", "3", "--nir", "4"}, "64"},
      {"segment", {kSegment, "-q", in, LUOJIA_TEST_DATA "/nn/unet_op17.onnx", "OUT", "--probabilities", "EXTRA"}, "48"},
      {"segment, transposed convolutions", {kSegment, "-q", in, LUOJIA_TEST_DATA "/nn/convtranspose_decoder_op17.onnx", "OUT", "--logits", "EXTRA", "--bands", "4,2"}, "40"},
      {"classify", {kClassify, "-q", in, LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx", "OUT", "--window", "16", "--stride", "8", "--scores", "EXTRA"}, "64"},
      {"change", {kChange, "-q", in, dir.file("later.tif"), "OUT", "--threshold", "12", "--magnitude", "EXTRA"}, "64"},
  };
  for (const auto& job : jobs) {
    for (const int n : {2, 3}) {
      INFO(job.name << " in " << n << " shards");
      const auto command = [&](const std::string& out, const std::string& extra) {
        std::vector<std::string> argv;
        for (const auto& a : job.command) argv.push_back(a == "OUT" ? out : a == "EXTRA" ? extra : a);
        argv.insert(argv.end(), {"--tile", job.tile, "--overwrite"});
        return argv;
      };
      run_ok(command(dir.file("whole.tif"), dir.file("whole_extra.tif")));
      std::vector<std::string> parts, extras;
      for (int k = n; k >= 1; --k) {  // any order
        auto argv = command(dir.file("part" + std::to_string(k) + ".tif"), dir.file("extra" + std::to_string(k) + ".tif"));
        argv.insert(argv.end(), {"--shard", std::to_string(k) + "/" + std::to_string(n)});
        run_ok(argv);
        parts.push_back(dir.file("part" + std::to_string(k) + ".tif"));
        extras.push_back(dir.file("extra" + std::to_string(k) + ".tif"));
      }
      for (const std::string& format : {std::string("merged.vrt"), std::string("merged.tif")}) {
        std::vector<std::string> merge{kMerge, "-q", "--overwrite"};
        merge.insert(merge.end(), parts.begin(), parts.end());
        merge.push_back(dir.file(format));
        run_ok(merge);
        check_same(read_product(dir.file(format)), read_product(dir.file("whole.tif")));
      }
      if (std::find(job.command.begin(), job.command.end(), "EXTRA") == job.command.end()) continue;
      std::vector<std::string> merge{kMerge, "-q", "--overwrite", "-of", "COG"};
      merge.insert(merge.end(), extras.begin(), extras.end());
      merge.push_back(dir.file("merged_extra.tif"));
      run_ok(merge);
      check_same(read_product(dir.file("merged_extra.tif")), read_product(dir.file("whole_extra.tif")));
    }
  }
}

TEST_CASE("polygons of shards joined across borders equal the whole run's", "[programs][shards]") {
  TempDir dir;
  const std::string in = input_raster(dir);
  const std::string model = LUOJIA_TEST_DATA "/nn/unet_op17.onnx";
  run_ok({kSegment, "-q", in, model, dir.file("whole.tif"), "--vector", dir.file("whole.gpkg"), "--tile", "48"});
  std::vector<std::string> merge{kMerge, "-q"};
  for (int k = 1; k <= 3; ++k) {
    const std::string part = dir.file("part" + std::to_string(k));
    run_ok({kSegment, "-q", in, model, part + ".tif", "--vector", part + ".gpkg", "--tile", "48", "--shard", std::to_string(k) + "/3"});
    merge.push_back(part + ".gpkg");
  }
  merge.push_back(dir.file("merged.gpkg"));
  const ProgramResult r = run_ok(merge);
  // (class, area, mean confidence) of every polygon, sorted: the same set within float tolerance.
  const auto polygons = [](const std::string& path) {
    GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY);
    REQUIRE(ds);
    std::vector<std::tuple<int, double, double>> out;
    for (auto& f : *ds->GetLayer(0))
      out.emplace_back(f->GetFieldAsInteger("class_id"), OGR_G_Area(OGRGeometry::ToHandle(f->GetGeometryRef())), f->GetFieldAsDouble("mean_conf"));
    GDALClose(ds);
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto whole = polygons(dir.file("whole.gpkg")), merged = polygons(dir.file("merged.gpkg"));
  REQUIRE(whole.size() == merged.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    INFO("polygon " << i);
    CHECK(std::get<0>(whole[i]) == std::get<0>(merged[i]));
    CHECK(std::get<1>(merged[i]) == Approx(std::get<1>(whole[i])).epsilon(1e-9));
    CHECK(std::get<2>(merged[i]) == Approx(std::get<2>(whole[i])).epsilon(1e-5));
  }
  CHECK(r.err.empty());
}

TEST_CASE("luojia-merge refuses shards that are not one complete job", "[programs][shards]") {
  TempDir dir;
  const std::string in = input_raster(dir);
  for (int k = 1; k <= 3; ++k)
    run_ok({kIndex, "-q", in, dir.file("p" + std::to_string(k) + ".tif"), "--nd", "4,3", "--tile", "64", "--shard", std::to_string(k) + "/3"});
  run_ok({kIndex, "-q", in, dir.file("q1.tif"), "--nd", "4,3", "--tile", "32", "--shard", "1/4"});
  run_ok({kIndex, "-q", in, dir.file("two_bands.tif"), "--nd", "4,3", "--nd", "2,1", "--tile", "64", "--shard", "2/3"});
  run_ok({kIndex, "-q", in, dir.file("whole.tif"), "--nd", "4,3"});
  const std::string p1 = dir.file("p1.tif"), p2 = dir.file("p2.tif"), p3 = dir.file("p3.tif"), out = dir.file("out.tif");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string needle;
  };
  const std::vector<Case> cases{
      {{p1, p3, out}, 1, "1 of the 3 shards are missing: 2"},
      {{p1, p2, p2, p3, out}, 1, "is shard 2/3, and so is"},
      {{p1, dir.file("q1.tif"), p3, out}, 1, "is shard 1/4 but"},
      {{p1, dir.file("two_bands.tif"), p3, out}, 1, "has 2 bands"},
      {{p1, dir.file("whole.tif"), p3, out}, 1, "whole.tif: is not a luojia shard"},
      {{p1, p2, dir.file("nope.tif"), out}, 1, "nope.tif: no such file"},
      {{p1, p2, p3, p1}, 1, "is also an input"},
      {{p1, p2, p3, dir.file("none/out.tif")}, 1, "does not exist"},
      {{p1, p2, p3, out, "-of", "NOPE"}, 1, "unknown raster output format 'NOPE'"},
      {{out}, 2, "missing OUTPUT"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{kMerge, "-q"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    INFO(c.needle);
    const ProgramResult r = run_program(argv);
    CHECK(r.code == c.code);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(!fs::exists(out));
  }
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path().filename().string().find(".luojia-") == std::string::npos);
  // A shard count above the tile rows, and options that cannot be exact in shards.
  const ProgramResult many = run_program({kIndex, "-q", in, out, "--nd", "4,3", "--tile", "64", "--shard", "2/50"});
  CHECK(many.code == 1);
  CHECK(many.err.find("use at most 5") != std::string::npos);
  const ProgramResult otsu = run_program({kChange, "-q", in, in, out, "--shard", "1/2"});
  CHECK(otsu.code == 2);  // a usage error: the library names the option field, the program its flag
  CHECK(otsu.err.find("error: --threshold must be given when running a shard") != std::string::npos);
  const ProgramResult bad = run_program({kIndex, "-q", in, out, "--nd", "4,3", "--shard", "3/2"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--shard") != std::string::npos);
}

TEST_CASE("rasters over 4 GiB and wider or taller than 65535 pixels", "[programs][shards][big]") {
  TempDir dir;
  GDALAllRegister();
  // 70000 x 70000 x 4 bands of Byte: 19.6 GB as a BigTIFF, sparse on disk, data in two corners.
  {
    char** options = nullptr;
    for (const char* o : {"BIGTIFF=YES", "SPARSE_OK=TRUE", "TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512"}) options = CSLAddString(options, o);
    GDALDataset* ds = GetGDALDriverManager()->GetDriverByName("GTiff")->Create(dir.file("huge.tif").c_str(), 70000, 70000, 4, GDT_Byte, options);
    CSLDestroy(options);
    REQUIRE(ds);
    double gt[6] = {500000, 10, 0, 4000000, 0, -10};
    ds->SetGeoTransform(gt);
    OGRSpatialReference srs;
    srs.importFromEPSG(32618);
    ds->SetSpatialRef(&srs);
    std::vector<std::uint8_t> patch(600 * 600);
    for (int b = 1; b <= 4; ++b) {
      for (std::size_t i = 0; i < patch.size(); ++i) patch[i] = static_cast<std::uint8_t>(1 + (i * (b + 2)) % 200);
      ds->GetRasterBand(b)->SetNoDataValue(0);
      for (const int at : {0, 69400})
        REQUIRE(ds->GetRasterBand(b)->RasterIO(GF_Write, at, at, 600, 600, patch.data(), 600, 600, GDT_Byte, 0, 0) == CE_None);
    }
    GDALClose(ds);
  }
  CHECK(fs::file_size(dir.file("huge.tif")) < 64u << 20);
  const ProgramResult info = run_ok({kInfo, dir.file("huge.tif")});
  CHECK(info.out.find("70000 x 70000") != std::string::npos);
  // The last shard of 137 rows of 512 is the band of rows 69632 to 69999: offsets past 65535 and
  // a file past 4 GiB; its pixels must be where a closed-form NDVI puts them.
  const std::string last = "137/137";
  run_ok({kIndex, "-q", dir.file("huge.tif"), dir.file("ndvi.tif"), "--index", "ndvi", "--red", "3", "--nir", "4", "--shard", last});
  const Product ndvi = read_product(dir.file("ndvi.tif"));
  CHECK(ndvi.width == 70000);
  CHECK(ndvi.height == 70000 - 136 * 512);
  CHECK(ndvi.geotransform[3] == 4000000.0 - 10.0 * 136 * 512);
  const auto at = [&](int x, int y) { return ndvi.pixels[0][static_cast<std::size_t>(y - 136 * 512) * 70000 + static_cast<std::size_t>(x)]; };
  for (const auto& [x, y] : std::vector<std::pair<int, int>>{{69400, 69632}, {69999, 69999}, {69700, 69800}}) {
    const std::size_t i = static_cast<std::size_t>(y - 69400) * 600 + static_cast<std::size_t>(x - 69400);
    const double red = 1 + (i * 5) % 200, nir = 1 + (i * 6) % 200;
    INFO(x << "," << y);
    CHECK(at(x, y) == Approx((nir - red) / (nir + red)).epsilon(1e-6));
  }
  CHECK(at(100, 69700) == -9999.0);  // nodata outside the patches
  run_ok({kSegment, "-q", dir.file("huge.tif"), LUOJIA_TEST_DATA "/nn/unet_op17.onnx", dir.file("classes.tif"), "--shard", last});
  const Product classes = read_product(dir.file("classes.tif"));
  CHECK(classes.height == 70000 - 136 * 512);
  CHECK(classes.pixels[0][static_cast<std::size_t>(69800 - 136 * 512) * 70000 + 69700] != 255);
  CHECK(classes.pixels[0][static_cast<std::size_t>(69800 - 136 * 512) * 70000 + 100] == 255);
  run_ok({kClassify, "-q", dir.file("huge.tif"), LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx", dir.file("labels.tif"), "--window", "16", "--stride", "64", "--shard", "17/17"});
  CHECK(read_product(dir.file("labels.tif")).width == 1094);
  run_ok({kChange, "-q", dir.file("huge.tif"), dir.file("huge.tif"), dir.file("change.tif"), "--threshold", "1", "--shard", last});
  CHECK(read_product(dir.file("change.tif")).width == 70000);

  // Wide and tall: 70000 x 3 and 3 x 70000, whole, through every program.
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{70000, 3}, {3, 70000}}) {
    RasterSpec spec;
    spec.width = w;
    spec.height = h;
    spec.bands = 4;
    spec.type = GDT_Byte;
    const std::string name = dir.file("thin_" + std::to_string(w) + ".tif");
    make_raster(name, spec, [](int b, int x, int y) { return 1 + (x + y + b * 7) % 200; });
    run_ok({kIndex, "-q", name, dir.file("thin_ndvi.tif"), "--index", "ndvi", "--red", "3", "--nir", "4", "--overwrite"});
    const Product p = read_product(dir.file("thin_ndvi.tif"));
    const int x = w - 1, y = h - 1;
    const double red = 1 + (x + y + 14) % 200, nir = 1 + (x + y + 21) % 200;
    CHECK(p.pixels[0].back() == Approx((nir - red) / (nir + red)).epsilon(1e-6));
    run_ok({kSegment, "-q", name, LUOJIA_TEST_DATA "/nn/unet_op17.onnx", dir.file("thin_classes.tif"), "--overwrite"});
    CHECK(read_product(dir.file("thin_classes.tif")).width == w);
    run_ok({kChange, "-q", name, name, dir.file("thin_change.tif"), "--overwrite"});
    run_ok({kClassify, "-q", name, LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx", dir.file("thin_labels.tif"), "--window", "16", "--overwrite"});
    run_ok({LUOJIA_ASSESS_EXE, "-q", dir.file("thin_classes.tif"), dir.file("thin_classes.tif")});
  }
}
