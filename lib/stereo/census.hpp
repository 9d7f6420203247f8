#pragma once
// The census transform: each pixel as the bits "neighbour darker than me" over a 9x7 window. Its
// Hamming distances are the matching costs: blind to gain, offset and any monotonic change of
// the radiometry between the views, which is what two satellite passes differ by.
#include <cstdint>
#include <vector>

namespace luojia::stereo {

constexpr int kCensusRadiusX = 4;  // 9 columns
constexpr int kCensusRadiusY = 3;  // 7 rows
constexpr int kCensusBits = 62;    // every pixel of the window but the centre
// The cost of a disparity where either pixel holds no data: half the bits, no preference.
constexpr std::uint8_t kNeutralCost = kCensusBits / 2;

// Census of a width x height plane. A neighbour without data (or outside the plane) gives bit 0;
// a centre without data gets valid 0 and no census.
void census_transform(const float* pixels, const std::uint8_t* mask, std::int64_t width, std::int64_t height,
                      std::vector<std::uint64_t>& census, std::vector<std::uint8_t>& valid);

}  // namespace luojia::stereo
