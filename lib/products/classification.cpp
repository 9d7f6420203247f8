// Scene classification over a grid of windows, cells batched through the network.
#include <luojia/products/classification.hpp>

#include <luojia/error.hpp>
#include <luojia/tiling/shard_layout.hpp>
#include <luojia/nn/model.hpp>

#include "products/class_legend.hpp"
#include "model_task/model_stage.hpp"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>

namespace luojia {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Each cell of `stride` pixels is classified from the `window` pixels centred on it, up to
// `batch_limit` windows per network run.
struct CellWindows {
  std::int64_t window = 0, stride = 0, batch_limit = 0;
  std::int64_t offset = 0;  // window start relative to the cell's
};

CellWindows resolve_windows(const nn::Model& model, const ClassifyOptions& o, const ErrorContext& at_model) {
  if (model.inputs().size() != 1 || model.inputs()[0].shape.size() != 4)
    raise("luojia-classify runs models with one NCHW input", at_model);
  const nn::Shape& declared = model.inputs()[0].shape;
  std::int64_t window = o.window;
  if (declared[2] > 0 && declared[3] > 0) {
    if (declared[2] != declared[3]) raise("the model's input is not square: " + nn::to_string(declared), at_model);
    if (window == 0) window = declared[2];
    if (window != declared[2])
      raise("the model takes " + std::to_string(declared[2]) + "-pixel windows, not `window` " + std::to_string(window), at_model);
  }
  if (window <= 0) raise("the model's input size is dynamic: give the window with `window`", at_model);
  CellWindows w;
  w.window = window;
  w.stride = o.stride > 0 ? o.stride : window;
  w.batch_limit = declared[0] > 0 ? declared[0] : 16;
  return w;
}

// The classes, from the model's output for one window.
std::int64_t count_classes(const nn::Model& model, std::int64_t channels, std::int64_t window, const ErrorContext& at_model) {
  const auto out = model.run({nn::Tensor({1, channels, window, window})});
  if (out.at(0).rank() != 2) raise("the model's output " + nn::to_string(out[0].shape()) + " is not (N, classes)", at_model);
  const std::int64_t classes = out[0].dim(1);
  if (classes < 1 || classes > 65534)
    raise("the model has " + std::to_string(classes) + " classes; labels hold 1 to 65534", at_model);
  return classes;
}

// Geometry: cell (i, j) covers [j S, (j+1) S) and its window starts `offset` before the cell.
// Tiles hold whole cells, with a halo for the windows that reach past them.
TileGrid plan_cell_grid(const RasterInfo& info, CellWindows& w, const ClassifyOptions& o, ClassifyReport& report) {
  const std::int64_t stride = w.stride;
  report.columns = (info.width + stride - 1) / stride;
  report.rows = (info.height + stride - 1) / stride;
  w.offset = floor_div(stride - w.window, 2);
  const std::int64_t halo = std::max<std::int64_t>({0, -w.offset, w.offset + w.window - stride});
  const std::int64_t cells_per_tile = std::max<std::int64_t>(1, o.tile / stride);
  TileGridOptions go;
  go.tile_width = go.tile_height = cells_per_tile * stride;
  // A last, partial cell's window reaches past the raster by up to stride - 1 pixels more than a
  // whole cell's: the read covers it (padding (core + 2 halo) up to the stride fell short by as
  // much, and windows read past the buffer, differently from run to run).
  go.halo = halo + stride - 1;
  go.stride = stride;
  return TileGrid(info.width, info.height, go);
}

// One label per cell on the raster's grid with pixels `stride` times larger. Byte labels up to
// 254 classes; UInt16 beyond (ImageNet's 1000), nodata the type's largest value.
RasterLayout label_layout(const RasterInfo& info, const ClassifyReport& report, std::int64_t stride, std::int64_t classes,
                          const Window& cell_extent, const Shard& shard) {
  RasterLayout layout;
  layout.width = report.columns;
  layout.height = report.rows;
  layout.crs_wkt = info.crs_wkt;
  if (info.geotransform) {
    GeoTransform g = *info.geotransform;
    for (int i : {1, 2, 4, 5}) g.c[static_cast<std::size_t>(i)] *= static_cast<double>(stride);
    layout.geotransform = g;
  }
  const bool wide_labels = classes > 254;
  layout.type = wide_labels ? DataType::UInt16 : DataType::Byte;
  layout.nodata = wide_labels ? 65535.0f : 255.0f;
  return shard_layout(layout, cell_extent, shard);
}

// The optional scores: one Float32 band per class, named after it, NaN where a cell holds no data.
std::unique_ptr<RasterWriter> open_scores(const ClassifyOptions& o, const RasterLayout& labels, std::int64_t classes,
                                          const std::vector<std::string>& names) {
  if (o.scores.empty()) return nullptr;
  RasterLayout sl = labels;
  sl.type = DataType::Float32;
  sl.bands = static_cast<int>(classes);
  sl.nodata = std::numeric_limits<double>::quiet_NaN();
  auto scores = std::make_unique<RasterWriter>(o.scores, sl, o.output);
  for (std::int64_t k = 0; k < classes; ++k) scores->set_band_description(static_cast<int>(k) + 1, names[static_cast<std::size_t>(k)]);
  return scores;
}

// A tile's output: the label plane, then one score plane per class, `cells` values each.
struct CellPlanes {
  float* label;
  float* score;
  std::int64_t cells;
};

// Windows waiting to go through the network together, and the cells they are for.
struct WindowBatch {
  nn::Tensor windows;
  std::vector<std::int64_t> pending;
};

// The kernel: each cell of a tile with data classified from the window around it, windows
// batched through the network; cells without data get the nodata label and NaN scores.
class CellClassifier {
public:
  CellClassifier(const detail::ModelStage& stage, const CellWindows& w, std::int64_t classes, float label_nodata)
      : stage_(stage), w_(w), input_(stage.input), channels_(stage.input.channels()), classes_(classes), label_nodata_(label_nodata),
        width_(stage.info.width), height_(stage.info.height) {}

  void classify(const InputTile& in, OutputTile& out) {
    const Window& core = in.tile.core;
    const std::int64_t stride = w_.stride;
    const std::int64_t ncx = (core.width + stride - 1) / stride, ncy = (core.height + stride - 1) / stride;
    const std::int64_t cells = ncx * ncy;
    out.pixels.reshape(1 + static_cast<int>(classes_), ncx, ncy);
    const CellPlanes planes{out.pixels.data(), out.pixels.data() + cells, cells};
    const auto session = stage_.session();
    WindowBatch batch{nn::Tensor({w_.batch_limit, channels_, w_.window, w_.window}), {}};
    for (std::int64_t cy = 0; cy < ncy; ++cy)
      for (std::int64_t cx = 0; cx < ncx; ++cx) {
        const std::int64_t cell = cy * ncx + cx;
        const std::int64_t px0 = core.x + cx * stride, py0 = core.y + cy * stride;
        if (!cell_has_data(in, px0, py0)) {
          ++skipped_;
          planes.label[cell] = label_nodata_;
          for (std::int64_t k = 0; k < classes_; ++k) planes.score[k * cells + cell] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        add_window(in, px0, py0, batch);
        batch.pending.push_back(cell);
        if (static_cast<std::int64_t>(batch.pending.size()) == w_.batch_limit) flush(*session, batch, planes);
      }
    flush(*session, batch, planes);
  }

  std::int64_t windows() const { return windows_.load(); }
  std::int64_t skipped() const { return skipped_.load(); }

private:
  // Data anywhere in the cell's own pixels?
  bool cell_has_data(const InputTile& in, std::int64_t px0, std::int64_t py0) const {
    const Window& r = in.tile.read;
    bool any = false;
    for (std::int64_t y = py0; y < std::min(py0 + w_.stride, height_) && !any; ++y)
      for (std::int64_t x = px0; x < std::min(px0 + w_.stride, width_) && !any; ++x)
        any = in.mask[static_cast<std::size_t>((y - r.y) * r.width + (x - r.x))] != 0;
    return any;
  }

  // The cell's window, normalised, into the batch's next slot; 0 (the normalised mean) on nodata.
  void add_window(const InputTile& in, std::int64_t px0, std::int64_t py0, WindowBatch& batch) const {
    const Window& r = in.tile.read;
    const std::int64_t window = w_.window;
    const std::int64_t slot = static_cast<std::int64_t>(batch.pending.size());
    const std::int64_t wx = px0 + w_.offset - r.x, wy = py0 + w_.offset - r.y;
    for (std::int64_t c = 0; c < channels_; ++c) {
      const float* src = in.pixels.band(static_cast<int>(c)).data();
      float* dst = batch.windows.data() + (slot * channels_ + c) * window * window;
      const float g = input_.gain[static_cast<std::size_t>(c)], bb = input_.bias[static_cast<std::size_t>(c)];
      for (std::int64_t y = 0; y < window; ++y)
        for (std::int64_t x = 0; x < window; ++x) {
          const std::int64_t i = (wy + y) * r.width + (wx + x);
          const std::int64_t gx = r.x + wx + x, gy = r.y + wy + y;
          const bool inside = gx >= 0 && gy >= 0 && gx < width_ && gy < height_;
          dst[y * window + x] = (inside && !in.mask[static_cast<std::size_t>(i)]) ? 0.0f : src[i] * g + bb;
        }
    }
  }

  // The pending windows through the network: scores, and the best class as the label.
  void flush(nn::Session& session, WindowBatch& batch, const CellPlanes& planes) {
    if (batch.pending.empty()) return;
    const auto b = static_cast<std::int64_t>(batch.pending.size());
    nn::Tensor x = w_.batch_limit == 1 ? batch.windows : nn::Tensor({b, channels_, w_.window, w_.window});
    if (w_.batch_limit > 1) std::copy(batch.windows.data(), batch.windows.data() + x.size(), x.data());
    const nn::Tensor y = session.run({x}).at(0);
    for (std::int64_t n = 0; n < b; ++n) {
      const std::int64_t cell = batch.pending[static_cast<std::size_t>(n)];
      std::int64_t best = 0;
      for (std::int64_t k = 0; k < classes_; ++k) {
        const float v = y.data()[n * classes_ + k];
        planes.score[k * planes.cells + cell] = v;
        if (v > y.data()[n * classes_ + best]) best = k;
      }
      planes.label[cell] = static_cast<float>(best);
    }
    windows_ += b;
    batch.pending.clear();
  }

  const detail::ModelStage& stage_;
  const CellWindows w_;
  const detail::ModelInput& input_;
  std::int64_t channels_, classes_;
  float label_nodata_;
  std::int64_t width_, height_;
  std::atomic<std::int64_t> windows_{0}, skipped_{0};
};

// The head: prepare (windows, classes, the cell grid, writers), run (each tile's cells, windows
// batched through the network), done (both products finished, then both committed).
class ClassifyHead : public detail::TaskHead<Image> {
public:
  ClassifyHead(const std::string& output, const ClassifyOptions& o) : output_(output), o_(o) {}

  TileGrid plan(detail::ModelStage& stage) override {
    if (o_.halo) throw UsageError("halo", "is not an option of classification: `window` and `stride` say how far a tile reads");
    w_ = resolve_windows(stage.model, o_, stage.at_model);
    classes_ = count_classes(stage.model, stage.input.channels(), w_.window, stage.at_model);
    for (const std::string& p : {output_, o_.scores}) check_output_path(p, o_.output.overwrite);
    return plan_cell_grid(stage.info, w_, o_, report_);
  }

  void open(const detail::ModelStage& stage) override {
    // The cells this grid's tiles produce: every row, or a shard's (tile heights are whole cells).
    const Window pixels = stage.grid().extent();
    cell_rows_from_ = pixels.y / w_.stride;
    const Window cell_extent{0, cell_rows_from_, report_.columns, (pixels.y + pixels.height + w_.stride - 1) / w_.stride - cell_rows_from_};
    const RasterLayout layout = label_layout(stage.info, report_, w_.stride, classes_, cell_extent, o_.stream.shard);
    const bool wide_labels = classes_ > 254;
    labels_.emplace(output_, layout, o_.output);
    const detail::ClassLegend legend = detail::class_legend(stage.model.metadata(), classes_);
    if (!wide_labels) labels_->set_color_table(legend.colors);  // GTiff's color tables are for 8-bit palettes
    labels_->set_category_names(legend.names);
    scores_ = open_scores(o_, layout, classes_, legend.names);
    classifier_.emplace(stage, w_, classes_, wide_labels ? 65535.0f : 255.0f);
  }

  // Per tile in flight: a batch of windows, the network's copy of it and its output; one label
  // (and score) per cell.
  detail::TileBudget budget(const detail::ModelStage& stage) override {
    return {static_cast<std::size_t>(w_.batch_limit * stage.input.channels() * w_.window * w_.window) * 4 * 3, 1 + static_cast<int>(classes_),
            w_.stride};
  }

  void compute(const InputTile& in, const detail::ModelStage&, Image& image) override {
    OutputTile out{in.tile, image};
    classifier_->classify(in, out);
  }

  void consume(const Tile& t, Image& image) override {
    const Window cells{t.core.x / w_.stride, t.core.y / w_.stride - cell_rows_from_, image.width(), image.height()};
    labels_->write(cells, image.data(), 1);
    if (scores_) scores_->write(cells, image.data() + cells.area(), static_cast<int>(classes_));
  }

  void finish(const detail::ModelStage&, const StreamStats&) override {
    labels_->finish();  // both finished before either is put in place
    if (scores_) scores_->finish();
    labels_->commit();
    if (scores_) scores_->commit();
    report_.windows = classifier_->windows();
    report_.skipped = classifier_->skipped();
    report_.written.push_back(output_);
    if (!o_.scores.empty()) report_.written.push_back(o_.scores);
  }

  const ClassifyReport& report() const { return report_; }

private:
  const std::string& output_;
  const ClassifyOptions& o_;
  CellWindows w_;
  std::int64_t classes_ = 0, cell_rows_from_ = 0;
  std::optional<RasterWriter> labels_;
  std::unique_ptr<RasterWriter> scores_;
  std::optional<CellClassifier> classifier_;
  ClassifyReport report_;
};

}  // namespace

ClassifyReport classify(const std::string& input, const std::string& model_path, const std::string& output,
                        const ClassifyOptions& o) {
  Raster raster = Raster::open(input);
  const nn::Model model = detail::load_model(model_path, o.registry, o.load);
  return classify(raster, model, output, detail::loaded_with(o));
}

ClassifyReport classify(Raster& raster, const nn::Model& model, const std::string& output, const ClassifyOptions& o) {
  detail::refuse_load_options(o.load, detail::kLoadedModel);
  ClassifyHead head(output, o);
  detail::run_model_task(raster, model, o, head);
  return head.report();
}

}  // namespace luojia
