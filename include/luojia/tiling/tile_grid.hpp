#pragma once
// A raster cut into tiles with a halo, aligned for a network, optionally one shard of rows.
#include <luojia/export.hpp>
#include <luojia/tiling/window.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace luojia {

// One share of a job cut into count parts; index is 0-based (the command line's K/N is 1-based).
struct Shard {
  int index = 0;
  int count = 1;
  bool whole() const noexcept { return count == 1; }
};
// Parses "K/N" with 1 <= K <= N.
LUOJIA_API Shard parse_shard(const std::string& text);

// Context read on each side of a tile's core, for kernels that look further one way than the
// other (a stereo matcher looks left by the disparity range).
struct Margins {
  std::int64_t left = 0, top = 0, right = 0, bottom = 0;
};

struct TileGridOptions {
  std::int64_t tile_width = 512;
  std::int64_t tile_height = 512;
  std::int64_t halo = 0;  // context read on every side of a tile's core
  std::optional<Margins> margins;  // when set, the context on each side instead of halo
  // Tile sizes are rounded up to multiples of these (a source's block size, so a tile reads
  // whole blocks). 1 means no alignment.
  std::int64_t align_width = 1;
  std::int64_t align_height = 1;
  // Tile sizes are multiples of stride and read windows are padded on the right and bottom to
  // a multiple of it, as a network with that total stride needs.
  std::int64_t stride = 1;
  // When set, read windows are clipped to [0, read_width) x [0, read_height) instead of reaching
  // past it: for networks, whose results at the raster's edges must come from the same padded
  // extent whatever the tiling. 0: no clipping.
  std::int64_t read_width = 0;
  std::int64_t read_height = 0;
};

struct Tile {
  std::int64_t index = 0;
  std::int64_t row = 0;
  std::int64_t col = 0;
  Window core;  // the pixels this tile produces; cores partition the raster
  Window read;  // core plus halo (and stride padding); may reach outside the raster
};

// A row-major grid of tiles over a width x height raster.
class LUOJIA_API TileGrid {
public:
  TileGrid(std::int64_t width, std::int64_t height, const TileGridOptions& options = {});

  std::int64_t raster_width() const noexcept { return width_; }
  std::int64_t raster_height() const noexcept { return height_; }
  std::int64_t tile_width() const noexcept { return tile_width_; }
  std::int64_t tile_height() const noexcept { return tile_height_; }
  std::int64_t halo() const noexcept { return options_.halo; }
  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  std::int64_t size() const noexcept { return rows_ * cols_; }
  // The largest read window of any tile, for sizing buffers.
  Window max_read_window() const;

  // Shard k (0-based) of n: a contiguous band of tile rows, the rows shared out as evenly as
  // they go (tile counts differ by at most one row's worth), so a shard's output is one compact
  // rectangle and the shards together are every tile exactly once. Tiles keep their windows and
  // indices in the whole grid, so a shard computes exactly what a whole run computes there.
  // Throws when n exceeds the number of tile rows.
  TileGrid shard(int k, int n) const;
  TileGrid shard(const Shard& s) const { return shard(s.index, s.count); }
  // This grid's shard s: the grid itself when s is whole or the grid is that shard already, cut
  // when the grid is whole; throws when it is another shard. What stream() runs of a grid.
  TileGrid part_for(const Shard& s) const;
  // The first row and the number of rows this grid (or shard) iterates; size() counts its tiles.
  std::int64_t first_row() const noexcept { return first_row_; }
  // The pixels the cores of this grid's tiles cover: the whole raster, or a shard's band of rows.
  Window extent() const;

  Tile tile(std::int64_t index) const;
  Tile at(std::int64_t row, std::int64_t col) const;

private:
  std::int64_t width_;
  std::int64_t height_;
  TileGridOptions options_;
  std::int64_t tile_width_;
  std::int64_t tile_height_;
  std::int64_t rows_;
  std::int64_t cols_;
  std::int64_t first_row_ = 0;
  Shard part_;  // which shard of a whole grid this is (whole: the whole grid)
};

}  // namespace luojia
