// One pass runs the paths that come from above and from the left (rows top to bottom), the other
// those from below and the right. Each path keeps two recursions, restarted on grids half a path
// length apart in scene coordinates, and each pixel adds the one that has run longer: its value
// then depends on at most path_length - 1 pixels back, so tiles with that halo are exact.
//
// Path values fit in 8 bits when the penalties are small (p1 + p2 <= 193, the defaults are):
// 64 disparities per vector instead of 32, half the work. Both widths give the same sums.
#include "stereo/path_aggregation.hpp"

#include "stereo/census.hpp"
#include "stereo/lane_vectors.hpp"

#include <algorithm>
#include <array>
#include <bit>

#if defined(__AVX512VPOPCNTDQ__)
#include <immintrin.h>
#endif

namespace luojia::stereo {
namespace {

// Where along the path a pixel lies (t grows along the path) relative to the grid restarting at
// offset g: 0 where that grid restarts.
inline std::int64_t phase(std::int64_t t, std::int64_t g, std::int64_t length) {
  const std::int64_t p = (t - g) % length;
  return p < 0 ? p + length : p;
}

// One pixel's path values: the vectors of its disparities, and the lanes past the range, held
// at the sentinel (a value never the cheaper neighbour: sentinel + p1 still fits, and beats no
// jump).
template <typename Lane>
struct PathLanes {
  using V = typename LaneVector<Lane>::type;
  static constexpr int lanes = LaneVector<Lane>::lanes;
  int vectors;
  Lane sentinel;
  V pad;  // sentinel in the last vector's lanes past the range, 0 elsewhere
  V p1;
  Lane p2;
};

// A path's first pixel: its cost as it is. Returns the smallest value.
// Vectors is the count of vectors per pixel when known at compile time (the loops then unroll),
// 0 when it is pl.vectors.
template <int Vectors, typename Lane>
inline Lane path_start(const Lane* cost, const PathLanes<Lane>& pl, Lane* out) {
  using V = typename PathLanes<Lane>::V;
  constexpr int n = PathLanes<Lane>::lanes;
  const int vectors = Vectors > 0 ? Vectors : pl.vectors;
  V m = splat<V>(static_cast<Lane>(~Lane{0}));
  for (int v = 0; v < vectors; ++v) {
    V o = load<V>(cost + v * n);
    if (v == vectors - 1) o = vmax(o, pl.pad);
    store(out + v * n, o);
    m = vmin(m, o);
  }
  return static_cast<Lane>(hmin(m));
}

// Hirschmueller's recursion: cost + the cheapest way to arrive from the previous pixel (same
// disparity, one step for p1, any jump for p2) less the previous minimum, so values stay small:
// at most the largest cost + p2. prev[-1] and the lanes past the range hold the sentinel.
template <int Vectors, typename Lane>
inline Lane path_step(const Lane* cost, const Lane* prev, Lane prev_min, const PathLanes<Lane>& pl, Lane* out) {
  using V = typename PathLanes<Lane>::V;
  constexpr int n = PathLanes<Lane>::lanes;
  const int vectors = Vectors > 0 ? Vectors : pl.vectors;
  const V jump = splat<V>(static_cast<Lane>(prev_min + pl.p2)), base = splat<V>(prev_min);
  V m = splat<V>(static_cast<Lane>(~Lane{0}));
  for (int v = 0; v < vectors; ++v) {
    const Lane* p = prev + v * n;
    const V step = vmin(load<V>(p - 1), load<V>(p + 1)) + pl.p1;
    const V best = vmin(vmin(load<V>(p), step), jump);
    V o = load<V>(cost + v * n) + (best - base);
    if (v == vectors - 1) o = vmax(o, pl.pad);
    store(out + v * n, o);
    m = vmin(m, o);
  }
  return static_cast<Lane>(hmin(m));
}

// sums (16-bit, sum_vectors of 32 lanes) += or = a path's values.
inline void accumulate(std::uint16_t* sums, const std::uint16_t* values, int sum_vectors, bool first) {
  for (int v = 0; v < sum_vectors; ++v)
    store(sums + v * kLanes, (first ? u16x32{} : load(sums + v * kLanes)) + load(values + v * kLanes));
}
inline void accumulate(std::uint16_t* sums, const std::uint8_t* values, int sum_vectors, bool first) {
  for (int v = 0; v < sum_vectors; ++v)
    store(sums + v * kLanes, (first ? u16x32{} : load(sums + v * kLanes)) +
                                 __builtin_convertvector(load<u8x32>(values + v * kLanes), u16x32));
}

// The matching costs of one row: census Hamming distances, kNeutralCost where either pixel holds
// no data or the right pixel lies outside the window.
template <typename Lane>
class RowCosts {
public:
  RowCosts(const PairCensus& pair, int min_disparity, int disparities, int stride)
      : pair_(pair), min_d_(min_disparity), max_d_(min_disparity + disparities - 1), disparities_(disparities), stride_(stride),
        pad_(std::max(std::abs(min_disparity), std::abs(min_disparity + disparities - 1)) + 1),
        reversed_(static_cast<std::size_t>(pair.width + 2 * pad_), 0),
        reversed_valid_(reversed_.size(), 0),
        costs_(static_cast<std::size_t>(pair.width * stride_), 0) {}

  const Lane* operator()(std::int64_t y) {
    const std::int64_t w = pair_.width;
    // The right row reversed and padded, so that the disparities of one left pixel read it forwards.
    const std::uint64_t* right = pair_.right + y * w;
    const std::uint8_t* right_valid = pair_.right_valid + y * w;
    for (std::int64_t xr = 0; xr < w; ++xr) {
      reversed_[static_cast<std::size_t>(w - 1 - xr + pad_)] = right[xr];
      reversed_valid_[static_cast<std::size_t>(w - 1 - xr + pad_)] = right_valid[xr];
    }
    const bool row_all_valid = std::all_of(right_valid, right_valid + w, [](std::uint8_t v) { return v != 0; });
    const std::uint64_t* left = pair_.left + y * w;
    const std::uint8_t* left_valid = pair_.left_valid + y * w;
    for (std::int64_t x = 0; x < w; ++x) {
      Lane* c = costs_.data() + x * stride_;
      if (!left_valid[x]) {
        std::fill(c, c + disparities_, static_cast<Lane>(kNeutralCost));
        continue;
      }
      // Right pixel x - d for d = min_d_ + k lies at reversed index w - 1 - x + min_d_ + k + pad_.
      const std::size_t base = static_cast<std::size_t>(w - 1 - x + min_d_ + pad_);
      const std::uint64_t* r = reversed_.data() + base;
      const std::uint8_t* rv = reversed_valid_.data() + base;
      const std::uint64_t l = left[x];
      int k = 0;
#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512BW__)
      const __m512i lv = _mm512_set1_epi64(static_cast<long long>(l));
      for (; k + 8 <= disparities_; k += 8) {
        const __m512i bits = _mm512_popcnt_epi64(_mm512_xor_si512(lv, _mm512_loadu_si512(r + k)));
        // (the maskz forms: GCC 12's plain ones start from an undefined register and warn)
        if constexpr (sizeof(Lane) == 1)
          _mm_storel_epi64(reinterpret_cast<__m128i*>(c + k), _mm512_maskz_cvtepi64_epi8(0xFF, bits));
        else
          _mm_storeu_si128(reinterpret_cast<__m128i*>(c + k), _mm512_maskz_cvtepi64_epi16(0xFF, bits));
      }
#endif
      for (; k < disparities_; ++k) c[k] = static_cast<Lane>(std::popcount(l ^ r[k]));
      if (row_all_valid && x - max_d_ >= 0 && x - min_d_ < w) continue;  // every right pixel in the window, with data
      for (k = 0; k < disparities_; ++k) c[k] = rv[k] ? c[k] : static_cast<Lane>(kNeutralCost);
    }
    return costs_.data();
  }

private:
  const PairCensus& pair_;
  int min_d_, max_d_, disparities_, stride_;
  std::int64_t pad_;
  std::vector<std::uint64_t> reversed_;
  std::vector<std::uint8_t> reversed_valid_;
  std::vector<Lane> costs_;
};

// Path values of one row for one direction and one grid, a slot per pixel: the sentinel, the
// padded disparities, the sentinel (and a vector's worth more, keeping slots aligned).
template <typename Lane>
struct RowPaths {
  std::vector<Lane> values;
  std::vector<Lane> mins;
};

template <typename Lane, int Vectors>
void aggregate(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums) {
  using V = typename PathLanes<Lane>::V;
  constexpr int n = PathLanes<Lane>::lanes;
  const int nd = o.max_disparity - o.min_disparity + 1;
  const int stride = (nd + n - 1) / n * n;
  const int sum_stride = padded_disparities(nd), sum_vectors = sum_stride / kLanes;
  PathLanes<Lane> pl{stride / n, static_cast<Lane>(sizeof(Lane) == 1 ? 255 - o.p1 : 0x7000), splat<V>(0),
                     splat<V>(static_cast<Lane>(o.p1)), static_cast<Lane>(o.p2)};
  for (int i = 0; i < n; ++i)
    if (stride - n + i >= nd) pl.pad[i] = pl.sentinel;
  const std::int64_t w = pair.width, h = pair.height;
  const std::int64_t length = o.path_length, half = o.path_length / 2;
  const std::array<std::int64_t, 2> grid_offset{0, half};
  const std::size_t slot = static_cast<std::size_t>(stride) + n;
  const Window keep = pair.keep.empty() ? Window{0, 0, w, h} : pair.keep;
  // Every value is written by the first path of the forward pass before any is added to. Only
  // grown: a smaller tile after a larger one reuses the memory without clearing it.
  if (const auto needed = static_cast<std::size_t>(keep.area() * sum_stride); sums.size() < needed) sums.resize(needed);
  RowCosts<Lane> row_costs(pair, o.min_disparity, nd, stride);

  // Three row-to-row directions (predecessor at x - 1, x, x + 1 in the previous row processed;
  // only the middle one with 4 paths) x two grids, previous and current row.
  const int row_directions = o.paths == 8 ? 3 : 1;
  const std::array<int, 3> offsets = o.paths == 8 ? std::array<int, 3>{-1, 0, 1} : std::array<int, 3>{0, 0, 0};
  std::array<std::array<RowPaths<Lane>, 2>, 3> previous, current;
  for (int k = 0; k < row_directions; ++k)
    for (int g = 0; g < 2; ++g)
      for (auto* rows : {&previous[k][g], &current[k][g]}) {
        rows->values.assign(static_cast<std::size_t>(w) * slot, pl.sentinel);
        rows->mins.assign(static_cast<std::size_t>(w), 0);
      }
  std::array<std::vector<Lane>, 2> along_previous, along_current;  // the horizontal path, per grid
  std::array<Lane, 2> along_previous_min{}, along_current_min{};
  for (int g = 0; g < 2; ++g) {
    along_previous[g].assign(slot, pl.sentinel);
    along_current[g].assign(slot, pl.sentinel);
  }

  for (const bool forward : {true, false}) {
    const int sign = forward ? 1 : -1;
    for (std::int64_t i = 0; i < h; ++i) {
      const std::int64_t y = forward ? i : h - 1 - i;
      const Lane* costs = row_costs(y);
      const std::int64_t t_row = sign * (pair.origin_y + y);
      std::array<bool, 2> row_restart{};
      for (int g = 0; g < 2; ++g) row_restart[g] = i == 0 || phase(t_row, grid_offset[g], length) == 0;
      const int row_grid = phase(t_row, 0, length) >= half ? 0 : 1;
      const bool row_kept = y >= keep.y && y < keep.y + keep.height;
      for (std::int64_t j = 0; j < w; ++j) {
        const std::int64_t x = forward ? j : w - 1 - j;
        const Lane* cost = costs + x * stride;
        const bool kept = row_kept && x >= keep.x && x < keep.x + keep.width;
        std::uint16_t* sum = kept ? sums.data() + ((y - keep.y) * keep.width + (x - keep.x)) * sum_stride : nullptr;
        // Along the row.
        const std::int64_t t_x = sign * (pair.origin_x + x);
        for (int g = 0; g < 2; ++g) {
          Lane* out = along_current[g].data() + 1;
          along_current_min[g] = j == 0 || phase(t_x, grid_offset[g], length) == 0
                                     ? path_start<Vectors>(cost, pl, out)
                                     : path_step<Vectors>(cost, along_previous[g].data() + 1, along_previous_min[g], pl, out);
        }
        if (kept) accumulate(sum, along_current[phase(t_x, 0, length) >= half ? 0 : 1].data() + 1, sum_vectors, forward);
        std::swap(along_previous, along_current);
        std::swap(along_previous_min, along_current_min);
        // From the previous row.
        for (int k = 0; k < row_directions; ++k) {
          const std::int64_t xp = x + offsets[k];
          for (int g = 0; g < 2; ++g) {
            Lane* out = current[k][g].values.data() + static_cast<std::size_t>(x) * slot + 1;
            Lane& out_min = current[k][g].mins[static_cast<std::size_t>(x)];
            out_min = row_restart[g] || xp < 0 || xp >= w
                          ? path_start<Vectors>(cost, pl, out)
                          : path_step<Vectors>(cost, previous[k][g].values.data() + static_cast<std::size_t>(xp) * slot + 1,
                                      previous[k][g].mins[static_cast<std::size_t>(xp)], pl, out);
          }
          if (kept) accumulate(sum, current[k][row_grid].values.data() + static_cast<std::size_t>(x) * slot + 1, sum_vectors, false);
        }
      }
      std::swap(previous, current);
    }
  }
}

}  // namespace

bool eight_bit_paths(const MatchOptions& o) { return o.p1 + o.p2 <= 255 - 62; }

namespace {

// With the count of vectors per pixel fixed at compile time for the common ranges (up to 256
// disparities in 8 bits, 128 in 16).
template <typename Lane>
void aggregate_with(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums) {
  const int vectors = (o.max_disparity - o.min_disparity + LaneVector<Lane>::lanes) / LaneVector<Lane>::lanes;
  switch (vectors) {
    case 1: return aggregate<Lane, 1>(pair, o, sums);
    case 2: return aggregate<Lane, 2>(pair, o, sums);
    case 3: return aggregate<Lane, 3>(pair, o, sums);
    case 4: return aggregate<Lane, 4>(pair, o, sums);
    default: return aggregate<Lane, 0>(pair, o, sums);
  }
}

}  // namespace

void aggregate_paths(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums) {
  if (eight_bit_paths(o))
    aggregate_with<std::uint8_t>(pair, o, sums);
  else
    aggregate_with<std::uint16_t>(pair, o, sums);
}

}  // namespace luojia::stereo
