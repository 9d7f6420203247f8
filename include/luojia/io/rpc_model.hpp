#pragma once
// A rational polynomial camera (RPC00B), the sensor model satellite imagery comes with: ground
// (longitude, latitude, height above the WGS84 ellipsoid) to image (column, row) and back.
#include <luojia/export.hpp>
#include <luojia/io/raster_info.hpp>

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace luojia {

class LUOJIA_API RpcModel {
public:
  // From GDAL's RPC metadata domain (RasterInfo::rpc: the GeoTIFF tag, .RPB, _RPC.TXT). Throws
  // InputError naming where (a file) for a missing or malformed key.
  static RpcModel from_metadata(const std::vector<std::pair<std::string, std::string>>& rpc, const std::string& where);
  // The raster's model, or none.
  static std::optional<RpcModel> of(const RasterInfo& info);

  // Image coordinates in GDAL's convention ((0, 0) the top-left corner of the first pixel, so
  // pixel (x, y) has its centre at x + 0.5, y + 0.5), as GDAL's RPC transformer gives them.
  std::array<double, 2> project(double longitude, double latitude, double height) const;
  // The same with d(column, row) / d(longitude, latitude, height), row-major 2 x 3.
  std::array<double, 2> project(double longitude, double latitude, double height, std::array<double, 6>& jacobian) const;
  // The ground point seen at (column, row) at this height (Newton's method on project).
  std::array<double, 2> localise(double column, double row, double height) const;

  double height_offset() const { return offset_[4]; }
  double height_scale() const { return scale_[4]; }
  double longitude_offset() const { return offset_[3]; }
  double latitude_offset() const { return offset_[2]; }

private:
  // line, sample, latitude, longitude, height
  std::array<double, 5> offset_{}, scale_{};
  std::array<double, 20> line_num_{}, line_den_{}, samp_num_{}, samp_den_{};
};

// Where two lines of sight meet: the ground point whose projections through both models are
// closest to the two image points (Gauss-Newton from the first model's view at its offset height),
// and the distance left, in pixels (root mean square over the four coordinates).
struct Intersection {
  double longitude = 0, latitude = 0, height = 0;
  double residual = 0;
};
LUOJIA_API Intersection intersect(const RpcModel& first, double column1, double row1, const RpcModel& second, double column2,
                                  double row2);
// The same from a nearby solution (a neighbouring pixel's): fewer iterations.
LUOJIA_API Intersection intersect(const RpcModel& first, double column1, double row1, const RpcModel& second, double column2,
                                  double row2, const Intersection& start);

}  // namespace luojia
