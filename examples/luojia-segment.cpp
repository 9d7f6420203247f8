// luojia-segment: a raster and an ONNX segmentation model in, georeferenced products out.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/error.hpp>
#include <luojia/products/segmentation.hpp>

#include <iostream>
#include <sstream>

using namespace luojia;

namespace {

int segment_main(int argc, char** argv, cli::Distributed& distributed) {
  cli::ArgParser args("luojia-segment", "[options] INPUT MODEL.onnx OUTPUT",
                      "Segments INPUT with an ONNX model into a class map (Byte, colour table, class names) with\n"
                      "INPUT's grid, CRS and geotransform. Tiles get the halo the network's receptive field needs,\n"
                      "so the result equals a whole-image run; nodata pixels stay nodata (255).");
  std::string input, model, output, window = "hann", tta = "none";
  cli::ModelInputFlags input_flags;
  cli::KernelFlags kernel_flags;
  std::string probability_type = "Float32", min_area, threshold;
  SegmentOptions o;
  cli::CommonFlags common;
  args.positional("INPUT", "Any raster GDAL reads", input, cli::PathRole::InputRaster);
  args.positional("MODEL.onnx", "A segmentation model exported from PyTorch (NCHW in, per-pixel class scores out)", model, cli::PathRole::InputFile);
  args.positional("OUTPUT", "The class map to write", output, cli::PathRole::OutputRaster);
  input_flags.add_to(args);
  input_flags.add_halo_to(args);
  kernel_flags.add_to(args);
  args.flag("--blend", "Blend overlapping tiles in probability space (for models with global context)", o.blend);
  args.value("--blend-window", "hann|triangle", "Weight window for --blend (default hann)", window).fills("window");
  args.value("--tta", "none|d4", "Test-time augmentation: d4 averages 4 rotations x 2 flips in probability space", tta);
  args.value("--aoi", "VECTOR", "Classify only inside these polygons; tiles outside are skipped", o.aoi).role(cli::PathRole::InputVector);
  args.value("--mask", "RASTER", "Classify only where this raster (same grid) is non-zero", o.mask).role(cli::PathRole::InputRaster);
  args.value("--probabilities", "PATH", "Also write class probabilities, one band per class", o.probabilities).role(cli::PathRole::OutputRaster);
  args.value("--probabilities-type", "Float32|Byte", "Float32 (nodata -1) or Byte (p*254, nodata 255)", probability_type)
      .fills("probability_type")
      .choices({"Float32", "Byte"});
  args.value("--logits", "PATH", "Also write the raw model outputs, one Float32 band per channel", o.logits).role(cli::PathRole::OutputRaster);
  args.value("--confidence", "PATH", "Also write the highest class probability (Float32, nodata -1)", o.confidence).role(cli::PathRole::OutputRaster);
  args.value("--vector", "PATH", "Also polygonise the class map (.gpkg, .geojson, .shp)", o.vector).role(cli::PathRole::OutputVector);
  args.value("--min-area", "AREA[px]", "Leave out regions smaller than AREA (CRS units squared, or pixels with px) from the polygons",
             min_area);
  args.value("--simplify", "TOLERANCE", "Simplify polygons with this tolerance (CRS units)", o.simplify);
  args.value("--threshold", "P", "Class 0 where the best class probability is below P (default: the model's seg_thresh, else none)",
             threshold);
  args.value("--regularize", "RADIUS", "Majority filter of the class map over a (2R+1)^2 square", o.regularize);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;

  input_flags.apply(o);
  kernel_flags.apply(o.load);
  if (window == "hann") o.window = BlendWindow::Hann;
  else if (window == "triangle") o.window = BlendWindow::Triangle;
  else throw cli::UsageError("--blend-window is hann or triangle, not '" + window + "'");
  if (tta == "d4") o.tta = true;
  else if (tta != "none") throw cli::UsageError("--tta is none or d4, not '" + tta + "'");
  o.probability_type = parse_data_type(probability_type);
  if (o.probability_type != DataType::Float32 && o.probability_type != DataType::Byte)
    throw cli::UsageError("--probabilities-type is Float32 or Byte");
  if (!threshold.empty()) o.threshold = cli::parse_double(threshold, "--threshold");
  if (o.regularize < 0) throw cli::UsageError("--regularize must not be negative");
  if (!min_area.empty()) {
    if (min_area.size() > 2 && min_area.substr(min_area.size() - 2) == "px")
      o.min_pixels = cli::parse_int(min_area.substr(0, min_area.size() - 2), "--min-area");
    else
      o.min_area = cli::parse_double(min_area, "--min-area");
  }
  if (o.min_area < 0 || o.min_pixels < 0 || o.simplify < 0) throw cli::UsageError("--min-area and --simplify must not be negative");
  o.tile = common.tile;
  o.output = common.output();
  o.stream = common.stream();
  int progress_state = -1;
  o.stream.progress_data = &progress_state;

  cli::check_paths({input}, {model, o.mask, o.aoi}, {output, o.probabilities, o.logits, o.confidence, o.vector});
  input = common.placed_input(input);
  SegmentReport r;
  const std::vector<std::string> products = distributed.run(
      o.stream, {&output, &o.probabilities, &o.logits, &o.confidence, &o.vector}, o.output, [&] { r = segment(input, model, output, o); });
  if (distributed.active()) r.written = products;  // the merged products, not this rank's shards
  if (!common.quiet && distributed.rank() == 0) {
    std::cerr << "luojia-segment: " << r.tiles << " tile" << (r.tiles == 1 ? "" : "s") << " of " << r.tile_size << " px";
    if (r.skipped) std::cerr << " (" << r.skipped << " without data, skipped)";
    std::cerr << ", halo " << r.halo << " px, " << (r.exact ? "exact" : "blended") << ", "
              << r.activation_bytes / (1 << 20) << " MiB of activations per tile\n";
    if (!r.note.empty()) std::cerr << "luojia-segment: note: " << cli::with_flags(r.note) << "\n";
    for (const auto& path : r.written) std::cout << path << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Distributed distributed(&argc, &argv);
  return cli::run("luojia-segment", [&] { return segment_main(argc, argv, distributed); });
}
