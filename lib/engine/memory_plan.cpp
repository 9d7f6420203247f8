#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>

#include <tbb/info.h>

#include <algorithm>

namespace luojia {

int resolve_threads(int threads) {
  if (threads < 0) raise("thread count must not be negative, not " + std::to_string(threads));
  return threads == 0 ? std::max(1, tbb::info::default_concurrency()) : threads;
}

MemoryPlan plan_memory(const TileGrid& grid, int input_bands, int output_bands, int threads,
                       const StreamOptions& options) {
  const Window read = grid.max_read_window();
  const auto read_pixels = static_cast<std::size_t>(read.area());
  const std::int64_t cell = std::max<std::int64_t>(1, options.output_cell);
  const auto core_pixels = static_cast<std::size_t>(((grid.tile_width() + cell - 1) / cell) * ((grid.tile_height() + cell - 1) / cell));
  MemoryPlan plan;
  // Input planes, an edge-mode scratch copy of them, the mask, the output planes, kernel scratch.
  plan.bytes_per_tile = 2 * read_pixels * static_cast<std::size_t>(input_bands) * sizeof(float) +
                        read_pixels + core_pixels * static_cast<std::size_t>(output_bands) * sizeof(float) +
                        options.kernel_bytes_per_tile;
  // GDAL's block cache gets a sixteenth of the budget (16 MiB of 256): tiles aligned to blocks
  // read each block once, so the cache only carries halos and partly written output blocks.
  // Small, it fills on small rasters as on large ones, and peak memory does not grow with the
  // raster; GDAL's default of 5% of RAM would.
  plan.gdal_cache_bytes = std::clamp<std::size_t>(options.memory_budget / 16, 4u << 20, 1u << 30);
  if (options.memory_budget <= plan.gdal_cache_bytes + plan.bytes_per_tile)
    raise("memory budget of " + std::to_string(options.memory_budget >> 20) + " MiB is too small for " +
          std::to_string(grid.tile_width()) + "x" + std::to_string(grid.tile_height()) +
          " tiles: one tile needs " + std::to_string((plan.bytes_per_tile >> 20) + 1) +
          " MiB besides GDAL's cache; raise `memory_budget` or lower `tile`");
  const std::size_t fit = (options.memory_budget - plan.gdal_cache_bytes) / plan.bytes_per_tile;
  // A tile is read and computed by one thread, so one slot per thread is busy; one more lets a
  // thread start the next tile while a finished one waits for the in-order writer. More only hold
  // memory (measured: 5 slots against 3 at 2 threads, the same time, 20 MB more for detection).
  const std::size_t useful = static_cast<std::size_t>(threads + 1);
  plan.tiles_in_flight = static_cast<int>(std::clamp<std::size_t>(fit, 1, useful));
  return plan;
}

}  // namespace luojia
