#include "model_task/model_tiling.hpp"

#include <luojia/error.hpp>

#include <algorithm>

namespace luojia::detail {

std::int64_t round_up(std::int64_t value, std::int64_t multiple) {
  return multiple <= 1 ? value : (value + multiple - 1) / multiple * multiple;
}

ModelTiling plan_model_tiling(const nn::Model& model, const ModelInput& input, const RasterInfo& info, std::int64_t tile,
                              std::optional<std::int64_t> halo, bool blend, bool native_size_allowed) {
  ModelTiling t;
  t.analysis = model.analyse({1, input.input_channels[0], 256, 256}).at(0);
  t.alignment = std::max<std::int64_t>(1, t.analysis.alignment);
  if (tile < 1) throw UsageError("tile", "must be positive");
  t.tile = round_up(tile, t.alignment);
  t.one_tile = info.width <= t.tile && info.height <= t.tile;
  if (!t.one_tile) {
    const std::int64_t wanted = halo ? *halo : (blend ? t.tile / 4 : t.analysis.radius);
    if (wanted < 0) throw UsageError("halo", "must not be negative");
    t.halo = round_up(wanted, t.alignment);
    if (!blend && halo && *halo < t.analysis.radius) {
      t.exact = false;
      t.note = "not exact: `halo` " + std::to_string(*halo) + " is below the model's receptive radius of " +
               std::to_string(t.analysis.radius) + " pixels";
    }
  }
  t.padded_width = round_up(info.width, t.alignment);
  t.padded_height = round_up(info.height, t.alignment);
  // A model with global context on a raster that fits one tile: run at the raster's own size when
  // the model takes it (and its transpose, for D4 test-time augmentation), so that pooling and
  // attention see the raster and no padding. Exactly tileable models stay padded to the stride:
  // their one-tile run is the reference their tiled runs equal.
  if (native_size_allowed && t.one_tile && !t.analysis.tileable &&
      (t.padded_width != info.width || t.padded_height != info.height)) {
    // Does the model take the raster's own size? Planning a run at it says (a U-Net's skips do not
    // meet at odd sizes; a model that resizes to its input does), without running it.
    try {
      const auto own = model.analyse({1, input.input_channels[0], info.height, info.width}).at(0);
      const auto turned =
          info.width == info.height ? own : model.analyse({1, input.input_channels[0], info.width, info.height}).at(0);
      // A dense output of the raster's own size (times the upscale), at both orientations.
      const auto dense = [&](const nn::OutputAnalysis& a, std::int64_t h, std::int64_t w) {
        return a.stride == 1 && a.upscale == t.analysis.upscale && t.analysis.stride == 1 && a.shape.size() == 4 &&
               a.shape[2] == h * a.upscale && a.shape[3] == w * a.upscale;
      };
      if (dense(own, info.height, info.width) && dense(turned, info.width, info.height)) {
        t.native_size = true;
        t.padded_width = info.width;
        t.padded_height = info.height;
      }
    } catch (const Error&) {
      // It does not: the raster is padded to the stride, as tiles are.
    }
  }
  return t;
}

TileGrid model_tile_grid(const ModelTiling& t, const RasterInfo& info) {
  TileGridOptions go;
  go.tile_width = go.tile_height = t.tile;
  go.halo = t.halo;
  go.stride = t.alignment;
  if (t.native_size) {
    go.stride = 1;
    go.tile_width = info.width;
    go.tile_height = info.height;
  }
  go.read_width = t.padded_width;
  go.read_height = t.padded_height;
  return TileGrid(info.width, info.height, go);
}

std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, const TileGrid& grid, const ModelTiling& t) {
  const Window largest = grid.max_read_window();
  return activation_bytes(model, input, std::min(largest.width, t.padded_width), std::min(largest.height, t.padded_height));
}

std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, std::int64_t width, std::int64_t height) {
  nn::Session probe(model);
  probe.run(input.split(nn::Tensor({1, input.channels(), height, width})));
  return probe.peak_bytes() + probe.output_bytes();
}

}  // namespace luojia::detail
