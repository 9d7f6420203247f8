// Semantic segmentation of a raster of any size: tiles with the halo the network needs, so the
// result equals one whole-image run; or blended tiles for networks with global context.
#include <luojia/products/segmentation.hpp>

#include <optional>

#include <luojia/error.hpp>
#include <luojia/tiling/shard_layout.hpp>
#include <luojia/nn/model.hpp>

#include "io/file_names.hpp"
#include "products/aoi.hpp"
#include "products/majority.hpp"
#include "products/class_legend.hpp"
#include "model_task/model_stage.hpp"
#include "products/symmetry.hpp"
#include "products/polygonize.hpp"


#include <cpl_string.h>
#include <gdal_priv.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>

namespace luojia {
namespace {

using detail::apply_symmetry;
using detail::kD4;
using detail::Symmetry;

constexpr float kClassNodata = 255.0f;
constexpr float kFloatNodata = -1.0f;

using detail::round_up;

// Softmax over classes of the pixels of `region` (in a plane `width` wide), into region-sized planes.
void softmax_region(const float* logits, std::int64_t classes, std::int64_t plane, std::int64_t width, const Window& region,
                    float scale, float* probs) {
  const std::int64_t out_plane = region.area();
  std::vector<float> e(static_cast<std::size_t>(classes));
  for (std::int64_t y = 0; y < region.height; ++y)
    for (std::int64_t x = 0; x < region.width; ++x) {
      const std::int64_t p = (region.y + y) * width + region.x + x, o = y * region.width + x;
      float m = logits[p];
      for (std::int64_t k = 1; k < classes; ++k) m = std::max(m, logits[k * plane + p]);
      float sum = 0;
      for (std::int64_t k = 0; k < classes; ++k) sum += e[static_cast<std::size_t>(k)] = std::exp(logits[k * plane + p] - m);
      const float inv = scale / sum;
      for (std::int64_t k = 0; k < classes; ++k) probs[k * out_plane + o] += e[static_cast<std::size_t>(k)] * inv;
    }
}

double window_weight(BlendWindow window, std::int64_t i, std::int64_t n) {
  const double t = (static_cast<double>(i) + 0.5) / static_cast<double>(n);  // in (0, 1): never an edge zero
  if (window == BlendWindow::Triangle) return 1.0 - std::fabs(2.0 * t - 1.0);
  return 0.5 - 0.5 * std::cos(2.0 * M_PI * t);
}

// Which products a run writes, and where each sits in a kernel's output planes.
struct Layout {
  std::int64_t classes = 0;
  bool probabilities = false, logits = false, confidence = false;
  float probability_scale = 1.0f, probability_nodata = kFloatNodata;
  float threshold = 0.0f;  // a pixel whose best probability is below it is class 0 (Deepness's seg_thresh)
  std::int64_t origin_x = 0, origin_y = 0;  // the outputs' first pixel in the raster (shards)
  // planes: class, confidence, probabilities (classes), logits (classes)
  int planes() const { return 2 + static_cast<int>(classes) * (logits ? 2 : 1); }
  int probability_plane() const { return 2; }
  int logit_plane() const { return 2 + static_cast<int>(classes); }
};

struct Writers {
  std::unique_ptr<RasterWriter> classes, probabilities, logits, confidence;
};

// Fills class, confidence and probability planes of `count` pixels from probabilities, or nodata.
void decide(const float* probs, std::int64_t classes, std::int64_t plane, std::int64_t p, bool valid, const Layout& l,
            float* out, std::int64_t out_plane, std::int64_t o) {
  if (!valid) {
    out[o] = kClassNodata;
    out[out_plane + o] = kFloatNodata;
    for (std::int64_t k = 0; k < classes; ++k) out[(l.probability_plane() + k) * out_plane + o] = l.probability_nodata;
    return;
  }
  std::int64_t best = 0;
  float top = probs[p];
  for (std::int64_t k = 1; k < classes; ++k)
    if (probs[k * plane + p] > top) {
      top = probs[k * plane + p];
      best = k;
    }
  out[o] = top < l.threshold ? 0.0f : static_cast<float>(best);
  out[out_plane + o] = top;
  for (std::int64_t k = 0; k < classes; ++k)
    out[(l.probability_plane() + k) * out_plane + o] = probs[k * plane + p] * l.probability_scale;
}

// Writes the planes of `image` (class, confidence, probabilities, logits) over raster_window,
// in outputs whose first pixel is the raster's pixel origin (a shard's outputs start part-way).
void write_products(Writers& w, const Layout& l, const Window& raster_window, const Image& image) {
  const Window window{raster_window.x - l.origin_x, raster_window.y - l.origin_y, raster_window.width, raster_window.height};
  const std::size_t plane = static_cast<std::size_t>(window.area());
  w.classes->write(window, image.data(), 1);
  if (w.confidence) w.confidence->write(window, image.data() + plane, 1);
  if (w.probabilities) w.probabilities->write(window, image.data() + 2 * plane, static_cast<int>(l.classes));
  if (w.logits) w.logits->write(window, image.data() + static_cast<std::size_t>(l.logit_plane()) * plane, static_cast<int>(l.classes));
}


// ---- prepare: what the model takes, how the raster is tiled, what is written -------------------

// A segmentation run resolved and checked before anything is read or written.
struct Plan {
  bool blend = false;  // tiles overlap and are averaged (a model with global context)
  Layout layout;
  detail::ClassLegend legend;
  SegmentReport report;
};

// Tiling and the notes on exactness; throws before any output exists.
Plan plan_tiles(detail::ModelStage& stage, const SegmentOptions& o) {
  const ErrorContext& at_model = stage.at_model;
  const RasterInfo& info = stage.info;
  Plan plan;
  stage.tiling = stage.dense_tiling(o.blend);
  const nn::OutputAnalysis& analysis = stage.tiling.analysis;
  const detail::ModelTiling& t = stage.tiling;
  if (analysis.stride != 1 || analysis.upscale != 1)
    raise(analysis.upscale != 1 ? "the model's first output is " + std::to_string(analysis.upscale) +
                                      " times finer than its input: that is super-resolution (luojia-superres)"
                                : "the model's first output has 1/" + std::to_string(analysis.stride) +
                                      " of the input's resolution; luojia-segment needs per-pixel outputs",
          at_model);
  plan.blend = o.blend && !t.one_tile;
  if (!analysis.tileable && !t.one_tile && !o.blend)
    raise("the model is not exactly tileable (" + analysis.reason + "); use `blend` to merge overlapping tiles, or a `tile` of at least " +
              std::to_string(round_up(std::max(info.width, info.height), t.alignment)) + " to run the raster as one tile",
          at_model);
  SegmentReport& report = plan.report;
  report.alignment = t.alignment;
  report.exact = t.exact;
  report.note = t.note;
  if (plan.blend && analysis.tileable)
    report.note = "blending a model that is exactly tileable: `blend` only smooths, `halo` auto would be exact";
  if (plan.blend && !analysis.tileable) {
    report.exact = false;
    report.note = "not exact: the model is not tileable (" + analysis.reason + "); overlapping tiles are blended in probability space";
  }
  if ((plan.blend || o.tta) && !o.logits.empty())
    throw UsageError("logits", "cannot be combined with blend or tta: only probabilities are averaged");
  report.halo = t.halo;
  report.tile_size = t.tile;
  return plan;
}

// A shard must compute exactly what the whole run computes on its rows.
void check_shard_options(const SegmentOptions& o, bool blend, const ErrorContext& at_model) {
  if (blend) throw UsageError("blend", "is not exact at shard borders: shards need an exactly tileable model", at_model);
  if (o.regularize > 0) throw UsageError("regularize", "reaches across shard borders; regularise the merged class map instead");
  if (o.min_area > 0 || o.min_pixels > 0 || o.simplify > 0)
    throw UsageError(o.simplify > 0 ? "simplify" : "min_area",
                     "needs whole polygons, which a shard does not have; luojia-merge joins the shards' polygons first");
}

// The classes (from a run at the smallest aligned size), their legend, and the output planes.
void plan_outputs(Plan& plan, const detail::ModelStage& stage, const SegmentOptions& o, const Window& extent) {
  const nn::Model& model = stage.model;
  const ErrorContext& at_model = stage.at_model;
  const std::int64_t align = stage.tiling.alignment, channels = stage.input.channels();
  const std::int64_t probe = round_up(std::max<std::int64_t>(32, align), align);
  const auto out = model.run(stage.input.split(nn::Tensor({1, channels, probe, probe})));
  const nn::Shape& s = out.at(0).shape();
  if (s.size() != 4 || s[2] != probe || s[3] != probe)
    raise("the model's output " + nn::to_string(s) + " is not a per-pixel map of the input " + nn::to_string({1, channels, probe, probe}),
          at_model);
  const std::int64_t classes = s[1];
  if (classes < 1 || classes > 254) raise("the model has " + std::to_string(classes) + " classes; class maps hold 1 to 254", at_model);
  Layout& layout = plan.layout;
  layout.classes = classes;
  layout.origin_x = extent.x;  // every product covers the grid's extent: the raster, or this shard's rows
  layout.origin_y = extent.y;
  layout.logits = !o.logits.empty();
  if (const auto t = o.threshold ? o.threshold : model.metadata().segmentation_threshold) {
    if (!(*t >= 0.0 && *t <= 1.0)) throw UsageError("threshold", "must be a probability from 0 to 1");
    layout.threshold = static_cast<float>(*t);
  }
  if (o.probability_type != DataType::Float32 && o.probability_type != DataType::Byte)
    throw UsageError("probability_type", "is Float32 or Byte");
  if (o.probability_type == DataType::Byte) {
    layout.probability_scale = 254.0f;
    layout.probability_nodata = 255.0f;
  }
  plan.legend = detail::class_legend(model.metadata(), classes);
}

bool has_option(const std::vector<std::string>& list, const char* key) {
  for (const auto& s : list)
    if (EQUALN(s.c_str(), key, std::strlen(key))) return true;
  return false;
}

// The class map and the products asked for, as temporaries until commit. A class map to be
// regularised, and a confidence kept only for polygons, are intermediates.
Writers open_writers(const RasterInfo& info, const Window& extent, const Plan& plan, const std::string& class_map, const SegmentOptions& o,
                     const std::string& model_path) {
  const auto product_layout = [&](DataType type, int bands) { return shard_layout(layout_like(info, type, bands), extent, o.stream.shard); };
  const std::int64_t classes = plan.layout.classes;
  OutputOptions class_options = o.output, float_options = o.output;
  if (EQUAL(o.output.driver.c_str(), "COG") && !has_option(o.output.creation_options, "OVERVIEW_RESAMPLING") &&
      !has_option(o.output.creation_options, "RESAMPLING")) {
    class_options.creation_options.push_back("OVERVIEW_RESAMPLING=MODE");
    float_options.creation_options.push_back("OVERVIEW_RESAMPLING=AVERAGE");
  }
  if (o.regularize > 0) {
    class_options = OutputOptions{};  // an intermediate: plain tiled GTiff
    class_options.overwrite = true;
  }
  Writers writers;
  RasterLayout class_layout = product_layout(DataType::Byte, 1);
  class_layout.nodata = kClassNodata;
  const std::string class_target = o.regularize > 0 ? detail::temporary_path(class_map, "unregularised.tif") : class_map;
  writers.classes = std::make_unique<RasterWriter>(class_target, class_layout, class_options);
  writers.classes->set_color_table(plan.legend.colors);
  writers.classes->set_category_names(plan.legend.names);
  writers.classes->set_metadata("LUOJIA_MODEL", std::filesystem::path(model_path).filename().string());
  const std::string confidence_path =
      !o.confidence.empty() ? o.confidence : (!o.vector.empty() ? detail::temporary_path(class_map, "confidence.tif") : "");
  if (!confidence_path.empty()) {
    RasterLayout l = product_layout(DataType::Float32, 1);
    l.nodata = kFloatNodata;
    writers.confidence = std::make_unique<RasterWriter>(confidence_path, l, o.confidence.empty() ? OutputOptions{"GTiff", {}, true} : float_options);
    writers.confidence->set_band_description(1, "confidence");
  }
  if (!o.probabilities.empty()) {
    RasterLayout l = product_layout(o.probability_type, static_cast<int>(classes));
    l.nodata = plan.layout.probability_nodata;
    writers.probabilities = std::make_unique<RasterWriter>(o.probabilities, l, float_options);
    for (std::int64_t k = 0; k < classes; ++k)
      writers.probabilities->set_band_description(static_cast<int>(k) + 1, plan.legend.names[static_cast<std::size_t>(k)]);
  }
  if (!o.logits.empty()) {
    RasterLayout l = product_layout(DataType::Float32, static_cast<int>(classes));
    l.nodata = std::numeric_limits<double>::quiet_NaN();
    writers.logits = std::make_unique<RasterWriter>(o.logits, l, float_options);
  }
  return writers;
}

// ---- run: the network over tiles -----------------------------------------------------------------

// Class probabilities of a tile's pixels, averaged over D4 with tta; called from several threads.
class TileClassifier {
public:
  TileClassifier(const detail::ModelStage& stage, const Plan& plan, const SegmentOptions& o, const detail::AreaOfInterest* aoi)
      : stage_(stage), plan_(plan), symmetries_(o.tta ? 8 : 1), window_(o.window), width_(stage.info.width),
        height_(stage.info.height), aoi_(aoi) {}

  // The class, confidence, probability and logit planes of the tile's core.
  void classify(const InputTile& in, OutputTile& out) {
    const Layout& layout = plan_.layout;
    const std::int64_t classes = layout.classes;
    const Window& core = in.tile.core;
    const Window& r = in.tile.read;
    std::vector<std::uint8_t> valid;
    validity(in, core, valid);
    out.pixels.reshape(layout.planes(), core.width, core.height);
    const std::int64_t op = core.area();
    constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
    if (std::none_of(valid.begin(), valid.end(), [](std::uint8_t v) { return v != 0; })) {
      ++skipped_;
      for (std::int64_t i = 0; i < op; ++i) decide(nullptr, classes, 0, 0, false, layout, out.pixels.data(), op, i);
      if (layout.logits)
        std::fill(out.pixels.data() + layout.logit_plane() * op, out.pixels.data() + (layout.logit_plane() + classes) * op, kNan);
      return;
    }
    std::vector<float> probs, raw;
    infer(in, Window{core.x - r.x, core.y - r.y, core.width, core.height}, probs, raw);
    for (std::int64_t o = 0; o < op; ++o) {
      const bool v = valid[static_cast<std::size_t>(o)] != 0;
      decide(probs.data(), classes, op, o, v, layout, out.pixels.data(), op, o);
      if (layout.logits)
        for (std::int64_t k = 0; k < classes; ++k)
          out.pixels.data()[(layout.logit_plane() + k) * op + o] = v ? raw[static_cast<std::size_t>(k * op + o)] : kNan;
    }
  }

  // Blending: over the part of the read window inside the raster, a weight plane (the window's
  // weight, 0 where no class is due) and the weighted probabilities.
  void weigh(const InputTile& in, OutputTile& out) {
    const std::int64_t classes = plan_.layout.classes;
    const Window& r = in.tile.read;
    const Window part = intersection(r, Window{0, 0, width_, height_});
    std::vector<std::uint8_t> valid;
    validity(in, part, valid);
    out.pixels.reshape(1 + static_cast<int>(classes), part.width, part.height);
    std::fill(out.pixels.data(), out.pixels.data() + out.pixels.plane_size() * static_cast<std::size_t>(1 + classes), 0.0f);
    if (std::none_of(valid.begin(), valid.end(), [](std::uint8_t v) { return v != 0; })) {
      ++skipped_;
      return;
    }
    std::vector<float> probs, raw;
    infer(in, Window{part.x - r.x, part.y - r.y, part.width, part.height}, probs, raw);
    const std::int64_t op = part.area();
    for (std::int64_t y = 0; y < part.height; ++y)
      for (std::int64_t x = 0; x < part.width; ++x) {
        const std::int64_t wy = part.y - r.y + y, wx = part.x - r.x + x, i = y * part.width + x;
        if (!valid[static_cast<std::size_t>(i)]) continue;
        const auto weight = static_cast<float>(window_weight(window_, wy, r.height) * window_weight(window_, wx, r.width));
        out.pixels.data()[i] = weight;
        for (std::int64_t k = 0; k < classes; ++k) out.pixels.data()[(1 + k) * op + i] = weight * probs[static_cast<std::size_t>(k * op + i)];
      }
  }

  std::int64_t skipped() const { return skipped_.load(); }

private:
  // Probabilities over `region` (read-window coordinates) and its raw logits. The network sees the
  // whole read window; only the region is needed after it.
  void infer(const InputTile& in, const Window& region, std::vector<float>& probs, std::vector<float>& raw) {
    const std::int64_t classes = plan_.layout.classes, channels = stage_.input.channels();
    const Window& r = in.tile.read;
    const std::int64_t plane = r.area();
    const nn::Tensor x = stage_.network_input(in);
    const auto session = stage_.session();
    probs.assign(static_cast<std::size_t>(classes * region.area()), 0.0f);
    std::vector<float> scratch;
    const float share = 1.0f / static_cast<float>(symmetries_);
    for (std::size_t s = 0; s < symmetries_; ++s) {
      const Symmetry sym = kD4[s];
      nn::Tensor xi = x;
      if (s > 0) {
        xi = nn::Tensor({1, channels, sym.transpose ? r.width : r.height, sym.transpose ? r.height : r.width});
        apply_symmetry(x.data(), channels, r.height, r.width, sym, false, xi.data());
      }
      const nn::Tensor y = session->run(stage_.input.split(xi)).at(0);
      if (y.size() != classes * plane)
        raise("the model's output " + nn::to_string(y.shape()) + " does not match its input " + nn::to_string(xi.shape()),
              stage_.at_model);
      const float* logits = y.data();
      if (s > 0) {
        scratch.resize(static_cast<std::size_t>(classes * plane));
        apply_symmetry(y.data(), classes, r.height, r.width, sym, true, scratch.data());
        logits = scratch.data();
      } else if (plan_.layout.logits) {
        raw.resize(static_cast<std::size_t>(classes * region.area()));
        for (std::int64_t k = 0; k < classes; ++k)
          for (std::int64_t yy = 0; yy < region.height; ++yy)
            std::copy(logits + k * plane + (region.y + yy) * r.width + region.x,
                      logits + k * plane + (region.y + yy) * r.width + region.x + region.width,
                      raw.data() + k * region.area() + yy * region.width);
      }
      if (stage_.tiling.analysis.probabilities)  // the network ends in a softmax over classes: its outputs are probabilities
        for (std::int64_t k = 0; k < classes; ++k)
          for (std::int64_t yy = 0; yy < region.height; ++yy)
            for (std::int64_t xx = 0; xx < region.width; ++xx)
              probs[static_cast<std::size_t>(k * region.area() + yy * region.width + xx)] +=
                  logits[k * plane + (region.y + yy) * r.width + region.x + xx] * share;
      else
        softmax_region(logits, classes, plane, r.width, region, share, probs.data());
    }
  }

  // Pixels of `part` (raster coordinates) that get a class: data in every band, inside the area of interest.
  void validity(const InputTile& in, const Window& part, std::vector<std::uint8_t>& valid) const {
    valid.assign(static_cast<std::size_t>(part.area()), 0);
    const Window& r = in.tile.read;
    for (std::int64_t y = 0; y < part.height; ++y)
      for (std::int64_t x = 0; x < part.width; ++x)
        valid[static_cast<std::size_t>(y * part.width + x)] = in.mask[static_cast<std::size_t>((part.y - r.y + y) * r.width + (part.x - r.x + x))];
    if (aoi_) aoi_->restrict(part, valid);
  }

  const detail::ModelStage& stage_;
  const Plan& plan_;
  std::size_t symmetries_;
  BlendWindow window_;
  std::int64_t width_, height_;
  const detail::AreaOfInterest* aoi_;
  std::atomic<std::int64_t> skipped_{0};
};

// Sums of weighted probabilities for the rows that blended tiles still reach, flushed as soon as no
// later tile can add to them: about one row of tiles, never the scene.
class BlendAccumulator {
public:
  BlendAccumulator(std::int64_t width, std::int64_t height, const Layout& layout, Writers& writers)
      : width_(width), height_(height), layout_(layout), writers_(writers) {}

  void add(const Tile& t, const Image& image) {
    // Tiles come row by row: once a tile of a new row arrives, rows above its window are final.
    const Window part = intersection(t.read, Window{0, 0, width_, height_});
    if (t.col == 0) flush_below(part.y);
    const std::int64_t op = part.area(), classes = layout_.classes;
    for (std::int64_t y = 0; y < part.height; ++y) {
      auto& row = rows_[part.y + y];
      if (row.empty()) row.assign(static_cast<std::size_t>((1 + classes) * width_), 0.0f);
      for (std::int64_t k = 0; k <= classes; ++k)
        for (std::int64_t x = 0; x < part.width; ++x)
          row[static_cast<std::size_t>(k * width_ + part.x + x)] += image.data()[k * op + y * part.width + x];
    }
  }

  void flush_below(std::int64_t limit) {
    const std::int64_t classes = layout_.classes;
    while (!rows_.empty() && rows_.begin()->first < limit) {
      // Contiguous rows go out in one strip.
      const std::int64_t y0 = rows_.begin()->first;
      std::int64_t y1 = y0;
      while (rows_.count(y1) && y1 < limit && y1 - y0 < 256) ++y1;
      const Window strip{0, y0, width_, y1 - y0};
      Image image(layout_.planes(), width_, y1 - y0);
      const std::int64_t op = strip.area();
      std::vector<float> probs(static_cast<std::size_t>(classes));
      for (std::int64_t y = y0; y < y1; ++y) {
        const std::vector<float>& row = rows_[y];
        for (std::int64_t x = 0; x < width_; ++x) {
          const float wsum = row[static_cast<std::size_t>(x)];
          if (wsum > 0)
            for (std::int64_t k = 0; k < classes; ++k) probs[static_cast<std::size_t>(k)] = row[static_cast<std::size_t>((1 + k) * width_ + x)] / wsum;
          decide(probs.data(), classes, 1, 0, wsum > 0, layout_, image.data(), op, (y - y0) * width_ + x);
        }
        rows_.erase(y);
      }
      write_products(writers_, layout_, strip, image);
    }
  }

private:
  std::int64_t width_, height_;
  const Layout& layout_;
  Writers& writers_;
  std::map<std::int64_t, std::vector<float>> rows_;  // y -> weight, then the classes' sums; each width long
};

// ---- done: regularise, polygonise, then put every product in place -----------------------------
// Every product is finished (flushed, closed, converted) before any is committed, so a failure
// anywhere, a full disk included, leaves none of them and never touches existing outputs.
void finish_products(Writers& writers, const Plan& plan, const std::string& class_map, const SegmentOptions& o, SegmentReport& report) {
  for (RasterWriter* w : {writers.classes.get(), writers.probabilities.get(), writers.logits.get(), writers.confidence.get()})
    if (w) w->finish();
  std::optional<RasterWriter> regularised;
  if (o.regularize > 0)
    regularised.emplace(detail::majority_filter(writers.classes->finished_path(), class_map, o.regularize, plan.legend.names,
                                                plan.legend.colors, o.output, o.stream));
  RasterWriter& classes_writer = regularised ? *regularised : *writers.classes;
  std::unique_ptr<detail::VectorOutput> polygons;
  if (!o.vector.empty()) {
    PolygonizeOptions po;
    po.class_names = plan.legend.names;
    po.min_area = o.min_area;
    po.min_pixels = o.min_pixels;
    po.simplify = o.simplify;
    po.overwrite = o.output.overwrite;
    polygons = detail::polygonize_uncommitted(classes_writer.finished_path(), writers.confidence->finished_path(), o.vector, po);
  }
  classes_writer.commit();
  if (polygons) polygons->commit();
  if (writers.probabilities) writers.probabilities->commit();
  if (writers.logits) writers.logits->commit();
  if (writers.confidence && !o.confidence.empty()) writers.confidence->commit();
  report.written.push_back(class_map);
  for (const std::string* path : {&o.probabilities, &o.logits, &o.confidence, &o.vector})
    if (!path->empty()) report.written.push_back(*path);
}

// The head: prepare (plan, writers), run (class planes per tile, or weighted probabilities to
// blend), done (finish and commit the products together).
class SegmentHead : public detail::TaskHead<Image> {
public:
  SegmentHead(const std::string& class_map, const SegmentOptions& o) : class_map_(class_map), o_(o) {}

  TileGrid plan(detail::ModelStage& stage) override {
    plan_ = plan_tiles(stage, o_);
    return stage.dense_grid();
  }

  void open(const detail::ModelStage& stage) override {
    const RasterInfo& info = stage.info;
    if (!o_.stream.shard.whole()) check_shard_options(o_, plan_.blend, stage.at_model);
    plan_outputs(plan_, stage, o_, stage.grid().extent());
    // Every output is checked before the run, so a long run never fails at its end for a name.
    for (const std::string& path : {class_map_, o_.vector}) check_output_path(path, o_.output.overwrite);
    if (!o_.vector.empty()) vector_driver_for(o_.vector);
    if (!o_.aoi.empty() || !o_.mask.empty()) aoi_ = std::make_unique<detail::AreaOfInterest>(info, o_.aoi, o_.mask);
    writers_ = open_writers(info, stage.grid().extent(), plan_, class_map_, o_, stage.model.path());
    classifier_.emplace(stage, plan_, o_, aoi_.get());
    if (plan_.blend) blended_.emplace(info.width, info.height, plan_.layout, writers_);
  }

  // Per tile in flight: activations, the network's input and output, probabilities (twice with tta).
  detail::TileBudget budget(const detail::ModelStage& stage) override {
    plan_.report.activation_bytes = stage.activation_bytes();
    const Window largest = stage.grid().max_read_window();
    const auto read_pixels = static_cast<std::size_t>(std::min(largest.width, stage.tiling.padded_width) *
                                                      std::min(largest.height, stage.tiling.padded_height));
    const auto tile_floats = read_pixels * static_cast<std::size_t>(stage.input.channels() + 3 * plan_.layout.classes);
    return {(plan_.report.activation_bytes + tile_floats * 4) * (o_.tta ? 2 : 1),
            plan_.blend ? 1 + static_cast<int>(plan_.layout.classes) : plan_.layout.planes()};
  }

  void compute(const InputTile& in, const detail::ModelStage&, Image& image) override {
    OutputTile out{in.tile, image};
    if (plan_.blend) classifier_->weigh(in, out);
    else classifier_->classify(in, out);
  }

  void consume(const Tile& t, Image& image) override {
    if (plan_.blend) blended_->add(t, image);
    else write_products(writers_, plan_.layout, t.core, image);
  }

  void finish(const detail::ModelStage& stage, const StreamStats& stats) override {
    if (plan_.blend) blended_->flush_below(stage.info.height);
    plan_.report.tiles = stats.tiles;
    plan_.report.skipped = classifier_->skipped();
    finish_products(writers_, plan_, class_map_, o_, plan_.report);
  }

  const SegmentReport& report() const { return plan_.report; }

private:
  const std::string& class_map_;
  const SegmentOptions& o_;
  Plan plan_;
  std::unique_ptr<detail::AreaOfInterest> aoi_;
  Writers writers_;
  std::optional<TileClassifier> classifier_;
  std::optional<BlendAccumulator> blended_;
};

}  // namespace

SegmentReport segment(const std::string& input, const std::string& model_path, const std::string& class_map,
                      const SegmentOptions& o) {
  Raster raster = Raster::open(input);
  const nn::Model model = detail::load_model(model_path, o.registry, o.load);
  return segment(raster, model, class_map, detail::loaded_with(o));
}

SegmentReport segment(Raster& raster, const nn::Model& model, const std::string& class_map, const SegmentOptions& o) {
  detail::refuse_load_options(o.load, detail::kLoadedModel);
  SegmentHead head(class_map, o);
  detail::run_model_task(raster, model, o, head);
  return head.report();
}

}  // namespace luojia
