#pragma once
// Change between two dates of one place: spectral magnitude with Otsu, or a Siamese model.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/products/segmentation.hpp>

#include <optional>
#include <string>
#include <vector>

namespace luojia {

struct ChangeOptions {
  std::string model;          // empty: change vector analysis; else a two-input or stacked-bands model
  std::vector<int> bands;     // bands of each date (default: all, when both dates have as many)
  bool align = false;         // warp AFTER onto BEFORE's grid when the grids differ
  std::string resampling = "bilinear";  // for --align: GDAL's names (near, bilinear, cubic, ...)
  // Change vector analysis: change where the magnitude of the difference vector exceeds the
  // threshold (Otsu's, from the magnitudes' histogram, when not given).
  std::optional<double> threshold;
  std::string magnitude;      // optional Float32 raster of the magnitudes
  // With a model: the segmentation products and tiling, as for luojia-segment.
  SegmentOptions segment;
};

struct ChangeReport {
  bool model = false;
  double threshold = 0.0;     // CVA
  bool otsu = false;
  std::int64_t changed = 0;   // CVA: pixels above the threshold
  std::int64_t valid = 0;     // CVA: pixels with data in every band of both dates
  SegmentReport segment;      // with a model
  std::vector<std::string> written;
};

// luojia-change as a function. The two rasters must share size, geotransform and CRS, unless
// options.align warps AFTER onto BEFORE's grid with GDAL. Outputs are on BEFORE's grid; the change
// map is Byte: 0 no change, 1 change (or the model's classes), 255 nodata.
LUOJIA_API ChangeReport detect_change(const std::string& before, const std::string& after, const std::string& output,
                                      const ChangeOptions& options);

// Otsu's threshold of a histogram of counts over [low, high): the bin edge that maximises the
// between-class variance.
LUOJIA_API double otsu_threshold(const std::vector<std::int64_t>& histogram, double low, double high);

}  // namespace luojia
