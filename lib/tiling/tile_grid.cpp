#include <luojia/tiling/tile_grid.hpp>

#include <luojia/error.hpp>

#include <algorithm>
#include <stdexcept>

namespace luojia {
namespace {

std::int64_t round_up(std::int64_t value, std::int64_t multiple) {
  return multiple <= 1 ? value : (value + multiple - 1) / multiple * multiple;
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  try {
    std::size_t used_k = 0, used_n = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    const int k = std::stoi(text.substr(0, slash), &used_k);
    const int n = std::stoi(text.substr(slash + 1), &used_n);
    if (used_k != slash || used_n != text.size() - slash - 1) throw std::invalid_argument("trailing characters");
    s.index = k - 1;
    s.count = n;
  } catch (const std::exception&) {
    raise("a shard is K/N, e.g. 2/8, not '" + text + "'");
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    raise("shard " + text + " does not exist: K runs from 1 to N");
  return s;
}

TileGrid::TileGrid(std::int64_t width, std::int64_t height, const TileGridOptions& options)
    : width_(width), height_(height), options_(options) {
  if (width <= 0 || height <= 0)
    raise("cannot tile a raster of " + std::to_string(width) + "x" + std::to_string(height));
  if (options.tile_width <= 0 || options.tile_height <= 0)
    raise("tile size must be positive, not " + std::to_string(options.tile_width) + "x" +
          std::to_string(options.tile_height));
  if (options.halo < 0) raise("halo must not be negative");
  if (options.margins && (options.margins->left < 0 || options.margins->top < 0 || options.margins->right < 0 || options.margins->bottom < 0))
    raise("halo margins must not be negative");
  if (!options_.margins) options_.margins = Margins{options.halo, options.halo, options.halo, options.halo};
  if (options.stride < 1 || options.align_width < 1 || options.align_height < 1)
    raise("stride and alignment must be at least 1");
  if ((options.read_width > 0 || options.read_height > 0) && (options.read_width < width || options.read_height < height))
    raise("the read extent must cover the raster");
  tile_width_ = round_up(round_up(options.tile_width, options.align_width), options.stride);
  tile_height_ = round_up(round_up(options.tile_height, options.align_height), options.stride);
  // A raster smaller than a tile is one tile: never more than the raster (rounded to the stride).
  tile_width_ = std::min(tile_width_, round_up(width, options.stride));
  tile_height_ = std::min(tile_height_, round_up(height, options.stride));
  cols_ = (width + tile_width_ - 1) / tile_width_;
  rows_ = (height + tile_height_ - 1) / tile_height_;
}

Tile TileGrid::at(std::int64_t row, std::int64_t col) const {
  Tile t;
  t.row = row;
  t.col = col;
  t.index = row * cols_ + col;
  t.core.x = col * tile_width_;
  t.core.y = row * tile_height_;
  t.core.width = std::min(tile_width_, width_ - t.core.x);
  t.core.height = std::min(tile_height_, height_ - t.core.y);
  const Margins& m = *options_.margins;
  t.read = {t.core.x - m.left, t.core.y - m.top, round_up(t.core.width + m.left + m.right, options_.stride),
            round_up(t.core.height + m.top + m.bottom, options_.stride)};
  if (options_.read_width > 0 && options_.read_height > 0)
    t.read = intersection(t.read, Window{0, 0, options_.read_width, options_.read_height});
  return t;
}

Tile TileGrid::tile(std::int64_t index) const {
  if (index < 0 || index >= size())
    raise("tile " + std::to_string(index) + " is outside a grid of " + std::to_string(size()));
  return at(first_row_ + index / cols_, index % cols_);
}

TileGrid TileGrid::shard(int k, int n) const {
  if (n < 1 || k < 0 || k >= n)
    raise("shard " + std::to_string(k + 1) + "/" + std::to_string(n) + " does not exist: shards are numbered 1 to N");
  if (n > rows_)
    raise("cannot cut " + std::to_string(rows_) + " row" + (rows_ == 1 ? "" : "s") + " of tiles into " + std::to_string(n) +
          " shards; use at most " + std::to_string(rows_) + " (or smaller tiles)");
  TileGrid part = *this;
  const std::int64_t begin = rows_ * k / n, end = rows_ * (k + 1) / n;
  part.first_row_ = first_row_ + begin;
  part.rows_ = end - begin;
  if (part_.whole()) part.part_ = Shard{k, n};
  return part;
}

TileGrid TileGrid::part_for(const Shard& s) const {
  if (s.whole() || (part_.index == s.index && part_.count == s.count)) return *this;
  if (!part_.whole())
    raise("internal: a grid of shard " + std::to_string(part_.index + 1) + "/" + std::to_string(part_.count) + " was streamed as shard " +
          std::to_string(s.index + 1) + "/" + std::to_string(s.count));
  return shard(s);
}

Window TileGrid::extent() const {
  const std::int64_t y = first_row_ * tile_height_;
  const std::int64_t bottom = std::min(height_, (first_row_ + rows_) * tile_height_);
  return {0, y, width_, bottom - y};
}

Window TileGrid::max_read_window() const {
  const Margins& m = *options_.margins;
  return {0, 0, round_up(tile_width_ + m.left + m.right, options_.stride),
          round_up(tile_height_ + m.top + m.bottom, options_.stride)};
}

}  // namespace luojia
