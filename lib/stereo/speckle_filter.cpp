#include "stereo/speckle_filter.hpp"

#include <cmath>
#include <vector>

namespace luojia::stereo {

std::int64_t remove_speckles(float* disparity, std::int64_t width, std::int64_t height, float nodata, int size, double range,
                             std::int64_t count_x, std::int64_t count_y, std::int64_t count_width, std::int64_t count_height) {
  if (size <= 0) return 0;
  if (count_width < 0) count_width = width;
  if (count_height < 0) count_height = height;
  const auto n = static_cast<std::size_t>(width * height);
  // 0: not visited; otherwise 1 + the region's number; regions' sizes by number.
  // Kept by the thread between tiles.
  thread_local std::vector<std::int32_t> label;
  thread_local std::vector<std::uint8_t> small;
  thread_local std::vector<std::int64_t> queue;
  label.assign(n, 0);
  small.clear();
  std::int32_t regions = 0;
  for (std::size_t seed = 0; seed < n; ++seed) {
    if (label[seed] || disparity[seed] == nodata) continue;
    label[seed] = ++regions;
    queue.assign(1, static_cast<std::int64_t>(seed));
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const std::int64_t p = queue[head];
      const std::int64_t x = p % width, y = p / width;
      const float v = disparity[p];
      const std::int64_t neighbours[4] = {x > 0 ? p - 1 : -1, x + 1 < width ? p + 1 : -1, y > 0 ? p - width : -1,
                                          y + 1 < height ? p + width : -1};
      for (const std::int64_t q : neighbours) {
        if (q < 0 || label[static_cast<std::size_t>(q)] || disparity[q] == nodata) continue;
        if (std::fabs(static_cast<double>(disparity[q]) - v) > range) continue;
        label[static_cast<std::size_t>(q)] = regions;
        queue.push_back(q);
      }
    }
    small.push_back(static_cast<std::int64_t>(queue.size()) < size);
  }
  std::int64_t removed = 0;
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const auto i = static_cast<std::size_t>(y * width + x);
      if (!label[i] || !small[static_cast<std::size_t>(label[i] - 1)]) continue;
      disparity[i] = nodata;
      removed += x >= count_x && x < count_x + count_width && y >= count_y && y < count_y + count_height;
    }
  return removed;
}

}  // namespace luojia::stereo
