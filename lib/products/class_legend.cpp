#include "products/class_legend.hpp"

namespace luojia::detail {

ClassLegend class_legend(const nn::ModelMetadata& md, std::int64_t classes) {
  ClassLegend legend;
  for (std::int64_t k = 0; k < classes; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const bool named = i < md.classes.size();
    legend.names.push_back(named && !md.classes[i].name.empty() ? md.classes[i].name : "class " + std::to_string(k));
    if (named)
      legend.colors.push_back({md.classes[i].color[0], md.classes[i].color[1], md.classes[i].color[2], 255});
    else  // spread over the colour cube so neighbouring ids differ
      legend.colors.push_back({static_cast<int>((k * 97) % 256), static_cast<int>((k * 57 + 80) % 256),
                               static_cast<int>((k * 151 + 40) % 256), 255});
  }
  return legend;
}

}  // namespace luojia::detail
