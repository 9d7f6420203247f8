#pragma once
// Models whose outputs are continuous values rather than classes: pixel regression (canopy height,
// biomass, soil moisture) on the input's grid, and super-resolution onto a grid k times finer.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/products/model_task.hpp>

#include <optional>
#include <string>
#include <vector>

namespace luojia {

class Raster;
namespace nn {
class Model;
}

// Input, tiling, threads and kernels: ModelTaskOptions (halo nullopt: the receptive radius, exact).
struct PredictOptions : ModelTaskOptions {
  // Every output value is multiplied by it; default: the model's metadata (Deepness's
  // reg_output_scaling), else 1.
  std::optional<double> output_scale;
  OutputOptions output;  // COG gets OVERVIEW_RESAMPLING=AVERAGE unless the creation options say otherwise
};

// Not exact when a halo below the receptive radius was asked for.
struct PredictReport : ModelTaskReport {
  std::int64_t upscale = 1;      // output pixels per input pixel along each axis
  std::int64_t outputs = 0;      // bands of the product: the model's output channels
  double output_scale = 1.0;
};

// One Float32 band per model output channel, on the input's grid (same size, CRS, geotransform),
// NaN (the product's nodata) where the input holds no data. Tiled with the halo the network needs,
// so the result equals one whole-image run. Throws before writing when the model's output is not a
// per-pixel map of its input (see super_resolve for finer outputs).
LUOJIA_API PredictReport regress(Raster& input, const nn::Model& model, const std::string& output,
                                 const PredictOptions& options = {});
LUOJIA_API PredictReport regress(const std::string& input, const std::string& model, const std::string& output,
                                 const PredictOptions& options = {});

// The same for a model whose output grid is k times finer than its input (k from the graph: a
// DepthToSpace, ConvTranspose or Resize before the output): the product covers the input's extent
// with pixels k times smaller, in the input's CRS; output pixels over input nodata are NaN.
LUOJIA_API PredictReport super_resolve(Raster& input, const nn::Model& model, const std::string& output,
                                       const PredictOptions& options = {});
LUOJIA_API PredictReport super_resolve(const std::string& input, const std::string& model, const std::string& output,
                                       const PredictOptions& options = {});

}  // namespace luojia
