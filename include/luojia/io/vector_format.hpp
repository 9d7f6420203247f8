#pragma once
// Which vector formats luojia writes, chosen by the output path's extension.
#include <luojia/export.hpp>

#include <string>

namespace luojia {

// The OGR driver for a vector output path, by extension; throws UsageError for any other extension.
LUOJIA_API std::string vector_driver_for(const std::string& path);
// Whether path names a vector output luojia writes (.gpkg, .geojson, .json, .shp, .fgb).
LUOJIA_API bool is_vector_path(const std::string& path);

}  // namespace luojia
