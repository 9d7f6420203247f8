#pragma once
// Accuracy of a class map against a reference raster or vector: confusion matrix, kappa, IoU, F1.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace luojia {

struct AssessOptions {
  std::string field = "class";                 // vector references: the attribute holding the class
  std::optional<int> ignore;                   // reference value left out of every count
  std::vector<std::pair<int, int>> remap;      // reference value -> class, applied first (e.g. 255 -> 1)
  StreamOptions stream;
};

// Accuracy of a class map against a reference. Rows of the confusion matrix are reference
// classes, columns predicted classes; pixels that are nodata in either, or the ignore value, are
// left out.
struct Assessment {
  int classes = 0;
  std::vector<std::int64_t> confusion;  // classes x classes, row-major
  std::int64_t pixels = 0;
  double overall_accuracy = 0, kappa = 0, mean_iou = 0;
  std::vector<double> precision, recall, f1, iou;  // per class; NaN where undefined
  std::vector<std::string> names;

  std::int64_t at(int reference, int predicted) const {
    return confusion[static_cast<std::size_t>(reference * classes + predicted)];
  }
};

// reference: a raster on the class map's grid, or a vector file whose polygons are rasterised
// (with their `field` value) on that grid, tile by tile.
LUOJIA_API Assessment assess(const std::string& class_map, const std::string& reference, const AssessOptions& options = {});
// Fills the derived figures from confusion (and classes).
LUOJIA_API void finish(Assessment& assessment);

LUOJIA_API std::string to_text(const Assessment& a);
LUOJIA_API std::string to_json(const Assessment& a);
LUOJIA_API std::string to_csv(const Assessment& a);

}  // namespace luojia
