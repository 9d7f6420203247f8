#include <luojia/io/vector_format.hpp>

#include <luojia/error.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace luojia {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

std::string vector_driver_for(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".gpkg") return "GPKG";
  if (ext == ".geojson" || ext == ".json") return "GeoJSON";
  if (ext == ".shp") return "ESRI Shapefile";
  if (ext == ".fgb") return "FlatGeobuf";
  throw OutputError("vector outputs are .gpkg, .geojson, .shp or .fgb, not '" + ext + "'", ErrorContext{path, {}, {}, {}});
}

bool is_vector_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".gpkg" || ext == ".geojson" || ext == ".json" || ext == ".shp" || ext == ".fgb";
}

}  // namespace luojia
