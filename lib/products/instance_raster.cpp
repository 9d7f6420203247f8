// Painting instances in whatever order they settle: each mask's window is read back, and a pixel
// changes hands only to an instance that ranks before its holder.
#include "products/instance_raster.hpp"

#include <luojia/error.hpp>

namespace luojia::detail {
namespace {

RasterLayout instance_layout(const RasterInfo& input) {
  RasterLayout layout = layout_like(input, DataType::UInt32, 1);
  layout.nodata = 0.0;
  layout.metadata.push_back({"LUOJIA_PRODUCT", "instance ids (0: none; k: the k-th feature of the vector output)"});
  return layout;
}

OutputOptions instance_output(bool overwrite) {
  OutputOptions o;
  o.driver = "COG";
  o.creation_options = {"COMPRESS=DEFLATE"};
  o.overwrite = overwrite;
  return o;
}

}  // namespace

InstanceRaster::InstanceRaster(const RasterInfo& input, const std::string& path, bool overwrite)
    : writer_(path, instance_layout(input), instance_output(overwrite)) {}

void InstanceRaster::paint(const Detection& d, std::uint32_t id) {
  if (id != ranks_.size() + 1) throw Error("internal: instance ids must be painted in order");
  ranks_.push_back({d.score, d.anchor});
  const InstanceMask& m = *d.mask;
  const Window w{m.x0, m.y0, m.width, m.height};
  window_.resize(static_cast<std::size_t>(w.area()));
  writer_.read_native(w, DataType::UInt32, window_.data());
  const std::vector<std::uint8_t> inside = m.dense();
  for (std::size_t i = 0; i < inside.size(); ++i) {
    if (!inside[i]) continue;
    const std::uint32_t holder = window_[i];
    if (holder != 0) {
      const Rank& r = ranks_[holder - 1];
      Detection held;
      held.score = r.score;
      held.anchor = r.anchor;
      if (!ranks_before(d, held)) continue;
    }
    window_[i] = id;
  }
  writer_.write_native(w, DataType::UInt32, window_.data());
}

}  // namespace luojia::detail
