// luojia-detect: a raster and an ONNX object detector in, georeferenced boxes (a vector layer) out.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/products/detection.hpp>

#include <iostream>
#include <sstream>

namespace {

using namespace luojia;

int detect_program(int argc, char** argv, cli::Distributed& distributed) {
  cli::ArgParser args("luojia-detect", "[options] INPUT MODEL.onnx OUTPUT",
                      "Runs an ONNX object detector (YOLOv5/v7, YOLOv8/11, oriented YOLOv8-OBB) over INPUT and writes one\n"
                      "polygon per detection in INPUT's CRS (.gpkg, .geojson, .shp, .fgb), with class_id, class_name,\n"
                      "score and, for oriented boxes, angle (degrees clockwise from the raster's x axis). When the\n"
                      "graph lays its anchors out as grids (dynamic H/W exports), each tile keeps the anchors of its\n"
                      "core and the boxes equal one whole-image run: no duplicates or cut boxes at tile borders.\n"
                      "An instance segmenter (YOLOv8/11-seg: a second output of prototypes) writes each instance's\n"
                      "mask as polygons (holes kept) with class_id, class_name, score and area, equal to one\n"
                      "whole-image run's masks however the raster is tiled.");
  std::string input, model, output, conf, iou, classes, layout = "auto", reach, tta = "none";
  cli::ModelInputFlags input_flags;
  cli::KernelFlags kernel_flags;
  std::int64_t max_det = 0;
  double min_size = 0;
  bool agnostic = false;
  DetectOptions o;
  cli::CommonFlags common;
  common.vector_product = true;
  args.positional("INPUT", "Any raster GDAL reads", input, cli::PathRole::InputRaster);
  args.positional("MODEL.onnx", "A detector (NCHW in; (1, 4+nc, N), (1, N, 5+nc), (1, 4+nc+1, N) out)", model, cli::PathRole::InputFile);
  args.positional("OUTPUT", "The vector layer to write (.gpkg, .geojson, .shp, .fgb)", output, cli::PathRole::OutputVector);
  input_flags.add_to(args);
  args.value("--conf,--confidence", "T", "Drop detections scoring below T (default: the model's det_conf, else 0.25)", conf);
  args.value("--iou", "T", "NMS: a box overlapping a better one by IoU > T is dropped (default: det_iou_thresh, else 0.45)", iou);
  args.value("--classes", "C1,C2,...", "Keep only these class ids", classes);
  args.value("--max-det", "N", "Keep the N best detections of the raster (0: all)", max_det).fills("max_detections");
  args.value("--min-size", "PX", "Drop boxes with a side below PX pixels", min_size);
  args.flag("--class-agnostic", "NMS across classes (a box suppresses overlapping boxes of any class)", agnostic);
  args.value("--layout", "auto|yolo8|yolo5|oriented|end2end|end2end-oriented|yolo8-seg",
             "The output's layout (default: from its shape and metadata)", layout);
  args.value("--box-reach", "PX", "How far a box can reach from its anchor (default: the model's box_reach); lets boxes be final row by row", reach);
  args.value("--tta", "none|flips|d4",
             "Test-time augmentation: also run on the tile mirrored (flips: x, y, both; d4: and transposed), all boxes suppressed together",
             tta);
  input_flags.add_halo_to(args);
  kernel_flags.add_to(args);
  args.value("--aoi", "VECTOR", "Keep only detections anchored inside these polygons", o.aoi).role(cli::PathRole::InputVector);
  args.value("--mask", "RASTER", "Keep only detections anchored where this raster (same grid) is non-zero", o.mask).role(cli::PathRole::InputRaster);
  args.value("--pixel-boxes", "PATH.json", "Also write the detections as COCO-style pixel boxes (instances: with RLE masks)", o.pixel_boxes).role(cli::PathRole::OutputFile);
  args.value("--instance-raster", "PATH.tif", "Also write an instance-id raster (COG, UInt32, 0: none, k: the k-th feature)",
             o.instance_raster)
      .role(cli::PathRole::OutputRaster);
  args.value("--simplify", "TOLERANCE", "Simplify instance polygons with this tolerance (CRS units), topology kept", o.simplify);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;

  input_flags.apply(o);
  kernel_flags.apply(o.load);
  if (!conf.empty()) o.confidence = cli::parse_double(conf, "--conf");
  if (!iou.empty()) o.iou = cli::parse_double(iou, "--iou");
  for (const auto& c : cli::split_list(classes)) o.classes.push_back(cli::parse_int(c, "--classes"));
  if (max_det < 0) throw cli::UsageError("--max-det must not be negative");
  o.max_detections = static_cast<std::size_t>(max_det);
  o.min_size = min_size;
  if (o.simplify < 0) throw cli::UsageError("--simplify must not be negative");
  o.class_agnostic = agnostic;
  o.layout = parse_detection_layout(layout);
  o.tta = parse_detection_augmentation(tta);
  if (!reach.empty()) o.box_reach = cli::parse_double(reach, "--box-reach");
  o.tile = common.tile;
  o.overwrite = common.overwrite;
  o.format = common.format;
  o.layer_options = common.creation_options;
  o.stream = common.stream();
  int progress_state = -1;
  o.stream.progress_data = &progress_state;

  cli::check_paths({input}, {model, o.mask, o.aoi}, {output, o.pixel_boxes, o.instance_raster});
  input = common.placed_input(input);
  // Under mpirun each rank detects one shard of tile rows into a GeoPackage of final boxes and
  // border candidates; rank 0 suppresses the candidates together (as luojia-merge does) and
  // writes the pixel boxes of the whole.
  DetectReport r;
  OutputOptions format = common.output();
  std::string merged_pixel_boxes;
  if (distributed.active()) std::swap(merged_pixel_boxes, o.pixel_boxes);
  const std::vector<std::string> products =
      distributed.run(o.stream, {&output}, format, [&] { r = detect(input, model, output, o); }, merged_pixel_boxes);
  if (distributed.active()) r.written = products;
  if (distributed.rank() != 0) return 0;
  if (!common.quiet) {
    if (distributed.active()) std::cerr << "luojia-detect: " << distributed.size() << " ranks, the figures are rank 0's shard's\n";
    std::cerr << "luojia-detect: " << r.tiles << " tile" << (r.tiles == 1 ? "" : "s") << " of " << r.tile_size << " px";
    if (r.skipped) std::cerr << " (" << r.skipped << " without data, skipped)";
    std::cerr << ", halo " << r.halo << " px, " << (r.exact ? "exact" : "overlapping") << ", layout " << name(r.layout) << "; "
              << r.detections << " detection" << (r.detections == 1 ? "" : "s") << " of " << r.candidates
              << " candidates (conf " << r.confidence << ", IoU " << r.iou << "), at most " << r.most_held << " held for NMS";
    if (r.box_reach) std::cerr << " (box reach " << *r.box_reach << " px)";
    if (r.layout == DetectionLayout::Yolo8Segment)
      std::cerr << "; masks: " << r.masks_from_own_window << " made from a window of their own, " << r.empty_masks
                << " empty (instance dropped)";
    std::cerr << "\n";
    if (!r.note.empty()) std::cerr << "luojia-detect: note: " << cli::with_flags(r.note) << "\n";
  }
  for (const auto& path : r.written) std::cout << path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  luojia::cli::Distributed distributed(&argc, &argv);
  return luojia::cli::run("luojia-detect", [&] { return detect_program(argc, argv, distributed); });
}
