// libFuzzer harness: the tile grid's arithmetic. Any parameters are a grid or an Error; a grid's
// cores partition the raster and every read window holds its core (checked on small rasters).
#include <luojia/error.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {
std::int64_t take(const std::uint8_t*& data, std::size_t& size) {
  std::int64_t v = 0;
  const std::size_t n = size < 8 ? size : 8;
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::int64_t w = take(data, size) % 100000, h = take(data, size) % 100000;
  luojia::TileGridOptions o;
  o.tile_width = take(data, size) % 5000;
  o.tile_height = take(data, size) % 5000;
  o.halo = take(data, size) % 300;
  o.align_width = take(data, size) % 600;
  o.align_height = take(data, size) % 600;
  o.stride = take(data, size) % 64;
  try {
    const luojia::TileGrid grid(w, h, o);
    if (grid.size() <= 0) std::abort();
    const luojia::Window extent{0, 0, w, h};
    const bool small = w * h <= 1 << 16 && grid.size() <= 4096;
    std::vector<std::uint8_t> cover(small ? static_cast<std::size_t>(w * h) : 0, 0);
    for (std::int64_t i = 0; i < grid.size(); i += small ? 1 : std::max<std::int64_t>(1, grid.size() / 64)) {
      const luojia::Tile t = grid.tile(i);
      if (t.core.empty() || !extent.contains(t.core) || !t.read.contains(t.core)) std::abort();
      if (small)
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
          for (std::int64_t x = t.core.x; x < t.core.right(); ++x)
            if (cover[static_cast<std::size_t>(y * w + x)]++) std::abort();
    }
    for (auto c : cover)
      if (c != 1) std::abort();
  } catch (const luojia::Error&) {
  }
  return 0;
}
