#include <luojia/tiling/shard_layout.hpp>

#include <cpl_string.h>

#include <initializer_list>
#include <string>

namespace luojia {

RasterLayout shard_layout(const RasterLayout& whole, const Window& window, const Shard& shard) {
  if (shard.whole()) return whole;
  RasterLayout part = whole;
  part.width = window.width;
  part.height = window.height;
  if (whole.geotransform) {
    const auto [x, y] = whole.geotransform->apply(static_cast<double>(window.x), static_cast<double>(window.y));
    part.geotransform->c[0] = x;
    part.geotransform->c[3] = y;
  }
  // RPC offsets and GCP positions are in the whole raster's pixels: move them to the shard's.
  for (auto& [key, value] : part.rpc) {
    const std::int64_t shift = key == "LINE_OFF" ? window.y : key == "SAMP_OFF" ? window.x : 0;
    if (shift != 0) value = CPLSPrintf("%.15g", std::stod(value) - static_cast<double>(shift));
  }
  for (auto& g : part.gcps) {
    g.pixel -= static_cast<double>(window.x);
    g.line -= static_cast<double>(window.y);
  }
  const auto text = [](std::initializer_list<std::int64_t> values) {
    std::string out;
    for (auto v : values) {
      if (!out.empty()) out += ',';
      out += std::to_string(v);
    }
    return out;
  };
  part.metadata.emplace_back("LUOJIA_SHARD", std::to_string(shard.index + 1) + "/" + std::to_string(shard.count));
  part.metadata.emplace_back("LUOJIA_SHARD_WINDOW", text({window.x, window.y, window.width, window.height}));
  part.metadata.emplace_back("LUOJIA_SHARD_GRID", text({whole.width, whole.height}));
  return part;
}

}  // namespace luojia
