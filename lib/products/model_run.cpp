#include "products/model_run.hpp"

#include "io/file_names.hpp"
#include "products/model_products.hpp"

#include <luojia/error.hpp>

#include <cpl_error.h>

#include <algorithm>

namespace luojia::detail {

std::int64_t round_up(std::int64_t value, std::int64_t multiple) {
  return multiple <= 1 ? value : (value + multiple - 1) / multiple * multiple;
}

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

nn::Model load_model(const std::string& path, const nn::LayerRegistry* registry, const nn::LoadOptions& load) {
  nn::Model model = nn::Model::load(path, registry ? *registry : nn::LayerRegistry::with_builtins(), load);
  CPLDebug("luojia", "%s: %s kernels, Winograd %s", path.c_str(), model.kernel_isa().c_str(), load.winograd.c_str());
  return model;
}

void refuse_load_options(const nn::LoadOptions& load, const std::string& why) {
  const nn::LoadOptions defaults;
  if (load.isa != defaults.isa) throw UsageError("isa", why);
  if (load.winograd != defaults.winograd) throw UsageError("winograd", why);
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

ModelTiling plan_model_tiling(const nn::Model& model, const ModelInput& input, const RasterInfo& info, std::int64_t tile,
                              std::optional<std::int64_t> halo, bool blend, bool native_size_allowed) {
  ModelTiling t;
  t.analysis = model.analyse({1, input.input_channels[0], 256, 256}).at(0);
  t.alignment = std::max<std::int64_t>(1, t.analysis.alignment);
  if (tile < 1) throw UsageError("tile", "must be positive");
  t.tile = round_up(tile, t.alignment);
  t.one_tile = info.width <= t.tile && info.height <= t.tile;
  if (!t.one_tile) {
    const std::int64_t wanted = halo ? *halo : (blend ? t.tile / 4 : t.analysis.radius);
    if (wanted < 0) throw UsageError("halo", "must not be negative");
    t.halo = round_up(wanted, t.alignment);
    if (!blend && halo && *halo < t.analysis.radius) {
      t.exact = false;
      t.note = "not exact: `halo` " + std::to_string(*halo) + " is below the model's receptive radius of " +
               std::to_string(t.analysis.radius) + " pixels";
    }
  }
  t.padded_width = round_up(info.width, t.alignment);
  t.padded_height = round_up(info.height, t.alignment);
  // A model with global context on a raster that fits one tile: run at the raster's own size when
  // the model takes it (and its transpose, for D4 test-time augmentation), so that pooling and
  // attention see the raster and no padding. Exactly tileable models stay padded to the stride:
  // their one-tile run is the reference their tiled runs equal.
  if (native_size_allowed && t.one_tile && !t.analysis.tileable &&
      (t.padded_width != info.width || t.padded_height != info.height)) {
    // Does the model take the raster's own size? Planning a run at it says (a U-Net's skips do not
    // meet at odd sizes; a model that resizes to its input does), without running it.
    try {
      const auto own = model.analyse({1, input.input_channels[0], info.height, info.width}).at(0);
      const auto turned =
          info.width == info.height ? own : model.analyse({1, input.input_channels[0], info.width, info.height}).at(0);
      // A dense output of the raster's own size (times the upscale), at both orientations.
      const auto dense = [&](const nn::OutputAnalysis& a, std::int64_t h, std::int64_t w) {
        return a.stride == 1 && a.upscale == t.analysis.upscale && t.analysis.stride == 1 && a.shape.size() == 4 &&
               a.shape[2] == h * a.upscale && a.shape[3] == w * a.upscale;
      };
      if (dense(own, info.height, info.width) && dense(turned, info.width, info.height)) {
        t.native_size = true;
        t.padded_width = info.width;
        t.padded_height = info.height;
      }
    } catch (const Error&) {
      // It does not: the raster is padded to the stride, as tiles are.
    }
  }
  return t;
}

TileGrid model_tile_grid(const ModelTiling& t, const RasterInfo& info, const Shard& shard) {
  TileGridOptions go;
  go.tile_width = go.tile_height = t.tile;
  go.halo = t.halo;
  go.stride = t.alignment;
  if (t.native_size) {
    go.stride = 1;
    go.tile_width = info.width;
    go.tile_height = info.height;
  }
  go.read_width = t.padded_width;
  go.read_height = t.padded_height;
  return TileGrid(info.width, info.height, go).shard(shard);
}

StreamOptions model_stream_options(StreamOptions so) {
  so.read.edge = EdgeMode::Reflect;
  so.read.apply_scale = false;
  return so;
}

std::size_t activation_bytes(const nn::Model& model, const ModelInput& input, const TileGrid& grid, const ModelTiling& t) {
  const Window largest = grid.max_read_window();
  const std::int64_t w = std::min(largest.width, t.padded_width), h = std::min(largest.height, t.padded_height);
  nn::Session probe(model);
  probe.run(input.split(nn::Tensor({1, input.channels(), h, w})));
  return probe.peak_bytes();
}

}  // namespace luojia::detail
