// Instance segmentation's exactness: tiled masks equal one whole-image PyTorch run of random
// YOLOv8-seg-style models (tools/make_instance_sweep.py), the masks made there from the formulas
// (coefficients . prototypes, bilinear upsampling, crop to the box, logit above 0).
#include "detection_cases.hpp"
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/products/detection.hpp>
#include <luojia/products/merge.hpp>

#include <catch2/catch.hpp>
#include <gdal_alg.h>
#include <gdal_priv.h>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

using namespace luojia;
using luojia::test::TempDir;

namespace {

const std::string kInstances = LUOJIA_TEST_DATA "/detection/instances/";
const std::string kSweep = LUOJIA_TEST_DATA "/detection/sweep/";
constexpr const double* kGeo = luojia::test::kCaseGeotransform;
using luojia::test::read_json;

const nlohmann::json& manifest() {
  static const nlohmann::json m = read_json(kInstances + "manifest.json");
  return m;
}

// The sweep's image of a case as a georeferenced 3-band GeoTIFF (with its nodata, if any).
std::string case_raster(TempDir& dir, const std::string& name) {
  return luojia::test::u8_raster(dir, kSweep, manifest()["cases"][name], name);
}

// A window of pixels, 1 inside.
struct Grid {
  std::int64_t x0 = 0, y0 = 0, width = 0, height = 0;
  std::vector<std::uint8_t> inside;
  std::int64_t count() const { return std::count(inside.begin(), inside.end(), 1); }
};

Grid from_runs(const nlohmann::json& m, const char* which) {
  Grid g{m["x0"], m["y0"], m["width"], m["height"], {}};
  g.inside.assign(static_cast<std::size_t>(g.width * g.height), 0);
  std::size_t at = 0, k = 0;
  for (const auto& run : m[which]) {
    const auto n = run.get<std::size_t>();
    if (k++ % 2 == 1) std::fill_n(g.inside.begin() + static_cast<std::ptrdiff_t>(at), n, 1);
    at += n;
  }
  REQUIRE(at == g.inside.size());
  return g;
}

// luojia's COCO RLE (column-major over the image) onto window like's pixels; out_of_window counts
// the pixels inside that fall outside it.
Grid from_coco(const nlohmann::json& segmentation, const Grid& like, std::int64_t& out_of_window) {
  const std::int64_t h = segmentation["size"][0], w = segmentation["size"][1];
  Grid g = like;
  g.inside.assign(g.inside.size(), 0);
  std::int64_t at = 0, total = 0;
  bool in = false;
  out_of_window = 0;
  for (const auto& c : segmentation["counts"]) {
    const std::int64_t n = c.get<std::int64_t>();
    if (in)
      for (std::int64_t p = at; p < at + n; ++p) {
        const std::int64_t x = p / h - g.x0, y = p % h - g.y0;
        if (x < 0 || y < 0 || x >= g.width || y >= g.height) ++out_of_window;
        else g.inside[static_cast<std::size_t>(y * g.width + x)] = 1;
      }
    at += n;
    total += n;
    in = !in;
  }
  CHECK(total == w * h);
  return g;
}

struct Run {
  DetectReport report;
  nlohmann::json annotations;
};

Run run(Raster& raster, const nn::Model& model, TempDir& dir, std::int64_t tile, DetectOptions o = {}) {
  o.tile = tile;
  o.stream.threads = 2;
  o.overwrite = true;
  o.pixel_boxes = dir.file("boxes.json");
  Run r;
  r.report = detect(raster, model, dir.file("instances.gpkg"), o);
  r.annotations = read_json(o.pixel_boxes)["annotations"];
  return r;
}

// Every reference instance with a sure pixel is found, every one found is a reference instance
// (class, score, box), and its mask lies between the reference's sure and maybe masks.
std::int64_t check_against_reference(const nlohmann::json& got, const nlohmann::json& want) {
  std::vector<bool> matched(want.size(), false);
  std::int64_t pixels = 0;
  for (const auto& a : got) {
    const double score = a["score"];
    std::size_t k = 0;
    while (k < want.size() && !(std::fabs(want[k]["score"].get<double>() - score) < 1e-5 && want[k]["class_id"] == a["category_id"]))
      ++k;
    INFO("instance of score " << score);
    REQUIRE(k < want.size());
    matched[k] = true;
    const nlohmann::json& ref = want[k];
    const double x0 = ref["cx"].get<double>() - ref["width"].get<double>() / 2, y0 = ref["cy"].get<double>() - ref["height"].get<double>() / 2;
    CHECK(a["bbox"][0].get<double>() == Approx(x0).margin(2e-3));
    CHECK(a["bbox"][1].get<double>() == Approx(y0).margin(2e-3));
    REQUIRE(!ref["mask"].is_null());
    const Grid sure = from_runs(ref["mask"], "sure"), maybe = from_runs(ref["mask"], "maybe");
    std::int64_t outside = 0;
    const Grid mask = from_coco(a["segmentation"], sure, outside);
    CHECK(outside == 0);
    std::int64_t missing = 0, extra = 0;
    for (std::size_t i = 0; i < mask.inside.size(); ++i) {
      missing += sure.inside[i] && !mask.inside[i];
      extra += mask.inside[i] && !maybe.inside[i];
    }
    CHECK(missing == 0);
    CHECK(extra == 0);
    CHECK(a["area"].get<std::int64_t>() == mask.count());
    pixels += mask.count();
  }
  for (std::size_t k = 0; k < want.size(); ++k) {
    INFO("reference instance " << k << " of score " << want[k]["score"].get<double>());
    if (!want[k]["mask"].is_null() && from_runs(want[k]["mask"], "sure").count() > 0) CHECK(matched[k]);
  }
  return pixels;
}

}  // namespace

// One model of the sweep over every case at tiles 32 to 512: masks compared, and masks whose
// prototypes reached past their tile (made from windows of their own).
struct SweepCount {
  std::int64_t pixels = 0, own_windows = 0;
};

SweepCount sweep_model(const std::string& model) {
  TempDir dir;
  std::map<std::string, std::string> rasters;
  for (const auto& [name, c] : manifest()["cases"].items()) rasters[name] = case_raster(dir, name);
  const nn::Model loaded = nn::Model::load(kInstances + model + ".onnx");
  SweepCount count;
  for (const auto& [name, path] : rasters) {
    Raster raster = Raster::open(path);
    const nlohmann::json want = read_json(kInstances + model + "_" + name + ".json");
    for (std::int64_t tile : {32, 64, 96, 160, 256, 512}) {
      INFO(model << " on " << name << ", tile " << tile);
      const Run r = run(raster, loaded, dir, tile);
      CHECK(r.report.exact);
      CHECK(r.report.layout == DetectionLayout::Yolo8Segment);
      count.pixels += check_against_reference(r.annotations, want);
      count.own_windows += r.report.masks_from_own_window;
    }
  }
  return count;
}

// Each model is its own test, so that ctest runs them side by side.
TEST_CASE("instance masks tiled from 32 to 512 on odd sizes equal the whole-image PyTorch masks - PAN neck with SPPF and 32 prototypes",
          "[detect][instances]") {
  const SweepCount c = sweep_model("seg_pan");
  CHECK(c.pixels > 5 * manifest()["models"]["seg_pan"]["mask_pixels"].get<std::int64_t>());
}

TEST_CASE("instance masks tiled from 32 to 512 on odd sizes equal the whole-image PyTorch masks - four levels and boxes past 800 px",
          "[detect][instances]") {
  const SweepCount c = sweep_model("seg_four");
  CHECK(c.pixels > 5 * manifest()["models"]["seg_four"]["mask_pixels"].get<std::int64_t>());
}

TEST_CASE("instance masks tiled from 32 to 512 on odd sizes equal the whole-image PyTorch masks - no neck and 8 prototypes",
          "[detect][instances]") {
  const SweepCount c = sweep_model("seg_no_neck");
  CHECK(c.pixels > 5 * manifest()["models"]["seg_no_neck"]["mask_pixels"].get<std::int64_t>());
  // Its prototypes' small radius leaves little past the tile: masks made from windows of their own.
  CHECK(c.own_windows > 10);
}

TEST_CASE("with a box reach every mask is made in its own tile, and the masks do not change", "[detect][instances]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_no_neck.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  const nlohmann::json want = read_json(kInstances + "seg_no_neck_large.json");
  DetectOptions o;
  o.box_reach = manifest()["models"]["seg_no_neck"]["largest_side"].get<double>();
  const Run r = run(raster, model, dir, 96, o);
  CHECK(r.report.masks_from_own_window == 0);
  CHECK(r.report.halo >= r.report.box_reach.value());
  CHECK(check_against_reference(r.annotations, want) > 0);
}

TEST_CASE("instance polygons are the masks: holes and parts kept, in the raster's CRS", "[detect][instances]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_pan.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  const Run r = run(raster, model, dir, 160);
  REQUIRE(r.annotations.size() > 3);
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(dir.file("instances.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  OGRLayer* layer = ds->GetLayerByName("instances");
  REQUIRE(layer);
  REQUIRE(layer->GetSpatialRef());
  CHECK(std::string(layer->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32650");
  REQUIRE(layer->GetFeatureCount() == static_cast<GIntBig>(r.annotations.size()));
  int holes = 0, multipart = 0;
  for (auto& f : *layer) {
    const double score = f->GetFieldAsDouble("score");
    const auto a = std::find_if(r.annotations.begin(), r.annotations.end(), [&](const nlohmann::json& x) { return x["score"].get<double>() == Approx(score); });
    REQUIRE(a != r.annotations.end());
    OGRGeometry* g = f->GetGeometryRef();
    REQUIRE(g);
    REQUIRE(wkbFlatten(g->getGeometryType()) == wkbMultiPolygon);
    const OGRMultiPolygon* parts = g->toMultiPolygon();
    multipart += parts->getNumGeometries() > 1;
    for (const OGRPolygon* p : *parts) holes += p->getNumInteriorRings();
    // Burnt back into the raster's pixels (a pixel burns when its centre is inside), the polygons
    // are the mask of the pixel boxes, pixel for pixel.
    const std::int64_t w = raster.info().width, h = raster.info().height;
    GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
    std::unique_ptr<GDALDataset> burnt(mem->Create("", static_cast<int>(w), static_cast<int>(h), 1, GDT_Byte, nullptr));
    double gt[6];
    std::copy(kGeo, kGeo + 6, gt);
    burnt->SetGeoTransform(gt);
    int band = 1;
    double value = 1;
    OGRGeometryH geometry = OGRGeometry::ToHandle(g);
    REQUIRE(GDALRasterizeGeometries(GDALDataset::ToHandle(burnt.get()), 1, &band, 1, &geometry, nullptr, nullptr, &value, nullptr,
                                    nullptr, nullptr) == CE_None);
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(w * h));
    REQUIRE(burnt->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, static_cast<int>(w), static_cast<int>(h), pixels.data(), static_cast<int>(w),
                                              static_cast<int>(h), GDT_Byte, 0, 0, nullptr) == CE_None);
    Grid whole{0, 0, w, h, std::vector<std::uint8_t>(pixels.size(), 0)};
    std::int64_t outside = 0;
    const Grid mask = from_coco((*a)["segmentation"], whole, outside);
    CHECK(mask.inside == pixels);
    CHECK(f->GetFieldAsDouble("area") == Approx(static_cast<double>(mask.count()) * 0.25));
  }
  CHECK(holes > 0);
  CHECK(multipart > 0);
}

TEST_CASE("instance segmentation refuses what it cannot do, before writing", "[detect][instances]") {
  TempDir dir;
  const nn::Model seg = nn::Model::load(kInstances + "seg_four.onnx");
  const nn::Model boxes = nn::Model::load(kSweep + "pan_sppf.onnx");
  Raster raster = Raster::open(case_raster(dir, "odd"));
  const std::string out = dir.file("refused.gpkg");
  const auto refused = [&](const nn::Model& model, const DetectOptions& o, const std::string& says) {
    INFO(says);
    CHECK_THROWS_WITH(detect(raster, model, out, o), Catch::Contains(says));
    CHECK_FALSE(std::filesystem::exists(out));
  };
  DetectOptions o;
  o.tta = DetectionAugmentation::Flips;
  refused(seg, o, "tta is not applied to instance masks");
  o = {};
  o.stream.shard = Shard{0, 2};
  o.instance_raster = dir.file("ids.tif");
  refused(seg, o, "instance_raster cannot be written by shards");
  CHECK_FALSE(std::filesystem::exists(o.instance_raster));
  o = {};
  o.layout = DetectionLayout::Yolo8;
  refused(seg, o, "yolo8-seg");
  o = {};
  o.layout = DetectionLayout::Yolo8Segment;
  refused(boxes, o, "no second output of prototypes");
  o = {};
  o.simplify = 1;
  refused(boxes, o, "simplify applies to instance masks");
  o = {};
  o.instance_raster = dir.file("ids.tif");
  refused(boxes, o, "instance_raster is written for instance masks");
  CHECK_FALSE(std::filesystem::exists(o.instance_raster));
}

TEST_CASE("the instance-id raster: a COG on the input's grid, each pixel the best instance covering it", "[detect][instances]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_pan.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  const std::int64_t w = raster.info().width, h = raster.info().height;
  DetectOptions o;
  o.instance_raster = dir.file("ids.tif");
  const Run r = run(raster, model, dir, 96, o);
  REQUIRE(r.annotations.size() > 3);
  std::unique_ptr<GDALDataset> ids(GDALDataset::Open(o.instance_raster.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  REQUIRE(ids);
  CHECK(std::string(ids->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE")) == "COG");
  GDALRasterBand* band = ids->GetRasterBand(1);
  CHECK(band->GetRasterDataType() == GDT_UInt32);
  int has_nodata = 0;
  CHECK(band->GetNoDataValue(&has_nodata) == 0.0);
  CHECK(has_nodata);
  double gt[6];
  REQUIRE(ids->GetGeoTransform(gt) == CE_None);
  CHECK(std::equal(gt, gt + 6, kGeo));
  CHECK(std::string(ids->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32650");
  std::vector<std::uint32_t> got(static_cast<std::size_t>(w * h));
  REQUIRE(band->RasterIO(GF_Read, 0, 0, static_cast<int>(w), static_cast<int>(h), got.data(), static_cast<int>(w), static_cast<int>(h),
                         GDT_UInt32, 0, 0, nullptr) == CE_None);
  // Feature k of the vector output is id k: its score, and the masks of the pixel boxes by score.
  std::unique_ptr<GDALDataset> vec(GDALDataset::Open(dir.file("instances.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(vec);
  std::vector<double> score_of_id{0.0};
  for (auto& f : *vec->GetLayerByName("instances")) score_of_id.push_back(f->GetFieldAsDouble("score"));
  // The expected owner of each pixel: the highest score among the masks covering it.
  std::vector<double> best(got.size(), 0.0);
  const Grid whole{0, 0, w, h, std::vector<std::uint8_t>(got.size(), 0)};
  for (const auto& a : r.annotations) {
    std::int64_t outside = 0;
    const Grid mask = from_coco(a["segmentation"], whole, outside);
    for (std::size_t i = 0; i < got.size(); ++i)
      if (mask.inside[i]) best[i] = std::max(best[i], a["score"].get<double>());
  }
  std::int64_t painted = 0, wrong = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    REQUIRE(got[i] < score_of_id.size());
    const double owner = score_of_id[got[i]];
    wrong += std::fabs(owner - best[i]) > 1e-9;
    painted += got[i] != 0;
  }
  CHECK(wrong == 0);
  CHECK(painted > 1000);
}

TEST_CASE("the bundled demo footprint segmenter on its SpaceNet 4 scene: georeferenced instances, tiled as whole",
          "[detect][instances]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(LUOJIA_SOURCE_DIR "/data/demo_footprints.onnx");
  Raster raster = Raster::open(LUOJIA_SOURCE_DIR "/data/spacenet4_atlanta.tif");
  DetectOptions o;
  o.overwrite = true;
  o.tile = 1024;  // one tile: the whole scene
  o.pixel_boxes = dir.file("whole.json");
  const DetectReport whole = detect(raster, model, dir.file("whole.gpkg"), o);
  o.tile = 128;
  o.pixel_boxes = dir.file("tiled.json");
  o.instance_raster = dir.file("ids.tif");
  const DetectReport tiled = detect(raster, model, dir.file("tiled.gpkg"), o);
  CHECK(whole.tiles == 1);
  CHECK(tiled.tiles == 64);
  CHECK(tiled.layout == DetectionLayout::Yolo8Segment);
  CHECK(whole.detections > 10);
  CHECK(tiled.detections == whole.detections);
  // The model's box reach makes every mask in its own tile; the masks are the whole run's.
  CHECK(tiled.masks_from_own_window == 0);
  const auto by_score = [](nlohmann::json a) {
    std::sort(a.begin(), a.end(), [](const nlohmann::json& x, const nlohmann::json& y) { return x["score"] > y["score"]; });
    return a;
  };
  const nlohmann::json w = by_score(read_json(dir.file("whole.json"))["annotations"]), t = by_score(read_json(dir.file("tiled.json"))["annotations"]);
  REQUIRE(w.size() == t.size());
  for (std::size_t i = 0; i < w.size(); ++i) CHECK(w[i]["segmentation"] == t[i]["segmentation"]);
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(dir.file("tiled.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  CHECK(std::string(ds->GetLayer(0)->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32616");
  OGREnvelope extent;
  REQUIRE(ds->GetLayer(0)->GetExtent(&extent) == OGRERR_NONE);
  const auto gt = *raster.info().geotransform;
  // Masks are cut to the scene.
  CHECK(extent.MinX >= gt.c[0] - 1e-6);
  CHECK(extent.MaxY <= gt.c[3] + 1e-6);
  CHECK(extent.MaxX <= gt.c[0] + 900 * gt.c[1] + 1e-6);
  CHECK(extent.MinY >= gt.c[3] + 900 * gt.c[5] - 1e-6);
}

TEST_CASE("shards of an instance segmentation merge into the whole run's instances", "[detect][instances][shards]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_pan.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  DetectOptions o;
  o.tile = 64;
  o.overwrite = true;
  detect(raster, model, dir.file("whole.gpkg"), o);
  // (score, polygon) of every instance, sorted.
  const auto instances = [](const std::string& path) {
    std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    REQUIRE(ds);
    OGRLayer* layer = ds->GetLayerByName("instances");
    REQUIRE(layer);
    std::vector<std::pair<double, std::string>> out;
    for (auto& f : *layer) out.emplace_back(f->GetFieldAsDouble("score"), f->GetGeometryRef()->exportToWkt());
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto whole = instances(dir.file("whole.gpkg"));
  REQUIRE(whole.size() > 5);
  std::int64_t joined = 0;
  for (int count : {2, 3}) {
    INFO(count << " shards");
    std::vector<std::string> shards;
    for (int k = 0; k < count; ++k) {
      DetectOptions s = o;
      s.stream.shard = Shard{k, count};
      shards.push_back(dir.file("shard" + std::to_string(k) + "of" + std::to_string(count) + ".gpkg"));
      detect(raster, model, shards.back(), s);
    }
    const std::string merged = dir.file("merged" + std::to_string(count) + ".gpkg");
    const MergeReport m = merge_vector_shards(shards, merged);
    joined += m.joined;
    CHECK(m.polygons == static_cast<std::int64_t>(whole.size()));
    CHECK(instances(merged) == whole);
    MergeOptions boxes;
    boxes.pixel_boxes = dir.file("no.json");
    CHECK_THROWS_WITH(merge_vector_shards(shards, dir.file("no.gpkg"), boxes), Catch::Contains("instance segmentation shards"));
    CHECK_FALSE(std::filesystem::exists(boxes.pixel_boxes));
  }
  CHECK(joined > 0);  // candidates at the borders were suppressed at the merge
}

TEST_CASE("instance options: the best N of the raster, classes, and the program's summary", "[detect][instances][programs]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_pan.onnx");
  const std::string input = case_raster(dir, "large");
  Raster raster = Raster::open(input);
  const Run all = run(raster, model, dir, 96);
  REQUIRE(all.annotations.size() > 6);
  std::vector<double> scores;
  for (const auto& a : all.annotations) scores.push_back(a["score"]);
  std::sort(scores.rbegin(), scores.rend());
  DetectOptions o;
  o.max_detections = 4;
  const Run best = run(raster, model, dir, 96, o);
  REQUIRE(best.annotations.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(best.annotations[i]["score"].get<double>() == scores[i]);  // best first
  o = {};
  o.classes = {1};
  const Run one_class = run(raster, model, dir, 96, o);
  for (const auto& a : one_class.annotations) CHECK(a["category_id"] == 1);
  std::size_t of_class = 0;
  for (const auto& a : all.annotations) of_class += a["category_id"] == 1;
  CHECK(one_class.annotations.size() == of_class);
  // The program says how the masks were made.
  const auto r = luojia::test::run_program({luojia::test::kDetect, input, kInstances + "seg_pan.onnx", dir.file("p.gpkg"), "--tile", "64"});
  REQUIRE(r.code == 0);
  CHECK(r.err.find("layout yolo8-seg") != std::string::npos);
  CHECK(r.err.find("made from a window of their own") != std::string::npos);
}

TEST_CASE("a C++ caller: pixels in memory with their georeferencing in, instances handed back as well as written", "[detect][instances]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kInstances + "seg_pan.onnx");
  Raster file = Raster::open(case_raster(dir, "odd"));
  const std::int64_t w = file.info().width, h = file.info().height;
  const int bands[] = {1, 2, 3};
  const Image pixels = file.read(Window{0, 0, w, h}, bands);
  RasterLayout georeferencing;
  georeferencing.geotransform = file.info().geotransform;
  georeferencing.crs_wkt = file.info().crs_wkt;
  std::string vsimem;
  std::vector<Detection> handed;
  {
    Raster memory = Raster::from_image(pixels, georeferencing);
    vsimem = memory.path();
    CHECK(memory.info().width == w);
    CHECK(memory.info().band_count() == 3);
    DetectOptions o;
    o.tile = 64;
    o.pixel_boxes = dir.file("memory.json");
    o.on_detection = [&](const Detection& d) { handed.push_back(d); };
    const DetectReport r = detect(memory, model, dir.file("memory.gpkg"), o);
    CHECK(r.detections == static_cast<std::int64_t>(handed.size()));
  }
  VSIStatBufL stat;
  CHECK(VSIStatL(vsimem.c_str(), &stat) != 0);  // the in-memory file went with its last handle
  // The same instances as from the file, with their masks, and the product in the same CRS.
  const nlohmann::json want = read_json(kInstances + "seg_pan_odd.json");
  REQUIRE(!handed.empty());
  nlohmann::json got = read_json(dir.file("memory.json"))["annotations"];
  CHECK(check_against_reference(got, want) > 0);
  for (std::size_t i = 0; i < handed.size(); ++i) {
    REQUIRE(handed[i].mask);
    CHECK(handed[i].score == Approx(got[i]["score"].get<double>()));
    CHECK(handed[i].mask->pixels() == got[i]["area"].get<std::int64_t>());
  }
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(dir.file("memory.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  CHECK(std::string(ds->GetLayer(0)->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32650");
}
