#pragma once
// Polygonising as one member of a product set: the vector output comes back finished but not yet
// in place, so the caller commits it together with the rasters it was made from.
#include <luojia/products/polygonize.hpp>

#include "io/vector_output.hpp"

#include <memory>
#include <string>

namespace luojia::detail {

std::unique_ptr<VectorOutput> polygonize_uncommitted(const std::string& class_map, const std::string& confidence,
                                                     const std::string& vector_path, const PolygonizeOptions& options);

}  // namespace luojia::detail
