// CRSs as users write them: GDAL's reading of them, and the UTM zone products of RPC imagery get.
#include <luojia/error.hpp>
#include <luojia/io/crs.hpp>

#include <catch2/catch.hpp>
#include <gdal.h>
#include <ogr_spatialref.h>

#include <string>

using namespace luojia;

TEST_CASE("a CRS as users write it becomes GDAL's WKT, and text GDAL does not know is a usage error naming the option", "[io]") {
  GDALAllRegister();
  for (const std::string text : {"EPSG:32650", "EPSG:4326", "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs", "EPSG:32650+5773"}) {
    INFO(text);
    const std::string wkt = crs_wkt(text);
    OGRSpatialReference want;
    REQUIRE(want.SetFromUserInput(text.c_str()) == OGRERR_NONE);
    CHECK(OGRSpatialReference(wkt.c_str()).IsSame(&want));
  }
  for (const std::string bad : {"", "EPSG:99999999", "not a crs"}) {
    INFO("'" << bad << "'");
    try {
      crs_wkt(bad, "target_crs");
      FAIL("accepted");
    } catch (const UsageError& e) {
      CHECK(e.option() == "target_crs");
      CHECK(std::string(e.what()).find("is not a CRS GDAL knows") != std::string::npos);
    }
  }
}

TEST_CASE("the UTM zone of a point: zones 1 to 60 from -180, north 326zz and south 327zz, the edges clamped", "[io]") {
  CHECK(utm_zone_crs(114.3, 30.5) == "EPSG:32650");  // Wuhan
  CHECK(utm_zone_crs(-84.4, 33.7) == "EPSG:32616");  // Atlanta
  CHECK(utm_zone_crs(151.2, -33.9) == "EPSG:32756"); // Sydney
  CHECK(utm_zone_crs(-180.0, 0.0) == "EPSG:32601");
  CHECK(utm_zone_crs(180.0, -0.1) == "EPSG:32760");
  CHECK(utm_zone_crs(0.0, 0.0) == "EPSG:32631");
  CHECK(utm_zone_crs(-0.0001, 10.0) == "EPSG:32630");
}
