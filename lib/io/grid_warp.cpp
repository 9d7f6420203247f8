#include "io/grid_warp.hpp"

#include <luojia/error.hpp>

#include "io/gdal_support.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>

#include <algorithm>
#include <cstdio>

namespace luojia::detail {

std::string warped_onto(const RasterInfo& grid, const std::string& source, const std::string& resampling,
                        const std::vector<std::string>& extra, const std::string& what, TemporaryFiles& files) {
  const auto& c = grid.geotransform.value().c;
  const double x0 = c[0], x1 = c[0] + c[1] * static_cast<double>(grid.width);
  const double y0 = c[3], y1 = c[3] + c[5] * static_cast<double>(grid.height);
  const auto number = [](double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", v);
    return std::string(text);
  };
  CPLStringList argv;
  for (const std::string& a : {std::string("-of"), std::string("VRT"), std::string("-te"), number(std::min(x0, x1)), number(std::min(y0, y1)),
                               number(std::max(x0, x1)), number(std::max(y0, y1)), std::string("-ts"), std::to_string(grid.width),
                               std::to_string(grid.height), std::string("-r"), resampling})
    argv.AddString(a.c_str());
  if (!grid.crs_wkt.empty()) {
    argv.AddString("-t_srs");
    argv.AddString(grid.crs_wkt.c_str());
  }
  for (const auto& a : extra) argv.AddString(a.c_str());
  GdalErrorTrap trap;
  GDALWarpAppOptions* options = GDALWarpAppOptionsNew(argv.List(), nullptr);
  // The arguments are the grid's and the caller's; what a user chose among them is the resampling.
  if (!options) throw UsageError("resampling", "'" + resampling + "' is refused by gdalwarp: " + trap.message("bad warp options"));
  GDALDatasetH opened = GDALOpen(source.c_str(), GA_ReadOnly);
  if (!opened) {
    GDALWarpAppOptionsFree(options);
    throw InputError("cannot open: " + trap.message("open failed"), ErrorContext{source, {}, {}, {}});
  }
  const std::string path = unique_vsimem("warped");
  int usage_error = 0;
  GDALDatasetH warped = GDALWarp(path.c_str(), nullptr, 1, &opened, options, &usage_error);
  GDALWarpAppOptionsFree(options);
  GDALClose(opened);
  if (!warped) throw InputError("cannot " + what + ": " + trap.message("warp failed"), ErrorContext{source, {}, {}, {}});
  GDALClose(warped);
  files.paths.push_back(path);
  return path;
}

}  // namespace luojia::detail
