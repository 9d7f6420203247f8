#pragma once
// Accuracy of a surface against a reference: a disparity map (end-point error, D1) or a DSM
// (height RMSE, NMAD, completeness), streamed in bounded memory.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>

#include <cstdint>
#include <string>

namespace luojia {

enum class SurfaceKind {
  Disparity,  // the reference on the same grid (pixels)
  Dsm,        // the reference resampled (bilinear) onto the prediction's grid, any CRS (metres)
};

struct SurfaceOptions {
  SurfaceKind kind = SurfaceKind::Dsm;
  StreamOptions stream;
};

// Errors are prediction - reference over the pixels where both hold a value; medians come from
// histograms of 0.001 (units) bins between -1000 and 1000, so memory does not grow with the raster.
struct SurfaceAssessment {
  SurfaceKind kind = SurfaceKind::Dsm;
  std::int64_t reference_pixels = 0;  // with a reference value
  std::int64_t compared = 0;          // with both
  double completeness = 0;            // compared / reference_pixels
  double mean_abs = 0;                // end-point error for disparities
  double rmse = 0, bias = 0;          // bias: the median signed error
  double median_abs = 0;
  double nmad = 0;                    // 1.4826 x median |error - median error|
  double over_1 = 0, over_3 = 0;      // share of |error| above 1 and 3 (D1 for disparities)
};

LUOJIA_API SurfaceAssessment assess_surface(const std::string& prediction, const std::string& reference,
                                            const SurfaceOptions& options = {});

LUOJIA_API std::string to_text(const SurfaceAssessment& a);
LUOJIA_API std::string to_json(const SurfaceAssessment& a);
LUOJIA_API std::string to_csv(const SurfaceAssessment& a);

}  // namespace luojia
