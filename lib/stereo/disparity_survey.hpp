#pragma once
// The disparities a rectified pair actually holds, surveyed on reduced copies of both views: the
// matcher over the whole reduced scene, its matches' robust extremes scaled back up. CARS and s2p
// bound their search with sparse matches the same way; this one uses the dense matcher on an
// overview, in memory that does not grow with the scene, and is what a pair with RPCs searches
// when nothing (a DEM, heights) says where its surface lies.
#include <cstddef>
#include <cstdint>
#include <string>

namespace luojia::stereo {

struct DisparitySurvey {
  bool found = false;                        // enough matches to trust the extremes
  int min_disparity = 0, max_disparity = 0;  // full-resolution pixels, widened by two reduced pixels
  int factor = 1;                            // pixels of the pair per pixel of the overview
  std::int64_t matches = 0;                  // overview pixels given a disparity
  std::int64_t pixels = 0;                   // overview pixels with data in the left view
};

// Searches min_disparity..max_disparity (full-resolution pixels) between two epipolar views
// (single-band rasters with nodata, of one size) reduced by the smallest power of two whose
// matching costs fit max_bytes; the extremes are the disparities held by at least 1 in 500
// matches (false matches scatter and do not widen the range). found needs 100 matches and one
// for every 100 pixels with data. CPL_DEBUG=luojia logs the matches per disparity.
DisparitySurvey survey_disparities(const std::string& left, const std::string& right, int min_disparity, int max_disparity,
                                   std::size_t max_bytes);

}  // namespace luojia::stereo
