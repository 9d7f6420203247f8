#pragma once
// The detection tests' cases: JSON references and manifests, and the raw 3 x H x W Byte images
// the tools/ scripts write, made into georeferenced GeoTIFFs on one UTM grid.
#include "support.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace luojia::test {

// The grid every case raster is placed on (EPSG:32650, 0.5 m).
inline constexpr double kCaseGeotransform[6] = {431000.0, 0.5, 0.0, 3381000.0, 0.0, -0.5};

nlohmann::json read_json(const std::string& path);

// folder/<name>_input.u8 (3 x H x W as the manifest entry c sizes it) as a 3-band Byte GeoTIFF in
// dir with c's nodata, if any; repeat > 1 stacks it that many times vertically.
std::string u8_raster(TempDir& dir, const std::string& folder, const nlohmann::json& c, const std::string& name, int repeat = 1);

}  // namespace luojia::test
