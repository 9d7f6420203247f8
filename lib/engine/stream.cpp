#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>

#include "core/parallel.hpp"
#include "io/gdal_support.hpp"
#include "io/raster_pool.hpp"

#include <cpl_error.h>
#include <gdal.h>

#include <tbb/concurrent_queue.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace luojia {
namespace {

// TBB's pipeline hands each slot from stage to stage inside libtbb, which ThreadSanitizer does not
// see: the stages state it (a stage's writes to a slot before the next stage reads it, the caller's
// setup before any stage, every stage before the caller continues).
using detail::handoff_acquire;
using detail::handoff_release;
using detail::ReleaseOnExit;

// Addresses for the caller-to-stages and stages-to-caller edges; static, so a stage reaches them
// without first reading the pipeline's captures.
const char pipeline_start = 0;
const char pipeline_done = 0;

// Buffers of one tile in flight, reused by the tiles that follow it; index names the caller's
// result buffer of the slot.
struct Slot {
  Tile tile;
  Image input;
  Mask mask;
  int index = 0;
};

}  // namespace

bool InputTile::any_valid() const {
  for (std::uint8_t m : mask)
    if (m) return true;
  return false;
}

StreamStats stream(Raster& input, const std::vector<int>& bands, const TileGrid& grid,
                   RasterWriter& output, int output_bands, const TileKernel& kernel,
                   const StreamOptions& options) {
  // The output covers the extent of the grid's part streamed: the whole raster, or one shard's
  // band of rows.
  const Window extent = grid.part_for(options.shard).extent();
  if (output.layout().width != extent.width || output.layout().height != extent.height)
    raise("output size differs from the extent of the tiles", ErrorContext{output.path(), {}, {}, {}});
  return stream(input, bands, grid, output_bands, kernel,
                [&output, extent](const Tile& tile, const Image& pixels) {
                  output.write(Window{tile.core.x - extent.x, tile.core.y - extent.y, tile.core.width, tile.core.height}, pixels);
                },
                options);
}

StreamStats stream(Raster& input, const std::vector<int>& bands, const TileGrid& grid, int output_bands,
                   const TileKernel& kernel, const TileSink& sink, const StreamOptions& options) {
  // Each slot's output image lives here, sized by the engine before the kernel fills it.
  std::vector<Image> outputs;
  detail::SlotStages stages;
  stages.output_bands = output_bands;
  stages.prepare = [&](int slots) { outputs.resize(static_cast<std::size_t>(slots)); };
  stages.compute = [&](const InputTile& in, int slot) {
    Image& image = outputs[static_cast<std::size_t>(slot)];
    const std::int64_t cell = std::max<std::int64_t>(1, options.output_cell);
    image.reshape(output_bands, (in.tile.core.width + cell - 1) / cell, (in.tile.core.height + cell - 1) / cell);
    OutputTile out{in.tile, image};
    kernel(in, out);
  };
  stages.deliver = [&](const Tile& tile, int slot) { sink(tile, outputs[static_cast<std::size_t>(slot)]); };
  return detail::stream_slots(input, bands, grid, stages, options);
}

StreamStats detail::stream_slots(Raster& input, const std::vector<int>& bands, const TileGrid& whole, const SlotStages& stages,
                                 const StreamOptions& options) {
  const TileGrid grid = whole.part_for(options.shard);
  const int output_bands = stages.output_bands;
  if (grid.raster_width() != input.info().width || grid.raster_height() != input.info().height)
    raise("tile grid does not match the input raster", ErrorContext{input.path(), {}, {}, {}});
  const int threads = resolve_threads(options.threads);
  const MemoryPlan plan =
      plan_memory(grid, static_cast<int>(bands.size()), output_bands, threads, options);
  detail::GdalCacheScope cache(plan.gdal_cache_bytes);
  // What the threads and memory settings became, for CPL_DEBUG=luojia (GDAL's debug channel).
  CPLDebug("luojia", "%s: %lld tiles, %d threads, %d tiles in flight of %zu KiB, GDAL cache %zu KiB", input.path().c_str(),
           static_cast<long long>(grid.size()), threads, plan.tiles_in_flight, plan.bytes_per_tile >> 10,
           plan.gdal_cache_bytes >> 10);

  detail::RasterPool handles(input);
  std::vector<Slot> slots(static_cast<std::size_t>(plan.tiles_in_flight));
  tbb::concurrent_queue<Slot*> free_slots;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].index = static_cast<int>(i);
    free_slots.push(&slots[i]);
  }
  if (stages.prepare) stages.prepare(plan.tiles_in_flight);

  const std::int64_t total = grid.size();
  std::int64_t next = 0;
  std::int64_t written = 0;
  std::atomic<bool> cancelled{false};
  if (options.progress && !options.progress(0.0, nullptr, options.progress_data)) throw Cancelled();

  tbb::task_arena arena(threads);
  arena.execute([&] {
    const auto filters =
        tbb::make_filter<void, Slot*>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> Slot* {
              handoff_acquire(&pipeline_start);
              handoff_acquire(&next);  // the serial stages run one call at a time, on any thread
              const ReleaseOnExit done{&pipeline_done}, serial{&next};
              Slot* slot = nullptr;
              if (next >= total || cancelled.load()) {
                fc.stop();
                return nullptr;
              }
              // The pipeline admits no more tiles than there are slots, so one is always free; if
              // not, stopping here would end the run short with a product missing its last tiles.
              if (!free_slots.try_pop(slot))
                raise("no free tile buffer for tile " + std::to_string(next) + " of " + std::to_string(total),
                      ErrorContext{input.path(), {}, next, {}});
              slot->tile = grid.tile(next++);
              handoff_acquire(slot);
              handoff_release(slot);
              return slot;
            }) &
            tbb::make_filter<Slot*, Slot*>(
                tbb::filter_mode::parallel,
                [&](Slot* slot) -> Slot* {
                  handoff_acquire(&pipeline_start);
                  handoff_acquire(slot);
                  const ReleaseOnExit done{&pipeline_done};
                  try {
                    {
                      const auto raster = handles.acquire();
                      raster->read_into(slot->tile.read, bands, slot->input, options.read, &slot->mask);
                    }
                    stages.compute(InputTile{slot->tile, slot->input, slot->mask}, slot->index);
                  } catch (const Cancelled&) {
                    throw;
                  } catch (const Error& e) {
                    ErrorContext where = e.context();
                    if (where.file.empty()) where.file = input.path();
                    where.tile = slot->tile.index;
                    e.rethrow_with(where);
                  }
                  handoff_release(slot);
                  return slot;
                }) &
            tbb::make_filter<Slot*, void>(
                tbb::filter_mode::serial_in_order, [&](Slot* slot) {
                  handoff_acquire(&pipeline_start);
                  handoff_acquire(slot);
                  handoff_acquire(&written);
                  const ReleaseOnExit done{&pipeline_done}, serial{&written};
                  stages.deliver(slot->tile, slot->index);
                  ++written;
                  free_slots.push(slot);
                  if (options.progress &&
                      !options.progress(static_cast<double>(written) / static_cast<double>(total),
                                        nullptr, options.progress_data))
                    cancelled = true;
                  handoff_release(slot);
                });
    handoff_release(&pipeline_start);
    try {
      tbb::parallel_pipeline(static_cast<std::size_t>(plan.tiles_in_flight), filters);
    } catch (...) {
      handoff_acquire(&pipeline_done);  // the stages that ran before the failure
      throw;
    }
  });
  handoff_acquire(&pipeline_done);
  handoff_acquire(&written);
  if (cancelled) throw Cancelled();
  if (written != total)
    raise("only " + std::to_string(written) + " of " + std::to_string(total) + " tiles were written",
          ErrorContext{input.path(), {}, {}, {}});

  StreamStats stats;
  stats.tiles = written;
  stats.tiles_in_flight = plan.tiles_in_flight;
  stats.gdal_cache_bytes = plan.gdal_cache_bytes;
  stats.bytes_per_tile = plan.bytes_per_tile;
  return stats;
}

}  // namespace luojia
