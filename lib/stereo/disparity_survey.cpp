#include "stereo/disparity_survey.hpp"

#include "io/gdal_support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/stereo.hpp>

#include <gdal_priv.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

namespace luojia::stereo {
namespace {

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int ceil_div(int a, int b) { return -floor_div(-a, b); }

// Band 1 of path averaged down to width x height, and where every pixel averaged held data.
struct Overview {
  std::vector<float> pixels;
  std::vector<std::uint8_t> valid;
};

Overview reduced(const std::string& path, std::int64_t width, std::int64_t height) {
  detail::GdalErrorTrap trap;
  const detail::DatasetPtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) raise(trap.message_about(path, "cannot open"), ErrorContext{path, {}, {}, {}});
  GDALRasterBand* band = ds->GetRasterBand(1);
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  extra.eResampleAlg = GRIORA_Average;
  Overview o;
  const auto n = static_cast<std::size_t>(width * height);
  o.pixels.resize(n);
  o.valid.resize(n);
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  const int sw = ds->GetRasterXSize(), sh = ds->GetRasterYSize();
  if (band->RasterIO(GF_Read, 0, 0, sw, sh, o.pixels.data(), w, h, GDT_Float32, 0, 0, &extra) != CE_None ||
      band->GetMaskBand()->RasterIO(GF_Read, 0, 0, sw, sh, o.valid.data(), w, h, GDT_Byte, 0, 0, &extra) != CE_None)
    raise(trap.message_about(path, "cannot read an overview"), ErrorContext{path, 1, {}, {}});
  for (auto& v : o.valid) v = v == 255 ? 1 : 0;  // a pixel averaged over nodata is no pixel
  return o;
}

}  // namespace

DisparitySurvey survey_disparities(const std::string& left, const std::string& right, int min_disparity, int max_disparity,
                                   std::size_t max_bytes) {
  const Raster views = Raster::open(left);
  const std::int64_t width = views.info().width, height = views.info().height;
  // The overview: the least reduction whose costs fit; its disparities one reduced pixel wider
  // each way (an edge disparity averages across two).
  DisparitySurvey s;
  MatchOptions m;
  m.speckle_size = 10;
  std::int64_t w = width, h = height;
  for (;; s.factor *= 2) {
    w = (width + s.factor - 1) / s.factor;
    h = (height + s.factor - 1) / s.factor;
    m.min_disparity = floor_div(min_disparity, s.factor) - 1;
    m.max_disparity = ceil_div(max_disparity, s.factor) + 1;
    if (match_window_bytes(w, h, w, h, m) <= max_bytes || std::max(w, h) <= 32) break;
  }
  // GDAL's block cache while the views are averaged down: a sixteenth of the costs' bytes, so
  // reading a scene of any size does not grow the process (GDAL's default is 5% of RAM).
  const detail::GdalCacheScope cache(std::max<std::size_t>(max_bytes / 16, 4u << 20));
  const Overview l = reduced(left, w, h), r = reduced(right, w, h);
  constexpr float kNone = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> disparity(static_cast<std::size_t>(w * h));
  MatchCounts counts;
  match_window(l.pixels.data(), l.valid.data(), r.pixels.data(), r.valid.data(), w, h, 0, 0, m, kNone, disparity.data(), nullptr,
               &counts);
  // Matches per disparity of the overview; the extremes are the disparities at least 1 in 500
  // matches hold. False matches (occlusions, repeated texture) scatter over the whole range, a
  // few per disparity; the surface piles up where it is.
  std::vector<std::int64_t> histogram(static_cast<std::size_t>(m.max_disparity - m.min_disparity + 1), 0);
  for (float d : disparity)
    if (std::isfinite(d)) {
      const auto k = std::clamp<long>(std::lround(d) - m.min_disparity, 0, static_cast<long>(histogram.size()) - 1);
      ++histogram[static_cast<std::size_t>(k)];
      ++s.matches;
    }
  s.pixels = counts.valid;
  const std::int64_t floor = std::max<std::int64_t>(3, s.matches / 500);
  std::optional<int> low, high;
  for (std::size_t k = 0; k < histogram.size(); ++k)
    if (histogram[k] >= floor) {
      if (!low) low = m.min_disparity + static_cast<int>(k);
      high = m.min_disparity + static_cast<int>(k);
    }
  if (CPLGetConfigOption("CPL_DEBUG", nullptr)) {
    std::string counts_text;
    for (std::size_t k = 0; k < histogram.size(); ++k)
      if (histogram[k] > 0) counts_text += " " + std::to_string(m.min_disparity + static_cast<int>(k)) + ":" + std::to_string(histogram[k]);
    CPLDebug("luojia", "disparity survey on a 1/%d overview, matches per disparity:%s", s.factor, counts_text.c_str());
  }
  s.found = low && s.matches >= 100 && s.matches * 100 >= s.pixels;
  if (!s.found) return s;
  // Back to the pair's pixels: a rounded overview disparity spans half a pixel each way, and an
  // overview pixel averages f of the pair's, two more on each side.
  const double f = s.factor;
  s.min_disparity = std::max(min_disparity, static_cast<int>(std::floor((*low - 0.5) * f)) - 2 * s.factor);
  s.max_disparity = std::min(max_disparity, static_cast<int>(std::ceil((*high + 0.5) * f)) + 2 * s.factor);
  return s;
}

}  // namespace luojia::stereo
