// Change detection between two dates: a model over both (Siamese or stacked bands), or change
// vector analysis with Otsu's threshold. The dates meet in a virtual stack, never a copy.
#include <luojia/products/change.hpp>
#include <luojia/io/grid_match.hpp>

#include <luojia/error.hpp>
#include <luojia/tiling/shard_layout.hpp>

#include "io/band_stack.hpp"
#include "io/grid_warp.hpp"
#include "io/file_names.hpp"
#include "io/gdal_support.hpp"
#include "model_task/model_loading.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>
#include <gdal_vrt.h>
#include <ogr_spatialref.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <unistd.h>

namespace luojia {

double otsu_threshold(const std::vector<std::int64_t>& histogram, double low, double high) {
  const std::size_t n = histogram.size();
  if (n < 2 || !(high > low)) return low;
  double total = 0, weighted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    total += static_cast<double>(histogram[i]);
    weighted += static_cast<double>(i) * static_cast<double>(histogram[i]);
  }
  if (total == 0) return low;
  double below = 0, below_weighted = 0, best = -1;
  std::size_t best_edge = 1;
  for (std::size_t edge = 1; edge < n; ++edge) {  // classes [0, edge) and [edge, n)
    below += static_cast<double>(histogram[edge - 1]);
    below_weighted += static_cast<double>(edge - 1) * static_cast<double>(histogram[edge - 1]);
    const double above = total - below;
    if (below == 0 || above == 0) continue;
    const double m0 = below_weighted / below, m1 = (weighted - below_weighted) / above;
    const double between = below * above * (m0 - m1) * (m0 - m1);
    if (between > best) {
      best = between;
      best_edge = edge;
    }
  }
  return low + (high - low) * static_cast<double>(best_edge) / static_cast<double>(n);
}

namespace {

using detail::GdalErrorTrap;
using detail::unique_vsimem;
using detail::TemporaryFiles;

// AFTER warped onto BEFORE's grid, as a VRT in memory.
std::string aligned_copy(const RasterInfo& before, const std::string& after, const std::string& resampling, TemporaryFiles& files) {
  if (!before.geotransform) raise("BEFORE has no geotransform to align AFTER onto", ErrorContext{before.path, {}, {}, {}});
  const auto& c = before.geotransform->c;
  if (c[2] != 0.0 || c[4] != 0.0) throw UsageError("align", "needs a north-up BEFORE grid", ErrorContext{before.path, {}, {}, {}});
  return detail::warped_onto(before, after, resampling, {}, "align AFTER onto BEFORE's grid", files);
}

// A VRT in memory whose bands are BEFORE's chosen bands, then AFTER's.
std::string stack(const Raster& before, const std::string& after_path, const std::vector<int>& bands, TemporaryFiles& files) {
  const Raster after = Raster::open(after_path);
  return detail::stack_bands(before.info(), {{&before, bands}, {&after, bands}}, files, "both dates");
}

}  // namespace

namespace {

// The bands compared: as given, else all of them when both dates have as many; each in range and
// real-valued on both dates.
std::vector<int> change_bands(const RasterInfo& bi, const RasterInfo& ai, const std::vector<int>& given, const std::string& after_path) {
  std::vector<int> bands = given;
  if (bands.empty()) {
    if (bi.band_count() != ai.band_count())
      raise("BEFORE has " + std::to_string(bi.band_count()) + " bands and AFTER " + std::to_string(ai.band_count()) +
                "; choose the bands to compare with `bands`",
            ErrorContext{after_path, {}, {}, {}});
    for (int b = 1; b <= bi.band_count(); ++b) bands.push_back(b);
  }
  for (const RasterInfo* r : {&bi, &ai})
    for (int b : bands) {
      if (b < 1 || b > r->band_count())
        raise("band " + std::to_string(b) + " is out of range: the raster has " + std::to_string(r->band_count()) + " bands",
              ErrorContext{r->path, {}, {}, {}});
      if (is_complex(r->band(b).type))
        raise("complex data type " + std::string(name(r->band(b).type)) + " is not supported", ErrorContext{r->path, b, {}, {}});
    }
  return bands;
}

// Pass 1 of change vector analysis: the magnitude of each pixel's difference vector between the
// dates (bands 1..nb and nb+1..2nb of the stack) into writer, finished; returns the largest.
double write_magnitudes(Raster& stack_raster, int nb, const TileGrid& grid, RasterWriter& writer, const StreamOptions& so,
                        std::int64_t& valid_pixels) {
  writer.set_band_description(1, "change magnitude");
  std::atomic<std::int64_t> valid{0};
  double max_magnitude = 0;
  std::mutex max_mutex;
  const TileKernel kernel = [&](const InputTile& in, OutputTile& out) {
    const std::int64_t n = in.pixels.plane_size();
    std::int64_t count = 0;
    double local_max = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!in.mask[static_cast<std::size_t>(i)]) {
        out.pixels.data()[i] = -1.0f;
        continue;
      }
      double sum = 0;
      for (int b = 0; b < nb; ++b) {
        const double d = static_cast<double>(in.pixels.band(nb + b)[static_cast<std::size_t>(i)]) - in.pixels.band(b)[static_cast<std::size_t>(i)];
        sum += d * d;
      }
      const double m = std::sqrt(sum);
      out.pixels.data()[i] = static_cast<float>(m);
      local_max = std::max(local_max, m);
      ++count;
    }
    valid += count;
    std::lock_guard lock(max_mutex);
    max_magnitude = std::max(max_magnitude, local_max);
  };
  std::vector<int> all;
  for (int b = 1; b <= 2 * nb; ++b) all.push_back(b);
  stream(stack_raster, all, grid, writer, 1, kernel, so);
  writer.finish();
  valid_pixels = valid.load();
  return max_magnitude;
}

// Pass 2: Otsu's threshold over a 1024-bin histogram of the magnitudes up to the largest.
double otsu_of_magnitudes(Raster& magnitudes, const TileGrid& grid, double max_magnitude, StreamOptions hs) {
  constexpr std::size_t kBins = 1024;
  std::vector<std::int64_t> histogram(kBins, 0);
  const double top = max_magnitude > 0 ? max_magnitude * (1.0 + 1e-9) : 1.0;
  hs.progress = nullptr;
  // Each tile's histogram, added up in tile order.
  using Counts = std::vector<std::int64_t>;
  const std::function<Counts(const InputTile&)> count = [&](const InputTile& in) {
    Counts counts(kBins, 0);
    for (std::size_t i = 0; i < in.pixels.plane_size(); ++i)
      if (in.mask[i]) {
        const auto bin = static_cast<std::size_t>(static_cast<double>(in.pixels.data()[i]) / top * static_cast<double>(kBins));
        ++counts[std::min(bin, kBins - 1)];
      }
    return counts;
  };
  const std::function<void(const Tile&, Counts&&)> add = [&](const Tile&, Counts&& counts) {
    for (std::size_t i = 0; i < kBins; ++i) histogram[i] += counts[i];
  };
  hs.kernel_bytes_per_tile += kBins * sizeof(std::int64_t);
  stream_results<Counts>(magnitudes, {1}, grid, count, add, hs);
  return otsu_threshold(histogram, 0.0, top);
}

// Pass 3: the change map (1 where the magnitude is above the threshold, 255 on nodata), committed;
// returns the changed pixels.
std::int64_t write_change_map(Raster& magnitudes, const TileGrid& grid, RasterLayout layout, double threshold, const std::string& output,
                              const OutputOptions& output_options, const StreamOptions& so) {
  layout.nodata = 255;
  RasterWriter writer(output, layout, output_options);
  writer.set_color_table({{0, 0, 0, 255}, {255, 0, 0, 255}});
  writer.set_category_names({"no change", "change"});
  writer.set_metadata("LUOJIA_CHANGE_THRESHOLD", std::to_string(threshold));
  std::atomic<std::int64_t> changed{0};
  const TileKernel decide = [&](const InputTile& in, OutputTile& out) {
    std::int64_t count = 0;
    for (std::size_t i = 0; i < in.pixels.plane_size(); ++i) {
      const bool c = in.mask[i] && in.pixels.data()[i] > threshold;
      out.pixels.data()[i] = in.mask[i] ? (c ? 1.0f : 0.0f) : 255.0f;
      count += c;
    }
    changed += count;
  };
  stream(magnitudes, {1}, grid, writer, 1, decide, so);
  writer.finish();
  writer.commit();
  return changed.load();
}

// Change vector analysis of the stacked dates: magnitudes, a threshold (given or Otsu's), the map.
ChangeReport change_vector_analysis(const std::string& stacked, int nb, const RasterInfo& bi, const std::string& before_path,
                                    const std::string& output, const ChangeOptions& o) {
  ChangeReport report;
  Raster stack_raster = Raster::open(stacked);
  TileGridOptions go;
  go.tile_width = go.tile_height = o.segment.tile;
  const Shard shard = o.segment.stream.shard;
  if (!shard.whole() && !o.threshold)
    throw UsageError("threshold", "must be given when running a shard: Otsu's threshold needs the whole raster's magnitudes", ErrorContext{before_path, {}, {}, {}});
  const TileGrid grid = TileGrid(bi.width, bi.height, go).shard(shard);
  const auto product_layout = [&](DataType type) { return shard_layout(layout_like(bi, type, 1), grid.extent(), shard); };
  StreamOptions so = o.segment.stream;
  so.read.apply_scale = true;

  // Without `magnitude` the magnitudes go to a temporary, finished but never committed (so removed
  // at the end).
  const std::string magnitude_path = o.magnitude.empty() ? detail::temporary_path(output, "magnitude.tif") : o.magnitude;
  RasterLayout ml = product_layout(DataType::Float32);
  ml.nodata = -1.0;
  const OutputOptions magnitude_options = o.magnitude.empty() ? OutputOptions{"GTiff", {}, true} : o.segment.output;
  RasterWriter magnitude_writer(magnitude_path, ml, magnitude_options);
  const double max_magnitude = write_magnitudes(stack_raster, nb, grid, magnitude_writer, so, report.valid);

  Raster magnitudes = Raster::open(magnitude_writer.finished_path());
  // Passes 2 and 3 are per pixel: any tiling of the magnitudes (which cover the shard) will do,
  // all of it (the shard was cut in pass 1).
  const TileGrid local(ml.width, ml.height, go);
  StreamOptions local_so = so;
  local_so.shard = Shard{};
  if (o.threshold) {
    report.threshold = *o.threshold;
  } else {
    report.threshold = otsu_of_magnitudes(magnitudes, local, max_magnitude, local_so);
    report.otsu = true;
  }
  report.changed =
      write_change_map(magnitudes, local, product_layout(DataType::Byte), report.threshold, output, o.segment.output, local_so);
  if (!o.magnitude.empty()) magnitude_writer.commit();
  report.written.push_back(output);
  if (!o.magnitude.empty()) report.written.push_back(o.magnitude);
  return report;
}

ChangeReport run_change(const std::string& before_path, const std::string& after_path, const std::string& output,
                        const ChangeOptions& o) {
  // What only a model uses is refused without one, not dropped.
  if (o.model.empty()) {
    const SegmentOptions& s = o.segment;
    for (const auto& [given, field] : {std::pair{!s.probabilities.empty(), "probabilities"}, {!s.logits.empty(), "logits"},
                                       {!s.confidence.empty(), "confidence"}, {!s.vector.empty(), "vector"}})
      if (given) throw UsageError(field, "needs a change model (`model`); change vector analysis has none");
    detail::refuse_load_options(s.load, "needs a change model (`model`); change vector analysis has none");
  }
  Raster before = Raster::open(before_path);
  const Raster after = Raster::open(after_path);
  const RasterInfo& bi = before.info();
  const RasterInfo& ai = after.info();
  const std::vector<int> bands = change_bands(bi, ai, o.bands, after_path);
  for (const std::string& path : {output, o.magnitude}) check_output_path(path, o.segment.output.overwrite);

  TemporaryFiles files;
  std::string after_source = after_path;
  if (const auto why = grid_difference(bi, ai)) {
    if (!o.align)
      raise("the two dates are not on one grid: " + *why + "; `align` warps AFTER onto BEFORE's grid", ErrorContext{after_path, {}, {}, {}});
    after_source = aligned_copy(bi, after_path, o.resampling, files);
  }
  const std::string stacked = stack(before, after_source, bands, files);
  const auto nb = static_cast<int>(bands.size());
  if (o.model.empty()) return change_vector_analysis(stacked, nb, bi, before_path, output, o);

  // A Siamese model segments the stack of both dates.
  ChangeReport report;
  report.model = true;
  SegmentOptions so = o.segment;
  so.bands.clear();
  for (int b = 1; b <= 2 * nb; ++b) so.bands.push_back(b);
  report.segment = segment(stacked, o.model, output, so);
  report.written = report.segment.written;
  return report;
}

}  // namespace

ChangeReport detect_change(const std::string& before_path, const std::string& after_path, const std::string& output,
                           const ChangeOptions& o) {
  // Both dates are read through one stacked VRT in memory; errors name the files the user gave.
  return detail::naming_given_files(before_path, after_path, [&] { return run_change(before_path, after_path, output, o); });
}

}  // namespace luojia
