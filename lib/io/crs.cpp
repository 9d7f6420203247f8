#include <luojia/io/crs.hpp>

#include <luojia/error.hpp>

#include <cpl_conv.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>

namespace luojia {

std::string crs_wkt(const std::string& text, const std::string& option) {
  OGRSpatialReference srs;
  char* wkt = nullptr;
  if (text.empty() || srs.SetFromUserInput(text.c_str()) != OGRERR_NONE || srs.exportToWkt(&wkt) != OGRERR_NONE || wkt == nullptr) {
    CPLFree(wkt);
    throw UsageError(option, "'" + text.substr(0, 80) + "' is not a CRS GDAL knows");
  }
  std::string out = wkt;
  CPLFree(wkt);
  return out;
}

std::string utm_zone_crs(double longitude, double latitude) {
  const int zone = std::clamp(static_cast<int>(std::floor((longitude + 180.0) / 6.0)) + 1, 1, 60);
  return "EPSG:" + std::to_string((latitude >= 0 ? 32600 : 32700) + zone);
}

}  // namespace luojia
