#include "io/rasterize.hpp"

#include "io/gdal_support.hpp"

#include <luojia/error.hpp>

#include <gdal_alg.h>
#include <gdal_priv.h>

#include <string>

namespace luojia::detail {

GeoTransform window_geotransform(const GeoTransform& gt, double x, double y) {
  GeoTransform w = gt;
  const auto [ox, oy] = gt.apply(x, y);
  w.c[0] = ox;
  w.c[3] = oy;
  return w;
}

void rasterize(const std::vector<const OGRGeometry*>& geometries, const std::vector<double>& burn, const GeoTransform& grid,
               std::int64_t width, std::int64_t height, float fill, std::vector<float>& out, const char* what) {
  out.assign(static_cast<std::size_t>(width * height), fill);
  if (geometries.empty() || width <= 0 || height <= 0) return;
  GdalErrorTrap trap;
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  // Each call has its own MEM dataset, so concurrent calls share nothing GDAL writes to.
  DatasetPtr ds(mem->Create("", static_cast<int>(width), static_cast<int>(height), 1, GDT_Float32, nullptr));
  if (!ds) throw InputError(std::string("cannot rasterise ") + what + ": " + trap.message("MEM dataset creation failed"));
  double gt[6];
  std::copy(grid.c.begin(), grid.c.end(), gt);
  ds->SetGeoTransform(gt);
  GDALRasterBand* band = ds->GetRasterBand(1);
  band->Fill(fill);
  std::vector<OGRGeometryH> handles;
  for (const OGRGeometry* g : geometries) handles.push_back(OGRGeometry::ToHandle(const_cast<OGRGeometry*>(g)));
  int band_number = 1;
  if (GDALRasterizeGeometries(GDALDataset::ToHandle(ds.get()), 1, &band_number, static_cast<int>(handles.size()), handles.data(),
                              nullptr, nullptr, burn.data(), nullptr, nullptr, nullptr) != CE_None)
    throw InputError(std::string("cannot rasterise ") + what + ": " + trap.message("rasterize failed"));
  if (band->RasterIO(GF_Read, 0, 0, static_cast<int>(width), static_cast<int>(height), out.data(), static_cast<int>(width),
                     static_cast<int>(height), GDT_Float32, 0, 0, nullptr) != CE_None)
    throw InputError(std::string("cannot read the rasterised ") + what + ": " + trap.message("read failed"));
}

}  // namespace luojia::detail
