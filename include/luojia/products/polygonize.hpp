#pragma once
// Class maps as polygons in the raster CRS (sieved, simplified, measured).
#include <luojia/export.hpp>
#include <luojia/io/vector_format.hpp>  // the formats polygonize_classes writes

#include <string>
#include <vector>

namespace luojia {

struct PolygonizeOptions {
  std::vector<std::string> class_names;  // by class id
  double min_area = 0.0;   // regions smaller than this (CRS units squared) merge into their neighbours first
  int min_pixels = 0;      // the same in pixels (the larger of the two applies)
  double simplify = 0.0;   // Douglas-Peucker tolerance (CRS units), topology-preserving per polygon
  bool overwrite = false;
};

// Polygons of the connected regions of a class map (band 1; nodata regions left out), written to
// vector_path as GeoPackage, GeoJSON or Shapefile (by extension), in the class map's CRS, with
// fields class_id, class_name, area (CRS units squared) and mean_conf (mean of the confidence raster
// over the polygon; null without one). Written to a temporary file and renamed on success.
LUOJIA_API void polygonize_classes(const std::string& class_map, const std::string& confidence,
                                   const std::string& vector_path, const PolygonizeOptions& options);

}  // namespace luojia
