#include "product_compare.hpp"

#include <catch2/catch.hpp>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <cmath>

namespace luojia::test {

Product read_product(const std::string& path) {
  GDALAllRegister();
  Product p;
  GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY);
  REQUIRE(ds);
  p.width = ds->GetRasterXSize();
  p.height = ds->GetRasterYSize();
  p.bands = ds->GetRasterCount();
  ds->GetGeoTransform(p.geotransform.data());
  if (const OGRSpatialReference* srs = ds->GetSpatialRef()) {
    char* wkt = nullptr;
    srs->exportToWkt(&wkt);
    p.crs = wkt;
    CPLFree(wkt);
  }
  for (int b = 1; b <= p.bands; ++b) {
    std::vector<double> v(static_cast<std::size_t>(p.width) * static_cast<std::size_t>(p.height));
    REQUIRE(ds->GetRasterBand(b)->RasterIO(GF_Read, 0, 0, p.width, p.height, v.data(), p.width, p.height, GDT_Float64, 0, 0) == CE_None);
    p.pixels.push_back(std::move(v));
  }
  GDALClose(ds);
  return p;
}

void check_same(const Product& a, const Product& b) {
  CHECK(a.width == b.width);
  CHECK(a.height == b.height);
  CHECK(a.bands == b.bands);
  CHECK(a.geotransform == b.geotransform);
  CHECK(a.crs == b.crs);
  for (std::size_t k = 0; k < a.pixels.size() && k < b.pixels.size(); ++k) {
    // Bit for bit: NaN nodata compares equal to NaN here.
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.pixels[k].size(); ++i)
      if (!(a.pixels[k][i] == b.pixels[k][i] || (std::isnan(a.pixels[k][i]) && std::isnan(b.pixels[k][i])))) ++differ;
    CHECK(differ == 0);
  }
}

}  // namespace luojia::test
