#pragma once
// The streaming engine: tiles read in parallel, a kernel per tile, results in tile order, memory bounded.
#include <luojia/export.hpp>
#include <luojia/image.hpp>
#include <luojia/progress.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace luojia {

// What a kernel sees: the read window (core + halo) of the requested bands, its validity mask,
// and where the core lies inside it.
struct InputTile {
  const Tile& tile;
  const Image& pixels;
  const Mask& mask;
  std::int64_t core_x() const { return tile.core.x - tile.read.x; }
  std::int64_t core_y() const { return tile.core.y - tile.read.y; }
  bool any_valid() const;
  // Mask plane of input band b: the one shared plane unless the read asked for one per band.
  const std::uint8_t* mask_plane(int b) const {
    const std::size_t plane = pixels.plane_size();
    return mask.data() + (mask.size() > plane ? static_cast<std::size_t>(b) * plane : 0);
  }
};

// What a kernel fills: the core of the tile, one plane per output band, sized by the engine.
// A kernel whose sink expects something else (a blended window, say) may reshape it.
struct OutputTile {
  const Tile& tile;
  Image& pixels;
};

// Receives every computed tile in tile order, one at a time: writes it, accumulates it, ...
using TileSink = std::function<void(const Tile&, const Image&)>;

// Any callable from an input tile to an output tile. Called concurrently on different tiles.
using TileKernel = std::function<void(const InputTile&, OutputTile&)>;

struct StreamOptions {
  int threads = 0;                            // 0: every core
  std::size_t memory_budget = 256u << 20;     // bytes, GDAL's block cache included
  std::size_t kernel_bytes_per_tile = 0;      // scratch a kernel allocates per tile in flight
  // Output pixels per side of one output value: a classifier's labels, one per cell of
  // output_cell x output_cell input pixels, come in planes that much smaller than the tile's core.
  std::int64_t output_cell = 1;
  ReadOptions read;
  ProgressFunc progress = nullptr;
  void* progress_data = nullptr;
  // Only this shard's tile rows are processed: stream() cuts them out of a whole grid (a grid
  // that is this shard already runs as it is), and its writer covers just them (shard_layout
  // lays such outputs out); luojia-merge puts the shards together.
  Shard shard;
};

struct StreamStats {
  std::int64_t tiles = 0;
  int tiles_in_flight = 0;       // the bound the budget allowed
  std::size_t gdal_cache_bytes = 0;
  std::size_t bytes_per_tile = 0;
};

// How the memory budget splits between GDAL's block cache and tiles in flight.
struct MemoryPlan {
  std::size_t gdal_cache_bytes = 0;
  std::size_t bytes_per_tile = 0;
  int tiles_in_flight = 0;
};
LUOJIA_API MemoryPlan plan_memory(const TileGrid& grid, int input_bands, int output_bands,
                                  int threads, const StreamOptions& options);

// Reads every tile of grid from input (bands, 1-based), runs kernel on it in parallel and writes
// the cores to output bands 1..output_bands, in a TBB pipeline whose tiles in flight are bounded by
// the memory budget. With CPL_DEBUG=luojia, GDAL's debug channel says what the thread count and
// the budget became (threads, tiles in flight, GDAL's cache). Throws Cancelled if progress returns 0; the writer is then left uncommitted.
LUOJIA_API StreamStats stream(Raster& input, const std::vector<int>& bands, const TileGrid& grid,
                              RasterWriter& output, int output_bands, const TileKernel& kernel,
                              const StreamOptions& options = {});

// The same, handing each finished tile to sink instead of a writer.
LUOJIA_API StreamStats stream(Raster& input, const std::vector<int>& bands, const TileGrid& grid,
                              int output_bands, const TileKernel& kernel, const TileSink& sink,
                              const StreamOptions& options = {});

namespace detail {
// The pipeline under every stream(): compute(tile, slot) runs in parallel, deliver(tile, slot)
// in tile order, slot naming one of the `prepare(slots)` result buffers the caller keeps (a tile
// in flight owns its slot from compute until deliver returns). output_bands sizes the memory plan.
struct SlotStages {
  int output_bands = 0;
  std::function<void(int slots)> prepare;
  std::function<void(const InputTile&, int slot)> compute;
  std::function<void(const Tile&, int slot)> deliver;
};
LUOJIA_API StreamStats stream_slots(Raster& input, const std::vector<int>& bands, const TileGrid& grid,
                                    const SlotStages& stages, const StreamOptions& options);
}  // namespace detail

// Typed tile results: kernel(tile) returns any movable Result (detections, a histogram, counts),
// computed in parallel; sink(tile, result) receives them one at a time in tile order, so it may
// accumulate without locks. A Result's memory counts in options.kernel_bytes_per_tile.
template <typename Result>
StreamStats stream_results(Raster& input, const std::vector<int>& bands, const TileGrid& grid,
                           const std::function<Result(const InputTile&)>& kernel,
                           const std::function<void(const Tile&, Result&&)>& sink, const StreamOptions& options = {}) {
  std::vector<std::optional<Result>> results;
  detail::SlotStages stages;
  stages.prepare = [&](int slots) { results.resize(static_cast<std::size_t>(slots)); };
  stages.compute = [&](const InputTile& in, int slot) { results[static_cast<std::size_t>(slot)].emplace(kernel(in)); };
  stages.deliver = [&](const Tile& tile, int slot) {
    std::optional<Result>& result = results[static_cast<std::size_t>(slot)];
    sink(tile, std::move(*result));
    result.reset();
  };
  return detail::stream_slots(input, bands, grid, stages, options);
}

// The thread count a threads setting means on this machine (0 = every core).
LUOJIA_API int resolve_threads(int threads);

// Parses "256M", "1.5G", "512K", "300MB", "64MiB"; a bare number means MiB, as gdalwarp -wm does.
// Throws Error on anything else.
LUOJIA_API std::size_t parse_byte_size(std::string_view text);

}  // namespace luojia
