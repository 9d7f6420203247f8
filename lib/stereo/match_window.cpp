// A window of a rectified pair to disparities: census, bounded-path aggregation, the cheapest
// disparity with a uniqueness test and a parabola for the subpixel part, then left-right
// consistency through the right view's disparities taken from the same aggregated costs.
#include <luojia/products/stereo.hpp>

#include <luojia/error.hpp>

#include "stereo/census.hpp"
#include "stereo/path_aggregation.hpp"
#include "stereo/speckle_filter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace luojia {

MatchCounts& MatchCounts::operator+=(const MatchCounts& other) {
  valid += other.valid;
  matched += other.matched;
  not_unique += other.not_unique;
  inconsistent += other.inconsistent;
  speckles += other.speckles;
  at_range_end += other.at_range_end;
  return *this;
}

void check_match_options(const MatchOptions& o) {
  if (o.max_disparity < o.min_disparity)
    throw UsageError("max_disparity", "must not be below min_disparity (" + std::to_string(o.min_disparity) + ")");
  if (static_cast<std::int64_t>(o.max_disparity) - o.min_disparity >= 4096)
    throw UsageError("max_disparity", "spans more than 4096 disparities from min_disparity: narrow the range (a DEM or sparse matches give it)");
  if (std::abs(o.min_disparity) > 1000000 || std::abs(o.max_disparity) > 1000000)
    throw UsageError("max_disparity", "lies beyond a million pixels");
  if (o.paths != 4 && o.paths != 8) throw UsageError("paths", "must be 4 or 8, not " + std::to_string(o.paths));
  if (o.path_length < 2 || o.path_length > 4096)
    throw UsageError("path_length", "must be from 2 to 4096 pixels, not " + std::to_string(o.path_length));
  if (o.p1 < 0 || o.p2 < o.p1 || o.p2 > 4000)
    throw UsageError("p2", "penalties need 0 <= p1 <= p2 <= 4000 (census bits), not p1 " + std::to_string(o.p1) + ", p2 " + std::to_string(o.p2));
  if (!(o.uniqueness >= 0.0 && o.uniqueness < 1.0))
    throw UsageError("uniqueness", "must be a fraction in [0, 1), not " + std::to_string(o.uniqueness));
  if (o.speckle_size < 0 || o.speckle_size > 100000)
    throw UsageError("speckle_size", "must be from 0 (off) to 100000 pixels, not " + std::to_string(o.speckle_size));
  if (!(o.speckle_range >= 0.0) || !std::isfinite(o.speckle_range))
    throw UsageError("speckle_range", "must be a non-negative disparity difference");
}

Margins match_reach(const MatchOptions& o) {
  // The right view's disparities at a matched pixel span the range each way from it, and the
  // cheapest disparity there sees path_length - 1 pixels back along every path, of costs whose
  // census windows reach a few pixels further; the right pixel itself lies max_disparity left.
  const std::int64_t span = static_cast<std::int64_t>(o.max_disparity) - o.min_disparity;
  const std::int64_t along = o.path_length - 1;
  Margins m;
  const std::int64_t cost_x = o.lr_max_diff >= 0 ? span : 0;
  m.left = cost_x + along + stereo::kCensusRadiusX + std::max(o.max_disparity, 0);
  m.right = cost_x + along + stereo::kCensusRadiusX + std::max(-o.min_disparity, 0);
  m.top = m.bottom = along + stereo::kCensusRadiusY;
  // Speckles are judged within speckle_size - 1 pixels of each pixel (see remove_speckles).
  const std::int64_t speckle = std::max(o.speckle_size - 1, 0);
  m.left += speckle;
  m.right += speckle;
  m.top += speckle;
  m.bottom += speckle;
  return m;
}

std::size_t match_window_bytes(std::int64_t width, std::int64_t height, const MatchOptions& o) {
  const auto pixels = static_cast<std::size_t>(width * height);
  const auto nd = static_cast<std::size_t>(o.max_disparity - o.min_disparity + 1);
  const std::size_t sums = pixels * nd * 2;
  const std::size_t census = pixels * (2 * 8 + 2 + 4);  // both views' census, validity, their floats
  const std::size_t rows = static_cast<std::size_t>(width) * (nd + 2) * 2 * 2 * 3 * 2 + static_cast<std::size_t>(width) * nd;
  return sums + census + rows;
}

void match_window(const float* left, const std::uint8_t* left_mask, const float* right, const std::uint8_t* right_mask,
                  std::int64_t width, std::int64_t height, std::int64_t origin_x, std::int64_t origin_y, const MatchOptions& o,
                  float nodata, float* disparity, const Window* count_window, MatchCounts* counts) {
  check_match_options(o);
  if (width <= 0 || height <= 0) return;
  std::vector<std::uint64_t> left_census, right_census;
  std::vector<std::uint8_t> left_valid, right_valid;
  stereo::census_transform(left, left_mask, width, height, left_census, left_valid);
  stereo::census_transform(right, right_mask, width, height, right_census, right_valid);
  std::vector<std::uint16_t> sums;
  const stereo::PairCensus pair{left_census.data(), right_census.data(), left_valid.data(), right_valid.data(),
                                width, height, origin_x, origin_y};
  stereo::aggregate_paths(pair, o, sums);
  left_census = {};
  right_census = {};

  const int nd = o.max_disparity - o.min_disparity + 1;
  const Window all{0, 0, width, height};
  const Window counted = count_window ? intersection(*count_window, all) : all;
  const auto in_count = [&](std::int64_t x, std::int64_t y) {
    return x >= counted.x && x < counted.x + counted.width && y >= counted.y && y < counted.y + counted.height;
  };
  MatchCounts c;
  std::vector<std::int32_t> best(static_cast<std::size_t>(width));          // per row: best disparity index, -1 none
  std::vector<std::uint16_t> right_min(static_cast<std::size_t>(width));    // the right view's cheapest sum ...
  std::vector<std::int32_t> right_best(static_cast<std::size_t>(width));    // ... and its disparity index
  const double keep = 1.0 - o.uniqueness;
  for (std::int64_t y = 0; y < height; ++y) {
    float* out = disparity + y * width;
    std::fill(right_min.begin(), right_min.end(), std::numeric_limits<std::uint16_t>::max());
    std::fill(right_best.begin(), right_best.end(), -1);
    for (std::int64_t x = 0; x < width; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * width + x);
      best[static_cast<std::size_t>(x)] = -1;
      out[x] = nodata;
      if (!left_valid[i]) continue;
      const bool counting = in_count(x, y);
      c.valid += counting;
      const std::uint16_t* s = sums.data() + i * static_cast<std::size_t>(nd);
      int k_best = 0;
      for (int k = 1; k < nd; ++k)
        if (s[k] < s[k_best]) k_best = k;
      // The right view: right pixel x - d is cheapest at the d whose sum there is lowest.
      for (int k = 0; k < nd; ++k) {
        const std::int64_t xr = x - (o.min_disparity + k);
        if (xr < 0 || xr >= width) continue;
        if (s[k] < right_min[static_cast<std::size_t>(xr)]) {
          right_min[static_cast<std::size_t>(xr)] = s[k];
          right_best[static_cast<std::size_t>(xr)] = k;
        }
      }
      bool unique = true;
      if (o.uniqueness > 0)
        for (int k = 0; k < nd && unique; ++k)
          if (std::abs(k - k_best) > 1 && static_cast<double>(s[k]) * keep < static_cast<double>(s[k_best])) unique = false;
      if (!unique) {
        c.not_unique += counting;
        continue;
      }
      best[static_cast<std::size_t>(x)] = k_best;
      double d = o.min_disparity + k_best;
      if (o.subpixel && k_best > 0 && k_best < nd - 1) {
        const int below = s[k_best - 1], at = s[k_best], above = s[k_best + 1];
        const int curvature = std::max(below + above - 2 * at, 1);
        d += static_cast<double>(below - above) / (2.0 * curvature);
      }
      out[x] = static_cast<float>(d);
    }
    if (o.lr_max_diff >= 0)
      for (std::int64_t x = 0; x < width; ++x) {
      const int k = best[static_cast<std::size_t>(x)];
      if (k < 0) continue;
      const std::int64_t xr = x - (o.min_disparity + k);
      const bool consistent = xr >= 0 && xr < width && right_best[static_cast<std::size_t>(xr)] >= 0 &&
                              std::abs(right_best[static_cast<std::size_t>(xr)] - k) <= o.lr_max_diff;
      if (!consistent) {
        out[x] = nodata;
        c.inconsistent += in_count(x, y);
        best[static_cast<std::size_t>(x)] = -1;
      }
    }
    if (y >= counted.y && y < counted.y + counted.height)
      for (std::int64_t x = counted.x; x < counted.x + counted.width; ++x) {
        const int k = best[static_cast<std::size_t>(x)];
        c.at_range_end += k == 0 || k == nd - 1;
      }
  }
  c.speckles += stereo::remove_speckles(disparity, width, height, nodata, o.speckle_size, o.speckle_range, counted.x, counted.y,
                                        counted.width, counted.height);
  for (std::int64_t y = counted.y; y < counted.y + counted.height; ++y)
    for (std::int64_t x = counted.x; x < counted.x + counted.width; ++x) c.matched += disparity[y * width + x] != nodata;
  if (counts) *counts += c;
}

}  // namespace luojia
