// luojia-superres: a raster and an ONNX super-resolution model in, a georeferenced raster k times finer out.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"
#include "cli/predict_program.hpp"

int main(int argc, char** argv) {
  luojia::cli::Distributed distributed(&argc, &argv);
  return luojia::cli::run("luojia-superres", [&] {
    return luojia::cli::predict_program(argc, argv, distributed, luojia::cli::PredictTask::SuperResolution);
  });
}
