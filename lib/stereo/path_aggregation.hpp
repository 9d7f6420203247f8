#pragma once
// Semi-global matching's cost aggregation with paths of bounded length (see MatchOptions).
#include <luojia/products/stereo.hpp>

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
};

// Fills sums (width x height x disparities, disparity fastest) with the sum over the paths of
// their aggregated costs. Every value is a sum of 16-bit integers: the same on any machine and
// for any tiling.
void aggregate_paths(const PairCensus& pair, const MatchOptions& o, std::vector<std::uint16_t>& sums);

}  // namespace luojia::stereo
