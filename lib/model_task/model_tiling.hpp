#pragma once
// How a model's raster is cut: tiles aligned to what the network's strides need, a halo of its
// receptive radius, read windows padded so edge pixels see the same padding however it is cut.
#include "model_task/model_input.hpp"

#include <luojia/io/raster_info.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace luojia::detail {

std::int64_t round_up(std::int64_t value, std::int64_t multiple);

// Tiles for a model whose outputs are dense maps: sizes aligned to what the network's strides
// need, a halo of its receptive radius (or the one asked for), read windows padded to the aligned
// extent so edge pixels see the same padding however the raster is cut.
struct ModelTiling {
  nn::OutputAnalysis analysis;
  std::int64_t alignment = 1;
  std::int64_t tile = 0;
  std::int64_t halo = 0;
  std::int64_t padded_width = 0, padded_height = 0;
  bool one_tile = false;     // the raster fits one tile: tiling cannot change the result
  // One tile at the raster's own size, not padded to the network's stride: the model takes that
  // size, so a model with global context (pooling, attention) sees the raster and nothing else.
  bool native_size = false;
  bool exact = true;         // false when the halo asked for is below the receptive radius
  std::string note;          // why not exact
};
// blend: tiles overlap by a quarter of their size unless halo says otherwise, and are not exact
// by construction (the caller says why). native_size_allowed: a model that is not exactly tileable
// runs a raster that fits one tile at its own size when it takes it (ModelTiling::native_size).
ModelTiling plan_model_tiling(const nn::Model& model, const ModelInput& input, const RasterInfo& raster, std::int64_t tile,
                              std::optional<std::int64_t> halo, bool blend = false, bool native_size_allowed = true);
// The grid over the whole raster (the stage cuts a shard out of it).
TileGrid model_tile_grid(const ModelTiling& tiling, const RasterInfo& raster);

// Activation bytes one tile needs, from a plan of the grid's largest read window.
std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, const TileGrid& grid, const ModelTiling& tiling);
// The same for a network input of width x height (a fixed-size model's window).
std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, std::int64_t width, std::int64_t height);

}  // namespace luojia::detail
