// luojia-detect's exactness: tiled detection equals one whole-image PyTorch run decoded and
// suppressed by torchvision (or, for oriented boxes, greedy NMS with shapely's polygon IoU), for
// YOLOv8-style (boxes, oriented boxes) and YOLOv5-style detectors with anchors made in the graph
// (tools/make_detection_models.py).
#include "detection_cases.hpp"
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/products/detection.hpp>
#include <luojia/error.hpp>
#include <luojia/products/merge.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>

#include <catch2/catch.hpp>
#include <gdal_priv.h>
#include <nlohmann/json.hpp>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <numbers>
#include <tuple>

using namespace luojia;
using luojia::test::TempDir;

namespace {

const std::string kDetection = LUOJIA_TEST_DATA "/detection/";
constexpr const double* kGeo = luojia::test::kCaseGeotransform;
using luojia::test::read_json;
using luojia::test::u8_raster;

const nlohmann::json& manifest() {
  static const nlohmann::json m = read_json(kDetection + "manifest.json");
  return m;
}

std::string case_raster(TempDir& dir, const std::string& name, int repeat = 1) {
  return u8_raster(dir, kDetection, manifest()["cases"][name], name, repeat);
}

// One tiled run as the exactness tests make it: two threads, the output overwritten.
DetectReport detect_tiled(Raster& raster, const nn::Model& model, const std::string& output, std::int64_t tile) {
  DetectOptions o;
  o.tile = tile;
  o.stream.threads = 2;
  o.overwrite = true;
  return detect(raster, model, output, o);
}

struct Box {
  int class_id = 0;
  double score = 0, angle_degrees = 0;
  std::array<std::array<double, 2>, 4> corners{};  // raster pixels
};

// The reference's corners, written out here rather than taken from luojia.
Box reference_box(const nlohmann::json& d) {
  Box b;
  b.class_id = d["class_id"];
  b.score = d["score"];
  const double cx = d["cx"], cy = d["cy"], w = d["width"], h = d["height"], a = d["angle"];
  b.angle_degrees = a * 180.0 / std::numbers::pi;
  const double c = std::cos(a), s = std::sin(a);
  const double local[4][2] = {{-w / 2, -h / 2}, {w / 2, -h / 2}, {w / 2, h / 2}, {-w / 2, h / 2}};
  for (int k = 0; k < 4; ++k) b.corners[static_cast<std::size_t>(k)] = {cx + local[k][0] * c - local[k][1] * s, cy + local[k][0] * s + local[k][1] * c};
  return b;
}

std::vector<Box> reference(const std::string& model, const std::string& name) {
  std::vector<Box> boxes;
  for (const auto& d : read_json(kDetection + model + "_" + name + ".json")) boxes.push_back(reference_box(d));
  return boxes;
}

// The product's polygons back in raster pixels, with their fields; checks the CRS on the way.
std::vector<Box> read_product(const std::string& path, bool oriented) {
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  OGRLayer* layer = ds->GetLayer(0);
  REQUIRE(layer);
  const OGRSpatialReference* srs = layer->GetSpatialRef();
  REQUIRE(srs);
  CHECK(std::string(srs->GetAuthorityCode(nullptr)) == "32650");
  std::vector<Box> boxes;
  for (auto& f : *layer) {
    Box b;
    b.class_id = f->GetFieldAsInteger("class_id");
    b.score = f->GetFieldAsDouble("score");
    if (oriented) b.angle_degrees = f->GetFieldAsDouble("angle");
    const auto* polygon = f->GetGeometryRef()->toPolygon();
    const OGRLinearRing* ring = polygon->getExteriorRing();
    REQUIRE(ring->getNumPoints() == 5);
    for (int k = 0; k < 4; ++k)
      b.corners[static_cast<std::size_t>(k)] = {(ring->getX(k) - kGeo[0]) / kGeo[1], (ring->getY(k) - kGeo[3]) / kGeo[5]};
    boxes.push_back(b);
  }
  return boxes;
}

// Same detections: same count, and each reference box matched by class, score and corners.
void check_same(std::vector<Box> got, std::vector<Box> want) {
  REQUIRE(got.size() == want.size());
  const auto by_score = [](const Box& a, const Box& b) { return a.score > b.score; };
  std::sort(got.begin(), got.end(), by_score);
  std::sort(want.begin(), want.end(), by_score);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("detection " << i << " of " << want.size() << ", score " << want[i].score);
    CHECK(got[i].class_id == want[i].class_id);
    CHECK(got[i].score == Approx(want[i].score).margin(1e-5));
    CHECK(got[i].angle_degrees == Approx(want[i].angle_degrees).margin(1e-3));
    double worst = 0;
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t a = 0; a < 2; ++a) worst = std::max(worst, std::fabs(got[i].corners[k][a] - want[i].corners[k][a]));
    CHECK(worst < 2e-3);
  }
}

}  // namespace

TEST_CASE("the graph analysis finds a detector's anchor grids behind its flattened output", "[detect]") {
  const nn::Model model = nn::Model::load(kDetection + "yolo8_tiny.onnx");
  const auto a = model.analyse({1, 3, 96, 160}).at(0);
  REQUIRE(a.tileable);
  CHECK(a.anchor_axis == 2);
  REQUIRE(a.anchors.size() == 3);
  const std::int64_t strides[3] = {8, 16, 32};
  std::int64_t first = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("level " << k);
    CHECK(a.anchors[k].stride == strides[k]);
    CHECK(a.anchors[k].first == first);
    CHECK(a.anchors[k].width == 160 / strides[k]);
    CHECK(a.anchors[k].height == 96 / strides[k]);
    CHECK(a.anchors[k].radius > 0);
    first += a.anchors[k].count();
  }
  CHECK(a.alignment == 32);
  CHECK(model.run({nn::Tensor({1, 3, 96, 160})}).at(0).shape() == nn::Shape{1, 7, first});

  // YOLOv5: (1, N, 5 + nc), each level's grid once per anchor (three per cell).
  const nn::Model v5 = nn::Model::load(kDetection + "yolo5_tiny.onnx");
  const auto b = v5.analyse({1, 3, 96, 160}).at(0);
  REQUIRE(b.tileable);
  CHECK(b.anchor_axis == 1);
  REQUIRE(b.anchors.size() == 3);
  first = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(b.anchors[k].groups == 3);
    CHECK(b.anchors[k].stride == strides[k]);
    CHECK(b.anchors[k].first == first);
    first += b.anchors[k].count();
  }
  CHECK(v5.run({nn::Tensor({1, 3, 96, 160})}).at(0).shape() == nn::Shape{1, first, 7});
}

TEST_CASE("tiled detection equals one whole-image PyTorch run, boxes and oriented boxes", "[detect]") {
  TempDir dir;
  for (const std::string model : {"yolo8_tiny", "yolo8_obb_tiny", "yolo5_tiny"}) {
    const bool oriented = manifest()["models"][model]["oriented"];
    const std::string layout = manifest()["models"][model]["layout"];
    const nn::Model loaded = nn::Model::load(kDetection + model + ".onnx");
    for (const std::string name : {"odd", "large", "wide", "small", "strip", "pixel", "row"}) {
      const std::string input = case_raster(dir, name);
      Raster raster = Raster::open(input);
      const auto want = reference(model, name);
      for (std::int64_t tile : {64, 96, 160, 512}) {
        INFO(model << " on " << name << ", tile " << tile);
        const std::string out = dir.file(model + "_" + name + ".geojson");
        const DetectReport r = detect_tiled(raster, loaded, out, tile);
        CHECK(r.exact);
        CHECK(r.layout == parse_detection_layout(layout));
        CHECK(r.detections == static_cast<std::int64_t>(want.size()));
        check_same(read_product(out, oriented), want);
      }
    }
  }
}

// The sweep (tools/make_detection_sweep.py): random detectors of several shapes on odd sizes.
const std::string kSweep = LUOJIA_TEST_DATA "/detection/sweep/";

const nlohmann::json& sweep_manifest() {
  static const nlohmann::json m = read_json(kSweep + "manifest.json");
  return m;
}

TEST_CASE("brute force: random detectors of several shapes (PAN neck, SPPF, four levels, heads of unequal depth, boxes "
          "larger than a tile, angles past pi/2), tiled from 32 to 512 on odd sizes, equal the whole-image PyTorch run",
          "[detect]") {
  TempDir dir;
  std::map<std::string, std::string> rasters;
  for (const auto& [name, c] : sweep_manifest()["cases"].items()) rasters[name] = u8_raster(dir, kSweep, c, name);
  std::int64_t compared = 0;
  for (const auto& [model, entry] : sweep_manifest()["models"].items()) {
    const bool oriented = entry["oriented"];
    const nn::Model loaded = nn::Model::load(kSweep + model + ".onnx");
    // The analysis finds every level's grid although the heads differ in depth.
    const auto analysis = loaded.analyse({1, 3, 128, 192}).at(0);
    REQUIRE(analysis.tileable);
    CHECK(analysis.anchors.size() == entry["architecture"]["levels"].get<std::size_t>());
    for (const auto& [name, path] : rasters) {
      Raster raster = Raster::open(path);
      std::vector<Box> want;
      for (const auto& d : read_json(kSweep + model + "_" + name + ".json")) want.push_back(reference_box(d));
      for (std::int64_t tile : {32, 64, 96, 160, 256, 512}) {
        INFO(model << " on " << name << ", tile " << tile);
        const std::string out = dir.file(model + "_" + name + ".geojson");
        const DetectReport r = detect_tiled(raster, loaded, out, tile);
        CHECK(r.exact);
        CHECK(r.note.find("not exact") == std::string::npos);
        check_same(read_product(out, oriented), want);
        compared += static_cast<std::int64_t>(want.size());
      }
    }
  }
  CHECK(compared > 500);
}

TEST_CASE("test-time augmentation (flips, D4) tiled equals the whole padded image run mirrored, boxes carried back", "[detect]") {
  TempDir dir;
  for (const auto& [model, entry] : manifest()["models"].items()) {
    const bool oriented = entry["oriented"];
    const nn::Model loaded = nn::Model::load(kDetection + model + ".onnx");
    for (const auto& [augmentation, cases] : entry["tta"].items())
      for (const std::string name : cases) {
        Raster raster = Raster::open(case_raster(dir, name));
        const auto want = reference(model, name + "_" + augmentation);
        REQUIRE(!want.empty());
        for (std::int64_t tile : {64, 160, 512}) {
          INFO(model << " on " << name << " with " << augmentation << ", tile " << tile);
          DetectOptions o;
          o.tile = tile;
          o.tta = parse_detection_augmentation(augmentation);
          o.stream.threads = 2;
          o.overwrite = true;
          const std::string out = dir.file(model + "_" + name + "_tta.geojson");
          const DetectReport r = detect(raster, loaded, out, o);
          CHECK(r.exact);
          check_same(read_product(out, oriented), want);
        }
        // Without augmentation the boxes are others: the test can tell.
        DetectOptions plain;
        plain.overwrite = true;
        const std::string out = dir.file(model + "_" + name + "_plain.geojson");
        detect(raster, loaded, out, plain);
        CHECK(read_product(out, oriented).size() != want.size());
      }
  }
  CHECK_THROWS_AS(parse_detection_augmentation("rot90"), UsageError);
}

TEST_CASE("boxes are settled row by row when the model gives its box reach, and the result does not change", "[detect]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kDetection + "yolo8_tiny.onnx");
  REQUIRE(model.metadata().box_reach);
  Raster raster = Raster::open(case_raster(dir, "large", 5));  // 1505 rows: several times the reach
  DetectOptions o;
  o.tile = 64;
  o.overwrite = true;
  const DetectReport streamed = detect(raster, model, dir.file("streamed.gpkg"), o);
  o.box_reach = 1e6;  // nothing can be settled before the end
  const DetectReport held = detect(raster, model, dir.file("held.gpkg"), o);
  INFO("streamed: " << streamed.candidates << " candidates, " << streamed.detections << " kept, held " << streamed.most_held
       << "; held: " << held.candidates << ", " << held.detections << ", " << held.most_held);
  CHECK(streamed.detections == held.detections);
  CHECK(streamed.detections > 300);
  CHECK(streamed.most_held < held.most_held / 2);
  check_same(read_product(dir.file("streamed.gpkg"), false), read_product(dir.file("held.gpkg"), false));
}

TEST_CASE("without the halo, tiled detection differs from the whole-image run", "[detect]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kDetection + "yolo8_tiny.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  DetectOptions o;
  o.tile = 64;
  o.halo = 0;
  const DetectReport r = detect(raster, model, dir.file("no_halo.geojson"), o);
  CHECK_FALSE(r.exact);
  const auto got = read_product(dir.file("no_halo.geojson"), false);
  const auto want = reference("yolo8_tiny", "large");
  bool differs = got.size() != want.size();
  if (!differs) {
    double total = 0, total_want = 0;
    for (const auto& b : got) total += b.score;
    for (const auto& b : want) total_want += b.score;
    differs = std::fabs(total - total_want) > 1e-3;
  }
  CHECK(differs);
}

namespace {

double box_iou(const Box& a, const Box& b) {  // axis-aligned boxes
  const auto extent = [](const Box& x) {
    std::array<double, 4> e{INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (const auto& c : x.corners) e = {std::min(e[0], c[0]), std::min(e[1], c[1]), std::max(e[2], c[0]), std::max(e[3], c[1])};
    return e;
  };
  const auto p = extent(a), q = extent(b);
  const double iw = std::max(0.0, std::min(p[2], q[2]) - std::max(p[0], q[0]));
  const double ih = std::max(0.0, std::min(p[3], q[3]) - std::max(p[1], q[1]));
  const double inter = iw * ih, uni = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

}  // namespace

TEST_CASE("a fixed-size (static) export runs on windows of its size: exact within one window, merged by NMS beyond", "[detect]") {
  TempDir dir;
  const auto& st = manifest()["static"];
  const std::string model = st["model"];
  const std::int64_t window = st["window"];
  const nn::Model loaded = nn::Model::load(kDetection + model + ".onnx");
  REQUIRE(loaded.inputs().at(0).shape[2] == window);
  // A raster within one window: the window padded by reflection, as PyTorch ran it.
  for (const auto& [name, count] : st["one_window"].items()) {
    INFO(name);
    Raster raster = Raster::open(case_raster(dir, name));
    DetectOptions o;
    o.overwrite = true;
    const std::string out = dir.file("static_" + name + ".geojson");
    const DetectReport r = detect(raster, loaded, out, o);
    CHECK(r.exact);
    CHECK(r.tiles == 1);
    check_same(read_product(out, false), reference(model, name));
    CHECK(r.detections == count.get<std::int64_t>());
  }
  // Larger rasters: overlapping windows, said to be not exact; the boxes are close to the dynamic
  // export's whole-image run and no two boxes of a class left overlap above the IoU threshold.
  const double iou = manifest()["iou"];
  for (const std::string name : {"large", "wide"}) {
    INFO(name);
    Raster raster = Raster::open(case_raster(dir, name));
    DetectOptions o;
    o.overwrite = true;
    o.stream.threads = 2;
    const std::string out = dir.file("static_" + name + ".gpkg");
    const DetectReport r = detect(raster, loaded, out, o);
    CHECK_FALSE(r.exact);
    CHECK(r.note.find("fixed size") != std::string::npos);
    CHECK(r.tiles > 1);
    const auto got = read_product(out, false);
    const auto want = reference("yolo8_tiny", name);
    std::size_t matched = 0;
    for (const Box& w : want)
      matched += std::any_of(got.begin(), got.end(), [&](const Box& g) { return g.class_id == w.class_id && box_iou(g, w) > 0.7; });
    CHECK(matched >= want.size() * 7 / 10);
    CHECK(got.size() <= want.size() * 13 / 10 + 1);
    for (std::size_t i = 0; i < got.size(); ++i)
      for (std::size_t j = i + 1; j < got.size(); ++j)
        if (got[i].class_id == got[j].class_id) CHECK(box_iou(got[i], got[j]) <= iou + 1e-9);
    WARN(name << ": static windows " << got.size() << " boxes, whole-image " << want.size() << ", matched " << matched);
  }
  // A halo that leaves no core in the window is a usage error, raised before writing.
  DetectOptions o;
  o.halo = window / 2;
  Raster raster = Raster::open(case_raster(dir, "large"));
  CHECK_THROWS_AS(detect(raster, loaded, dir.file("no_core.geojson"), o), UsageError);
  CHECK_FALSE(std::filesystem::exists(dir.file("no_core.geojson")));
}

TEST_CASE("an end-to-end (NMS-free, TopK inside) export, layout (1, K, 6): one tile equals PyTorch, larger rasters said not exact",
          "[detect]") {
  TempDir dir;
  const auto& e2e = manifest()["end_to_end"];
  const std::string model = e2e["model"];
  const nn::Model loaded = nn::Model::load(kDetection + model + ".onnx");
  for (const auto& [name, count] : e2e["cases"].items()) {
    INFO(name);
    Raster raster = Raster::open(case_raster(dir, name));
    DetectOptions o;
    o.overwrite = true;
    const std::string out = dir.file("e2e_" + name + ".geojson");
    const DetectReport r = detect(raster, loaded, out, o);
    CHECK(r.layout == DetectionLayout::EndToEnd);
    CHECK(r.exact);
    CHECK(r.tiles == 1);
    check_same(read_product(out, false), reference(model, name));
    CHECK(r.detections == count.get<std::int64_t>());
  }
  // Each tile would keep its own top K: past one tile, overlapping tiles merged by NMS, not exact.
  Raster raster = Raster::open(case_raster(dir, "large"));
  const DetectReport r = detect_tiled(raster, loaded, dir.file("e2e_large.geojson"), 128);
  CHECK_FALSE(r.exact);
  CHECK(r.note.find("TopK") != std::string::npos);
  CHECK(r.tiles > 1);
}

TEST_CASE("detection options: classes, max detections, COCO pixel boxes, thresholds", "[detect]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kDetection + "yolo8_tiny.onnx");
  Raster raster = Raster::open(case_raster(dir, "large"));
  const auto want = reference("yolo8_tiny", "large");
  DetectOptions o;
  o.tile = 128;
  o.pixel_boxes = dir.file("boxes.json");
  const DetectReport all = detect(raster, model, dir.file("all.fgb"), o);
  CHECK(all.confidence == Approx(0.3));  // the model's det_conf
  CHECK(all.iou == Approx(0.5));
  const auto coco = read_json(o.pixel_boxes);
  REQUIRE(coco["annotations"].size() == want.size());
  CHECK(coco["images"][0]["width"] == 389);
  CHECK(coco["categories"][1]["name"] == "plane");
  for (const auto& a : coco["annotations"]) CHECK(a["bbox"][2].get<double>() > 0);
  check_same(read_product(dir.file("all.fgb"), false), want);

  SECTION("only some classes") {
    o.pixel_boxes.clear();
    o.classes = {1};
    detect(raster, model, dir.file("plane.geojson"), o);
    std::vector<Box> planes;
    for (const auto& b : want)
      if (b.class_id == 1) planes.push_back(b);
    check_same(read_product(dir.file("plane.geojson"), false), planes);
  }
  SECTION("the best N") {
    o.pixel_boxes.clear();
    o.max_detections = 5;
    detect(raster, model, dir.file("top.geojson"), o);
    auto best = want;
    std::sort(best.begin(), best.end(), [](const Box& a, const Box& b) { return a.score > b.score; });
    best.resize(5);
    check_same(read_product(dir.file("top.geojson"), false), best);
  }
  SECTION("thresholds out of range are usage errors naming the option") {
    o.confidence = 1.5;
    try {
      detect(raster, model, dir.file("bad.geojson"), o);
      FAIL("no error");
    } catch (const UsageError& e) {
      CHECK(e.option() == "confidence");
    }
    CHECK_FALSE(std::filesystem::exists(dir.file("bad.geojson")));
  }
}

TEST_CASE("a model that is not a detector is refused before anything is written", "[detect]") {
  TempDir dir;
  Raster raster = Raster::open(case_raster(dir, "odd"));
  const nn::Model model = nn::Model::load(LUOJIA_TEST_DATA "/tasks/regressor.onnx");
  CHECK_THROWS_AS(detect(raster, model, dir.file("x.geojson")), ModelError);
  CHECK_FALSE(std::filesystem::exists(dir.file("x.geojson")));
}

TEST_CASE("end-to-end exports (1, K, 6) and oriented (1, K, 7) through luojia-detect equal PyTorch", "[detect][programs]") {
  TempDir dir;
  for (const std::string key : {"end_to_end", "end_to_end_oriented"}) {
    const auto& e2e = manifest()[key];
    const std::string model = e2e["model"];
    const bool oriented = key == "end_to_end_oriented";
    std::int64_t compared = 0;
    for (const auto& [name, count] : e2e["cases"].items()) {
      INFO(model << " on " << name);
      const std::string out = dir.file(model + "_" + name + ".gpkg");
      const auto r = luojia::test::run_program({luojia::test::kDetect, case_raster(dir, name), kDetection + model + ".onnx", out});
      REQUIRE(r.code == 0);
      CHECK(r.err.find(std::string("layout ") + (oriented ? "end2end-oriented" : "end2end")) != std::string::npos);
      CHECK(r.err.find("1 tile ") != std::string::npos);
      const auto want = reference(model, name);
      CHECK(want.size() == count.get<std::size_t>());
      check_same(read_product(out, oriented), want);
      compared += static_cast<std::int64_t>(want.size());
    }
    CHECK(compared >= 10);
  }
}

TEST_CASE("luojia-detect as a program: products on stdout, one-line errors, nothing left behind", "[detect][programs]") {
  using luojia::test::run_program;
  TempDir dir;
  const std::string input = case_raster(dir, "odd");
  const std::string model = kDetection + "yolo8_tiny.onnx";
  const auto ok = run_program({luojia::test::kDetect, "-q", input, model, dir.file("boxes.gpkg"), "--tile", "64", "--pixel-boxes",
                               dir.file("boxes.json")});
  CHECK(ok.code == 0);
  CHECK(ok.out == dir.file("boxes.gpkg") + "\n" + dir.file("boxes.json") + "\n");
  check_same(read_product(dir.file("boxes.gpkg"), false), reference("yolo8_tiny", "odd"));

  const auto exists = run_program({luojia::test::kDetect, "-q", input, model, dir.file("boxes.gpkg")});
  CHECK(exists.code != 0);
  const auto bad_conf = run_program({luojia::test::kDetect, "-q", input, model, dir.file("c.geojson"), "--conf", "1.5"});
  CHECK(bad_conf.code == 2);
  CHECK(bad_conf.err.find("--conf") != std::string::npos);
  const auto not_detector = run_program({luojia::test::kDetect, "-q", input, LUOJIA_TEST_DATA "/tasks/regressor.onnx", dir.file("r.geojson")});
  CHECK(not_detector.code == 1);
  CHECK(not_detector.err.find("regressor.onnx") != std::string::npos);
  CHECK(std::count(not_detector.err.begin(), not_detector.err.end(), '\n') == 1);
  const auto bad_layout = run_program({luojia::test::kDetect, "-q", input, model, dir.file("l.geojson"), "--layout", "yolo9"});
  CHECK(bad_layout.code == 2);
  const auto tta = run_program({luojia::test::kDetect, "-q", input, model, dir.file("t.geojson"), "--tile", "64", "--tta", "flips"});
  CHECK(tta.code == 0);
  check_same(read_product(dir.file("t.geojson"), false), reference("yolo8_tiny", "odd_flips"));
  const auto bad_tta = run_program({luojia::test::kDetect, "-q", input, model, dir.file("b.geojson"), "--tta", "rot90"});
  CHECK(bad_tta.code == 2);
  CHECK(bad_tta.err.find("--tta") != std::string::npos);
  for (const char* name : {"c.geojson", "r.geojson", "l.geojson", "b.geojson"}) CHECK_FALSE(std::filesystem::exists(dir.file(name)));
}

TEST_CASE("the bundled demo detector on its SpaceNet 4 scene: georeferenced boxes, tiled as whole", "[detect]") {
  TempDir dir;
  const std::string scene = LUOJIA_SOURCE_DIR "/data/spacenet4_atlanta.tif";
  const nn::Model model = nn::Model::load(LUOJIA_SOURCE_DIR "/data/demo_buildings.onnx");
  Raster raster = Raster::open(scene);
  DetectOptions o;
  o.tile = 1024;  // one tile: the whole scene
  const DetectReport whole = detect(raster, model, dir.file("whole.gpkg"), o);
  o.tile = 128;
  const DetectReport tiled = detect(raster, model, dir.file("tiled.gpkg"), o);
  CHECK(whole.tiles == 1);
  CHECK(tiled.tiles == 64);
  CHECK(whole.detections > 20);
  CHECK(tiled.detections == whole.detections);
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(dir.file("tiled.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(ds);
  CHECK(std::string(ds->GetLayer(0)->GetSpatialRef()->GetAuthorityCode(nullptr)) == "32616");
  OGREnvelope extent;
  REQUIRE(ds->GetLayer(0)->GetExtent(&extent) == OGRERR_NONE);
  const auto gt = *raster.info().geotransform;
  // Boxes lie over the scene (they may reach a little past its edges).
  CHECK(extent.MinX > gt.c[0] - 100);
  CHECK(extent.MaxY < gt.c[3] + 100);
  CHECK(extent.MaxX < gt.c[0] + 900 * gt.c[1] + 100);
}

TEST_CASE("shards of a detection merge into the whole-image run's boxes", "[detect][shards]") {
  TempDir dir;
  const nn::Model model = nn::Model::load(kDetection + "yolo8_tiny.onnx");
  Raster raster = Raster::open(case_raster(dir, "large", 2));  // 602 rows, 10 tile rows: borders every 1 to 5
  DetectOptions o;
  o.tile = 64;
  DetectOptions with_boxes = o;
  with_boxes.pixel_boxes = dir.file("whole.json");
  const DetectReport whole = detect(raster, model, dir.file("whole.gpkg"), with_boxes);
  // Pixel boxes as (score, class, bbox), sorted: what the whole run and the merge must share.
  const auto pixel_boxes = [](const std::string& path) {
    const nlohmann::json doc = read_json(path);
    std::vector<std::tuple<double, int, std::vector<double>>> boxes;
    for (const auto& a : doc["annotations"])
      boxes.emplace_back(a["score"].get<double>(), a["category_id"].get<int>(), a["bbox"].get<std::vector<double>>());
    std::sort(boxes.begin(), boxes.end());
    return boxes;
  };
  for (int count : {2, 3, 7}) {
    INFO(count << " shards");
    std::vector<std::string> shards;
    for (int k = 0; k < count; ++k) {
      DetectOptions s = o;
      s.stream.shard = Shard{k, count};
      shards.push_back(dir.file("shard" + std::to_string(k) + "of" + std::to_string(count) + ".gpkg"));
      detect(raster, model, shards.back(), s);
    }
    MergeOptions mo;
    mo.pixel_boxes = dir.file("merged" + std::to_string(count) + ".json");
    const MergeReport m = merge_vector_shards(shards, dir.file("merged" + std::to_string(count) + ".gpkg"), mo);
    CHECK(m.shards == count);
    // The merge writes the pixel boxes shards cannot: the whole run's.
    CHECK(pixel_boxes(mo.pixel_boxes) == pixel_boxes(dir.file("whole.json")));
    CHECK(pixel_boxes(mo.pixel_boxes).size() == static_cast<std::size_t>(whole.detections));
    CHECK(read_json(mo.pixel_boxes)["images"] == read_json(dir.file("whole.json"))["images"]);
    CHECK(m.polygons == whole.detections);
    CHECK(m.joined > 0);  // boxes across the borders were suppressed at the merge
    // Every box of the single run, and nothing else.
    std::unique_ptr<GDALDataset> a(GDALDataset::Open(dir.file("whole.gpkg").c_str(), GDAL_OF_VECTOR));
    std::unique_ptr<GDALDataset> b(GDALDataset::Open(dir.file("merged" + std::to_string(count) + ".gpkg").c_str(), GDAL_OF_VECTOR));
    REQUIRE(a);
    REQUIRE(b);
    std::vector<std::pair<double, std::string>> wa, wb;
    for (auto& f : *a->GetLayer(0)) wa.emplace_back(f->GetFieldAsDouble("score"), f->GetGeometryRef()->exportToWkt());
    for (auto& f : *b->GetLayer(0)) wb.emplace_back(f->GetFieldAsDouble("score"), f->GetGeometryRef()->exportToWkt());
    std::sort(wa.begin(), wa.end());
    std::sort(wb.begin(), wb.end());
    REQUIRE(wa.size() == wb.size());
    for (std::size_t i = 0; i < wa.size(); ++i) CHECK(wa[i] == wb[i]);
  }
  SECTION("a shard twice or missing is refused") {
    std::vector<std::string> shards;
    for (int k = 0; k < 2; ++k) {
      DetectOptions s = o;
      s.stream.shard = Shard{k, 3};
      shards.push_back(dir.file("p" + std::to_string(k) + ".gpkg"));
      detect(raster, model, shards.back(), s);
    }
    CHECK_THROWS_WITH(merge_vector_shards(shards, dir.file("bad.geojson")), Catch::Contains("3/3 is missing"));
    CHECK_THROWS_WITH(merge_vector_shards({shards[0], shards[0]}, dir.file("bad.geojson")), Catch::Contains("again"));
    CHECK_FALSE(std::filesystem::exists(dir.file("bad.geojson")));
  }
  SECTION("pixel boxes are for detection shards") {
    MergeOptions mo;
    mo.pixel_boxes = dir.file("no.json");
    CHECK_THROWS_WITH(merge_raster_shards({dir.file("whole.gpkg")}, dir.file("no.tif"), mo), Catch::Contains("pixel_boxes"));
    CHECK_FALSE(std::filesystem::exists(mo.pixel_boxes));
  }
  SECTION("shards are GeoPackages") {
    DetectOptions s = o;
    s.stream.shard = Shard{0, 2};
    CHECK_THROWS_AS(detect(raster, model, dir.file("s.geojson"), s), UsageError);
  }
}
