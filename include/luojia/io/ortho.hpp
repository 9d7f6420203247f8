#pragma once
// Orthorectification on the fly for L1 imagery placed by RPCs or GCPs (GF-1/2, ZY-3,
// WorldView): a virtual warped raster (GDAL VRT, no pixel copy) on a map grid, which every
// program and function then reads like any raster.
#include <luojia/export.hpp>

#include <string>

namespace luojia {

struct OrthoOptions {
  std::string dem;         // a DEM for the RPC heights (GDAL's RPC_DEM); empty: zero height above the ellipsoid
  std::string target_crs;  // anything GDAL's SetFromUserInput reads; empty: the UTM zone of the scene (RPC) or the GCPs' CRS
  std::string resampling = "bilinear";
};

// A virtual raster (in /vsimem/) showing `input` warped to a map grid through its RPCs (or GCPs,
// a polynomial fit), with an alpha band marking where the image has no data. The VRT reads
// `input` as it is needed and is removed with the view. Throws InputError when the raster has a
// geotransform already or neither RPCs nor at least 3 GCPs.
class LUOJIA_API OrthoView {
public:
  explicit OrthoView(const std::string& input, const OrthoOptions& options = {});
  ~OrthoView();
  OrthoView(OrthoView&& other) noexcept;
  OrthoView& operator=(OrthoView&& other) noexcept;
  OrthoView(const OrthoView&) = delete;
  OrthoView& operator=(const OrthoView&) = delete;

  // What every program and function opens in place of the input.
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

}  // namespace luojia
