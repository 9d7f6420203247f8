#pragma once
// Geometries burnt into a small grid in memory (a tile, a strip), for masks and references that
// come as vectors. Safe to call from several threads at once on shared, unchanged geometries.
#include <luojia/io/raster_info.hpp>

#include <ogr_geometry.h>

#include <cstdint>
#include <vector>

namespace luojia::detail {

// The geotransform of the window whose top-left pixel is (x, y) of a grid with geotransform gt.
GeoTransform window_geotransform(const GeoTransform& gt, double x, double y);

// out (width x height, row-major) = fill, then burn[i] wherever geometries[i] covers a pixel
// centre (GDAL's rule), later geometries over earlier ones. Throws InputError naming what.
void rasterize(const std::vector<const OGRGeometry*>& geometries, const std::vector<double>& burn, const GeoTransform& grid,
               std::int64_t width, std::int64_t height, float fill, std::vector<float>& out, const char* what);

}  // namespace luojia::detail
