#include "io/band_stack.hpp"

#include <luojia/error.hpp>

#include "io/gdal_support.hpp"

#include <gdal_vrt.h>
#include <ogr_spatialref.h>

#include <atomic>
#include <filesystem>
#include <unistd.h>

namespace luojia::detail {

std::string unique_vsimem(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "/vsimem/luojia-virtual-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".vrt";
}

bool is_virtual(const std::string& path) { return path.rfind("/vsimem/luojia-virtual-", 0) == 0; }

TemporaryFiles::~TemporaryFiles() {
  for (const auto& p : paths) VSIUnlink(p.c_str());
}

// Made through GDAL's VRT API: the driver writes the XML when the dataset closes.
std::string stack_bands(const RasterInfo& info, const std::vector<StackSource>& sources, TemporaryFiles& files,
                        const std::string& what) {
  GdalErrorTrap trap;
  const std::string path = unique_vsimem("stack");
  GDALDriver* vrt_driver = GetGDALDriverManager()->GetDriverByName("VRT");
  if (!vrt_driver) raise("GDAL has no VRT driver");
  DatasetPtr vrt(vrt_driver->Create(path.c_str(), static_cast<int>(info.width), static_cast<int>(info.height), 0, GDT_Unknown, nullptr));
  if (!vrt) raise("cannot make the virtual stack of " + what + ": " + trap.message("VRT creation failed"));
  files.paths.push_back(path);
  if (!info.crs_wkt.empty()) {
    OGRSpatialReference srs;
    if (srs.importFromWkt(info.crs_wkt.c_str()) == OGRERR_NONE) vrt->SetSpatialRef(&srs);
  }
  if (info.geotransform) {
    double gt[6];
    std::copy(info.geotransform->c.begin(), info.geotransform->c.end(), gt);
    vrt->SetGeoTransform(gt);
  }
  int n = 0;
  for (const StackSource& s : sources) {
    const Raster& r = *s.raster;
    // Sources by absolute path: the stack lives in /vsimem/, so a relative one would resolve there.
    const std::string source_path = r.path().rfind("/vsi", 0) == 0 ? r.path() : std::filesystem::absolute(r.path()).string();
    DatasetPtr source(GDALDataset::Open(source_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_SHARED));
    if (!source) raise("cannot open " + r.path() + ": " + trap.message("open failed"), ErrorContext{r.path(), {}, {}, {}});
    for (int b : s.bands) {
      const BandInfo& bi = r.info().band(b);
      if (vrt->AddBand(to_gdal(bi.type), nullptr) != CE_None) raise("cannot add a band to the virtual stack: " + trap.message("AddBand failed"));
      GDALRasterBandH band = GDALRasterBand::ToHandle(vrt->GetRasterBand(++n));
      if (VRTAddSimpleSource(band, GDALRasterBand::ToHandle(source->GetRasterBand(b)), -1, -1, -1, -1, -1, -1, -1, -1, nullptr,
                             VRT_NODATA_UNSET) != CE_None)
        raise("cannot add band " + std::to_string(b) + " to the virtual stack: " + trap.message("VRTAddSimpleSource failed"),
              ErrorContext{r.path(), b, {}, {}});
      if (bi.nodata) GDALSetRasterNoDataValue(band, *bi.nodata);
      if (bi.scale != 1.0 || bi.offset != 0.0) {
        GDALSetRasterScale(band, bi.scale);
        GDALSetRasterOffset(band, bi.offset);
      }
    }
  }
  vrt.reset();  // writes the XML
  if (trap.has_error()) raise("cannot write the virtual stack of " + what + ": " + trap.message("VRT close failed"));
  return path;
}

}  // namespace luojia::detail
