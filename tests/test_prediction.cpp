// Pixel regression, super-resolution and models as Deepness ships them, against PyTorch's outputs
// (tools/make_task_models.py writes the models, inputs and references in tests/data/tasks).
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include "model_task/model_stage.hpp"

#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/nn/model_metadata.hpp>
#include <luojia/products/prediction.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/segmentation.hpp>

#include <catch2/catch.hpp>
#include <gdal_priv.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace luojia;
using luojia::test::TempDir;

namespace {

using luojia::test::kTasks;

nlohmann::json manifest_entry(const std::string& model) {
  std::ifstream in(kTasks + "manifest.json");
  const auto manifest = nlohmann::json::parse(in);
  for (const auto& m : manifest["models"])
    if (m["name"] == model) return m;
  FAIL("no model " << model << " in the manifest");
  return {};
}

template <typename T>
std::vector<T> read_raw(const std::string& file) {
  std::ifstream in(kTasks + file, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// The case's uint8 C x H x W input as a georeferenced 3-band Byte GeoTIFF.
std::string case_raster(TempDir& dir, const nlohmann::json& c, std::optional<double> nodata = std::nullopt,
                        const std::string& name = "input.tif") {
  const auto pixels = read_raw<std::uint8_t>(c["input"]);
  const int h = c["input_shape"][1], w = c["input_shape"][2];
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  spec.bands = 3;
  spec.type = GDT_Byte;
  spec.nodata = nodata;
  const std::string path = dir.file(name);
  luojia::test::make_raster(path, spec, [&](int b, int x, int y) {
    return static_cast<double>(pixels[static_cast<std::size_t>((b * h + y) * w + x)]);
  });
  return path;
}

void check_close(const std::vector<double>& got, const float* want, std::size_t n) {
  REQUIRE(got.size() == n);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i])));
  CHECK(worst < 1e-5);
}

// Every band of the product against the reference planes.
void check_product(const std::string& path, const std::vector<float>& reference, int bands) {
  const std::size_t plane = reference.size() / static_cast<std::size_t>(bands);
  for (int b = 1; b <= bands; ++b) {
    INFO("band " << b);
    check_close(luojia::test::read_band(path, b), reference.data() + static_cast<std::size_t>(b - 1) * plane, plane);
  }
}

std::array<double, 6> geotransform_of(const std::string& path) {
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  std::array<double, 6> gt{};
  ds->GetGeoTransform(gt.data());
  return gt;
}

}  // namespace

TEST_CASE("pixel regression equals PyTorch whole and tiled at awkward sizes, with Deepness's scaling", "[predict][regression]") {
  const auto entry = manifest_entry("regressor");
  const nn::Model model = nn::Model::load(kTasks + "regressor.onnx");
  CHECK(model.metadata().model_type == "Regressor");
  for (const auto& c : entry["cases"]) {
    const std::string which = c["case"];
    INFO("case " << which);
    TempDir dir;
    const std::string input = case_raster(dir, c);
    const auto reference = read_raw<float>(c["output"]);
    Raster raster = Raster::open(input);
    for (std::int64_t tile : {512, 8, 5}) {
      INFO("tile " << tile);
      PredictOptions o;
      o.tile = tile;
      o.output.overwrite = true;
      const PredictReport r = regress(raster, model, dir.file("out.tif"), o);
      CHECK(r.outputs == 2);
      CHECK(r.upscale == 1);
      CHECK(r.output_scale == 10.0);  // reg_output_scaling
      CHECK(r.exact);
      check_product(dir.file("out.tif"), reference, 2);
    }
    const RasterInfo out = Raster::open(dir.file("out.tif")).info();
    CHECK(out.width == raster.info().width);
    CHECK(out.epsg == 32618);
    CHECK(out.geotransform->c == raster.info().geotransform->c);
    CHECK(out.band(1).type == DataType::Float32);
    CHECK(out.band(1).description == "canopy height");
    CHECK(out.band(2).description == "biomass");
  }
}

TEST_CASE("regression keeps nodata and takes an output scale", "[predict][regression]") {
  const auto c = manifest_entry("regressor")["cases"][0];
  TempDir dir;
  const std::string clean = case_raster(dir, c);
  const auto reference = read_raw<float>(c["output"]);
  PredictOptions o;
  o.output_scale = 1.0;
  o.tile = 8;
  regress(clean, kTasks + "regressor.onnx", dir.file("unscaled.tif"), o);
  std::vector<float> unscaled = reference;
  for (float& v : unscaled) v /= 10.0f;
  check_product(dir.file("unscaled.tif"), unscaled, 2);

  // A band value of 0 marks nodata: those pixels stay nodata, the others hold values.
  const std::string holes = case_raster(dir, c, 0.0, "holes.tif");
  const auto pixels = read_raw<std::uint8_t>(c["input"]);
  regress(holes, kTasks + "regressor.onnx", dir.file("holes_out.tif"), PredictOptions{});
  const auto band = luojia::test::read_band(dir.file("holes_out.tif"), 1);
  const RasterInfo info = Raster::open(dir.file("holes_out.tif")).info();
  REQUIRE(info.band(1).nodata);
  CHECK(*info.band(1).nodata == 0.0);
  const std::size_t plane = band.size();
  int holes_seen = 0;
  for (std::size_t i = 0; i < plane; ++i) {
    const bool nodata = pixels[i] == 0 || pixels[plane + i] == 0 || pixels[2 * plane + i] == 0;
    holes_seen += nodata;
    if (nodata) CHECK(band[i] == 0.0);
    else CHECK(std::isfinite(band[i]));
  }
  CHECK(holes_seen > 0);
}

TEST_CASE("super-resolution x2, x3, x4 equals PyTorch whole and tiled, on a grid k times finer", "[predict][superres]") {
  for (const auto& [name, k] : std::vector<std::pair<std::string, int>>{{"sr_convtranspose_x2", 2}, {"sr_pixelshuffle_x3", 3}, {"sr_resize_x4", 4}}) {
    INFO(name);
    const auto entry = manifest_entry(name);
    const nn::Model model = nn::Model::load(kTasks + name + ".onnx");
    for (const auto& c : entry["cases"]) {
      const std::string which = c["case"];
      INFO("case " << which);
      TempDir dir;
      const std::string input = case_raster(dir, c);
      const auto reference = read_raw<float>(c["output"]);
      Raster raster = Raster::open(input);
      for (std::int64_t tile : {512, 8, 7}) {
        INFO("tile " << tile);
        PredictOptions o;
        o.tile = tile;
        o.output.overwrite = true;
        const PredictReport r = super_resolve(raster, model, dir.file("sr.tif"), o);
        CHECK(r.upscale == k);
        CHECK(r.outputs == 3);
        check_product(dir.file("sr.tif"), reference, 3);
      }
      const RasterInfo out = Raster::open(dir.file("sr.tif")).info();
      CHECK(out.width == raster.info().width * k);
      CHECK(out.height == raster.info().height * k);
      CHECK(out.epsg == 32618);
      const auto gt = geotransform_of(dir.file("sr.tif"));
      CHECK(gt[0] == 500000.0);
      CHECK(gt[3] == 4000000.0);
      CHECK(gt[1] == Approx(10.0 / k));
      CHECK(gt[5] == Approx(-10.0 / k));
    }
  }
}

namespace {

// A head of a test's own: per tile, the sums of every output channel of the network over the
// tile's core; in tile order, the sums added up. Nothing is written.
class OutputSums : public detail::TaskHead<std::vector<double>> {
public:
  TileGrid plan(detail::ModelStage& stage) override {
    stage.tiling = stage.dense_tiling();
    return stage.dense_grid();
  }
  void open(const detail::ModelStage& stage) override { opened_tiles = stage.grid().size(); }
  detail::TileBudget budget(const detail::ModelStage& stage) override { return {stage.activation_bytes(), 0}; }

  void compute(const InputTile& in, const detail::ModelStage& stage, std::vector<double>& sums) override {
    const std::vector<nn::Tensor> outputs = stage.run(stage.network_input(in));
    sums.clear();
    const Window& r = in.tile.read;
    for (const nn::Tensor& y : outputs)
      for (std::int64_t c = 0; c < y.dim(1); ++c) {
        double sum = 0;
        for (std::int64_t yy = 0; yy < in.tile.core.height; ++yy)
          for (std::int64_t xx = 0; xx < in.tile.core.width; ++xx)
            sum += y.data()[(c * r.height + in.core_y() + yy) * r.width + in.core_x() + xx];
        sums.push_back(sum);
      }
  }
  void consume(const Tile& tile, std::vector<double>& sums) override {
    if (tile.index <= last_index) in_order = false;
    last_index = tile.index;
    if (totals.empty()) totals.assign(sums.size(), 0.0);
    for (std::size_t i = 0; i < sums.size(); ++i) totals[i] += sums[i];
    ++consumed;
  }
  void finish(const detail::ModelStage&, const StreamStats& stats) override { streamed = stats.tiles; }

  std::vector<double> totals;
  std::int64_t opened_tiles = 0, consumed = 0, streamed = 0, last_index = -1;
  bool in_order = true;
};

}  // namespace

TEST_CASE("a head of one's own runs through the model lifecycle: every tile once, in order, every output, shards covering the raster",
          "[predict][model_task]") {
  const auto c = manifest_entry("regressor")["cases"][0];
  TempDir dir;
  Raster raster = Raster::open(case_raster(dir, c));
  const nn::Model model = nn::Model::load(kTasks + "regressor.onnx");
  // PyTorch's outputs, scaled by the metadata's 10 (reg_output_scaling), summed per channel.
  const auto reference = read_raw<float>(c["output"]);
  const std::size_t plane = reference.size() / 2;
  std::vector<double> want(2, 0.0), scale(2, 0.0);
  for (std::size_t i = 0; i < reference.size(); ++i) {
    want[i / plane] += reference[i] / 10.0;
    scale[i / plane] += std::fabs(reference[i] / 10.0);
  }
  for (std::int64_t tile : {512, 8, 5}) {
    INFO("tile " << tile);
    ModelTaskOptions o;
    o.tile = tile;
    OutputSums whole;
    detail::run_model_task(raster, model, o, whole);
    CHECK(whole.in_order);
    CHECK(whole.consumed == whole.opened_tiles);
    CHECK(whole.streamed == whole.opened_tiles);
    REQUIRE(whole.totals.size() == 2);
    for (std::size_t k = 0; k < 2; ++k) CHECK(whole.totals[k] == Approx(want[k]).margin(1e-5 * scale[k]));
    // Shards: each streams its rows of tiles, and together they are the whole run.
    if (tile == 512) continue;  // one row of tiles: no second shard
    o.stream.shard = Shard{0, 2};
    OutputSums first;
    detail::run_model_task(raster, model, o, first);
    o.stream.shard = Shard{1, 2};
    OutputSums second;
    detail::run_model_task(raster, model, o, second);
    CHECK(first.consumed + second.consumed == whole.consumed);
    CHECK(first.consumed > 0);
    CHECK(second.consumed > 0);
    for (std::size_t k = 0; k < 2; ++k)
      CHECK((first.totals.empty() ? 0.0 : first.totals[k]) + (second.totals.empty() ? 0.0 : second.totals[k]) ==
            Approx(whole.totals[k]).epsilon(1e-9));
  }
  // The stage resolves the input before the head plans: bands that do not fit are refused first.
  ModelTaskOptions bad;
  bad.bands = {1, 2};
  OutputSums never;
  CHECK_THROWS_AS(detail::run_model_task(raster, model, bad, never), Error);
  CHECK(never.opened_tiles == 0);
}

TEST_CASE("each dense task refuses the other's model, and bad options, before writing", "[predict][errors]") {
  const auto c = manifest_entry("regressor")["cases"][0];
  TempDir dir;
  const std::string input = case_raster(dir, c);
  CHECK_THROWS_WITH(super_resolve(input, kTasks + "regressor.onnx", dir.file("a.tif")),
                    Catch::Contains("not finer: that is pixel regression"));
  CHECK_THROWS_WITH(regress(input, kTasks + "sr_pixelshuffle_x3.onnx", dir.file("b.tif")),
                    Catch::Contains("3 times finer than its input: that is super-resolution"));
  PredictOptions o;
  o.tile = 0;
  try {
    regress(input, kTasks + "regressor.onnx", dir.file("c.tif"), o);
    FAIL("tile 0 was accepted");
  } catch (const UsageError& e) {
    CHECK(e.option() == "tile");
  }
  o.tile = 64;
  o.bands = {1, 2};
  CHECK_THROWS_AS(regress(input, kTasks + "regressor.onnx", dir.file("d.tif"), o), Error);
  for (const char* name : {"a.tif", "b.tif", "c.tif", "d.tif"}) CHECK_FALSE(std::filesystem::exists(dir.file(name)));
}

TEST_CASE("load options reach a model given as a path and are refused with a loaded one", "[predict][errors]") {
  const auto c = manifest_entry("regressor")["cases"][0];
  TempDir dir;
  const std::string input = case_raster(dir, c);
  PredictOptions o;
  o.load.winograd = "off";
  CHECK(regress(input, kTasks + "regressor.onnx", dir.file("by_path.tif"), o).written == std::vector<std::string>{dir.file("by_path.tif")});
  Raster raster = Raster::open(input);
  const nn::Model model = nn::Model::load(kTasks + "regressor.onnx");
  for (const auto& [field, load] : {std::pair{std::string("winograd"), nn::LoadOptions{}}, {std::string("isa"), nn::LoadOptions{}}}) {
    PredictOptions with = o;
    with.load = load;
    if (field == "isa") with.load.isa = "sse2";
    else with.load.winograd = "f2";
    try {
      regress(raster, model, dir.file("loaded.tif"), with);
      FAIL(field << " was accepted with a loaded model");
    } catch (const UsageError& e) {
      CHECK(e.option() == field);
    }
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("loaded.tif")));
  o.load.winograd = "sometimes";
  CHECK_THROWS_AS(regress(input, kTasks + "regressor.onnx", dir.file("bad.tif"), o), UsageError);
}

TEST_CASE("a Deepness segmentation model runs as it comes: its standardisation, classes and seg_thresh", "[predict][deepness]") {
  const auto entry = manifest_entry("segmentor");
  for (const auto& c : entry["cases"]) {
    const std::string which = c["case"];
    INFO("case " << which);
    TempDir dir;
    const std::string input = case_raster(dir, c);
    SegmentOptions o;
    o.probabilities = dir.file("probs.tif");
    o.tile = 8;
    segment(input, kTasks + "segmentor.onnx", dir.file("classes.tif"), o);
    const auto probs = read_raw<float>(c["output"]);
    check_product(o.probabilities, probs, 3);
    const auto want = read_raw<std::uint8_t>(c["classes"]);
    const auto got = luojia::test::read_band(dir.file("classes.tif"), 1);
    REQUIRE(got.size() == want.size());
    const std::size_t plane = want.size();
    int below = 0;
    for (std::size_t i = 0; i < plane; ++i) {
      const float top = std::max({probs[i], probs[plane + i], probs[2 * plane + i]});
      if (std::fabs(top - 0.5f) < 1e-4f) continue;  // on the threshold: rounding decides
      below += top < 0.5f;
      CHECK(got[i] == want[i]);
    }
    const RasterInfo info = Raster::open(dir.file("classes.tif")).info();
    CHECK(info.band(1).nodata == 255.0);
    if (which == "odd") CHECK(below > 0);  // the threshold is exercised
  }
}

TEST_CASE("Deepness metadata keys are read, checked, and yield to luojia's own", "[predict][deepness][metadata]") {
  const nn::Model detector = nn::Model::load(kTasks + "detector.onnx");
  const nn::ModelMetadata& d = detector.metadata();
  CHECK(d.model_type == "Detector");
  CHECK(d.source == "metadata_props (Deepness keys)");
  REQUIRE(d.classes.size() == 2);
  CHECK(d.classes[1].name == "ship");
  CHECK(d.detection_confidence == 0.3);
  CHECK(d.detection_iou_threshold == 0.45);
  CHECK(d.detection_type == "YOLO_v5_v7_DEFAULT");
  CHECK(d.tile_size == 640);
  REQUIRE(d.scale.size() == 1);
  CHECK(d.scale[0] == Approx(1.0 / 255.0));

  using Props = std::vector<std::pair<std::string, std::string>>;
  const nn::ModelMetadata both = nn::parse_metadata_props(
      Props{{"standardization_mean", "[0.5, 0.5]"}, {"luojia", R"({"mean": [0.1, 0.2], "scale": 0.001})"}, {"model_type", "Segmentor"},
            {"class_names", R"({"2": "road"})"}, {"resolution", "20"}, {"tiles_overlap", "25"}, {"seg_thresh", "0.7"}},
      "m.onnx");
  CHECK(both.mean == std::vector<double>{0.1, 0.2});  // luojia's key wins field by field
  CHECK(both.scale == std::vector<double>{0.001});
  CHECK(both.model_type == "Segmentor");                // a bare word is taken as a string
  REQUIRE(both.classes.size() == 3);
  CHECK(both.classes[0].name.empty());
  CHECK(both.classes[2].name == "road");
  CHECK(both.resolution_cm == 20.0);
  CHECK(both.tile_overlap_percent == 25.0);
  CHECK(both.segmentation_threshold == 0.7);
  CHECK(both.source == "metadata_props (luojia and Deepness keys)");

  // One JSON form (luojia-info --json's "metadata", Python's Model.metadata), field by field.
  const auto as_json = nlohmann::json::parse(nn::to_json(both));
  CHECK(as_json["source"] == both.source);
  CHECK(as_json["model_type"] == "Segmentor");
  CHECK(as_json["mean"] == both.mean);
  CHECK(as_json["scale"] == both.scale);
  REQUIRE(as_json["classes"].size() == 3);
  CHECK(as_json["classes"][2]["name"] == "road");
  CHECK(as_json["classes"][2]["color"].size() == 3);
  CHECK(as_json["resolution_cm"] == 20.0);
  CHECK(as_json["segmentation_threshold"] == 0.7);
  CHECK(as_json["tile_size"].is_null());
  CHECK(as_json["detection_type"].is_null());
  CHECK(as_json["box_reach"].is_null());
  const auto detector_json = nlohmann::json::parse(nn::to_json(d));
  CHECK(detector_json["detection_type"] == "YOLO_v5_v7_DEFAULT");
  CHECK(detector_json["tile_size"] == 640);
  REQUIRE(!d.properties.empty());
  CHECK(detector_json["properties"].size() == d.properties.size());
  CHECK(detector_json["properties"][d.properties[0].first] == d.properties[0].second);

  CHECK_THROWS_WITH(nn::parse_metadata_props(Props{{"model_type", "\"Classifier\""}}, "m.onnx"),
                    Catch::Contains("none of Segmentor, Detector, Regressor, Superresolution, Recognition"));
  CHECK_THROWS_WITH(nn::parse_metadata_props(Props{{"class_names", R"({"one": "x"})"}}, "m.onnx"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(nn::parse_metadata_props(Props{{"seg_thresh", "1.5"}}, "m.onnx"), Catch::Contains("\"seg_thresh\" must be a number from 0 to 1"));
  CHECK_THROWS_WITH(nn::parse_metadata_props(Props{{"standardization_std", "[1, 0, 1]"}}, "m.onnx"), Catch::Contains("must not contain zero"));
  CHECK_THROWS_AS(nn::parse_metadata_props(Props{{"tile_size", "-3"}}, "m.onnx"), ModelError);
  CHECK(nn::parse_metadata_props(Props{{"author", "someone"}}, "m.onnx").source == "none");
  // Ultralytics' exports as they come: names as Python's str(dict), its other keys ignored.
  const nn::ModelMetadata ultralytics = nn::parse_metadata_props(
      Props{{"description", "Ultralytics YOLOv8n-seg model"}, {"author", "Ultralytics"}, {"stride", "32"}, {"task", "segment"},
            {"imgsz", "[640, 640]"}, {"names", R"({0: 'person', 1: "it's", 2: 'a \'b\'', 10: 'toothbrush'})"}},
      "yolov8n-seg.onnx");
  REQUIRE(ultralytics.classes.size() == 11);
  CHECK(ultralytics.classes[0].name == "person");
  CHECK(ultralytics.classes[1].name == "it's");
  CHECK(ultralytics.classes[2].name == "a 'b'");
  CHECK(ultralytics.classes[10].name == "toothbrush");
  CHECK(ultralytics.classes[5].name.empty());
  REQUIRE(ultralytics.scale.size() == 1);
  CHECK(ultralytics.scale[0] == Approx(1.0 / 255.0));  // Ultralytics takes pixels / 255, as Deepness
  CHECK_THROWS_WITH(nn::parse_metadata_props(Props{{"names", "{0: person}"}}, "m.onnx"), Catch::Contains("\"names\" must be"));
}

TEST_CASE("luojia-info prints what it understood of a model, and luojia-regress and luojia-superres run as programs", "[predict][programs]") {
  using luojia::test::run_program;
  const auto info = run_program({luojia::test::kInfo, "--json", kTasks + "regressor.onnx"});
  REQUIRE(info.code == 0);
  const auto doc = nlohmann::json::parse(info.out);
  CHECK(doc["metadata"]["model_type"] == "Regressor");
  CHECK(doc["metadata"]["output_scale"] == 10.0);
  CHECK(doc["metadata"]["box_reach"].is_null());
  CHECK(doc["analysis"][0]["radius"] == 3);
  const auto sr_info = run_program({luojia::test::kInfo, kTasks + "sr_pixelshuffle_x3.onnx"});
  CHECK(sr_info.out.find("output 3x finer than the input") != std::string::npos);

  const auto c = manifest_entry("sr_pixelshuffle_x3")["cases"][0];
  TempDir dir;
  const std::string input = case_raster(dir, c);
  const auto sr = run_program({luojia::test::kSuperres, "-q", input, kTasks + "sr_pixelshuffle_x3.onnx", dir.file("sr.tif"), "--tile", "16",
                               "-of", "COG"});
  CHECK(sr.code == 0);
  CHECK(sr.out == dir.file("sr.tif") + "\n");
  check_product(dir.file("sr.tif"), read_raw<float>(c["output"]), 3);
  const auto wrong = run_program({luojia::test::kRegress, "-q", input, kTasks + "sr_pixelshuffle_x3.onnx", dir.file("r.tif")});
  CHECK(wrong.code == 1);
  CHECK(wrong.err.find("that is super-resolution") != std::string::npos);
  CHECK(std::count(wrong.err.begin(), wrong.err.end(), '\n') == 1);
  const auto bad_tile = run_program({luojia::test::kRegress, "-q", input, kTasks + "regressor.onnx", dir.file("r.tif"), "--tile", "0"});
  CHECK(bad_tile.code == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("r.tif")));
}

TEST_CASE("luojia-info --check lists every operator, supported or not, and the tiling verdict, without running the model", "[programs][nn]") {
  using luojia::test::run_program;
  const std::string data = LUOJIA_TEST_DATA;
  // A custom operator no built-in layer implements: named, exit status 1, no tiling verdict.
  const auto custom = run_program({luojia::test::kInfo, "--check", data + "/nn/custom_op_op17.onnx"});
  CHECK(custom.code == 1);
  CHECK(custom.out.find("UNSUPPORTED  luojia.test.ScaledTanh") != std::string::npos);
  CHECK(custom.out.find("supported    Conv") != std::string::npos);
  CHECK(custom.out.find("1 operator is not supported") != std::string::npos);
  // Exactly tileable: the halo. Attention over all tokens: needs --blend, naming the node.
  const auto unet = run_program({luojia::test::kInfo, "--check", data + "/nn/unet_op17.onnx"});
  CHECK(unet.code == 0);
  CHECK(unet.out.find("exact with a halo of") != std::string::npos);
  const auto swin = run_program({luojia::test::kInfo, "--check", "--json", data + "/transformers/swin_op17.onnx"});
  REQUIRE(swin.code == 0);
  const auto doc = nlohmann::json::parse(swin.out);
  CHECK(doc["supported"] == true);
  CHECK(doc["tiling"][0]["needs_blend"] == true);
  CHECK(doc["tiling"][0]["reason"].get<std::string>().find("Reshape") != std::string::npos);
  bool lists_layer_norm = false;
  for (const auto& op : doc["operators"]) lists_layer_norm = lists_layer_norm || (op["op_type"] == "LayerNormalization" && op["supported"] == true);
  CHECK(lists_layer_norm);
  const auto raster = run_program({luojia::test::kInfo, "--check", data + "/README.md"});
  CHECK(raster.code == 2);
}
