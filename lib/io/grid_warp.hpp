#pragma once
// A raster resampled onto another raster's grid, as a warped VRT in memory: how luojia-change
// aligns AFTER onto BEFORE and luojia-assess puts a reference DSM onto the DSM it scores.
#include <luojia/io/raster_info.hpp>

#include "io/band_stack.hpp"

#include <string>
#include <vector>

namespace luojia::detail {

// SOURCE on GRID's extent, size and CRS (GRID north up: the caller checks, in its own words),
// resampled with `resampling`, `extra` passed to gdalwarp too (-dstnodata ...): a VRT in /vsimem/
// listed in files. A SOURCE GDAL cannot open or warp is an InputError naming it, with `what` ("align
// AFTER onto BEFORE's grid") and GDAL's words; a resampling gdalwarp refuses, a UsageError.
std::string warped_onto(const RasterInfo& grid, const std::string& source, const std::string& resampling,
                        const std::vector<std::string>& extra, const std::string& what, TemporaryFiles& files);

}  // namespace luojia::detail
