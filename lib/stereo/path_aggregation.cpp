// One pass runs the paths that come from above and from the left (rows top to bottom), the other
// those from below and the right. Each path keeps two recursions, restarted on grids half a path
// length apart in scene coordinates, and each pixel adds the one that has run longer: its value
// then depends on at most path_length - 1 pixels back, so tiles with that halo are exact.
#include "stereo/path_aggregation.hpp"

#include "stereo/census.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace luojia::stereo {
namespace {

// Beyond either end of the disparity range: never the cheaper neighbour.
constexpr std::uint16_t kSentinel = 0x7000;

// Where along the path a pixel lies (t grows along the path) relative to the grid restarting at
// offset g: 0 where that grid restarts.
inline std::int64_t phase(std::int64_t t, std::int64_t g, std::int64_t length) {
  const std::int64_t p = (t - g) % length;
  return p < 0 ? p + length : p;
}

// A path's first pixel: its cost as it is.
inline void path_start(const std::uint8_t* cost, int disparities, std::uint16_t* out, std::uint16_t& out_min) {
  std::uint16_t m = 0xFFFF;
  for (int d = 0; d < disparities; ++d) {
    out[d] = cost[d];
    m = std::min<std::uint16_t>(m, cost[d]);
  }
  out_min = m;
}

// Hirschmueller's recursion: cost + the cheapest way to arrive from the previous pixel (same
// disparity, one step for p1, any jump for p2), less the previous minimum so values stay small.
// prev[-1] and prev[disparities] hold kSentinel.
inline void path_step(const std::uint8_t* cost, const std::uint16_t* prev, std::uint16_t prev_min, int disparities,
                      std::uint16_t p1, std::uint16_t p2, std::uint16_t* out, std::uint16_t& out_min) {
  const std::uint16_t jump = static_cast<std::uint16_t>(prev_min + p2);
  std::uint16_t m = 0xFFFF;
  for (int d = 0; d < disparities; ++d) {
    const std::uint16_t step = static_cast<std::uint16_t>(std::min(prev[d - 1], prev[d + 1]) + p1);
    const std::uint16_t best = std::min(std::min(prev[d], step), jump);
    const auto v = static_cast<std::uint16_t>(cost[d] + best - prev_min);
    out[d] = v;
    m = std::min(m, v);
  }
  out_min = m;
}

inline void add_to(std::uint16_t* sums, const std::uint16_t* values, int disparities) {
  for (int d = 0; d < disparities; ++d) sums[d] = static_cast<std::uint16_t>(sums[d] + values[d]);
}

// The matching costs of one row: census Hamming distances, kNeutralCost where either pixel holds
// no data or the right pixel lies outside the window.
class RowCosts {
public:
  RowCosts(const PairCensus& pair, int min_disparity, int disparities)
      : pair_(pair), min_d_(min_disparity), disparities_(disparities),
        pad_(std::max(std::abs(min_disparity), std::abs(min_disparity + disparities - 1)) + 1),
        reversed_(static_cast<std::size_t>(pair.width + 2 * pad_), 0),
        reversed_valid_(reversed_.size(), 0),
        costs_(static_cast<std::size_t>(pair.width * disparities)) {}

  const std::uint8_t* operator()(std::int64_t y) {
    const std::int64_t w = pair_.width;
    // The right row reversed and padded, so that the disparities of one left pixel read it forwards.
    const std::uint64_t* right = pair_.right + y * w;
    const std::uint8_t* right_valid = pair_.right_valid + y * w;
    for (std::int64_t xr = 0; xr < w; ++xr) {
      reversed_[static_cast<std::size_t>(w - 1 - xr + pad_)] = right[xr];
      reversed_valid_[static_cast<std::size_t>(w - 1 - xr + pad_)] = right_valid[xr];
    }
    const std::uint64_t* left = pair_.left + y * w;
    const std::uint8_t* left_valid = pair_.left_valid + y * w;
    for (std::int64_t x = 0; x < w; ++x) {
      std::uint8_t* c = costs_.data() + x * disparities_;
      if (!left_valid[x]) {
        std::fill(c, c + disparities_, kNeutralCost);
        continue;
      }
      // Right pixel x - d for d = min_d_ + k lies at reversed index w - 1 - x + min_d_ + k + pad_.
      const std::size_t base = static_cast<std::size_t>(w - 1 - x + min_d_ + pad_);
      const std::uint64_t* r = reversed_.data() + base;
      const std::uint8_t* rv = reversed_valid_.data() + base;
      const std::uint64_t l = left[x];
      for (int k = 0; k < disparities_; ++k)
        c[k] = rv[k] ? static_cast<std::uint8_t>(std::popcount(l ^ r[k])) : kNeutralCost;
    }
    return costs_.data();
  }

private:
  const PairCensus& pair_;
  int min_d_, disparities_;
  std::int64_t pad_;
  std::vector<std::uint64_t> reversed_;
  std::vector<std::uint8_t> reversed_valid_;
  std::vector<std::uint8_t> costs_;
};

// Path values of one row for one direction and one grid: disparities + 2 entries per pixel, the
// first and last kSentinel.
struct RowPaths {
  std::vector<std::uint16_t> values;
  std::vector<std::uint16_t> mins;
};

}  // namespace

void aggregate_paths(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums) {
  const int nd = o.max_disparity - o.min_disparity + 1;
  const std::int64_t w = pair.width, h = pair.height;
  const std::int64_t length = o.path_length, half = o.path_length / 2;
  const std::array<std::int64_t, 2> grid_offset{0, half};
  const auto p1 = static_cast<std::uint16_t>(o.p1), p2 = static_cast<std::uint16_t>(o.p2);
  const std::size_t stride = static_cast<std::size_t>(nd) + 2;
  sums.assign(static_cast<std::size_t>(w * h * nd), 0);
  RowCosts row_costs(pair, o.min_disparity, nd);

  // Three row-to-row directions (predecessor at x - 1, x, x + 1 in the previous row processed;
  // only the middle one with 4 paths) x two grids, previous and current row.
  const int row_directions = o.paths == 8 ? 3 : 1;
  const std::array<int, 3> offsets = o.paths == 8 ? std::array<int, 3>{-1, 0, 1} : std::array<int, 3>{0, 0, 0};
  std::array<std::array<RowPaths, 2>, 3> previous, current;
  for (int k = 0; k < row_directions; ++k)
    for (int g = 0; g < 2; ++g)
      for (auto* rows : {&previous[k][g], &current[k][g]}) {
        rows->values.assign(static_cast<std::size_t>(w) * stride, kSentinel);
        rows->mins.assign(static_cast<std::size_t>(w), 0);
      }
  std::array<std::vector<std::uint16_t>, 2> along_previous, along_current;  // the horizontal path, per grid
  std::array<std::uint16_t, 2> along_previous_min{}, along_current_min{};
  for (int g = 0; g < 2; ++g) {
    along_previous[g].assign(stride, kSentinel);
    along_current[g].assign(stride, kSentinel);
  }

  for (const bool forward : {true, false}) {
    const int sign = forward ? 1 : -1;
    for (std::int64_t i = 0; i < h; ++i) {
      const std::int64_t y = forward ? i : h - 1 - i;
      const std::uint8_t* costs = row_costs(y);
      const std::int64_t t_row = sign * (pair.origin_y + y);
      std::array<bool, 2> row_restart{};
      for (int g = 0; g < 2; ++g) row_restart[g] = i == 0 || phase(t_row, grid_offset[g], length) == 0;
      const int row_grid = phase(t_row, 0, length) >= half ? 0 : 1;
      for (std::int64_t j = 0; j < w; ++j) {
        const std::int64_t x = forward ? j : w - 1 - j;
        const std::uint8_t* cost = costs + x * nd;
        std::uint16_t* sum = sums.data() + (y * w + x) * nd;
        // Along the row.
        const std::int64_t t_x = sign * (pair.origin_x + x);
        for (int g = 0; g < 2; ++g) {
          std::uint16_t* out = along_current[g].data() + 1;
          if (j == 0 || phase(t_x, grid_offset[g], length) == 0)
            path_start(cost, nd, out, along_current_min[g]);
          else
            path_step(cost, along_previous[g].data() + 1, along_previous_min[g], nd, p1, p2, out, along_current_min[g]);
        }
        add_to(sum, along_current[phase(t_x, 0, length) >= half ? 0 : 1].data() + 1, nd);
        std::swap(along_previous, along_current);
        std::swap(along_previous_min, along_current_min);
        // From the previous row.
        for (int k = 0; k < row_directions; ++k) {
          const std::int64_t xp = x + offsets[k];
          for (int g = 0; g < 2; ++g) {
            std::uint16_t* out = current[k][g].values.data() + static_cast<std::size_t>(x) * stride + 1;
            std::uint16_t& out_min = current[k][g].mins[static_cast<std::size_t>(x)];
            if (row_restart[g] || xp < 0 || xp >= w)
              path_start(cost, nd, out, out_min);
            else
              path_step(cost, previous[k][g].values.data() + static_cast<std::size_t>(xp) * stride + 1,
                        previous[k][g].mins[static_cast<std::size_t>(xp)], nd, p1, p2, out, out_min);
          }
          add_to(sum, current[k][row_grid].values.data() + static_cast<std::size_t>(x) * stride + 1, nd);
        }
      }
      std::swap(previous, current);
    }
  }
}

}  // namespace luojia::stereo
