// The MPI build (LUOJIA_MPI): luojia-index and luojia-segment under mpirun with 3 ranks give the
// single-process products bit for bit, leave no shard files, and fail as one job.
#include "product_compare.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace fs = std::filesystem;
using namespace luojia::test;

namespace {

std::vector<std::string> mpirun(int ranks, std::vector<std::string> command) {
  // Open MPI refuses root unless told; CI containers run as root.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  std::vector<std::string> argv{LUOJIA_MPIEXEC, "--oversubscribe", "-np", std::to_string(ranks)};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

// A vector product's features as sorted lines: class, score and geometry, as written.
std::vector<std::string> features(const std::string& path) {
  GDALAllRegister();
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  std::vector<std::string> out;
  for (auto& f : *ds->GetLayer(0)) {
    char* wkt = nullptr;
    f->GetGeometryRef()->exportToWkt(&wkt);
    char score[32];
    std::snprintf(score, sizeof score, "%.7g", f->GetFieldAsDouble("score"));
    out.push_back(std::to_string(f->GetFieldAsInteger("class_id")) + " " + score + " " + wkt);
    CPLFree(wkt);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("luojia-detect under mpirun -np 3 writes the boxes of one process, in the format asked for", "[programs][mpi]") {
  TempDir dir;
  const std::string scene = LUOJIA_SOURCE_DIR "/data/spacenet4_atlanta.tif", model = LUOJIA_SOURCE_DIR "/data/demo_buildings.onnx";
  const auto ok = [](const ProgramResult& r) {
    INFO(r.err);
    REQUIRE(r.code == 0);
  };
  ok(run_program({LUOJIA_DETECT_EXE, "-q", scene, model, dir.file("one.geojson"), "--tile", "128", "--threads", "1"}));
  // GeoJSON out: the shards are GeoPackages all the same (they carry their border candidates).
  ok(run_program(mpirun(3, {LUOJIA_DETECT_EXE, "-q", scene, model, dir.file("three.geojson"), "--tile", "128", "--threads", "1"})));
  const auto one = features(dir.file("one.geojson")), three = features(dir.file("three.geojson"));
  CHECK(one.size() > 20);
  CHECK(three == one);
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path().filename().string().find(".luojia-") == std::string::npos);
  // Pixel boxes: rank 0's merge writes them, the single run's.
  ok(run_program({LUOJIA_DETECT_EXE, "-q", scene, model, dir.file("one.gpkg"), "--tile", "128", "--pixel-boxes", dir.file("one.json")}));
  const ProgramResult boxes = run_program(
      mpirun(2, {LUOJIA_DETECT_EXE, "-q", scene, model, dir.file("boxes.gpkg"), "--tile", "128", "--pixel-boxes", dir.file("boxes.json")}));
  ok(boxes);
  CHECK(boxes.out == dir.file("boxes.gpkg") + "\n" + dir.file("boxes.json") + "\n");
  const auto annotations = [](const std::string& path) {
    std::ifstream in(path);
    const nlohmann::json doc = nlohmann::json::parse(in);
    std::vector<std::pair<double, std::string>> out;
    for (const auto& a : doc["annotations"]) out.emplace_back(a["score"].get<double>(), a["bbox"].dump());
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(annotations(dir.file("boxes.json")) == annotations(dir.file("one.json")));
  CHECK(annotations(dir.file("boxes.json")).size() > 20);
  // Instance segmentation: the ranks' border candidates carry their masks; rank 0 suppresses them.
  const std::string segmenter = LUOJIA_SOURCE_DIR "/data/demo_footprints.onnx";
  ok(run_program({LUOJIA_DETECT_EXE, "-q", scene, segmenter, dir.file("fp_one.gpkg"), "--tile", "128"}));
  ok(run_program(mpirun(2, {LUOJIA_DETECT_EXE, "-q", scene, segmenter, dir.file("fp_two.gpkg"), "--tile", "128"})));
  const auto one_fp = features(dir.file("fp_one.gpkg")), two_fp = features(dir.file("fp_two.gpkg"));
  CHECK(one_fp.size() > 10);
  CHECK(two_fp == one_fp);
}

TEST_CASE("mpirun -np 3 equals one process, bit for bit", "[programs][mpi]") {
  TempDir dir;
  RasterSpec spec;
  spec.width = 517;
  spec.height = 389;
  spec.bands = 4;
  spec.type = GDT_Float32;
  spec.nodata = -1.0;
  make_raster(dir.file("in.tif"), spec, [](int b, int x, int y) {
    if (x > 200 && x < 230 && y > 120 && y < 140) return -1.0;
    return 100.0 + 40.0 * std::sin(x / (6.0 + b)) * std::cos(y / 11.0) + 5.0 * b;
  });
  const std::string in = dir.file("in.tif");
  const std::string model = LUOJIA_TEST_DATA "/nn/unet_op17.onnx";
  const auto ok = [](const ProgramResult& r) {
    INFO(r.err);
    REQUIRE(r.code == 0);
  };
  ok(run_program({LUOJIA_SEGMENT_EXE, "-q", in, model, dir.file("one.tif"), "--probabilities", dir.file("one_p.tif"), "--tile", "64",
                  "--threads", "1"}));
  ok(run_program(mpirun(3, {LUOJIA_SEGMENT_EXE, "-q", in, model, dir.file("three.tif"), "--probabilities", dir.file("three_p.tif"),
                            "--tile", "64", "--threads", "1"})));
  check_same(read_product(dir.file("three.tif")), read_product(dir.file("one.tif")));
  check_same(read_product(dir.file("three_p.tif")), read_product(dir.file("one_p.tif")));
  ok(run_program({LUOJIA_INDEX_EXE, "-q", in, dir.file("one_ndvi.tif"), "--index", "ndvi,evi", "--blue", "1", "--red", "3", "--nir", "4",
                  "--tile", "96"}));
  ok(run_program(mpirun(3, {LUOJIA_INDEX_EXE, "-q", in, dir.file("three_ndvi.tif"), "--index", "ndvi,evi", "--blue", "1", "--red", "3",
                            "--nir", "4", "--tile", "96", "-of", "COG"})));
  check_same(read_product(dir.file("three_ndvi.tif")), read_product(dir.file("one_ndvi.tif")));
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path().filename().string().find(".luojia-") == std::string::npos);
  // -of VRT: instant merge, the shards kept beside it under visible names.
  ok(run_program(mpirun(3, {LUOJIA_INDEX_EXE, "-q", in, dir.file("three_ndvi.vrt"), "-of", "VRT", "--index", "ndvi,evi", "--blue", "1",
                            "--red", "3", "--nir", "4", "--tile", "96"})));
  check_same(read_product(dir.file("three_ndvi.vrt")), read_product(dir.file("one_ndvi.tif")));
  CHECK(fs::exists(dir.file("three_ndvi.shard-3-of-3.tif")));

  // Classify (cells) and change (with a threshold) the same way.
  ok(run_program({LUOJIA_CLASSIFY_EXE, "-q", in, LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx", dir.file("one_labels.tif"), "--window",
                  "16", "--stride", "8", "--tile", "64"}));
  ok(run_program(mpirun(3, {LUOJIA_CLASSIFY_EXE, "-q", in, LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx", dir.file("three_labels.tif"),
                            "--window", "16", "--stride", "8", "--tile", "64"})));
  check_same(read_product(dir.file("three_labels.tif")), read_product(dir.file("one_labels.tif")));
  make_raster(dir.file("later.tif"), spec, [](int b, int x, int y) { return 100.0 + ((x / 40 + y / 25) % 3) * 15.0 + 5.0 * b; });
  const std::string later = dir.file("later.tif");
  ok(run_program({LUOJIA_CHANGE_EXE, "-q", in, later, dir.file("one_change.tif"), "--threshold", "30", "--tile", "64", "--magnitude",
                  dir.file("one_m.tif")}));
  ok(run_program(mpirun(3, {LUOJIA_CHANGE_EXE, "-q", in, later, dir.file("three_change.tif"), "--threshold", "30", "--tile", "64",
                            "--magnitude", dir.file("three_m.tif")})));
  check_same(read_product(dir.file("three_m.tif")), read_product(dir.file("one_m.tif")));
  check_same(read_product(dir.file("three_change.tif")), read_product(dir.file("one_change.tif")));

  // One rank's failure is the job's: a shard count above the tile rows fails on every rank.
  const ProgramResult many = run_program(mpirun(3, {LUOJIA_INDEX_EXE, "-q", in, dir.file("many.tif"), "--nd", "4,3", "--tile", "4096"}));
  CHECK(many.code != 0);
  CHECK(many.err.find("cannot cut 1 row of tiles into 3 shards") != std::string::npos);
  CHECK(!fs::exists(dir.file("many.tif")));
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path().filename().string().find(".luojia-") == std::string::npos);
}
