#include "model_task/model_input.hpp"

#include "io/file_names.hpp"

#include <luojia/error.hpp>

#include <algorithm>

namespace luojia::detail {

std::vector<nn::Tensor> ModelInput::split(const nn::Tensor& all) const {
  if (input_channels.size() == 1) return {all};
  const std::int64_t h = all.dim(2), w = all.dim(3);
  std::vector<nn::Tensor> parts;
  std::int64_t offset = 0;
  for (auto c : input_channels) {
    nn::Tensor t({1, c, h, w});
    std::copy(all.data() + offset * h * w, all.data() + (offset + c) * h * w, t.data());
    parts.push_back(std::move(t));
    offset += c;
  }
  return parts;
}

ModelInput resolve_model_input(const nn::Model& model, const RasterInfo& info, const std::vector<int>& chosen_bands,
                               const std::vector<double>& scale, const std::vector<double>& mean, const std::vector<double>& std) {
  const ErrorContext at_input{info.path, {}, {}, {}};
  const ErrorContext at_model{model.path(), {}, {}, {}};
  ModelInput in;
  // Channels of each model input: a two-input (Siamese) model reads its inputs' bands one after
  // the other from the raster (luojia-change stacks two dates into one).
  for (const auto& spec : model.inputs()) {
    if (spec.shape.size() != 4) raise("the model's input '" + spec.name + "' is not NCHW: " + nn::to_string(spec.shape), at_model);
    if (spec.shape[1] <= 0 && model.inputs().size() > 1)
      raise("the model's input '" + spec.name + "' has no fixed channel count", at_model);
    in.input_channels.push_back(spec.shape[1]);
  }
  std::int64_t declared = 0;
  for (auto c : in.input_channels) declared += c;
  if (std::any_of(in.input_channels.begin(), in.input_channels.end(), [](std::int64_t c) { return c <= 0; })) declared = -1;
  in.bands = !chosen_bands.empty() ? chosen_bands : model.metadata().bands;
  if (in.bands.empty()) {
    // Without metadata or chosen bands, the raster's bands in order, and only when their count
    // fits; an alpha band (RGBA orthophotos) is the mask, not a model band.
    std::vector<int> colour;
    for (int b = 1; b <= info.band_count(); ++b)
      if (info.band(b).color_interpretation != "Alpha") colour.push_back(b);
    if (declared > 0 && declared == static_cast<std::int64_t>(colour.size()) && declared != info.band_count()) in.bands = colour;
    else if (declared > 0 && declared != info.band_count())
      raise("the model takes " + std::to_string(declared) + " bands and the raster has " + std::to_string(info.band_count()) +
                "; choose them with `bands` (the model's metadata names none)",
            at_input);
    else
      for (int b = 1; b <= info.band_count(); ++b) in.bands.push_back(b);
  }
  if (declared > 0 && declared != in.channels())
    raise("the model takes " + std::to_string(declared) + " bands, but " + std::to_string(in.channels()) +
              (chosen_bands.empty() ? " are chosen by its metadata" : " are given with `bands`"),
          at_model);
  if (in.input_channels.size() == 1) in.input_channels[0] = in.channels();
  for (int b : in.bands) {
    if (b < 1 || b > info.band_count())
      raise("the model needs band " + std::to_string(b) + ", but the raster has " + std::to_string(info.band_count()) + " band" +
                (info.band_count() == 1 ? "" : "s"),
            at_input);
    if (is_complex(info.band(b).type))
      raise("complex data type " + std::string(name(info.band(b).type)) + " is not supported", ErrorContext{info.path, b, {}, {}});
  }
  input_normalisation(model, static_cast<int>(in.channels()), scale, mean, std, in.gain, in.bias);
  return in;
}

void network_input(const InputTile& in, const ModelInput& input, std::int64_t width, std::int64_t height, nn::Tensor& x) {
  const Window& r = in.tile.read;
  const std::int64_t plane = r.area();
  std::vector<std::uint8_t> valid(in.mask.begin(), in.mask.begin() + plane);
  for (std::int64_t y = 0; y < r.height; ++y)
    for (std::int64_t xx = 0; xx < r.width; ++xx) {
      if (r.x + xx < width && r.y + y < height) continue;  // inside: its own mask
      const std::int64_t sx = reflect_index(r.x + xx, width) - r.x, sy = reflect_index(r.y + y, height) - r.y;
      const bool seen = sx >= 0 && sy >= 0 && sx < r.width && sy < r.height;
      valid[static_cast<std::size_t>(y * r.width + xx)] = seen ? in.mask[static_cast<std::size_t>(sy * r.width + sx)] : 1;
    }
  for (std::int64_t c = 0; c < input.channels(); ++c) {
    const float* src = in.pixels.band(static_cast<int>(c)).data();
    float* dst = x.data() + c * plane;
    const float g = input.gain[static_cast<std::size_t>(c)], b = input.bias[static_cast<std::size_t>(c)];
    for (std::int64_t i = 0; i < plane; ++i) dst[i] = valid[static_cast<std::size_t>(i)] ? src[i] * g + b : 0.0f;
  }
}

void input_normalisation(const nn::Model& model, int channels, const std::vector<double>& scale, const std::vector<double>& mean,
                         const std::vector<double>& std, std::vector<float>& gain, std::vector<float>& bias) {
  nn::ModelMetadata norm = model.metadata();
  if (!scale.empty()) norm.scale = scale;
  if (!mean.empty()) norm.mean = mean;
  if (!std.empty()) norm.std = std;
  const ErrorContext at_model{model.path(), {}, {}, {}};
  for (double s : norm.std)
    if (s == 0.0) throw UsageError("std", "must not contain zero", at_model);
  try {
    norm.normalisation(channels, gain, bias);
  } catch (const Error& e) {
    raise(e.message(), at_model);
  }
}

}  // namespace luojia::detail
