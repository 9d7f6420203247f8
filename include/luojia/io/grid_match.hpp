#pragma once
// Whether two rasters share one pixel grid: the same size, geotransform and CRS.
#include <luojia/export.hpp>
#include <luojia/io/raster_info.hpp>

#include <optional>
#include <string>

namespace luojia {

// Why a and b are not on one grid ("sizes differ (70x50 and 50x50)", ...), or nullopt when they
// are. Geotransforms are compared to 1e-9 of their magnitude, CRSs by OGR's IsSame.
LUOJIA_API std::optional<std::string> grid_difference(const RasterInfo& a, const RasterInfo& b);

}  // namespace luojia
