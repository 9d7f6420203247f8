#pragma once
// Coordinate reference systems as users write them, turned into what GDAL stores.
#include <luojia/export.hpp>

#include <string>

namespace luojia {

// A CRS as GDAL's SetFromUserInput reads it ("EPSG:32650", "EPSG:32650+5773", WKT, a PROJ string,
// a .prj file), as WKT. Throws UsageError naming `option` for text GDAL does not know as a CRS.
LUOJIA_API std::string crs_wkt(const std::string& text, const std::string& option = "crs");

// "EPSG:326zz" (north) or "EPSG:327zz" (south): the WGS84 UTM zone of a point in degrees, where
// luojia puts products of imagery that has only a sensor model (RPCs) when no CRS is asked for.
LUOJIA_API std::string utm_zone_crs(double longitude, double latitude);

}  // namespace luojia
