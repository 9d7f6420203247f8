#pragma once
// Scene classification: one label per window of the raster.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/products/model_task.hpp>

#include <string>
#include <vector>

namespace luojia {

class Raster;
namespace nn {
class Model;
}

// Input, threads and kernels: ModelTaskOptions. tile is rounded to whole cells; halo is refused:
// the windows say how far a tile reads.
struct ClassifyOptions : ModelTaskOptions {
  std::int64_t window = 0;  // window side in pixels; 0: the model's fixed input size
  std::int64_t stride = 0;  // distance between windows; 0: the window (no overlap)
  std::string scores;       // optional: the model's outputs, one Float32 band per class
  OutputOptions output;
};

struct ClassifyReport {
  std::int64_t columns = 0, rows = 0;  // size of the label raster (cells)
  std::int64_t windows = 0;            // windows run through the model
  std::int64_t skipped = 0;            // cells without data
  std::vector<std::string> written;
};

// Scene classification over a grid of windows: a model (N, C, H, W) -> (N, K) is run on the window
// centred on every stride x stride cell of INPUT (windows past the raster edge are reflected). The
// label raster has one pixel per cell, georeferenced with INPUT's CRS and a geotransform whose
// pixels are stride times INPUT's; cells without data are nodata (255; labels are UInt16 with nodata
// 65535 for models of more than 254 classes).
LUOJIA_API ClassifyReport classify(const std::string& input, const std::string& model, const std::string& output,
                                   const ClassifyOptions& options);
// The same over an open raster with a loaded model (options.registry is then unused).
LUOJIA_API ClassifyReport classify(Raster& input, const nn::Model& model, const std::string& output,
                                   const ClassifyOptions& options);

}  // namespace luojia
