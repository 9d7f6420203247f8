// luojia-change: what changed between two dates, by a model or by change vector analysis.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/products/change.hpp>
#include <luojia/error.hpp>

#include <iostream>
#include <sstream>

using namespace luojia;

namespace {

int change_main(int argc, char** argv, cli::Distributed& distributed) {
  cli::ArgParser args("luojia-change", "[options] BEFORE AFTER OUTPUT",
                      "Maps change between two rasters of the same place. With --model, a two-input (Siamese) or\n"
                      "stacked-bands ONNX model classifies every pixel, as luojia-segment does. Without, change vector\n"
                      "analysis: the magnitude of the band-difference vector, thresholded by Otsu's method or\n"
                      "--threshold, gives OUTPUT (Byte: 0 no change, 1 change, 255 nodata) on BEFORE's grid.");
  std::string before, after, output, bands, model, threshold;
  ChangeOptions o;
  std::string probability_type = "Float32";
  cli::CommonFlags common;
  args.positional("BEFORE", "The earlier raster", before, cli::PathRole::InputRaster);
  args.positional("AFTER", "The later raster, on BEFORE's grid (or --align)", after, cli::PathRole::InputRaster);
  args.positional("OUTPUT", "The change map to write", output, cli::PathRole::OutputRaster);
  args.value("--bands", "B1,B2,...", "Bands of each date to compare (default: all)", bands);
  args.value("--model", "MODEL.onnx", "A change model: two inputs (BEFORE, AFTER) or one of both dates' bands stacked", model).role(cli::PathRole::InputFile);
  args.value("--threshold", "T", "Change where the magnitude exceeds T (default: Otsu's threshold)", threshold);
  args.value("--magnitude", "PATH", "Also write the change magnitude (Float32, nodata -1)", o.magnitude).role(cli::PathRole::OutputRaster);
  args.flag("--align", "Warp AFTER onto BEFORE's grid when the grids differ", o.align);
  args.value("--resampling", "METHOD", "Resampling for --align (GDAL's names; default bilinear)", o.resampling);
  args.value("--probabilities", "PATH", "With --model: class probabilities", o.segment.probabilities).role(cli::PathRole::OutputRaster);
  args.value("--logits", "PATH", "With --model: raw outputs", o.segment.logits).role(cli::PathRole::OutputRaster);
  args.value("--confidence", "PATH", "With --model: highest class probability", o.segment.confidence).role(cli::PathRole::OutputRaster);
  args.value("--vector", "PATH", "With --model: polygons of the change map (.gpkg, .geojson, .shp)", o.segment.vector).role(cli::PathRole::OutputVector);
  cli::KernelFlags kernel_flags;  // with --model
  kernel_flags.add_to(args);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;
  std::stringstream in(bands);
  for (std::string b; std::getline(in, b, ',');)
    if (!b.empty()) o.bands.push_back(cli::parse_int(b, "--bands"));
  if (!threshold.empty()) o.threshold = cli::parse_double(threshold, "--threshold");
  o.model = model;
  if (model.empty() && (!o.segment.probabilities.empty() || !o.segment.logits.empty() || !o.segment.vector.empty() ||
                        !o.segment.confidence.empty()))
    throw cli::UsageError("--probabilities, --logits, --confidence and --vector need --model");
  kernel_flags.apply(o.segment.load);
  if (!model.empty() && (!o.magnitude.empty() || o.threshold))
    throw cli::UsageError("--magnitude and --threshold are for change vector analysis, without --model");
  o.segment.tile = common.tile;
  o.segment.output = common.output();
  o.segment.stream = common.stream();
  int progress_state = -1;
  o.segment.stream.progress_data = &progress_state;
  cli::check_paths({before, after}, {model}, {output, o.magnitude, o.segment.probabilities, o.segment.logits, o.segment.confidence, o.segment.vector});
  before = common.placed_input(before);
  after = common.placed_input(after);
  ChangeReport r;
  const std::vector<std::string> products = distributed.run(
      o.segment.stream, {&output, &o.magnitude, &o.segment.probabilities, &o.segment.logits, &o.segment.confidence, &o.segment.vector},
      o.segment.output, [&] { r = detect_change(before, after, output, o); });
  if (distributed.active()) r.written = products;  // the merged products, not this rank's shards
  if (!common.quiet && distributed.rank() == 0) {
    if (!r.model)
      std::cerr << "luojia-change: " << r.changed << " of " << r.valid << " pixels changed, threshold " << r.threshold
                << (r.otsu ? " (Otsu)" : "") << "\n";
    for (const auto& p : r.written) std::cout << p << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Distributed distributed(&argc, &argv);
  return cli::run("luojia-change", [&] { return change_main(argc, argv, distributed); });
}
