#pragma once
// What a model takes from a raster: which bands feed which input, how each channel is
// normalised, and a tile's network input made from them.
#include <luojia/engine/engine.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/nn/model.hpp>

#include <cstdint>
#include <vector>

namespace luojia::detail {

// Which raster bands feed which model input, and how each channel is normalised.
struct ModelInput {
  std::vector<int> bands;                    // raster bands, one per channel, inputs one after another
  std::vector<std::int64_t> input_channels;  // channels of each model input (a Siamese model has two)
  std::vector<float> gain, bias;             // channel c = raw value * gain[c] + bias[c]

  std::int64_t channels() const { return static_cast<std::int64_t>(bands.size()); }
  // The model's inputs from one 1 x channels x h x w tensor holding all channels.
  std::vector<nn::Tensor> split(const nn::Tensor& all) const;
};

// value * gain[c] + bias[c] for each input channel, from the model's metadata with the user's
// scale/mean/std overrides; errors name the model.
void input_normalisation(const nn::Model& model, int channels, const std::vector<double>& scale,
                         const std::vector<double>& mean, const std::vector<double>& std, std::vector<float>& gain,
                         std::vector<float>& bias);

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

}  // namespace luojia::detail
