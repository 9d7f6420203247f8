#pragma once
// The lifecycle every model task shares, PDAL's stage: prepare (the model's input resolved, the
// raster tiled, the task's products opened uncommitted), run (tiles through the network in
// parallel, each tile's result handed on in tile order), done (the products finished and
// committed). A task is a head (TaskHead): what it makes of the network's outputs. The stage
// owns what heads share: input, sharding, the memory plan, the network's sessions.
#include "model_task/model_input.hpp"
#include "model_task/model_loading.hpp"
#include "model_task/model_tiling.hpp"
#include "model_task/session_pool.hpp"

#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/model_task.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace luojia::detail {

// What the stage settled before a pixel is read, and the network it lends to tiles.
class ModelStage {
public:
  // Resolves the model's input from the raster (bands, normalisation); throws before anything is
  // read or written when they do not fit.
  ModelStage(Raster& raster, const nn::Model& model, const ModelTaskOptions& options);

  Raster& raster;
  const nn::Model& model;
  const RasterInfo& info;
  const ModelTaskOptions& options;
  const ErrorContext at_model;
  const ModelInput input;
  ModelTiling tiling;  // the head's plan fills it

  // This shard's tiles (the whole raster's unless options.stream.shard says otherwise).
  const TileGrid& grid() const;
  void set_grid(const TileGrid& whole);  // the stage cuts the shard out of it

  // The dense tiling: tiles aligned to the network's strides with the options' tile and halo
  // (see plan_model_tiling), and its grid over the whole raster.
  ModelTiling dense_tiling(bool blend = false, bool native_size_allowed = true) const;
  TileGrid dense_grid() const;

  // The network input over a tile's read window: normalised, 0 where a pixel holds no data.
  nn::Tensor network_input(const InputTile& tile) const;
  // Every output of the network on x (all the input's channels, split between the model's
  // inputs), on a session borrowed for the call.
  std::vector<nn::Tensor> run(const nn::Tensor& x) const;
  // A session for several runs in a row (test-time augmentation, batches of windows).
  SessionPool::Lease session() const { return sessions_.borrow(); }
  // Activations of one tile: a plan of the grid's largest read window, clipped to the padded raster.
  std::size_t activation_bytes() const;
  // The options' stream settings for the model's reads: raw values (the model's metadata says how
  // to scale them), edges reflected.
  StreamOptions stream() const;

private:
  std::optional<TileGrid> grid_;
  mutable SessionPool sessions_;
};

// A tile's memory for the engine's budget, beyond its input planes.
struct TileBudget {
  std::size_t kernel_bytes = 0;  // per tile in flight: activations, the network's input and outputs, scratch
  int output_planes = 0;         // planes of a tile's result, one value per output cell of its core
  std::int64_t output_cell = 1;  // core pixels per side of one output value
};

// A task's part of the lifecycle; Result is what a tile makes (planes, boxes, counts), in one of
// the slots of tiles in flight, which are reused from tile to tile (planes keep their memory).
template <class Result>
class TaskHead {
public:
  virtual ~TaskHead() = default;
  // prepare: the tiling (stage.tiling) and the tile grid over the whole raster; throws when the
  // model does not fit the task, before anything is read or written.
  virtual TileGrid plan(ModelStage& stage) = 0;
  // prepare: this shard's products, opened uncommitted, once the grid is known.
  virtual void open(const ModelStage& stage) = 0;
  virtual TileBudget budget(const ModelStage& stage) = 0;
  // run: a tile's result into its slot; called concurrently on different tiles.
  virtual void compute(const InputTile& tile, const ModelStage& stage, Result& result) = 0;
  // run: each tile's result, one at a time, in tile order (it may be moved from).
  virtual void consume(const Tile& tile, Result& result) = 0;
  // done: every product finished, then committed (none is, when one fails).
  virtual void finish(const ModelStage& stage, const StreamStats& stats) = 0;
};

// The lifecycle: head's products over raster through model, options' input, tiling, threads,
// memory budget, progress and shard applying to every task alike.
template <class Result>
StreamStats run_model_task(Raster& raster, const nn::Model& model, const ModelTaskOptions& options, TaskHead<Result>& head) {
  ModelStage stage(raster, model, options);
  stage.set_grid(head.plan(stage));
  head.open(stage);
  const TileBudget budget = head.budget(stage);
  StreamOptions so = stage.stream();
  so.kernel_bytes_per_tile = budget.kernel_bytes;
  so.output_cell = budget.output_cell;
  std::vector<Result> results;  // one slot per tile in flight
  SlotStages stages;
  stages.output_bands = budget.output_planes;
  stages.prepare = [&](int slots) { results.resize(static_cast<std::size_t>(slots)); };
  stages.compute = [&](const InputTile& in, int slot) { head.compute(in, stage, results[static_cast<std::size_t>(slot)]); };
  stages.deliver = [&](const Tile& tile, int slot) { head.consume(tile, results[static_cast<std::size_t>(slot)]); };
  const StreamStats stats = stream_slots(raster, stage.input.bands, stage.grid(), stages, so);
  head.finish(stage, stats);
  return stats;
}

}  // namespace luojia::detail
