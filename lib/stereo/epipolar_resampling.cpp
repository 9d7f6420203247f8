// One view resampled onto the epipolar grid by tiles of the grid. Each tile maps its pixels
// through the view's grid -> image map, reads the source window they fall in (so a rotated or
// bent grid reads a bounded window however large the scene) and interpolates; tiles run on
// workers with their own handle on the source and are written in order by the caller's thread.
#include "stereo/epipolar_rectification.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/raster_writer.hpp>

#include "io/gdal_support.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

namespace luojia::stereo {

namespace {

constexpr std::int64_t kTile = 256;

// Keys' cubic convolution (a = -0.5, GDAL's "cubic"): the weights of the taps at -1, 0, 1, 2
// around an offset t in [0, 1).
inline std::array<double, 4> cubic_weights(double t) {
  const double t2 = t * t, t3 = t2 * t;
  return {-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2};
}

struct TileWork {
  Window window;
  std::vector<float> pixels;
};

// The grid pixels of window, resampled from source.
void resample_tile(Raster& source, int band, const EpipolarGeometry& geometry, View view, double column_offset, TileWork& work) {
  const Window& w = work.window;
  const std::int64_t n = w.width * w.height;
  const std::int64_t image_width = source.info().width, image_height = source.info().height;
  // Pixel-centre coordinates in the image of every grid pixel's centre, and their extent.
  std::vector<double> xs(static_cast<std::size_t>(n)), ys(static_cast<std::size_t>(n));
  double x0 = std::numeric_limits<double>::max(), y0 = x0, x1 = -x0, y1 = -x0;
  for (std::int64_t j = 0; j < w.height; ++j)
    for (std::int64_t i = 0; i < w.width; ++i) {
      const auto p = geometry.image_at(view, static_cast<double>(w.x + i) + 0.5 + column_offset, static_cast<double>(w.y + j) + 0.5);
      const auto k = static_cast<std::size_t>(j * w.width + i);
      xs[k] = p[0] - 0.5;
      ys[k] = p[1] - 0.5;
      if (!std::isfinite(xs[k]) || !std::isfinite(ys[k])) continue;
      x0 = std::min(x0, xs[k]);
      x1 = std::max(x1, xs[k]);
      y0 = std::min(y0, ys[k]);
      y1 = std::max(y1, ys[k]);
    }
  work.pixels.assign(static_cast<std::size_t>(n), static_cast<float>(kEpipolarNodata));
  // The source window: every tap of every pixel, inside the image.
  const std::int64_t c0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(std::max(x0, -4.0))) - 1);
  const std::int64_t r0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(std::max(y0, -4.0))) - 1);
  const std::int64_t c1 = std::min(image_width, static_cast<std::int64_t>(std::floor(std::min(x1, 1e15))) + 3);
  const std::int64_t r1 = std::min(image_height, static_cast<std::int64_t>(std::floor(std::min(y1, 1e15))) + 3);
  if (c1 <= c0 || r1 <= r0) return;
  const Window from{c0, r0, c1 - c0, r1 - r0};
  Mask valid;
  const int bands[] = {band};
  const Image image = source.read(from, bands, ReadOptions{}, &valid);
  const std::span<const float> values = image.band(0);
  const std::int64_t fw = from.width, fh = from.height;
  const auto at = [&](std::int64_t c, std::int64_t r) { return static_cast<std::size_t>(r * fw + c); };
  for (std::int64_t k = 0; k < n; ++k) {
    const double x = xs[static_cast<std::size_t>(k)] - static_cast<double>(c0), y = ys[static_cast<std::size_t>(k)] - static_cast<double>(r0);
    if (!(x > -0.5 && y > -0.5 && x < static_cast<double>(fw) - 0.5 && y < static_cast<double>(fh) - 0.5)) continue;
    const auto nc = static_cast<std::int64_t>(std::floor(x + 0.5)), nr = static_cast<std::int64_t>(std::floor(y + 0.5));
    if (!valid[at(nc, nr)]) continue;
    const auto c = static_cast<std::int64_t>(std::floor(x)), r = static_cast<std::int64_t>(std::floor(y));
    const double fx = x - static_cast<double>(c), fy = y - static_cast<double>(r);
    // Cubic where all sixteen taps hold data.
    bool whole = c >= 1 && r >= 1 && c + 2 < fw && r + 2 < fh;
    for (std::int64_t dr = -1; whole && dr <= 2; ++dr)
      for (std::int64_t dc = -1; dc <= 2; ++dc) whole = whole && valid[at(c + dc, r + dr)];
    double sum = 0;
    if (whole) {
      const auto wx = cubic_weights(fx), wy = cubic_weights(fy);
      for (int dr = 0; dr < 4; ++dr) {
        const float* row = values.data() + at(c - 1, r - 1 + dr);
        sum += wy[static_cast<std::size_t>(dr)] *
               (wx[0] * row[0] + wx[1] * row[1] + wx[2] * row[2] + wx[3] * row[3]);
      }
    } else {
      // Beside nodata or the edge: the bilinear mean of the valid pixels of the four around.
      double weight = 0;
      for (std::int64_t dr = 0; dr <= 1; ++dr)
        for (std::int64_t dc = 0; dc <= 1; ++dc) {
          const std::int64_t cc = c + dc, rr = r + dr;
          if (cc < 0 || rr < 0 || cc >= fw || rr >= fh || !valid[at(cc, rr)]) continue;
          const double wgt = (dc ? fx : 1 - fx) * (dr ? fy : 1 - fy);
          sum += wgt * values[at(cc, rr)];
          weight += wgt;
        }
      if (!(weight > 0)) continue;
      sum /= weight;
    }
    work.pixels[static_cast<std::size_t>(k)] = static_cast<float>(sum);
  }
}

}  // namespace

void resample_to_epipolar(const std::string& source, int band, const EpipolarGeometry& geometry, View view, double column_offset,
                          const std::string& path, std::size_t cache_bytes, int threads, const std::function<bool(double)>& progress,
                          const std::vector<std::pair<std::string, std::string>>& metadata) {
  // GDAL's block cache while reading: bounded, so the process does not grow with the scene up to
  // GDAL's default of 5% of RAM.
  const detail::GdalCacheScope cache(std::max<std::size_t>(cache_bytes, 16u << 20));
  const Raster first = Raster::open(source);
  if (band < 1 || band > first.info().band_count())
    throw UsageError("band", "is " + std::to_string(band) + ", but the raster has " + std::to_string(first.info().band_count()),
                     ErrorContext{source, {}, {}, {}});
  RasterLayout layout;
  layout.width = geometry.width;
  layout.height = geometry.height;
  layout.nodata = kEpipolarNodata;
  layout.metadata = metadata;
  RasterWriter writer(path, layout, OutputOptions{"GTiff", {"TILED=YES", "BIGTIFF=IF_SAFER"}, true});
  // Tiles in raster order, a few per worker at a time: results wait for their turn to be written,
  // so memory holds a batch, never a row of the scene.
  std::vector<Window> tiles;
  for (std::int64_t y = 0; y < geometry.height; y += kTile)
    for (std::int64_t x = 0; x < geometry.width; x += kTile)
      tiles.push_back({x, y, std::min(kTile, geometry.width - x), std::min(kTile, geometry.height - y)});
  const int workers = std::max(threads, 1);
  tbb::task_arena arena(workers);
  tbb::enumerable_thread_specific<std::optional<Raster>> handles;
  const std::size_t batch = static_cast<std::size_t>(workers) * 4;
  std::vector<TileWork> works(batch);
  for (std::size_t start = 0; start < tiles.size(); start += batch) {
    const std::size_t count = std::min(batch, tiles.size() - start);
    arena.execute([&] {
      tbb::parallel_for(std::size_t{0}, count, [&](std::size_t i) {
        auto& handle = handles.local();
        if (!handle) handle.emplace(first.reopen());
        works[i].window = tiles[start + i];
        resample_tile(*handle, band, geometry, view, column_offset, works[i]);
      });
    });
    for (std::size_t i = 0; i < count; ++i) writer.write(works[i].window, works[i].pixels.data(), 1);
    if (progress && !progress(static_cast<double>(start + count) / static_cast<double>(tiles.size()))) throw Cancelled();
  }
  writer.commit();
}

}  // namespace luojia::stereo
