// A window of a rectified pair to disparities: census, bounded-path aggregation, the cheapest
// disparity with a uniqueness test and a parabola for the subpixel part, then left-right
// consistency through the right view's disparities taken from the same aggregated costs.
#include <luojia/products/stereo.hpp>

#include <luojia/error.hpp>

#include "stereo/census.hpp"
#include "stereo/path_aggregation.hpp"
#include "stereo/speckle_filter.hpp"
#include "stereo/lane_vectors.hpp"

#include <algorithm>
#include <bit>
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

void check_learned_matcher_options(const MatchOptions& o) {
  if (!(o == MatchOptions{}))
    throw UsageError("model", "sets the disparities itself: the semi-global matcher's options (range, paths, penalties, checks, "
                              "speckles, subpixel) would do nothing with it");
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

std::size_t match_window_bytes(std::int64_t width, std::int64_t height, std::int64_t core_width, std::int64_t core_height,
                               const MatchOptions& o) {
  const auto pixels = static_cast<std::size_t>(width * height);
  const auto nd = static_cast<std::size_t>(o.max_disparity - o.min_disparity + 1);
  const std::int64_t speckle = 2 * std::max(o.speckle_size - 1, 0);
  const std::int64_t span = o.lr_max_diff >= 0 ? 2 * (static_cast<std::int64_t>(o.max_disparity) - o.min_disparity) : 0;
  const auto kept = static_cast<std::size_t>(std::min(width, core_width + speckle + span) * std::min(height, core_height + speckle));
  const std::size_t sums = kept * static_cast<std::size_t>(stereo::padded_disparities(static_cast<int>(nd))) * 2;
  // Both views' census and validity, the padded floats of one, the speckle labels.
  const std::size_t census = pixels * (2 * 8 + 2 + 4 + 4);
  // Row buffers: costs and path values of three directions x two grids x two rows, 16 bits at most.
  const std::size_t rows = static_cast<std::size_t>(width) * (nd + 64) * 2 * (1 + 3 * 2 * 2);
  return sums + census + rows;
}

namespace {

using namespace stereo;

// The largest integer T with T * keep < best: sums up to T are within the uniqueness margin.
std::int64_t uniqueness_limit(std::uint16_t best, double keep) {
  auto t = static_cast<std::int64_t>(std::floor(static_cast<double>(best) / keep));
  while (static_cast<double>(t) * keep >= best) --t;
  while (static_cast<double>(t + 1) * keep < best) ++t;
  return t;
}

// One pixel's aggregated sums (a run of padded_disparities(nd) values) in vectors of kLanes:
// the cheapest disparity index, and whether another one, not next to it, costs about as little.
class DisparityLanes {
public:
  explicit DisparityLanes(int disparities)
      : nd_(disparities), stride_(padded_disparities(disparities)), vectors_(stride_ / kLanes),
        last_lanes_(nd_ % kLanes == 0 ? 0xFFFFFFFFu : (1u << (nd_ % kLanes)) - 1) {
    past_range_ = splat(0);  // 0xFFFF in the last vector's lanes past the range
    for (int i = 0; i < kLanes; ++i) {
      if (stride_ - kLanes + i >= nd_) past_range_[i] = 0xFFFF;
      lane_index_[i] = static_cast<std::uint16_t>(i);
    }
  }
  int stride() const { return stride_; }
  int vectors() const { return vectors_; }

  // Vector v of the sums at s, the lanes past the range at the highest cost.
  u16x32 sums_at(const std::uint16_t* s, int v) const { return v == vectors_ - 1 ? vmax(load(s + v * kLanes), past_range_) : load(s + v * kLanes); }
  // The lowest sum and its first disparity index.
  std::pair<std::uint16_t, int> cheapest(const std::uint16_t* s) const {
    u16x32 m = splat(0xFFFF);
    for (int v = 0; v < vectors_; ++v) m = vmin(m, sums_at(s, v));
    const std::uint16_t lowest = hmin(m);
    for (int v = 0; v < vectors_; ++v)
      if (const std::uint32_t at = lane_mask(sums_at(s, v) == splat(lowest))) return {lowest, v * kLanes + std::countr_zero(at)};
    return {lowest, 0};
  }
  // No disparity but k_best and its neighbours has a sum within the uniqueness margin
  // (keep_share = 1 - uniqueness) of lowest.
  bool unique(const std::uint16_t* s, std::uint16_t lowest, int k_best, double keep_share) const {
    // A best sum of 0 (flat in both views) ties with any other 0: that is not unique either.
    const std::int64_t limit = std::max<std::int64_t>(uniqueness_limit(lowest, keep_share), 0);
    const u16x32 limit_v = splat(static_cast<std::uint16_t>(std::min<std::int64_t>(limit, 0xFFFF)));
    bool unique = true;
    for (int v = 0; v < vectors_ && unique; ++v) {
      std::uint32_t close = lane_mask(sums_at(s, v) <= limit_v) & (v == vectors_ - 1 ? last_lanes_ : 0xFFFFFFFFu);
      for (int k = k_best - 1; k <= k_best + 1; ++k)
        if (k >= v * kLanes && k < (v + 1) * kLanes) close &= ~(1u << (k - v * kLanes));
      unique = close == 0;
    }
    return unique;
  }
  u16x32 lane_index(int v) const { return lane_index_ + static_cast<std::uint16_t>(v * kLanes); }

private:
  int nd_, stride_, vectors_;
  std::uint32_t last_lanes_;  // real lanes of the last vector
  u16x32 past_range_, lane_index_;
};

// The right view's winners along one row, from the same sums: right pixel x - d is cheapest at
// the d whose sum there is lowest (the smallest such d, as left pixels come left to right and only
// a lower sum replaces). Indexed as (width - 1 - xr) + pad so that one left pixel's disparities
// run forwards through it.
class RightWinners {
public:
  RightWinners(const MatchOptions& o, std::int64_t width, int stride)
      : width_(width), pad_(std::max(std::abs(o.min_disparity), std::abs(o.max_disparity)) + 1),
        min_(static_cast<std::size_t>(width + 2 * pad_ + stride)), best_(min_.size()) {}
  void start_row() {
    std::fill(min_.begin(), min_.end(), std::uint16_t{0xFFFF});
    std::fill(best_.begin(), best_.end(), std::uint16_t{0xFFFF});
  }
  // Left pixel x's sums s, its disparity index 0 at right pixel x - min_disparity.
  void offer(const DisparityLanes& lanes, const std::uint16_t* s, std::int64_t x_at_first) {
    const std::size_t base = at(x_at_first);
    for (int v = 0; v < lanes.vectors(); ++v) {
      const u16x32 sv = lanes.sums_at(s, v);
      const u16x32 held = load(min_.data() + base + v * kLanes);
      const auto lower = sv < held;
      store(min_.data() + base + v * kLanes, vmin(sv, held));
      store(best_.data() + base + v * kLanes, lower ? lanes.lane_index(v) : load(best_.data() + base + v * kLanes));
    }
  }
  // The disparity index right pixel xr is cheapest at (0xFFFF: none, or outside the view).
  std::uint16_t best(std::int64_t xr) const { return xr >= 0 && xr < width_ ? best_[at(xr)] : std::uint16_t{0xFFFF}; }

private:
  std::size_t at(std::int64_t xr) const { return static_cast<std::size_t>(width_ - 1 - xr + pad_); }
  std::int64_t width_, pad_;
  std::vector<std::uint16_t> min_, best_;  // cheapest sum so far and its disparity index (0xFFFF none)
};

bool inside(const Window& w, std::int64_t x, std::int64_t y) { return x >= w.x && x < w.x + w.width && y >= w.y && y < w.y + w.height; }

// What is computed: the core (wanted), the speckle filter's reach around it (filtered), and for
// the left-right check the range's span further along the rows (keep: where the right view's
// disparities come from).
struct MatchScope {
  Window wanted, filtered, keep;
};
MatchScope match_scope(const Window* core, std::int64_t width, std::int64_t height, const MatchOptions& o) {
  const Window all{0, 0, width, height};
  MatchScope m;
  m.wanted = core ? intersection(*core, all) : all;
  const std::int64_t speckle = std::max(o.speckle_size - 1, 0);
  m.filtered = intersection({m.wanted.x - speckle, m.wanted.y - speckle, m.wanted.width + 2 * speckle, m.wanted.height + 2 * speckle}, all);
  const std::int64_t span = o.lr_max_diff >= 0 ? static_cast<std::int64_t>(o.max_disparity) - o.min_disparity : 0;
  m.keep = intersection({m.filtered.x - span, m.filtered.y, m.filtered.width + 2 * span, m.filtered.height}, all);
  return m;
}

// Row y's left-right check: a disparity the right view's winner disagrees with by more than
// lr_max_diff is dropped.
void check_left_right(const MatchOptions& o, const MatchScope& m, const RightWinners& right, std::int64_t y, float nodata, float* out,
                      std::vector<std::int32_t>& best, MatchCounts& c) {
  if (o.lr_max_diff < 0) return;
  for (std::int64_t x = m.filtered.x; x < m.filtered.x + m.filtered.width; ++x) {
    const int k = best[static_cast<std::size_t>(x)];
    if (k < 0) continue;
    const std::uint16_t other = right.best(x - (o.min_disparity + k));
    if (other == 0xFFFF || std::abs(static_cast<int>(other) - k) > o.lr_max_diff) {
      out[x] = nodata;
      c.inconsistent += inside(m.wanted, x, y);
      best[static_cast<std::size_t>(x)] = -1;
    }
  }
}

}  // namespace

void match_window(const float* left, const std::uint8_t* left_mask, const float* right, const std::uint8_t* right_mask,
                  std::int64_t width, std::int64_t height, std::int64_t origin_x, std::int64_t origin_y, const MatchOptions& o,
                  float nodata, float* disparity, const Window* core, MatchCounts* counts) {
  check_match_options(o);
  if (width <= 0 || height <= 0) return;
  std::fill(disparity, disparity + width * height, nodata);
  const MatchScope scope = match_scope(core, width, height, o);
  const Window &wanted = scope.wanted, &filtered = scope.filtered, &keep = scope.keep;
  if (wanted.empty()) return;

  // Scratch kept by the thread between tiles: not allocated (and its pages not faulted in) again
  // for every tile.
  thread_local std::vector<std::uint64_t> left_census, right_census;
  thread_local std::vector<std::uint8_t> left_valid, right_valid;
  thread_local std::vector<std::uint16_t> sums;
  census_transform(left, left_mask, width, height, left_census, left_valid);
  census_transform(right, right_mask, width, height, right_census, right_valid);
  PairCensus pair{left_census.data(), right_census.data(), left_valid.data(), right_valid.data(), width, height, origin_x, origin_y};
  pair.keep = keep;
  aggregate_paths(pair, o, sums);

  const int nd = o.max_disparity - o.min_disparity + 1;
  const DisparityLanes lanes(nd);
  RightWinners right_winners(o, width, lanes.stride());
  MatchCounts c;
  std::vector<std::int32_t> best(static_cast<std::size_t>(width));  // per row: best disparity index, -1 none
  const double keep_share = 1.0 - o.uniqueness;
  for (std::int64_t y = keep.y; y < keep.y + keep.height; ++y) {
    float* out = disparity + y * width;
    right_winners.start_row();
    std::fill(best.begin(), best.end(), -1);
    for (std::int64_t x = keep.x; x < keep.x + keep.width; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * width + x);
      if (!left_valid[i]) continue;
      const bool counting = inside(wanted, x, y), output = inside(filtered, x, y);
      c.valid += counting;
      const std::uint16_t* s = sums.data() + static_cast<std::size_t>((y - keep.y) * keep.width + (x - keep.x)) * lanes.stride();
      const auto [lowest, k_best] = lanes.cheapest(s);
      right_winners.offer(lanes, s, x - o.min_disparity);
      if (!output) continue;
      if (o.uniqueness > 0 && !lanes.unique(s, lowest, k_best, keep_share)) {
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
    check_left_right(o, scope, right_winners, y, nodata, out, best, c);
    if (y >= wanted.y && y < wanted.y + wanted.height)
      for (std::int64_t x = wanted.x; x < wanted.x + wanted.width; ++x) {
        const int k = best[static_cast<std::size_t>(x)];
        c.at_range_end += k == 0 || k == nd - 1;
      }
  }
  c.speckles += remove_speckles(disparity, width, height, nodata, o.speckle_size, o.speckle_range, wanted.x, wanted.y, wanted.width,
                                wanted.height);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      float& d = disparity[y * width + x];
      if (!inside(wanted, x, y))
        d = nodata;
      else
        c.matched += d != nodata;
    }
  if (counts) *counts += c;
}

}  // namespace luojia
