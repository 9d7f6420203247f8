#pragma once
// Semantic segmentation of whole rasters, tiled exactly: class maps, probabilities, polygons.
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

// Weight of a pixel in a blended tile, by its position in the tile; neither reaches zero.
enum class BlendWindow { Hann, Triangle };

// Input, tiling, threads and kernels: ModelTaskOptions (halo nullopt: from the graph analysis, exact).
struct SegmentOptions : ModelTaskOptions {
  // Products: the class map (Byte, colour table and class names, nodata 255) and optional others.
  std::string probabilities;                        // one band per class
  DataType probability_type = DataType::Float32;    // Float32 (nodata -1) or Byte (0..254 = p*254, nodata 255)
  std::string logits;                               // raw outputs, Float32, one band per channel
  std::string confidence;                           // highest class probability, Float32, nodata -1
  std::string vector;                               // polygons of the class map (.gpkg, .geojson, .shp)
  double min_area = 0.0;                            // polygons smaller than this (CRS units²) are sieved
  int min_pixels = 0;                               // ... or than this many pixels
  double simplify = 0.0;                            // Douglas-Peucker tolerance in CRS units

  bool blend = false;                // for models that are not exactly tileable
  BlendWindow window = BlendWindow::Hann;
  bool tta = false;                  // D4: 4 rotations x 2 flips averaged in probability space
  std::string aoi;                   // vector: only pixels inside its polygons are classified
  std::string mask;                  // raster on the same grid: only non-zero pixels are classified
  int regularize = 0;                // majority filter radius on the class map
  // A pixel whose best class probability is below it is class 0 (background); default: the
  // model's metadata (Deepness's seg_thresh), else none.
  std::optional<double> threshold;

  OutputOptions output;
};

// Not exact when blending a model that is not exactly tileable; written: the class map first.
struct SegmentReport : ModelTaskReport {};

// luojia-segment as a function: INPUT through MODEL into a class map at class_map, and the optional
// products of options, all on INPUT's grid with its CRS and geotransform. Throws Error before
// anything is written when bands, types or the model do not fit.
LUOJIA_API SegmentReport segment(const std::string& input, const std::string& model,
                                 const std::string& class_map, const SegmentOptions& options);
// The same over an open raster with a loaded model: load a model once, segment many rasters
// (options.registry is then unused: the model's layers were made when it was loaded). The model
// may be shared by several calls at once; a Raster is used by one call at a time.
LUOJIA_API SegmentReport segment(Raster& input, const nn::Model& model, const std::string& class_map,
                                 const SegmentOptions& options);

}  // namespace luojia
