#pragma once
// The stage every model task shares (PDAL's prepare, then run): what the model takes from the
// raster, resolved once; tiles planned from the graph analysis; the network input of each tile.
// Task heads (segmentation, regression, super-resolution, ...) turn the network's outputs into
// products.
#include <luojia/engine/engine.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace luojia::detail {

std::int64_t round_up(std::int64_t value, std::int64_t multiple);

// Which raster bands feed which model input, and how each channel is normalised.
struct ModelInput {
  std::vector<int> bands;                    // raster bands, one per channel, inputs one after another
  std::vector<std::int64_t> input_channels;  // channels of each model input (a Siamese model has two)
  std::vector<float> gain, bias;             // channel c = raw value * gain[c] + bias[c]

  std::int64_t channels() const { return static_cast<std::int64_t>(bands.size()); }
  // The model's inputs from one 1 x channels x h x w tensor holding all channels.
  std::vector<nn::Tensor> split(const nn::Tensor& all) const;
};

// The model at path with registry's layers (null: the built-in ones) and load's kernel choices;
// GDAL's debug channel (CPL_DEBUG=luojia) says which kernels and Winograd mode it runs with.
nn::Model load_model(const std::string& path, const nn::LayerRegistry* registry, const nn::LoadOptions& load);
// Load options (isa, winograd) where they would be dropped are refused, naming the option; why
// says what they need. A task handed a loaded model refuses them with kLoadedModel; the path
// overloads clear them once they have loaded the model (loaded_with()).
void refuse_load_options(const nn::LoadOptions& load, const std::string& why);
inline constexpr const char* kLoadedModel = "chooses the kernels of a model given as a path; a loaded model has its own, chosen when it was loaded";
template <class Options>
Options loaded_with(const Options& o) {
  Options loaded = o;
  loaded.load = {};
  return loaded;
}

// Resolves bands (given, else the model's metadata, else all bands when their count fits) and
// normalisation (given values override the metadata's); throws naming the raster or the model when
// they do not fit, before anything is read or written.
ModelInput resolve_model_input(const nn::Model& model, const RasterInfo& raster, const std::vector<int>& bands,
                               const std::vector<double>& scale, const std::vector<double>& mean,
                               const std::vector<double>& std);

// The network input for a tile's read window: normalised channels, 0 (the normalised mean) where
// a pixel holds no data. Pixels past the raster mirror a pixel inside it (the read pads by
// reflection), and have that pixel's validity.
void network_input(const InputTile& tile, const ModelInput& input, std::int64_t raster_width, std::int64_t raster_height,
                   nn::Tensor& x);

// Tiles for a model whose outputs are dense maps: sizes aligned to what the network's strides
// need, a halo of its receptive radius (or the one asked for), read windows padded to the aligned
// extent so edge pixels see the same padding however the raster is cut.
struct ModelTiling {
  nn::OutputAnalysis analysis;
  std::int64_t alignment = 1;
  std::int64_t tile = 0;
  std::int64_t halo = 0;
  std::int64_t padded_width = 0, padded_height = 0;
  bool one_tile = false;     // the raster fits one tile: tiling cannot change the result
  // One tile at the raster's own size, not padded to the network's stride: the model takes that
  // size, so a model with global context (pooling, attention) sees the raster and nothing else.
  bool native_size = false;
  bool exact = true;         // false when the halo asked for is below the receptive radius
  std::string note;          // why not exact
};
// blend: tiles overlap by a quarter of their size unless halo says otherwise, and are not exact
// by construction (the caller says why). native_size_allowed: a model that is not exactly tileable
// runs a raster that fits one tile at its own size when it takes it (ModelTiling::native_size).
ModelTiling plan_model_tiling(const nn::Model& model, const ModelInput& input, const RasterInfo& raster, std::int64_t tile,
                              std::optional<std::int64_t> halo, bool blend = false, bool native_size_allowed = true);
TileGrid model_tile_grid(const ModelTiling& tiling, const RasterInfo& raster, const Shard& shard);

// Stream options for model runs: raw values (the metadata says how to scale them), reflected edges.
StreamOptions model_stream_options(StreamOptions options);

// Activation bytes one tile needs, from a plan of the grid's largest read window.
std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, const TileGrid& grid, const ModelTiling& tiling);

}  // namespace luojia::detail
