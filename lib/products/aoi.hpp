#pragma once
// Where a product is wanted: inside the polygons of a vector file, and/or where a mask raster on
// the same grid is non-zero.
#include <luojia/io/raster.hpp>

#include "io/raster_pool.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

class OGRGeometry;

namespace luojia::detail {

class AreaOfInterest {
public:
  AreaOfInterest(const RasterInfo& raster, const std::string& vector_path, const std::string& mask_path);
  ~AreaOfInterest();
  // Clears valid[i] for the pixels of part (raster coordinates, row-major) outside the area.
  // Safe to call from several threads.
  void restrict(const Window& part, std::vector<std::uint8_t>& valid) const;

private:
  GeoTransform transform_;
  std::vector<std::unique_ptr<OGRGeometry>> geometries_;  // in the raster's CRS
  double envelope_[4] = {0, 0, 0, 0};                       // min x, max x, min y, max y
  mutable std::unique_ptr<RasterPool> mask_;
};

}  // namespace luojia::detail
