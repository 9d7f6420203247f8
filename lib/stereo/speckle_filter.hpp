#pragma once
// Removing speckles: small islands of disparity unlike their surroundings, mismatches that survive
// the consistency checks.
#include <cstdint>

namespace luojia::stereo {

// Sets to nodata every pixel whose connected region (4-neighbours whose disparities differ by at
// most range) has fewer than size pixels. Returns the pixels removed within count_window (the
// whole plane when null).
//
// Exact on windows: a region smaller than size lies within size - 1 pixels of each of its pixels,
// and a larger one has size pixels that close, so a pixel's verdict needs only the window of
// radius size - 1 around it (the halo a tile needs).
std::int64_t remove_speckles(float* disparity, std::int64_t width, std::int64_t height, float nodata, int size, double range,
                             std::int64_t count_x = 0, std::int64_t count_y = 0, std::int64_t count_width = -1,
                             std::int64_t count_height = -1);

}  // namespace luojia::stereo
