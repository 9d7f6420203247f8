#pragma once
#include <luojia/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/raster_writer.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace luojia {

enum class IndexKind {
  NDVI,   // (nir - red) / (nir + red)
  NDWI,   // (green - nir) / (green + nir), McFeeters 1996
  MNDWI,  // (green - swir) / (green + swir), Xu 2006
  NDBI,   // (swir - nir) / (swir + nir), Zha et al. 2003
  SAVI,   // (1 + L) (nir - red) / (nir + red + L), Huete 1988
  EVI,    // G (nir - red) / (nir + C1 red - C2 blue + L), Huete et al. 2002
  NormalizedDifference,  // (a - b) / (a + b) of any two bands
};

LUOJIA_API IndexKind parse_index_kind(std::string_view name);  // "ndvi", "evi", "nd", ...
LUOJIA_API std::string_view name(IndexKind kind);

// Raster band numbers (1-based) playing each role; 0 where not given.
struct BandRoles {
  int blue = 0;
  int green = 0;
  int red = 0;
  int nir = 0;
  int swir = 0;
};

struct IndexSpec {
  IndexKind kind = IndexKind::NDVI;
  int band_a = 0;  // NormalizedDifference only
  int band_b = 0;
  double savi_l = 0.5;
  double evi_g = 2.5, evi_c1 = 6.0, evi_c2 = 7.5, evi_l = 1.0;
};

// The bands a set of indices reads, in reading order, and the kernel that computes one output
// band per index. Output is nodata where any input is nodata, the denominator is zero, or the
// result is not finite. Throws Error naming the index and the missing role.
struct IndexPlan {
  std::vector<int> bands;
  TileKernel kernel;
};
LUOJIA_API IndexPlan plan_indices(const std::vector<IndexSpec>& specs, const BandRoles& roles,
                                  float nodata);

struct IndexJob {
  std::vector<IndexSpec> indices;
  BandRoles roles;
  float nodata = -9999.0f;
  std::int64_t tile_size = 512;
  OutputOptions output;
  StreamOptions stream;  // threads, memory, progress; read.apply_scale is honoured
};

// luojia-index as a function: INPUT's indices into a Float32 raster at OUTPUT with INPUT's grid,
// CRS and geotransform. Checks band numbers against the raster before anything is written.
LUOJIA_API StreamStats compute_indices(const std::string& input, const std::string& output,
                                       const IndexJob& job);

}  // namespace luojia
