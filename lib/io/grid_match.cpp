#include <luojia/io/grid_match.hpp>

#include <ogr_spatialref.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace luojia {
namespace {

std::string describe(const GeoTransform& g) {
  std::ostringstream s;
  s.precision(12);
  s << "origin " << g.c[0] << "," << g.c[3] << ", pixel " << g.c[1] << "x" << g.c[5];
  if (g.c[2] != 0.0 || g.c[4] != 0.0) s << ", rotation " << g.c[2] << "," << g.c[4];
  return s.str();
}

std::string crs_name(const OGRSpatialReference& srs) {
  const char* authority = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (authority && code) return std::string(authority) + ":" + code;
  const char* name = srs.GetName();
  return name ? name : "unnamed";
}

}  // namespace

std::optional<std::string> grid_difference(const RasterInfo& a, const RasterInfo& b) {
  if (a.width != b.width || a.height != b.height)
    return "sizes differ (" + std::to_string(a.width) + "x" + std::to_string(a.height) + " and " + std::to_string(b.width) + "x" +
           std::to_string(b.height) + ")";
  if (a.geotransform.has_value() != b.geotransform.has_value()) return std::string("only one has a geotransform");
  if (a.geotransform)
    for (std::size_t i = 0; i < 6; ++i) {
      const double x = a.geotransform->c[i], y = b.geotransform->c[i];
      if (std::fabs(x - y) > 1e-9 * std::max({1.0, std::fabs(x), std::fabs(y)}))
        return "geotransforms differ (" + describe(*a.geotransform) + " and " + describe(*b.geotransform) + ")";
    }
  if (a.crs_wkt.empty() != b.crs_wkt.empty()) return std::string("only one has a CRS");
  if (!a.crs_wkt.empty()) {
    OGRSpatialReference sa, sb;
    sa.importFromWkt(a.crs_wkt.c_str());
    sb.importFromWkt(b.crs_wkt.c_str());
    if (!sa.IsSame(&sb)) return "CRSs differ (" + crs_name(sa) + " and " + crs_name(sb) + ")";
  }
  return std::nullopt;
}

}  // namespace luojia
