#include "stereo/census.hpp"

#include <algorithm>

namespace luojia::stereo {

void census_transform(const float* pixels, const std::uint8_t* mask, std::int64_t width, std::int64_t height,
                      std::vector<std::uint64_t>& census, std::vector<std::uint8_t>& valid) {
  const auto n = static_cast<std::size_t>(width * height);
  if (census.size() < n) census.resize(n);  // only grown: every value below n is written
  valid.assign(mask, mask + n);
  // Pixels without data compare as +infinity: never darker than a centre, so their bit is 0.
  // Rows padded by the window's reach on every side with the same, so no bound is tested.
  const std::int64_t padded_width = width + 2 * kCensusRadiusX;
  thread_local std::vector<float> values;
  values.assign(static_cast<std::size_t>(padded_width * (height + 2 * kCensusRadiusY)), __builtin_inff());
  for (std::int64_t y = 0; y < height; ++y) {
    float* row = values.data() + (y + kCensusRadiusY) * padded_width + kCensusRadiusX;
    for (std::int64_t x = 0; x < width; ++x) row[x] = mask[y * width + x] ? pixels[y * width + x] : __builtin_inff();
  }
  // One row at a time, every neighbour offset over it: the row's bits stay in the first-level cache.
  for (std::int64_t y = 0; y < height; ++y) {
    std::uint64_t* out = census.data() + y * width;
    std::fill(out, out + width, 0);
    const float* centre = values.data() + (y + kCensusRadiusY) * padded_width + kCensusRadiusX;
    int bit = 0;
    for (int dy = -kCensusRadiusY; dy <= kCensusRadiusY; ++dy)
      for (int dx = -kCensusRadiusX; dx <= kCensusRadiusX; ++dx) {
        if (dx == 0 && dy == 0) continue;
        const float* other = centre + dy * padded_width + dx;
        for (std::int64_t x = 0; x < width; ++x) out[x] |= static_cast<std::uint64_t>(other[x] < centre[x]) << bit;
        ++bit;
      }
    const std::uint8_t* v = valid.data() + y * width;
    for (std::int64_t x = 0; x < width; ++x) out[x] = v[x] ? out[x] : 0;
  }
}

}  // namespace luojia::stereo
