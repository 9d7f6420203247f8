// luojia-regress: a raster and an ONNX pixel-regression model in, a georeferenced Float32 raster out.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"
#include "cli/predict_program.hpp"

int main(int argc, char** argv) {
  luojia::cli::Distributed distributed(&argc, &argv);
  return luojia::cli::run("luojia-regress", [&] {
    return luojia::cli::predict_program(argc, argv, distributed, luojia::cli::PredictTask::Regression);
  });
}
