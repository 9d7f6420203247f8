// Scene classification over a grid of windows, cells batched through the network.
#include <luojia/classification.hpp>

#include <luojia/error.hpp>
#include <luojia/shard_layout.hpp>
#include <luojia/nn/model.hpp>

#include "products/model_products.hpp"
#include "products/model_run.hpp"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>

namespace luojia {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

ClassifyReport classify(const std::string& input, const std::string& model_path, const std::string& output,
                        const ClassifyOptions& o) {
  Raster raster = Raster::open(input);
  const nn::Model model = o.registry ? nn::Model::load(model_path, *o.registry) : nn::Model::load(model_path);
  return classify(raster, model, output, o);
}

ClassifyReport classify(Raster& raster, const nn::Model& model, const std::string& output, const ClassifyOptions& o) {
  const RasterInfo& info = raster.info();
  const std::string& model_path = model.path();
  const ErrorContext at_model{model_path, {}, {}, {}};
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
  const std::int64_t stride = o.stride > 0 ? o.stride : window;
  const std::int64_t batch_limit = declared[0] > 0 ? declared[0] : 16;

  // Bands, normalisation and type checks as for every model task.
  const nn::ModelMetadata& md = model.metadata();
  const detail::ModelInput model_input = detail::resolve_model_input(model, info, o.bands, o.scale, o.mean, o.std);
  const std::vector<int>& bands = model_input.bands;
  const std::int64_t channels = model_input.channels();
  const std::vector<float>& gain = model_input.gain;
  const std::vector<float>& bias = model_input.bias;
  std::int64_t classes = 0;
  {
    const auto out = model.run({nn::Tensor({1, channels, window, window})});
    if (out.at(0).rank() != 2) raise("the model's output " + nn::to_string(out[0].shape()) + " is not (N, classes)", at_model);
    classes = out[0].dim(1);
    if (classes < 1 || classes > 65534)
      raise("the model has " + std::to_string(classes) + " classes; labels hold 1 to 65534", at_model);
  }
  for (const std::string& p : {output, o.scores}) check_output_path(p, o.output.overwrite);

  // Geometry: cell (i, j) covers [j S, (j+1) S) and its window starts `offset` before the cell.
  ClassifyReport report;
  report.columns = (info.width + stride - 1) / stride;
  report.rows = (info.height + stride - 1) / stride;
  const std::int64_t offset = floor_div(stride - window, 2);  // window start relative to the cell's
  const std::int64_t halo = std::max<std::int64_t>({0, -offset, offset + window - stride});
  const std::int64_t cells_per_tile = std::max<std::int64_t>(1, o.tile / stride);
  TileGridOptions go;
  go.tile_width = go.tile_height = cells_per_tile * stride;
  go.halo = halo;
  go.stride = stride;  // read windows also cover the part of a last, partial cell past the raster
  const TileGrid grid = TileGrid(info.width, info.height, go).shard(o.stream.shard);
  // The cells this grid's tiles produce: every row, or a shard's (tile heights are whole cells).
  const Window pixels = grid.extent();
  const Window cell_extent{0, pixels.y / stride, report.columns, (pixels.y + pixels.height + stride - 1) / stride - pixels.y / stride};

  RasterLayout layout;
  layout.width = report.columns;
  layout.height = report.rows;
  layout.crs_wkt = info.crs_wkt;
  if (info.geotransform) {
    GeoTransform g = *info.geotransform;
    for (int i : {1, 2, 4, 5}) g.c[static_cast<std::size_t>(i)] *= static_cast<double>(stride);
    layout.geotransform = g;
  }
  // Byte labels up to 254 classes; UInt16 beyond (ImageNet's 1000), nodata the type's largest value.
  const bool wide_labels = classes > 254;
  const float label_nodata = wide_labels ? 65535.0f : 255.0f;
  layout.type = wide_labels ? DataType::UInt16 : DataType::Byte;
  layout.nodata = label_nodata;
  layout = shard_layout(layout, cell_extent, o.stream.shard);
  RasterWriter labels(output, layout, o.output);
  const detail::ClassLegend legend = detail::class_legend(md, classes);
  const std::vector<std::string>& names = legend.names;
  const std::vector<std::array<int, 4>>& colors = legend.colors;
  if (!wide_labels) labels.set_color_table(colors);  // GTiff's color tables are for 8-bit palettes
  labels.set_category_names(names);
  std::unique_ptr<RasterWriter> scores;
  if (!o.scores.empty()) {
    RasterLayout sl = layout;
    sl.type = DataType::Float32;
    sl.bands = static_cast<int>(classes);
    sl.nodata = std::numeric_limits<double>::quiet_NaN();
    scores = std::make_unique<RasterWriter>(o.scores, sl, o.output);
    for (std::int64_t k = 0; k < classes; ++k) scores->set_band_description(static_cast<int>(k) + 1, names[static_cast<std::size_t>(k)]);
  }

  detail::SessionPool sessions(model);
  std::atomic<std::int64_t> windows{0}, skipped{0};
  const TileKernel kernel = [&](const InputTile& in, OutputTile& out) {
    const Window& core = in.tile.core;
    const Window& r = in.tile.read;
    const std::int64_t ncx = (core.width + stride - 1) / stride, ncy = (core.height + stride - 1) / stride;
    const std::int64_t cells = ncx * ncy;
    out.pixels.reshape(1 + static_cast<int>(classes), ncx, ncy);
    float* label = out.pixels.data();
    float* score = out.pixels.data() + cells;
    const auto session = sessions.borrow();
    std::vector<std::int64_t> pending;  // cells waiting in the batch
    nn::Tensor batch;
    auto flush = [&] {
      if (pending.empty()) return;
      const auto b = static_cast<std::int64_t>(pending.size());
      nn::Tensor x = batch_limit == 1 ? batch : nn::Tensor({b, channels, window, window});
      if (batch_limit > 1) std::copy(batch.data(), batch.data() + x.size(), x.data());
      const nn::Tensor y = session->run({x}).at(0);
      for (std::int64_t n = 0; n < b; ++n) {
        const std::int64_t cell = pending[static_cast<std::size_t>(n)];
        std::int64_t best = 0;
        for (std::int64_t k = 0; k < classes; ++k) {
          const float v = y.data()[n * classes + k];
          score[k * cells + cell] = v;
          if (v > y.data()[n * classes + best]) best = k;
        }
        label[cell] = static_cast<float>(best);
      }
      windows += b;
      pending.clear();
    };
    batch = nn::Tensor({batch_limit, channels, window, window});
    for (std::int64_t cy = 0; cy < ncy; ++cy)
      for (std::int64_t cx = 0; cx < ncx; ++cx) {
        const std::int64_t cell = cy * ncx + cx;
        // Data anywhere in the cell's own pixels?
        const std::int64_t px0 = core.x + cx * stride, py0 = core.y + cy * stride;
        bool any = false;
        for (std::int64_t y = py0; y < std::min(py0 + stride, info.height) && !any; ++y)
          for (std::int64_t x = px0; x < std::min(px0 + stride, info.width) && !any; ++x)
            any = in.mask[static_cast<std::size_t>((y - r.y) * r.width + (x - r.x))] != 0;
        if (!any) {
          ++skipped;
          label[cell] = label_nodata;
          for (std::int64_t k = 0; k < classes; ++k) score[k * cells + cell] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        const std::int64_t slot = static_cast<std::int64_t>(pending.size());
        const std::int64_t wx = px0 + offset - r.x, wy = py0 + offset - r.y;
        for (std::int64_t c = 0; c < channels; ++c) {
          const float* src = in.pixels.band(static_cast<int>(c)).data();
          float* dst = batch.data() + (slot * channels + c) * window * window;
          const float g = gain[static_cast<std::size_t>(c)], bb = bias[static_cast<std::size_t>(c)];
          for (std::int64_t y = 0; y < window; ++y)
            for (std::int64_t x = 0; x < window; ++x) {
              const std::int64_t i = (wy + y) * r.width + (wx + x);
              const std::int64_t gx = r.x + wx + x, gy = r.y + wy + y;
              const bool inside = gx >= 0 && gy >= 0 && gx < info.width && gy < info.height;
              dst[y * window + x] = (inside && !in.mask[static_cast<std::size_t>(i)]) ? 0.0f : src[i] * g + bb;
            }
        }
        pending.push_back(cell);
        if (static_cast<std::int64_t>(pending.size()) == batch_limit) flush();
      }
    flush();
  };
  const TileSink sink = [&](const Tile& t, const Image& image) {
    const Window cells{t.core.x / stride, t.core.y / stride - cell_extent.y, image.width(), image.height()};
    labels.write(cells, image.data(), 1);
    if (scores) scores->write(cells, image.data() + cells.area(), static_cast<int>(classes));
  };
  StreamOptions so = o.stream;
  so.read.edge = EdgeMode::Reflect;
  so.kernel_bytes_per_tile = static_cast<std::size_t>(batch_limit * channels * window * window) * 4 * 3;
  so.output_cell = stride;  // one label (and score) per cell
  stream(raster, bands, grid, 1 + static_cast<int>(classes), kernel, sink, so);
  labels.finish();  // both finished before either is put in place
  if (scores) scores->finish();
  labels.commit();
  if (scores) scores->commit();
  report.windows = windows.load();
  report.skipped = skipped.load();
  report.written.push_back(output);
  if (!o.scores.empty()) report.written.push_back(o.scores);
  return report;
}

}  // namespace luojia
