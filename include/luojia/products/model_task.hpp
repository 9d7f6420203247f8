#pragma once
// What every model task (segment, regress, super-resolve, classify, detect) takes and reports
// alike, declared once: each task's options and report extend these.
#include <luojia/engine/engine.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace luojia {

struct ModelTaskOptions {
  // Input: raster bands (1-based) for the model's channels and their normalisation,
  // value * scale, then - mean, / std per channel; given values override the model's metadata.
  std::vector<int> bands;
  std::vector<double> scale, mean, std;

  std::int64_t tile = 512;           // tile side in pixels, rounded up to what the network's strides need
  std::optional<std::int64_t> halo;  // nullopt: what the task needs (the graph's receptive radius for exact tiling)

  StreamOptions stream;                         // threads, memory budget, progress, shard
  const nn::LayerRegistry* registry = nullptr;  // for the path overloads; default: the built-in layers
  // How the path overloads load the model: the kernels' instruction set (isa) and Winograd. The
  // loaded-model overloads refuse them: that model's kernels were chosen at Model::load.
  nn::LoadOptions load;
};

struct ModelTaskReport {
  std::int64_t tiles = 0;
  std::int64_t skipped = 0;          // tiles without a pixel to run on (nodata, outside the area of interest)
  std::int64_t tile_size = 0;
  std::int64_t halo = 0;
  std::int64_t receptive_radius = 0;  // how far an output pixel reaches into the input (0 unless a dense task)
  std::int64_t alignment = 1;        // the network's stride that tiles are aligned to
  bool exact = true;                 // false when the tiled result may differ from one whole-raster run
  std::string note;                  // why not exact, or what was adjusted
  std::size_t activation_bytes = 0;  // network activations of one tile
  std::vector<std::string> written;  // every product, the main one first
};

}  // namespace luojia
