#pragma once
// What a raster to be created looks like: size, bands, type, georeferencing, nodata, metadata.
#include <luojia/data_type.hpp>
#include <luojia/export.hpp>
#include <luojia/io/raster_info.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace luojia {

// Shape and georeferencing of a raster to create.
struct RasterLayout {
  std::int64_t width = 0;
  std::int64_t height = 0;
  int bands = 1;
  DataType type = DataType::Float32;
  std::optional<GeoTransform> geotransform;
  std::string crs_wkt;
  std::optional<double> nodata;  // set on every band
  std::vector<std::pair<std::string, std::string>> metadata;  // default domain, written on creation
  std::vector<std::pair<std::string, std::string>> rpc;       // RPC domain (RasterInfo::rpc)
  std::vector<GroundControlPoint> gcps;
  std::string gcp_crs_wkt;
};

// Same size, geotransform, CRS, RPCs, GCPs and nodata as an existing raster, with a chosen type and band count.
// The input's nodata is kept when the new type can hold it.
LUOJIA_API RasterLayout layout_like(const RasterInfo& like, DataType type, int bands);

}  // namespace luojia
