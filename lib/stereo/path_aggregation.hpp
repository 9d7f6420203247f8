#pragma once
// Semi-global matching's cost aggregation with paths of bounded length (see MatchOptions).
#include <luojia/products/stereo.hpp>
#include <luojia/tiling/window.hpp>

#include <cstdint>
#include <vector>

namespace luojia::stereo {

// The census of both views over one window, and where the window lies in the scene.
struct PairCensus {
  const std::uint64_t* left = nullptr;
  const std::uint64_t* right = nullptr;
  const std::uint8_t* left_valid = nullptr;
  const std::uint8_t* right_valid = nullptr;
  std::int64_t width = 0, height = 0;
  std::int64_t origin_x = 0, origin_y = 0;
  // The pixels whose sums are kept (window coordinates); empty: all. Paths still run over the
  // whole window, but only these pixels' sums take memory.
  Window keep{};
};

// Whether the path values fit in 8 bits (the largest is the largest cost + p2, and the sentinel
// past the range must stay above it with p1 added): the faster aggregation.
bool eight_bit_paths(const MatchOptions& o);

// The disparities of one pixel as stored: rounded up to whole vectors (u16_vector.hpp).
inline int padded_disparities(int disparities) { return (disparities + 31) / 32 * 32; }

// Fills sums (keep's pixels row by row x padded_disparities, disparity fastest; lanes past the
// range hold nothing meaningful; the vector may be longer, it only grows) with the sum over the paths of their aggregated costs. Every value is a sum
// of 16-bit integers: the same on any machine and for any tiling.
void aggregate_paths(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums);

}  // namespace luojia::stereo
