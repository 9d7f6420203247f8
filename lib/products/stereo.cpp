// A rectified pair to disparity and depth on the left image's grid, tile by tile. Pass 1 matches
// tiles with the matcher's asymmetric halo into the raw disparity; pass 2 removes speckles
// (whose halo is their size) and derives depth. Both passes are exact, so the products equal one
// match of the whole scene, in memory bounded by the tile and the disparity range.
#include <luojia/products/stereo.hpp>

#include <luojia/error.hpp>
#include <luojia/products/prediction.hpp>

#include "engine/scaled_progress.hpp"
#include "io/band_stack.hpp"
#include "io/file_names.hpp"
#include "model_task/model_loading.hpp"
#include "stereo/speckle_filter.hpp"

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>

namespace luojia {
namespace {

void check_pair(const RasterInfo& left, const RasterInfo& right, const StereoOptions& o) {
  for (const auto& [info, band] : {std::pair{&left, o.left_band}, std::pair{&right, o.right_band}}) {
    if (band < 1 || band > info->band_count())
      throw UsageError(info == &left ? "left_band" : "right_band",
                       "is band " + std::to_string(band) + ", but the raster has " + std::to_string(info->band_count()),
                       ErrorContext{info->path, {}, {}, {}});
    if (is_complex(info->band(band).type))
      raise("complex data type " + std::string(name(info->band(band).type)) + " is not supported", ErrorContext{info->path, band, {}, {}});
  }
  if (left.width != right.width || left.height != right.height)
    throw InputError("a rectified pair has one size, but LEFT is " + std::to_string(left.width) + "x" + std::to_string(left.height) +
                         " and RIGHT " + std::to_string(right.width) + "x" + std::to_string(right.height),
                     ErrorContext{right.path, {}, {}, {}});
}

void check_depth_options(const StereoOptions& o) {
  const bool camera = o.baseline != 0.0 || o.focal != 0.0 || o.disparity_offset != 0.0;
  if (o.depth.empty()) {
    if (camera) throw UsageError("depth", "is not asked for, so baseline, focal and disparity_offset would do nothing: give `depth` or drop them");
    return;
  }
  if (!(o.baseline > 0.0) || !std::isfinite(o.baseline)) throw UsageError("baseline", "must be a positive length for depth");
  if (!(o.focal > 0.0) || !std::isfinite(o.focal)) throw UsageError("focal", "must be a positive length in pixels for depth");
  if (!std::isfinite(o.disparity_offset)) throw UsageError("disparity_offset", "must be finite");
}

// Pass 1: every tile matched over its core plus the matcher's halo (speckles left for pass 2).
StreamStats match_tiles(Raster& stack, const MatchOptions& match, std::int64_t tile, float nodata, RasterWriter& writer,
                        StreamOptions so, MatchCounts& counts, Margins& halo) {
  halo = match_reach(match);
  TileGridOptions go;
  go.tile_width = go.tile_height = tile;
  go.margins = halo;
  const TileGrid grid(stack.info().width, stack.info().height, go);
  const Window largest = grid.max_read_window();
  so.read.mask_per_band = true;
  so.read.edge = EdgeMode::Constant;
  so.kernel_bytes_per_tile += match_window_bytes(largest.width, largest.height, tile, tile, match) + static_cast<std::size_t>(largest.area()) * 4;
  std::mutex counts_mutex;
  const TileKernel kernel = [&](const InputTile& in, OutputTile& out) {
    const Window& read = in.tile.read;
    thread_local std::vector<float> disparity;  // kept between tiles, as the matcher's scratch
    disparity.resize(static_cast<std::size_t>(read.area()));
    const Window core{in.core_x(), in.core_y(), in.tile.core.width, in.tile.core.height};
    MatchCounts c;
    match_window(in.pixels.band(0).data(), in.mask_plane(0), in.pixels.band(1).data(), in.mask_plane(1), read.width, read.height, read.x, read.y,
                 match, nodata, disparity.data(), &core, &c);
    for (std::int64_t y = 0; y < core.height; ++y)
      std::copy_n(disparity.data() + (core.y + y) * read.width + core.x, core.width, out.pixels.data() + y * core.width);
    std::lock_guard lock(counts_mutex);
    counts += c;
  };
  return stream(stack, {1, 2}, grid, writer, 1, kernel, so);
}

// Pass 2: speckles removed with their own halo, and depth derived, into the products' writers.
StreamStats finish_tiles(Raster& raw, const StereoOptions& o, int speckle_size, RasterWriter& disparity, RasterWriter* depth,
                         StreamOptions so, MatchCounts& counts) {
  TileGridOptions go;
  go.tile_width = go.tile_height = o.tile;
  go.halo = std::max(speckle_size - 1, 0);
  const TileGrid grid(raw.info().width, raw.info().height, go);
  std::atomic<std::int64_t> removed{0}, matched{0};
  so.read.edge = EdgeMode::Nodata;
  so.kernel_bytes_per_tile += static_cast<std::size_t>(grid.max_read_window().area()) * 8;
  const TileKernel kernel = [&](const InputTile& in, OutputTile& out) {
    const Window& read = in.tile.read;
    thread_local std::vector<float> window;  // kept between tiles
    window.assign(in.pixels.band(0).begin(), in.pixels.band(0).end());
    for (std::size_t i = 0; i < window.size(); ++i)
      if (!in.mask[i] || !std::isfinite(window[i])) window[i] = o.nodata;
    const std::int64_t cx = in.core_x(), cy = in.core_y(), cw = in.tile.core.width, ch = in.tile.core.height;
    removed += stereo::remove_speckles(window.data(), read.width, read.height, o.nodata, speckle_size, o.match.speckle_range,
                                       cx, cy, cw, ch);
    std::int64_t kept = 0;
    for (std::int64_t y = 0; y < ch; ++y)
      for (std::int64_t x = 0; x < cw; ++x) {
        const float d = window[static_cast<std::size_t>((cy + y) * read.width + cx + x)];
        const std::size_t i = static_cast<std::size_t>(y * cw + x);
        out.pixels.band(0)[i] = d;
        kept += d != o.nodata;
        if (!depth) continue;
        const double shifted = static_cast<double>(d) + o.disparity_offset;
        out.pixels.band(1)[i] = d != o.nodata && shifted > 0 ? static_cast<float>(o.focal * o.baseline / shifted) : o.nodata;
      }
    matched += kept;
  };
  const TileSink sink = [&](const Tile& tile, const Image& pixels) {
    disparity.write(tile.core, pixels.band(0).data(), 1, 1);
    if (depth) depth->write(tile.core, pixels.band(1).data(), 1, 1);
  };
  const StreamStats stats = stream(raw, {1}, grid, depth ? 2 : 1, kernel, sink, so);
  counts.speckles = removed.load();
  counts.matched = matched.load();
  return stats;
}


// The disparity's layout: LEFT's grid and georeferencing, Float32 with the nodata asked for, and
// LEFT's LUOJIA_EPIPOLAR_* items (the maps of a pair rectified here, so the disparity can be
// taken back to the images).
RasterLayout disparity_layout(const RasterInfo& left, const StereoOptions& o) {
  RasterLayout layout = layout_like(left, DataType::Float32, 1);
  layout.nodata = o.nodata;
  for (const auto& [key, value] : left.metadata)
    if (key.rfind("LUOJIA_EPIPOLAR_", 0) == 0) layout.metadata.emplace_back(key, value);
  return layout;
}

// The products from a raw disparity (the matcher's or a network's): speckles removed, nodata set,
// depth derived (finish_tiles), each written and committed once both are finished; the last
// share of the run's progress, from `from`.
void write_products(Raster& raw, const RasterLayout& layout, const std::string& disparity_path, const StereoOptions& o, int speckle_size,
                    double from, StereoReport& report) {
  RasterWriter disparity(disparity_path, layout, o.output);
  disparity.set_band_description(1, "disparity");
  std::unique_ptr<RasterWriter> depth;
  if (!o.depth.empty()) {
    depth = std::make_unique<RasterWriter>(o.depth, layout, o.output);
    depth->set_band_description(1, "depth");
  }
  const detail::ScaledProgress progress(o.stream, from, 1.0);
  finish_tiles(raw, o, speckle_size, disparity, depth.get(), progress.apply(o.stream), report.counts);
  disparity.finish();
  if (depth) depth->finish();
  disparity.commit();
  report.written.push_back(disparity_path);
  if (depth) {
    depth->commit();
    report.written.push_back(o.depth);
  }
}

// A learned matcher: the network over the stacked pair (its two inputs read the stack's two
// bands), its output into a temporary, then the products' pass (nodata, depth).
StereoReport run_model(const std::string& stack_path, const RasterInfo& left, const std::string& disparity_path, const StereoOptions& o) {
  check_learned_matcher_options(o.match);
  StereoReport report;
  PredictOptions p;
  p.bands = {1, 2};
  p.tile = o.tile;
  p.stream = o.stream;
  p.registry = o.registry;
  p.load = o.load;
  const std::string raw_path = detail::temporary_path(disparity_path, "model-disparity.tif");
  p.output = OutputOptions{"GTiff", {"TILED=YES"}, true};
  detail::TemporaryFiles temporaries;
  temporaries.paths.push_back(raw_path);
  const detail::ScaledProgress first(o.stream, 0.0, 0.9);
  p.stream = first.apply(p.stream);
  const PredictReport r = regress(stack_path, o.model, raw_path, p);
  if (r.outputs != 1)
    throw ModelError("a stereo network gives one disparity per pixel, this one " + std::to_string(r.outputs) + " channels",
                     ErrorContext{o.model, {}, {}, {}});
  report.tiles = r.tiles;
  report.halo = Margins{r.halo, r.halo, r.halo, r.halo};
  report.reach = r.receptive_radius;
  report.bytes_per_tile = r.activation_bytes;
  Raster raw = Raster::open(raw_path);
  write_products(raw, disparity_layout(left, o), disparity_path, o, 0, 0.9, report);
  report.counts.valid = report.counts.matched;
  return report;
}

StereoReport match_pair(const std::string& left_path, const std::string& right_path, const std::string& disparity_path,
                        const StereoOptions& o) {
  check_match_options(o.match);
  check_depth_options(o);
  if (o.model.empty()) detail::refuse_load_options(o.load, "chooses a learned matcher's kernels: it needs `model`");
  if (o.tile < 16) throw UsageError("tile", "must be at least 16 pixels, not " + std::to_string(o.tile));
  if (disparity_path.empty()) throw UsageError("disparity", "needs an output path");
  if (!std::isfinite(o.nodata) || (o.nodata >= static_cast<float>(o.match.min_disparity) - 1 && o.nodata <= static_cast<float>(o.match.max_disparity) + 1))
    throw UsageError("nodata", "must lie outside the disparity range");
  check_output_path(disparity_path, o.output.overwrite);
  check_output_path(o.depth, o.output.overwrite);
  Raster left = Raster::open(left_path);
  const Raster right = Raster::open(right_path);
  check_pair(left.info(), right.info(), o);

  detail::TemporaryFiles files;
  const std::string stack_path =
      detail::stack_bands(left.info(), {{&left, {o.left_band}}, {&right, {o.right_band}}}, files, "the stereo pair");
  if (!o.model.empty()) return run_model(stack_path, left.info(), disparity_path, o);
  Raster stack = Raster::open(stack_path);
  const RasterLayout layout = disparity_layout(left.info(), o);
  StereoReport report;
  MatchOptions pass1 = o.match;
  pass1.speckle_size = 0;
  const bool second_pass = o.match.speckle_size > 0 || !o.depth.empty();

  // Without a second pass the matcher writes the product itself; with one, a temporary that is
  // finished but never committed (so removed at the end).
  const std::string raw_path = second_pass ? detail::temporary_path(disparity_path, "raw-disparity.tif") : disparity_path;
  const OutputOptions raw_options = second_pass ? OutputOptions{"GTiff", {"TILED=YES"}, true} : o.output;
  RasterWriter raw(raw_path, layout, raw_options);
  raw.set_band_description(1, "disparity");
  const detail::ScaledProgress first(o.stream, 0.0, second_pass ? 0.85 : 1.0);
  const StreamStats s1 = match_tiles(stack, pass1, o.tile, o.nodata, raw, first.apply(o.stream), report.counts, report.halo);
  report.tiles = s1.tiles;
  report.tiles_in_flight = s1.tiles_in_flight;
  report.bytes_per_tile = s1.bytes_per_tile;
  raw.finish();
  if (!second_pass) {
    raw.commit();
    report.written.push_back(disparity_path);
    return report;
  }

  Raster raw_disparity = Raster::open(raw.finished_path());
  write_products(raw_disparity, layout, disparity_path, o, o.match.speckle_size, 0.85, report);
  return report;
}

}  // namespace

StereoReport match_stereo(const std::string& left_path, const std::string& right_path, const std::string& disparity_path,
                          const StereoOptions& o) {
  // A shard's disparities would stop where the matcher's paths and speckles reach across it.
  if (!o.stream.shard.whole()) throw UsageError("shard", "stereo matching runs whole: its paths and speckle regions reach across shards");
  // Both views are read through one stacked VRT in memory; errors name the files the user gave.
  return detail::naming_given_files(left_path, right_path, [&] { return match_pair(left_path, right_path, disparity_path, o); });
}

}  // namespace luojia
