#pragma once
// Where one shard's product sits in the whole job's grid: the tiling decides it, every writer of
// a sharded product asks for it.
#include <luojia/export.hpp>
#include <luojia/io/raster_layout.hpp>
#include <luojia/tiling/tile_grid.hpp>
#include <luojia/tiling/window.hpp>

namespace luojia {

// The layout of one shard's product: window's size, the geotransform moved to the window's corner,
// and metadata by which luojia-merge checks that shards cover the whole grid exactly once:
// LUOJIA_SHARD=K/N, LUOJIA_SHARD_WINDOW=x,y,width,height and LUOJIA_SHARD_GRID=width,height.
// The whole job (shard 1/1) is the whole layout, unchanged.
LUOJIA_API RasterLayout shard_layout(const RasterLayout& whole, const Window& window, const Shard& shard);

}  // namespace luojia
