// The dense task heads: a model's continuous outputs written as they come (regression) or onto a
// finer grid (super-resolution). Both run on the shared model stage; they differ in what they
// accept of the graph and in the product's grid.
#include <luojia/products/prediction.hpp>

#include <luojia/error.hpp>
#include <luojia/tiling/shard_layout.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>

#include "model_task/model_stage.hpp"

#include <cpl_string.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

namespace luojia {
namespace {

enum class Task { Regression, SuperResolution };

bool has_option(const std::vector<std::string>& list, const char* key) {
  for (const auto& s : list)
    if (EQUALN(s.c_str(), key, std::strlen(key))) return true;
  return false;
}

// What the task accepts of the graph: an output per input pixel (regression) or a finer grid
// (super-resolution), and exact tiling unless the raster is one tile.
void check_task(const detail::ModelTiling& tiling, const RasterInfo& info, Task task, const ErrorContext& at_model) {
  const nn::OutputAnalysis& analysis = tiling.analysis;
  const std::int64_t k = analysis.upscale;
  const char* const program = task == Task::Regression ? "luojia-regress" : "luojia-superres";
  if (analysis.stride != 1)
    raise("the model's first output has 1/" + std::to_string(analysis.stride) + " of the input's resolution; " + program +
              " needs an output per input pixel" + (task == Task::SuperResolution ? " or finer" : ""),
          at_model);
  if (task == Task::Regression && k != 1)
    raise("the model's output is " + std::to_string(k) + " times finer than its input: that is super-resolution (luojia-superres)",
          at_model);
  if (task == Task::SuperResolution && k == 1)
    raise("the model's output is on its input's grid, not finer: that is pixel regression (luojia-regress)", at_model);
  if (!analysis.tileable && !tiling.one_tile)
    raise("the model is not exactly tileable (" + analysis.reason + "); use a `tile` of at least " +
              std::to_string(detail::round_up(std::max(info.width, info.height), tiling.alignment)) + " to run the raster as one tile",
          at_model);
}

// The output channels, from a run at the smallest aligned size.
std::int64_t count_outputs(const nn::Model& model, const detail::ModelInput& input, const detail::ModelTiling& tiling,
                           const ErrorContext& at_model) {
  const std::int64_t k = tiling.analysis.upscale;
  const std::int64_t probe = detail::round_up(std::max<std::int64_t>(16, tiling.alignment), tiling.alignment);
  const auto out = model.run(input.split(nn::Tensor({1, input.channels(), probe, probe})));
  const nn::Shape& s = out.at(0).shape();
  if (s.size() != 4 || s[2] != probe * k || s[3] != probe * k)
    raise("the model's output " + nn::to_string(s) + " is not a map " + (k > 1 ? std::to_string(k) + " times finer than" : "of") +
              " the input " + nn::to_string({1, input.channels(), probe, probe}),
          at_model);
  const std::int64_t outputs = s[1];
  if (outputs < 1 || outputs > 65535) raise("the model has " + std::to_string(outputs) + " output channels", at_model);
  return outputs;
}

// The product's grid: the input's, with pixels k times smaller; Float32, NaN nodata unless the
// input has its own.
struct ProductGrid {
  RasterLayout layout;  // this shard's part
  float nodata;
};

ProductGrid product_grid(const RasterInfo& info, std::int64_t outputs, std::int64_t k, const Window& extent, const Shard& shard) {
  RasterLayout whole = layout_like(info, DataType::Float32, static_cast<int>(outputs));
  if (!whole.nodata) whole.nodata = std::numeric_limits<double>::quiet_NaN();
  whole.width *= k;
  whole.height *= k;
  if (whole.geotransform)
    for (int i : {1, 2, 4, 5}) whole.geotransform->c[static_cast<std::size_t>(i)] /= static_cast<double>(k);
  const Window product_extent{extent.x * k, extent.y * k, extent.width * k, extent.height * k};
  const RasterLayout layout = shard_layout(whole, product_extent, shard);
  return {layout, static_cast<float>(*whole.nodata)};
}

// The writer, its bands named after the model's classes, and the run's scale and upscale in its
// metadata. Values, not classes: COG overviews average unless told otherwise.
RasterWriter open_product(const std::string& output, const RasterLayout& layout, const PredictOptions& o, const nn::Model& model,
                          std::int64_t outputs, double output_scale, std::int64_t k) {
  OutputOptions options = o.output;
  if (EQUAL(options.driver.c_str(), "COG") && !has_option(options.creation_options, "OVERVIEW_RESAMPLING") &&
      !has_option(options.creation_options, "RESAMPLING"))
    options.creation_options.push_back("OVERVIEW_RESAMPLING=AVERAGE");  // values, not classes: overviews average
  RasterWriter writer(output, layout, options);
  const auto& classes = model.metadata().classes;
  for (std::int64_t c = 0; c < outputs; ++c) {
    const auto u = static_cast<std::size_t>(c);
    writer.set_band_description(static_cast<int>(c) + 1,
                                u < classes.size() && !classes[u].name.empty() ? classes[u].name : "output " + std::to_string(c + 1));
  }
  writer.set_metadata("LUOJIA_MODEL", std::filesystem::path(model.path()).filename().string());
  writer.set_metadata("LUOJIA_OUTPUT_SCALE", std::to_string(output_scale));
  if (k > 1) writer.set_metadata("LUOJIA_UPSCALE", std::to_string(k));
  return writer;
}

// The head: the network over a tile's read window, its core's outputs (k x k per input pixel)
// scaled, nodata where the input pixel holds none; cores written as they come.
class DenseHead : public detail::TaskHead<Image> {
public:
  DenseHead(const std::string& output, const PredictOptions& o, Task task) : output_(output), o_(o), task_(task) {}

  TileGrid plan(detail::ModelStage& stage) override {
    stage.tiling = stage.dense_tiling();
    check_task(stage.tiling, stage.info, task_, stage.at_model);
    k_ = stage.tiling.analysis.upscale;
    outputs_ = count_outputs(stage.model, stage.input, stage.tiling, stage.at_model);
    const double output_scale = o_.output_scale ? *o_.output_scale : stage.model.metadata().output_scale.value_or(1.0);
    if (!std::isfinite(output_scale)) throw UsageError("output_scale", "must be a finite number");
    scale_ = static_cast<float>(output_scale);
    report_.tile_size = stage.tiling.tile;
    report_.halo = stage.tiling.halo;
    report_.receptive_radius = stage.tiling.analysis.radius;
    report_.alignment = stage.tiling.alignment;
    report_.upscale = k_;
    report_.outputs = outputs_;
    report_.output_scale = output_scale;
    report_.exact = stage.tiling.exact;
    report_.note = stage.tiling.note;
    return stage.dense_grid();
  }

  void open(const detail::ModelStage& stage) override {
    extent_ = stage.grid().extent();
    check_output_path(output_, o_.output.overwrite);
    const ProductGrid product = product_grid(stage.info, outputs_, k_, extent_, o_.stream.shard);
    nodata_ = product.nodata;
    writer_.emplace(open_product(output_, product.layout, o_, stage.model, outputs_, report_.output_scale, k_));
  }

  // The network's output over the read window, and the tile's output, both k*k times the pixels.
  detail::TileBudget budget(const detail::ModelStage& stage) override {
    report_.activation_bytes = stage.activation_bytes();
    const Window largest = stage.grid().max_read_window();
    return {report_.activation_bytes +
                static_cast<std::size_t>(largest.area()) * static_cast<std::size_t>(stage.input.channels() + 2 * outputs_ * k_ * k_) * 4,
            static_cast<int>(outputs_)};
  }

  void compute(const InputTile& in, const detail::ModelStage& stage, Image& out) override {
    const Window& core = in.tile.core;
    const Window& r = in.tile.read;
    const std::int64_t k = k_;
    out.reshape(static_cast<int>(outputs_), core.width * k, core.height * k);
    const std::int64_t ow = core.width * k, op = ow * core.height * k;
    if (!in.any_valid()) {
      ++skipped_;
      std::fill(out.data(), out.data() + op * outputs_, nodata_);
      return;
    }
    const nn::Tensor x = stage.network_input(in);
    const nn::Tensor y = stage.run(x).at(0);
    const std::int64_t yw = r.width * k, yplane = yw * r.height * k;
    if (y.shape() != nn::Shape{1, outputs_, r.height * k, r.width * k})
      raise("the model's output " + nn::to_string(y.shape()) + " does not match its input " + nn::to_string(x.shape()), stage.at_model);
    const std::int64_t cx = in.core_x(), cy = in.core_y();
    for (std::int64_t c = 0; c < outputs_; ++c) {
      const float* src = y.data() + c * yplane;
      float* dst = out.data() + c * op;
      for (std::int64_t oy = 0; oy < core.height * k; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          // The input pixel this output pixel lies in decides whether it holds data.
          const std::size_t m = static_cast<std::size_t>((cy + oy / k) * r.width + cx + ox / k);
          dst[oy * ow + ox] = in.mask[m] ? src[(cy * k + oy) * yw + cx * k + ox] * scale_ : nodata_;
        }
    }
  }

  void consume(const Tile& t, Image& image) override {
    writer_->write(Window{(t.core.x - extent_.x) * k_, (t.core.y - extent_.y) * k_, t.core.width * k_, t.core.height * k_},
                   image.data(), static_cast<int>(outputs_));
  }

  void finish(const detail::ModelStage&, const StreamStats& stats) override {
    report_.tiles = stats.tiles;
    report_.skipped = skipped_.load();
    writer_->commit();
    report_.written.push_back(output_);
  }

  const PredictReport& report() const { return report_; }

private:
  const std::string& output_;
  const PredictOptions& o_;
  Task task_;
  std::int64_t k_ = 1, outputs_ = 0;
  float scale_ = 1, nodata_ = 0;
  Window extent_;
  std::optional<RasterWriter> writer_;
  std::atomic<std::int64_t> skipped_{0};
  PredictReport report_;
};

PredictReport predict(Raster& raster, const nn::Model& model, const std::string& output, const PredictOptions& o, Task task) {
  DenseHead head(output, o, task);
  detail::run_model_task(raster, model, o, head);
  return head.report();
}

}  // namespace

PredictReport regress(Raster& input, const nn::Model& model, const std::string& output, const PredictOptions& options) {
  detail::refuse_load_options(options.load, detail::kLoadedModel);
  return predict(input, model, output, options, Task::Regression);
}

PredictReport regress(const std::string& input, const std::string& model, const std::string& output, const PredictOptions& options) {
  Raster raster = Raster::open(input);
  return predict(raster, detail::load_model(model, options.registry, options.load), output, options, Task::Regression);
}

PredictReport super_resolve(Raster& input, const nn::Model& model, const std::string& output, const PredictOptions& options) {
  detail::refuse_load_options(options.load, detail::kLoadedModel);
  return predict(input, model, output, options, Task::SuperResolution);
}

PredictReport super_resolve(const std::string& input, const std::string& model, const std::string& output,
                            const PredictOptions& options) {
  Raster raster = Raster::open(input);
  return predict(raster, detail::load_model(model, options.registry, options.load), output, options, Task::SuperResolution);
}

}  // namespace luojia
