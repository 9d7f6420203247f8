#include "stereo/census.hpp"

#include <algorithm>

namespace luojia::stereo {

void census_transform(const float* pixels, const std::uint8_t* mask, std::int64_t width, std::int64_t height,
                      std::vector<std::uint64_t>& census, std::vector<std::uint8_t>& valid) {
  const auto n = static_cast<std::size_t>(width * height);
  census.assign(n, 0);
  valid.assign(mask, mask + n);
  // Pixels without data compare as +infinity: never darker than a centre, so their bit is 0.
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = mask[i] ? pixels[i] : __builtin_inff();
  int bit = 0;
  for (int dy = -kCensusRadiusY; dy <= kCensusRadiusY; ++dy)
    for (int dx = -kCensusRadiusX; dx <= kCensusRadiusX; ++dx) {
      if (dx == 0 && dy == 0) continue;
      // One neighbour offset over the whole plane at a time: the inner loop is a vector compare.
      for (std::int64_t y = std::max<std::int64_t>(0, -dy); y < std::min<std::int64_t>(height, height - dy); ++y) {
        const float* centre = values.data() + y * width;
        const float* other = values.data() + (y + dy) * width + dx;
        std::uint64_t* out = census.data() + y * width;
        const std::int64_t x0 = std::max<std::int64_t>(0, -dx), x1 = std::min<std::int64_t>(width, width - dx);
        for (std::int64_t x = x0; x < x1; ++x) out[x] |= static_cast<std::uint64_t>(other[x] < centre[x]) << bit;
      }
      ++bit;
    }
  for (std::size_t i = 0; i < n; ++i)
    if (!valid[i]) census[i] = 0;
}

}  // namespace luojia::stereo
