#include <luojia/error.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace luojia;

namespace {

// Every pixel in exactly one core; read windows are the core grown by the halo, padded to the stride.
void check_partition(std::int64_t w, std::int64_t h, const TileGridOptions& o) {
  const TileGrid grid(w, h, o);
  std::vector<int> cover(static_cast<std::size_t>(w * h), 0);
  REQUIRE(grid.size() == grid.rows() * grid.cols());
  for (std::int64_t i = 0; i < grid.size(); ++i) {
    const Tile t = grid.tile(i);
    REQUIRE(t.index == i);
    REQUIRE(!t.core.empty());
    REQUIRE(Window{0, 0, w, h}.contains(t.core));
    REQUIRE(t.core.x % grid.tile_width() == 0);
    REQUIRE(t.core.y % grid.tile_height() == 0);
    REQUIRE(t.read.contains(t.core));
    REQUIRE(t.read.x == t.core.x - o.halo);
    REQUIRE(t.read.y == t.core.y - o.halo);
    REQUIRE(t.read.width % o.stride == 0);
    REQUIRE(t.read.height % o.stride == 0);
    REQUIRE(t.read.width - (t.core.width + 2 * o.halo) < o.stride);
    REQUIRE(t.read.height - (t.core.height + 2 * o.halo) < o.stride);
    REQUIRE(grid.max_read_window().width >= t.read.width);
    REQUIRE(grid.max_read_window().height >= t.read.height);
    for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
      for (std::int64_t x = t.core.x; x < t.core.right(); ++x) ++cover[static_cast<std::size_t>(y * w + x)];
  }
  for (int c : cover) REQUIRE(c == 1);
}

}  // namespace

TEST_CASE("tile cores partition the raster for awkward sizes", "[tiling]") {
  const std::vector<std::int64_t> sizes{1, 2, 3, 7, 31, 64, 100, 257, 513};
  const std::vector<std::int64_t> tiles{1, 3, 16, 64, 100, 512};
  for (std::int64_t w : sizes)
    for (std::int64_t h : {std::int64_t{1}, std::int64_t{5}, std::int64_t{99}, std::int64_t{257}})
      for (std::int64_t tile : tiles)
        for (std::int64_t halo : {0, 1, 7})
          for (std::int64_t stride : {1, 2, 8}) {
            if (w * h > 5000 * tile * (tile + 1)) continue;  // keeps the tile count testable
            TileGridOptions o;
            o.tile_width = tile;
            o.tile_height = tile + 1;
            o.halo = halo;
            o.stride = stride;
            INFO(w << "x" << h << " tile " << tile << " halo " << halo << " stride " << stride);
            check_partition(w, h, o);
          }
}

TEST_CASE("tile sizes align to source blocks and the stride", "[tiling]") {
  TileGridOptions o;
  o.tile_width = 500;
  o.tile_height = 500;
  o.align_width = 256;
  o.align_height = 3;
  o.stride = 4;
  const TileGrid grid(10000, 10000, o);
  CHECK(grid.tile_width() == 512);   // 500 -> 512 (block multiple) -> 512 (stride multiple)
  CHECK(grid.tile_height() == 504);  // 500 -> 501 (strip multiple) -> 504 (stride multiple)
  check_partition(1000, 777, o);
}

TEST_CASE("a raster smaller than a tile is one tile", "[tiling]") {
  for (std::int64_t w : {1, 17, 511}) {
    const TileGrid grid(w, 3, {});
    CHECK(grid.size() == 1);
    CHECK(grid.tile(0).core == Window{0, 0, w, 3});
  }
  TileGridOptions strided;
  strided.stride = 16;
  const TileGrid grid(17, 3, strided);
  CHECK(grid.size() == 1);
  CHECK(grid.tile(0).read == Window{0, 0, 32, 16});
}

TEST_CASE("bad grid parameters are errors", "[tiling]") {
  TileGridOptions o;
  CHECK_THROWS_AS(TileGrid(0, 10, o), Error);
  o.tile_width = 0;
  CHECK_THROWS_AS(TileGrid(10, 10, o), Error);
  o = {};
  o.halo = -1;
  CHECK_THROWS_AS(TileGrid(10, 10, o), Error);
  const TileGrid grid(10, 10, {});
  CHECK_THROWS_AS(grid.tile(1), Error);
}
