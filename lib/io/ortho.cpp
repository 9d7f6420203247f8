#include <luojia/io/ortho.hpp>

#include <luojia/io/crs.hpp>

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include "io/gdal_support.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <unistd.h>

namespace luojia {

namespace {

std::string rpc_value(const RasterInfo& info, const char* key) {
  for (const auto& [k, v] : info.rpc)
    if (k == key) return v;
  return {};
}

}  // namespace

OrthoView::OrthoView(const std::string& input, const OrthoOptions& options) {
  const ErrorContext where{input, {}, {}, {}};
  const RasterInfo info = Raster::open(input).info();
  if (info.geotransform) throw InputError("`ortho`: the raster has a geotransform already (it is on a map grid)", where);
  const bool rpc = !info.rpc.empty();
  if (!rpc && info.gcps.size() < 3) throw InputError("`ortho`: the raster has neither RPCs nor 3 GCPs to place it with", where);

  std::string target = options.target_crs;
  // The scene centre's UTM zone: metres, so that areas and --min-area mean what they say.
  if (target.empty() && rpc) target = utm_zone_crs(std::stod(rpc_value(info, "LONG_OFF")), std::stod(rpc_value(info, "LAT_OFF")));
  if (target.empty()) target = info.gcp_crs_wkt;
  crs_wkt(target, "target_crs");  // refused here, in the option's name, rather than by the warp

  static std::atomic<unsigned> counter{0};
  const std::string vrt = "/vsimem/luojia-ortho-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".vrt";
  CPLStringList argv;
  for (const char* a : {"-of", "VRT", "-r", options.resampling.c_str(), "-dstalpha", "-t_srs", target.c_str()}) argv.AddString(a);
  argv.AddString(rpc ? "-rpc" : "-order");
  if (!rpc) argv.AddString("1");
  if (rpc && !options.dem.empty()) {
    argv.AddString("-to");
    argv.AddString(("RPC_DEM=" + options.dem).c_str());
  }
  detail::GdalErrorTrap trap;
  GDALWarpAppOptions* warp = GDALWarpAppOptionsNew(argv.List(), nullptr);
  if (!warp) throw UsageError("ortho", "cannot set up the warp: " + trap.message("bad options"));
  GDALDatasetH source = GDALOpen(input.c_str(), GA_ReadOnly);
  int usage_error = 0;
  GDALDatasetH warped = source ? GDALWarp(vrt.c_str(), nullptr, 1, &source, warp, &usage_error) : nullptr;
  GDALWarpAppOptionsFree(warp);
  if (warped) GDALClose(warped);
  if (source) GDALClose(source);
  if (!warped || usage_error) {
    VSIUnlink(vrt.c_str());
    throw InputError("`ortho`: cannot warp the raster: " + trap.message("warp failed"), where);
  }
  path_ = vrt;
}

OrthoView::~OrthoView() {
  if (!path_.empty()) VSIUnlink(path_.c_str());
}

OrthoView::OrthoView(OrthoView&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

OrthoView& OrthoView::operator=(OrthoView&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) VSIUnlink(path_.c_str());
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

}  // namespace luojia
