#include "tasks.hpp"

#include "call_guard.hpp"
#include "model.hpp"
#include "options.hpp"

#include <luojia/io/raster.hpp>
#include <luojia/io/vector_format.hpp>
#include <luojia/products/assessment.hpp>
#include <luojia/products/change.hpp>
#include <luojia/products/classification.hpp>
#include <luojia/products/detection.hpp>
#include <luojia/products/merge.hpp>
#include <luojia/products/prediction.hpp>
#include <luojia/products/segmentation.hpp>
#include <luojia/products/spectral_index.hpp>
#include <luojia/products/stereo.hpp>

#include <set>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

namespace luojia::python {

namespace {

using detail::convert;

// ---- option tables, one per task ----------------------------------------------------------------

// isa, winograd: how a task loads a model given as a path (nn::LoadOptions); load(options) gives
// the task's LoadOptions.
template <class Options, class Access>
void add_kernel_options(OptionTable<Options>& t, Access load) {
  t.field("isa", load, &nn::LoadOptions::isa, "the network kernels' instruction set: sse2, avx2 or avx512 (default: the best this CPU has)");
  t.field("winograd", load, &nn::LoadOptions::winograd, "3x3 convolutions through Winograd: auto (where it pays), off, f2 or f4");
}

// What every model task takes (ModelTaskOptions): bands, scale, mean, std, tile, halo (unless the
// task refuses it), isa, winograd, threads, memory_budget.
template <class Options>
void add_model_task_options(OptionTable<Options>& t, bool halo = true) {
  t.field("bands", &ModelTaskOptions::bands, "raster bands (1-based) for the model's input channels, over its metadata");
  t.field("scale", &ModelTaskOptions::scale, "value * scale before mean and std (one value or one per channel)");
  t.field("mean", &ModelTaskOptions::mean, "subtracted per channel");
  t.field("std", &ModelTaskOptions::std, "divided by per channel");
  t.field("tile", &ModelTaskOptions::tile, "tile side in pixels (default 512)");
  if (halo) t.field("halo", &ModelTaskOptions::halo, "halo in pixels (default: what the task needs, exact where the model allows)");
  add_kernel_options(t, member<&ModelTaskOptions::load>);
  add_stream_options(t, member<&ModelTaskOptions::stream>);
}

const OptionTable<SegmentOptions>& segment_table() {
  static const OptionTable<SegmentOptions> t = [] {
    OptionTable<SegmentOptions> t("segment");
    t.field("probabilities", &SegmentOptions::probabilities, "also write class probabilities here, one band per class");
    t.add("probability_type", "str", "Float32 (nodata -1) or Byte (p*254, nodata 255)", [](SegmentOptions& o, py::handle v) {
      o.probability_type = parse_data_type(convert<std::string>(v, "probability_type"));
    });
    t.field("logits", &SegmentOptions::logits, "also write the raw model outputs here");
    t.field("confidence", &SegmentOptions::confidence, "also write the highest class probability here");
    t.field("vector", &SegmentOptions::vector, "also polygonise the class map here (.gpkg, .geojson, .shp)");
    t.field("min_area", &SegmentOptions::min_area, "polygons smaller than this (CRS units squared) are sieved");
    t.field("min_pixels", &SegmentOptions::min_pixels, "... or smaller than this many pixels");
    t.field("simplify", &SegmentOptions::simplify, "Douglas-Peucker tolerance of the polygons (CRS units)");
    add_model_task_options(t);
    t.field("blend", &SegmentOptions::blend, "blend overlapping tiles (models that are not exactly tileable)");
    t.add("window", "str", "blend window: hann or triangle", [](SegmentOptions& o, py::handle v) {
      const std::string w = convert<std::string>(v, "window");
      if (w == "hann") o.window = BlendWindow::Hann;
      else if (w == "triangle") o.window = BlendWindow::Triangle;
      else throw UsageError("window", "is hann or triangle, not '" + w + "'");
    });
    t.field("tta", &SegmentOptions::tta, "D4 test-time augmentation (8 runs averaged)");
    t.field("aoi", &SegmentOptions::aoi, "vector: classify only inside its polygons");
    t.field("mask", &SegmentOptions::mask, "raster on the same grid: classify only its non-zero pixels");
    t.field("regularize", &SegmentOptions::regularize, "majority filter radius on the class map");
    t.field("threshold", &SegmentOptions::threshold, "class 0 where the best probability is below it");
    add_output_options(t, member<&SegmentOptions::output>);
    return t;
  }();
  return t;
}

const OptionTable<PredictOptions>& predict_table() {
  static const OptionTable<PredictOptions> t = [] {
    OptionTable<PredictOptions> t("regress and super_resolve");
    add_model_task_options(t);
    t.field("output_scale", &PredictOptions::output_scale, "every output value is multiplied by it (default: the metadata's)");
    add_output_options(t, member<&PredictOptions::output>);
    return t;
  }();
  return t;
}

const OptionTable<ClassifyOptions>& classify_table() {
  static const OptionTable<ClassifyOptions> t = [] {
    OptionTable<ClassifyOptions> t("classify");
    t.field("window", &ClassifyOptions::window, "window side in pixels (default: the model's fixed input)");
    t.field("stride", &ClassifyOptions::stride, "distance between windows (default: the window)");
    t.field("scores", &ClassifyOptions::scores, "also write the model's outputs here, one band per class");
    add_model_task_options(t, false);
    add_output_options(t, member<&ClassifyOptions::output>);
    return t;
  }();
  return t;
}

const OptionTable<DetectOptions>& detect_table() {
  static const OptionTable<DetectOptions> t = [] {
    OptionTable<DetectOptions> t("detect");
    add_model_task_options(t);
    t.add("layout", "str", "auto, yolo8, yolo5, oriented, end2end, end2end-oriented, yolo8-seg", [](DetectOptions& o, py::handle v) {
      o.layout = parse_detection_layout(convert<std::string>(v, "layout"));
    });
    t.field("confidence", &DetectOptions::confidence, "detections below it are dropped (default: metadata, else 0.25)");
    t.field("iou", &DetectOptions::iou, "NMS overlap threshold (default: metadata, else 0.45)");
    t.field("classes", &DetectOptions::classes, "keep only these class ids");
    t.field("max_detections", &DetectOptions::max_detections, "the best N of the raster (0: no cap)");
    t.field("min_size", &DetectOptions::min_size, "boxes with a side below it (pixels) are dropped");
    t.field("class_agnostic", &DetectOptions::class_agnostic, "NMS across classes");
    t.add("tta", "str", "none, flips or d4", [](DetectOptions& o, py::handle v) {
      o.tta = parse_detection_augmentation(convert<std::string>(v, "tta"));
    });
    t.field("box_reach", &DetectOptions::box_reach, "farthest a box reaches from its anchor (pixels; default: metadata)");
    t.field("aoi", &DetectOptions::aoi, "vector: only detections anchored inside its polygons");
    t.field("mask", &DetectOptions::mask, "raster on the same grid: only detections anchored on non-zero pixels");
    t.field("pixel_boxes", &DetectOptions::pixel_boxes, "also write COCO-style JSON boxes in pixels here");
    t.field("instance_raster", &DetectOptions::instance_raster, "instance segmentation: also write instance ids here");
    t.field("simplify", &DetectOptions::simplify, "instance polygons: Douglas-Peucker tolerance (CRS units)");
    t.field("format", &DetectOptions::format, "OGR driver of the output (default: from its extension)");
    t.field("layer_options", &DetectOptions::layer_options, "KEY=VALUE layer creation options (ogr2ogr -lco)");
    t.field("overwrite", &DetectOptions::overwrite, "replace existing products");
    return t;
  }();
  return t;
}

const OptionTable<ChangeOptions>& change_table() {
  static const OptionTable<ChangeOptions> t = [] {
    OptionTable<ChangeOptions> t("change");
    t.field("model", &ChangeOptions::model, "a two-input or stacked-bands model (default: change vector analysis)");
    t.field("bands", &ChangeOptions::bands, "bands of each date");
    t.field("align", &ChangeOptions::align, "warp AFTER onto BEFORE's grid when the grids differ");
    t.field("resampling", &ChangeOptions::resampling, "for align: near, bilinear, cubic, ...");
    t.field("threshold", &ChangeOptions::threshold, "change vector analysis: magnitude threshold (default: Otsu's)");
    t.field("magnitude", &ChangeOptions::magnitude, "also write the magnitudes here");
    const auto segment = [](ChangeOptions& o) -> SegmentOptions& { return o.segment; };
    t.field("tile", segment, &SegmentOptions::tile, "tile side in pixels (default 512)");
    t.field("probabilities", segment, &SegmentOptions::probabilities, "with a model: also write class probabilities here");
    t.field("logits", segment, &SegmentOptions::logits, "with a model: also write the raw outputs here");
    t.field("confidence", segment, &SegmentOptions::confidence, "with a model: also write the highest class probability here");
    t.field("vector", segment, &SegmentOptions::vector, "with a model: also polygonise the change map here");
    // Products and streaming go where the change map's writer and the stream read them.
    add_output_options(t, [](ChangeOptions& o) -> OutputOptions& { return o.segment.output; });
    add_kernel_options(t, [](ChangeOptions& o) -> nn::LoadOptions& { return o.segment.load; });
    add_stream_options(t, [](ChangeOptions& o) -> StreamOptions& { return o.segment.stream; });
    return t;
  }();
  return t;
}

const OptionTable<IndexJob>& index_table() {
  static const OptionTable<IndexJob> t = [] {
    OptionTable<IndexJob> t("index");
    t.defaults([](IndexJob& o) { o.stream.read.apply_scale = true; });
    t.add("indices", "list[str] | dict[str, str]", "catalogue names (NDVI, EVI, ...) or {name: formula}", [](IndexJob& o, py::handle v) {
      o.indices.clear();
      if (py::isinstance<py::dict>(v)) {
        for (auto [name, formula] : v.cast<py::dict>())
          o.indices.push_back({py::str(name), formula.is_none() ? std::string() : convert<std::string>(formula, "indices"), {}});
      } else {
        for (const auto& name : convert<std::vector<std::string>>(v, "indices")) o.indices.push_back({name, {}, {}});
      }
    });
    t.field("bands", &IndexJob::bands, "{symbol: band}: R=3, N=4, ... over what the raster and sensor say");
    t.field("sensor", &IndexJob::sensor, "sentinel2, landsat8, modis, ...: band order and wavelengths");
    t.field("constants", &IndexJob::constants, "{name: value}: L=0.5, ... over the catalogue's defaults");
    t.field("nodata", &IndexJob::nodata, "nodata of the product (default -9999)");
    t.field("tile", &IndexJob::tile, "tile side in pixels (default 512)");
    t.add("apply_scale", "bool", "read value * scale + offset of bands that declare them (default True; False: luojia-index --raw)", [](IndexJob& o, py::handle v) {
      o.stream.read.apply_scale = convert<bool>(v, "apply_scale");
    });
    add_output_options(t, member<&IndexJob::output>);
    add_stream_options(t, member<&IndexJob::stream>);
    return t;
  }();
  return t;
}

// luojia-stereo's two jobs under one set of options: an epipolar pair (rectified) to a disparity,
// or a pair with RPCs to a DSM.
struct StereoJob {
  DsmOptions dsm;
  bool rectified = false;
  std::optional<int> min_disparity, max_disparity;
};

// Options of the DSM job alone: refused with rectified=True, as the program refuses them.
const std::set<std::string> kDsmOnly{"dem", "min_height", "max_height", "height_margin", "max_disparity_span", "crs", "resolution",
                                     "reduction", "disparity", "point_cloud", "max_intersection_residual", "fill_holes"};

const OptionTable<StereoJob>& stereo_table() {
  static const OptionTable<StereoJob> t = [] {
    OptionTable<StereoJob> t("stereo");
    t.field("rectified", &StereoJob::rectified, "the pair is epipolar already: the output is the disparity on LEFT's grid");
    t.field("min_disparity", &StereoJob::min_disparity, "smallest disparity searched (default: 0 rectified, else from the heights)");
    t.field("max_disparity", &StereoJob::max_disparity, "largest disparity searched (default: 63 rectified, else from the heights)");
    const auto dsm = [](StereoJob& o) -> DsmOptions& { return o.dsm; };
    const auto stereo = [](StereoJob& o) -> StereoOptions& { return o.dsm.stereo; };
    const auto match = [](StereoJob& o) -> MatchOptions& { return o.dsm.stereo.match; };
    const std::string rpc = "pairs with RPCs: ";
    t.field("dem", dsm, &DsmOptions::dem, rpc + "a DEM whose heights under the scene set the range");
    t.field("min_height", dsm, &DsmOptions::min_height, rpc + "lowest height of the scene (m, ellipsoidal)");
    t.field("max_height", dsm, &DsmOptions::max_height, rpc + "highest height of the scene (m, ellipsoidal)");
    t.field("height_margin", dsm, &DsmOptions::height_margin, rpc + "added above a DEM's highest value (default 50 m)");
    t.field("max_disparity_span", dsm, &DsmOptions::max_disparity_span, rpc + "widest disparity range searched (default 256)");
    t.field("crs", dsm, &DsmOptions::crs, rpc + "the DSM's CRS (default the scene's UTM zone; a compound CRS puts heights on its geoid)");
    t.field("resolution", dsm, &DsmOptions::resolution, rpc + "the DSM's cell size (default the image's ground sample distance)");
    t.field("reduction", dsm, &DsmOptions::reduction, rpc + "median, max, mean or min of the heights in a cell");
    t.field("disparity", dsm, &DsmOptions::disparity, rpc + "also write the epipolar disparity here");
    t.field("point_cloud", dsm, &DsmOptions::point_cloud, rpc + "also write every point here: .las (LAS 1.4) or a 3-D point layer (.fgb, .gpkg, ...)");
    t.field("max_intersection_residual", dsm, &DsmOptions::max_intersection_residual, rpc + "points whose rays miss by more (px) are dropped");
    t.field("fill_holes", dsm, &DsmOptions::fill_holes, rpc + "a cell without points whose neighbours hold points in 3 of 8 takes theirs");
    t.field("model", stereo, &StereoOptions::model, "a learned matcher (ONNX, two inputs, one disparity output, from 0)");
    t.field("left_band", stereo, &StereoOptions::left_band, "band of LEFT matched (default 1)");
    t.field("right_band", stereo, &StereoOptions::right_band, "band of RIGHT matched (default 1)");
    t.field("nodata", stereo, &StereoOptions::nodata, "rectified: nodata of the disparity and depth (default -9999)");
    t.field("depth", stereo, &StereoOptions::depth, "rectified: also write depth = focal * baseline / (disparity + disparity_offset) here");
    t.field("baseline", stereo, &StereoOptions::baseline, "rectified, with depth: the baseline");
    t.field("focal", stereo, &StereoOptions::focal, "rectified, with depth: the focal length in pixels");
    t.field("disparity_offset", stereo, &StereoOptions::disparity_offset, "rectified, with depth: the principal points' x difference");
    t.field("tile", stereo, &StereoOptions::tile, "tile side in pixels (default 512)");
    t.field("paths", match, &MatchOptions::paths, "8 or 4 aggregation paths");
    t.field("path_length", match, &MatchOptions::path_length, "pixels a path runs before it restarts (default 32)");
    t.field("p1", match, &MatchOptions::p1, "penalty of a one-pixel disparity step (default 10)");
    t.field("p2", match, &MatchOptions::p2, "penalty of a larger step (default 120)");
    t.field("uniqueness", match, &MatchOptions::uniqueness, "refuse a match another disparity nearly equals (default 0.10)");
    t.field("lr_max_diff", match, &MatchOptions::lr_max_diff, "left-right check tolerance (-1: off; default 1)");
    t.field("speckle_size", match, &MatchOptions::speckle_size, "remove regions smaller than this (0: off; default 100)");
    t.field("speckle_range", match, &MatchOptions::speckle_range, "largest step within a speckle region (default 1)");
    t.field("subpixel", match, &MatchOptions::subpixel, "parabola refinement (default True)");
    add_output_options(t, [](StereoJob& o) -> OutputOptions& { return o.dsm.stereo.output; });
    add_kernel_options(t, [](StereoJob& o) -> nn::LoadOptions& { return o.dsm.stereo.load; });
    add_stream_options(t, [](StereoJob& o) -> StreamOptions& { return o.dsm.stereo.stream; });
    return t;
  }();
  return t;
}

const OptionTable<AssessOptions>& assess_table() {
  static const OptionTable<AssessOptions> t = [] {
    OptionTable<AssessOptions> t("assess");
    t.field("field", &AssessOptions::field, "vector references: the attribute holding the class");
    t.field("ignore", &AssessOptions::ignore, "reference value left out of every count");
    t.add("remap", "dict[int, int]", "reference value -> class, applied first", [](AssessOptions& o, py::handle v) {
      o.remap.clear();
      if (py::isinstance<py::dict>(v)) {
        for (auto [from, to] : v.cast<py::dict>()) o.remap.emplace_back(convert<int>(from, "remap"), convert<int>(to, "remap"));
      } else {
        for (py::handle pair : v) {
          auto p = pair.cast<py::sequence>();
          o.remap.emplace_back(convert<int>(p[0], "remap"), convert<int>(p[1], "remap"));
        }
      }
    });
    add_stream_options(t, member<&AssessOptions::stream>);
    return t;
  }();
  return t;
}

const OptionTable<MergeOptions>& merge_table() {
  static const OptionTable<MergeOptions> t = [] {
    OptionTable<MergeOptions> t("merge");
    add_output_options(t, member<&MergeOptions::output>);
    t.add("memory_budget", "str | int", "GDAL's block cache while copying", [](MergeOptions& o, py::handle v) {
      o.memory_budget = detail::byte_size(v, "memory_budget");
    });
    t.field("pixel_boxes", &MergeOptions::pixel_boxes, "detection shards: also write COCO-style pixel boxes here");
    return t;
  }();
  return t;
}

// ---- reports ----------------------------------------------------------------------------------------

// What every model task reports (ModelTaskReport).
py::dict model_task_report(const ModelTaskReport& r) {
  py::dict d;
  d["tiles"] = r.tiles, d["skipped"] = r.skipped, d["tile_size"] = r.tile_size, d["halo"] = r.halo;
  d["receptive_radius"] = r.receptive_radius;
  d["alignment"] = r.alignment, d["exact"] = r.exact, d["note"] = r.note, d["activation_bytes"] = r.activation_bytes;
  d["written"] = r.written;
  return d;
}

py::dict report(const SegmentReport& r) { return model_task_report(r); }

py::dict report(const PredictReport& r) {
  py::dict d = model_task_report(r);
  d["upscale"] = r.upscale, d["outputs"] = r.outputs, d["output_scale"] = r.output_scale;
  return d;
}

py::dict report(const ClassifyReport& r) {
  py::dict d;
  d["columns"] = r.columns, d["rows"] = r.rows, d["windows"] = r.windows, d["skipped"] = r.skipped, d["written"] = r.written;
  return d;
}

py::dict report(const DetectReport& r) {
  py::dict d = model_task_report(r);
  d["layout"] = std::string(name(r.layout)), d["confidence"] = r.confidence, d["iou"] = r.iou;
  d["candidates"] = r.candidates, d["detections"] = r.detections, d["most_held"] = r.most_held;
  d["box_reach"] = detail::optional_object(r.box_reach), d["masks_from_own_window"] = r.masks_from_own_window;
  d["empty_masks"] = r.empty_masks;
  return d;
}

py::dict report(const ChangeReport& r) {
  py::dict d;
  d["model"] = r.model, d["threshold"] = r.threshold, d["otsu"] = r.otsu, d["changed"] = r.changed, d["valid"] = r.valid;
  if (r.model) d["segment"] = report(r.segment);
  d["written"] = r.written;
  return d;
}

py::dict report(const StereoReport& r) {
  py::dict d, counts;
  counts["valid"] = r.counts.valid, counts["matched"] = r.counts.matched, counts["not_unique"] = r.counts.not_unique;
  counts["inconsistent"] = r.counts.inconsistent, counts["speckles"] = r.counts.speckles, counts["at_range_end"] = r.counts.at_range_end;
  d["counts"] = counts;
  d["halo"] = py::make_tuple(r.halo.left, r.halo.top, r.halo.right, r.halo.bottom);
  d["reach"] = r.reach;
  d["tiles"] = r.tiles, d["tiles_in_flight"] = r.tiles_in_flight, d["bytes_per_tile"] = r.bytes_per_tile, d["written"] = r.written;
  return d;
}

py::dict report(const DsmReport& r) {
  py::dict d;
  d["matching"] = report(r.matching);
  d["epipolar_width"] = r.epipolar_width, d["epipolar_height"] = r.epipolar_height;
  d["vertical_rms"] = r.vertical_rms, d["vertical_max"] = r.vertical_max;
  d["min_height"] = r.min_height, d["max_height"] = r.max_height;
  d["min_disparity"] = r.min_disparity, d["max_disparity"] = r.max_disparity, d["range_capped"] = r.range_capped;
  d["surveyed"] = r.surveyed, d["survey_factor"] = r.survey_factor, d["survey_matches"] = r.survey_matches;
  d["disparity_per_metre"] = r.disparity_per_metre, d["points"] = r.points, d["dropped_points"] = r.dropped_points;
  d["cells"] = r.cells, d["filled_cells"] = r.filled_cells, d["matcher_short"] = r.matcher_short, d["width"] = r.width, d["height"] = r.height, d["crs"] = r.crs_wkt, d["written"] = r.written;
  return d;
}

py::dict report(const StreamStats& s, const std::string& output) {
  py::dict d;
  d["tiles"] = s.tiles, d["tiles_in_flight"] = s.tiles_in_flight, d["gdal_cache_bytes"] = s.gdal_cache_bytes;
  d["written"] = std::vector<std::string>{output};
  return d;
}

py::dict report(const MergeReport& r, const std::string& output) {
  py::dict d;
  d["shards"] = r.shards, d["width"] = r.width, d["height"] = r.height, d["polygons"] = r.polygons, d["joined"] = r.joined;
  d["written"] = std::vector<std::string>{output};
  return d;
}

// The detections a run wrote, as a numpy structured array (pixel coordinates of the input raster).
py::array detection_array(const std::vector<Detection>& found) {
  py::list fields;
  for (const char* name : {"class_id"}) fields.append(py::make_tuple(name, "<i4"));
  fields.append(py::make_tuple("score", "<f4"));
  for (const char* name : {"cx", "cy", "width", "height", "angle"}) fields.append(py::make_tuple(name, "<f8"));
  py::dtype dtype = py::dtype::from_args(fields);
  py::array out(dtype, std::vector<py::ssize_t>{static_cast<py::ssize_t>(found.size())});
  struct Row {
    std::int32_t class_id;
    float score;
    double cx, cy, width, height, angle;
  } __attribute__((packed));
  static_assert(sizeof(Row) == 48);
  auto* rows = static_cast<Row*>(out.mutable_data());
  for (std::size_t i = 0; i < found.size(); ++i)
    rows[i] = {found[i].class_id, found[i].score, found[i].cx, found[i].cy, found[i].width, found[i].height, found[i].angle};
  return out;
}

// ---- running --------------------------------------------------------------------------------------

PythonModel* loaded(py::handle model) {
  return py::isinstance<PythonModel>(model) ? model.cast<PythonModel*>() : nullptr;
}

// A model task over a path or a loaded luojia.Model (then the raster is opened here and the
// library's loaded-model overload runs, which refuses isa and winograd: the Model's kernels were
// chosen when it was loaded; a model file path loads it for this call).
template <class ByPath, class ByModel>
auto run_model_task(py::handle input, py::handle model, CallGuard& guard, ByPath by_path, ByModel by_model) {
  const std::string in = detail::text(input, "input");
  PythonModel* m = loaded(model);
  const std::string model_path = m ? std::string() : detail::text(model, "model");
  decltype(by_path(in, model_path)) r;
  guard.run([&] {
    if (m) {
      Raster raster = Raster::open(in);
      r = by_model(raster, m->model());
    } else {
      r = by_path(in, model_path);
    }
  });
  return r;
}

void attach(StreamOptions& stream, CallGuard& guard) {
  stream.progress = guard.function();
  stream.progress_data = guard.data();
}

}  // namespace

void bind_tasks(py::module_& m) {
  m.def("options", [](const std::string& task) -> std::vector<std::string> {
    if (task == "segment") return segment_table().names();
    if (task == "regress" || task == "super_resolve") return predict_table().names();
    if (task == "classify") return classify_table().names();
    if (task == "detect") return detect_table().names();
    if (task == "change") return change_table().names();
    if (task == "index") return index_table().names();
    if (task == "assess") return assess_table().names();
    if (task == "merge") return merge_table().names();
    if (task == "stereo") return stereo_table().names();
    throw UsageError("task", "'" + task + "' is not a task (segment, regress, super_resolve, classify, detect, change, index, assess, merge, stereo)");
  }, py::arg("task"), "The option names a task takes: the library's option fields.");

  m.def("segment", [](py::object input, py::object model, py::object class_map, py::dict options, py::object progress) {
    SegmentOptions o = segment_table().parse(options);
    CallGuard guard(progress);
    attach(o.stream, guard);
    const std::string out = detail::text(class_map, "class_map");
    return report(run_model_task(input, model, guard,
        [&](const std::string& in, const std::string& mp) { return segment(in, mp, out, o); },
        [&](Raster& r, const nn::Model& mm) { return segment(r, mm, out, o); }));
  }, py::arg("input"), py::arg("model"), py::arg("class_map"), py::arg("options"), py::arg("progress") = py::none(),
     segment_table().doc().c_str());

  for (const char* task : {"regress", "super_resolve"}) {
    const bool super = std::string(task) == "super_resolve";
    m.def(task, [super](py::object input, py::object model, py::object output, py::dict options, py::object progress) {
      PredictOptions o = predict_table().parse(options);
      CallGuard guard(progress);
      attach(o.stream, guard);
      const std::string out = detail::text(output, "output");
      return report(run_model_task(input, model, guard,
          [&](const std::string& in, const std::string& mp) { return super ? super_resolve(in, mp, out, o) : regress(in, mp, out, o); },
          [&](Raster& r, const nn::Model& mm) { return super ? super_resolve(r, mm, out, o) : regress(r, mm, out, o); }));
    }, py::arg("input"), py::arg("model"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(),
       predict_table().doc().c_str());
  }

  m.def("classify", [](py::object input, py::object model, py::object output, py::dict options, py::object progress) {
    ClassifyOptions o = classify_table().parse(options);
    CallGuard guard(progress);
    attach(o.stream, guard);
    const std::string out = detail::text(output, "output");
    return report(run_model_task(input, model, guard,
        [&](const std::string& in, const std::string& mp) { return classify(in, mp, out, o); },
        [&](Raster& r, const nn::Model& mm) { return classify(r, mm, out, o); }));
  }, py::arg("input"), py::arg("model"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(),
     classify_table().doc().c_str());

  m.def("detect", [](py::object input, py::object model, py::object output, py::dict options, py::object progress) {
    DetectOptions o = detect_table().parse(options);
    CallGuard guard(progress);
    attach(o.stream, guard);
    std::vector<Detection> found;
    o.on_detection = [&](const Detection& d) {
      Detection kept = d;
      kept.mask.reset();
      kept.mask_logits.reset();
      kept.coefficients.clear();
      found.push_back(std::move(kept));
    };
    const std::string out = detail::text(output, "output");
    py::dict d = report(run_model_task(input, model, guard,
        [&](const std::string& in, const std::string& mp) { return detect(in, mp, out, o); },
        [&](Raster& r, const nn::Model& mm) { return detect(r, mm, out, o); }));
    d["boxes"] = detection_array(found);
    return d;
  }, py::arg("input"), py::arg("model"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(),
     detect_table().doc().c_str());

  m.def("change", [](py::object before, py::object after, py::object output, py::dict options, py::object progress) {
    ChangeOptions o = change_table().parse(options);
    CallGuard guard(progress);
    attach(o.segment.stream, guard);
    const std::string b = detail::text(before, "before"), a = detail::text(after, "after"), out = detail::text(output, "output");
    ChangeReport r;
    guard.run([&] { r = detect_change(b, a, out, o); });
    return report(r);
  }, py::arg("before"), py::arg("after"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(),
     change_table().doc().c_str());

  m.def("index", [](py::object input, py::object output, py::dict options, py::object progress) {
    IndexJob job = index_table().parse(options);
    if (job.indices.empty()) throw UsageError("indices", "names at least one index (NDVI, ...) or formula");
    CallGuard guard(progress);
    attach(job.stream, guard);
    const std::string in = detail::text(input, "input"), out = detail::text(output, "output");
    StreamStats s;
    guard.run([&] { s = compute_indices(in, out, job); });
    return report(s, out);
  }, py::arg("input"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(), index_table().doc().c_str());

  m.def("stereo", [](py::object left, py::object right, py::object output, py::dict options, py::object progress) {
    StereoJob job = stereo_table().parse(options);
    if (job.rectified)
      for (auto [key, value] : options)
        if (kDsmOnly.count(py::str(key).cast<std::string>()))
          throw UsageError(py::str(key).cast<std::string>(), "is for pairs with RPCs, not with `rectified`");
    CallGuard guard(progress);
    attach(job.dsm.stereo.stream, guard);
    const std::string l = detail::text(left, "left"), r = detail::text(right, "right"), out = detail::text(output, "output");
    py::dict d;
    if (job.rectified) {
      StereoOptions o = job.dsm.stereo;
      if (job.min_disparity) o.match.min_disparity = *job.min_disparity;
      if (job.max_disparity) o.match.max_disparity = *job.max_disparity;
      StereoReport sr;
      guard.run([&] { sr = match_stereo(l, r, out, o); });
      d = report(sr);
    } else {
      job.dsm.min_disparity = job.min_disparity;
      job.dsm.max_disparity = job.max_disparity;
      DsmReport dr;
      guard.run([&] { dr = stereo_dsm(l, r, out, job.dsm); });
      d = report(dr);
    }
    return d;
  }, py::arg("left"), py::arg("right"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(),
     stereo_table().doc().c_str());

  m.def("assess", [](py::object class_map, py::object reference, py::dict options, py::object progress) {
    AssessOptions o = assess_table().parse(options);
    CallGuard guard(progress);
    attach(o.stream, guard);
    const std::string c = detail::text(class_map, "class_map"), r = detail::text(reference, "reference");
    Assessment a;
    guard.run([&] { a = assess(c, r, o); });
    return py::module_::import("json").attr("loads")(to_json(a));
  }, py::arg("class_map"), py::arg("reference"), py::arg("options"), py::arg("progress") = py::none(), assess_table().doc().c_str());

  m.def("merge", [](std::vector<py::object> shards, py::object output, py::dict options, py::object progress) {
    MergeOptions o = merge_table().parse(options);
    CallGuard guard(progress);
    o.progress = guard.function();
    o.progress_data = guard.data();
    std::vector<std::string> files;
    for (const auto& s : shards) files.push_back(detail::text(s, "shards"));
    const std::string out = detail::text(output, "output");
    MergeReport r;
    guard.run([&] { r = is_vector_path(out) ? merge_vector_shards(files, out, o) : merge_raster_shards(files, out, o); });
    return report(r, out);
  }, py::arg("shards"), py::arg("output"), py::arg("options"), py::arg("progress") = py::none(), merge_table().doc().c_str());
}

}  // namespace luojia::python
