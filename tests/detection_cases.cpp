#include "detection_cases.hpp"

#include <catch2/catch.hpp>
#include <gdal_priv.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

namespace luojia::test {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string u8_raster(TempDir& dir, const std::string& folder, const nlohmann::json& c, const std::string& name, int repeat) {
  const int h = c["height"], w = c["width"];
  std::ifstream in(folder + name + "_input.u8", std::ios::binary);
  const std::vector<char> pixels((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(pixels.size() == static_cast<std::size_t>(3 * h * w));
  RasterSpec spec;
  spec.width = w;
  spec.height = h * repeat;
  spec.bands = 3;
  spec.type = GDT_Byte;
  spec.epsg = 32650;
  if (c.contains("nodata") && !c["nodata"].is_null()) spec.nodata = c["nodata"].get<double>();
  std::copy(std::begin(kCaseGeotransform), std::end(kCaseGeotransform), spec.geotransform);
  const std::string path = dir.file(name + "_" + std::to_string(repeat) + ".tif");
  make_raster(path, spec, [&](int b, int x, int y) {
    return static_cast<double>(static_cast<unsigned char>(pixels[static_cast<std::size_t>((b * h + y % h) * w + x)]));
  });
  return path;
}

}  // namespace luojia::test
