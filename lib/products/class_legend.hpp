#pragma once
// Class names and colours for a model's class products, from its metadata.
#include <luojia/nn/model_metadata.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace luojia::detail {

struct ClassLegend {
  std::vector<std::string> names;
  std::vector<std::array<int, 4>> colors;  // RGBA
};
// Names and colours of classes 0..classes-1 from the metadata; "class k" and distinct colours else.
ClassLegend class_legend(const nn::ModelMetadata& metadata, std::int64_t classes);

}  // namespace luojia::detail
