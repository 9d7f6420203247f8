// luojia-classify: scene classification over a grid of windows.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/products/classification.hpp>
#include <luojia/error.hpp>

#include <iostream>
#include <sstream>

using namespace luojia;

int main(int argc, char** argv) {
  cli::Distributed distributed(&argc, &argv);
  return cli::run("luojia-classify", [&] {
    cli::ArgParser args("luojia-classify", "[options] INPUT MODEL.onnx OUTPUT",
                        "Runs a classification model (N, C, H, W) -> (N, K) on the window centred on every --stride cell\n"
                        "of INPUT, and writes one label per cell: a Byte raster with INPUT's CRS whose pixels are\n"
                        "--stride input pixels wide (nodata 255 where a cell holds no data; UInt16 with nodata 65535\n"
                        "for models of more than 254 classes).");
    std::string input, model, output;
    cli::ModelInputFlags input_flags;
    cli::KernelFlags kernel_flags;
    ClassifyOptions o;
    cli::CommonFlags common;
    args.positional("INPUT", "Any raster GDAL reads", input, cli::PathRole::InputRaster);
    args.positional("MODEL.onnx", "A scene classification model", model, cli::PathRole::InputFile);
    args.positional("OUTPUT", "The label raster to write", output, cli::PathRole::OutputRaster);
    args.value("--window", "N", "Window side in pixels (default: the model's input size)", o.window);
    args.value("--stride", "N", "Distance between windows, the label raster's pixel size (default: --window)", o.stride);
    args.value("--scores", "PATH", "Also write the model's per-class outputs (Float32, one band per class)", o.scores).role(cli::PathRole::OutputRaster);
    input_flags.add_to(args);
    kernel_flags.add_to(args);
    common.add_to(args);
    if (!args.parse(argc, argv)) return 0;
    if (o.window < 0 || o.stride < 0) throw cli::UsageError("--window and --stride must be positive");
    input_flags.apply_without_halo(o);
    kernel_flags.apply(o.load);
    o.tile = common.tile;
    o.output = common.output();
    o.stream = common.stream();
    int progress_state = -1;
    o.stream.progress_data = &progress_state;
    cli::check_paths({input}, {model}, {output, o.scores});
    input = common.placed_input(input);
    ClassifyReport r;
    const std::vector<std::string> products =
        distributed.run(o.stream, {&output, &o.scores}, o.output, [&] { r = classify(input, model, output, o); });
    if (distributed.active()) r.written = products;  // the merged products, not this rank's shards
    if (!common.quiet && distributed.rank() == 0) {
      std::cerr << "luojia-classify: " << r.columns << "x" << r.rows << " cells, " << r.windows << " windows";
      if (r.skipped) std::cerr << ", " << r.skipped << " without data";
      std::cerr << "\n";
      for (const auto& p : r.written) std::cout << p << "\n";
    }
    return 0;
  });
}
