#include "cli/predict_program.hpp"

#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/products/prediction.hpp>

#include <iostream>
#include <sstream>

namespace luojia::cli {
int predict_program(int argc, char** argv, Distributed& distributed, PredictTask task) {
  const bool sr = task == PredictTask::SuperResolution;
  const std::string program = sr ? "luojia-superres" : "luojia-regress";
  ArgParser args(program, "[options] INPUT MODEL.onnx OUTPUT",
                 sr ? "Runs an ONNX super-resolution model over INPUT: one Float32 band per output channel on a grid k\n"
                      "times finer (k from the graph: DepthToSpace, ConvTranspose or Resize), in INPUT's CRS and over\n"
                      "its extent. Tiles get the halo the network needs, so the result equals a whole-image run;\n"
                      "output pixels over nodata are nodata."
                    : "Runs an ONNX pixel-regression model over INPUT (canopy height, biomass, soil moisture, ...):\n"
                      "one Float32 band per output channel with INPUT's grid, CRS and geotransform. Tiles get the\n"
                      "halo the network needs, so the result equals a whole-image run; nodata pixels stay nodata.");
  std::string input, model, output, output_scale;
  ModelInputFlags input_flags;
  KernelFlags kernel_flags;
  PredictOptions o;
  CommonFlags common;
  args.positional("INPUT", "Any raster GDAL reads", input, cli::PathRole::InputRaster);
  args.positional("MODEL.onnx", sr ? "A super-resolution model (NCHW in, a k times finer NCHW map out)"
                                   : "A regression model (NCHW in, a per-pixel map of values out)",
                  model, cli::PathRole::InputFile);
  args.positional("OUTPUT", "The raster to write (Float32)", output, cli::PathRole::OutputRaster);
  input_flags.add_to(args);
  args.value("--output-scale", "F", "Multiply the model's outputs by F (default: the model's reg_output_scaling, else 1)", output_scale);
  input_flags.add_halo_to(args);
  kernel_flags.add_to(args);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;

  input_flags.apply(o);
  kernel_flags.apply(o.load);
  if (!output_scale.empty()) o.output_scale = parse_double(output_scale, "--output-scale");
  o.tile = common.tile;
  o.output = common.output();
  o.stream = common.stream();
  int progress_state = -1;
  o.stream.progress_data = &progress_state;

  check_paths({input}, {model}, {output});
  input = common.placed_input(input);
  PredictReport r;
  const std::vector<std::string> products = distributed.run(o.stream, {&output}, o.output, [&] {
    r = sr ? super_resolve(input, model, output, o) : regress(input, model, output, o);
  });
  if (distributed.active()) r.written = products;
  if (!common.quiet && distributed.rank() == 0) {
    std::cerr << program << ": " << r.tiles << " tile" << (r.tiles == 1 ? "" : "s") << " of " << r.tile_size << " px";
    if (r.skipped) std::cerr << " (" << r.skipped << " without data, skipped)";
    std::cerr << ", halo " << r.halo << " px, " << r.outputs << " band" << (r.outputs == 1 ? "" : "s");
    if (r.upscale > 1) std::cerr << ", " << r.upscale << "x finer";
    if (r.output_scale != 1.0) std::cerr << ", outputs x " << r.output_scale;
    std::cerr << ", " << r.activation_bytes / (1 << 20) << " MiB of activations per tile\n";
    if (!r.note.empty()) std::cerr << program << ": note: " << with_flags(r.note) << "\n";
  }
  if (distributed.rank() == 0)
    for (const auto& path : r.written) std::cout << path << "\n";
  return 0;
}

}  // namespace luojia::cli
