#pragma once
// Epipolar rectification of a satellite pair from its RPCs: one affine map per view over the
// whole scene (s2p's affine approximation of pushbroom geometry, computed globally rather than
// per tile), so that a ground point's two images share a row and its height moves it along the
// row only. The maps come from virtual matches: points of the left image sent to the ground at
// several heights through its RPC and back into the right image through the other.
#include <luojia/io/rpc_model.hpp>
#include <luojia/products/stereo.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace luojia::stereo {

// (u, v) = (m[0] c + m[1] r + m[2], m[3] c + m[4] r + m[5]) for image coordinates (c, r) in GDAL's
// corner convention.
using Affine = std::array<double, 6>;
Affine inverse(const Affine& m);
std::array<double, 2> apply(const Affine& m, double c, double r);

struct EpipolarGeometry {
  Affine left{}, right{};            // image -> epipolar grid
  std::int64_t width = 0, height = 0;  // the grid: the left image's footprint
  // Disparity (u_left - u_right) of the range's heights, and how it grows per metre.
  double disparity_at_min_height = 0, disparity_at_max_height = 0, disparity_per_metre = 0;
  // What the affine maps leave across the rows over the virtual matches, in pixels.
  double vertical_rms = 0, vertical_max = 0;
};

// From the models, the images' sizes and the scene's height range (metres above the ellipsoid).
EpipolarGeometry rectify_from_rpc(const RpcModel& left, std::int64_t left_width, std::int64_t left_height, const RpcModel& right,
                                  double min_height, double max_height);

// Resamples band `band` of source onto the epipolar grid through map (image -> grid), bicubic,
// into a Float32 GeoTIFF at path (nodata where the grid falls outside the image or on its
// nodata) carrying metadata; memory bounded by GDAL's warper (memory_limit bytes), threads workers.
void warp_to_epipolar(const std::string& source, int band, const Affine& map, std::int64_t width, std::int64_t height,
                      const std::string& path, double memory_limit, int threads,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {});

// The grid's maps as metadata items, which a disparity on the grid carries:
// LUOJIA_EPIPOLAR_LEFT and LUOJIA_EPIPOLAR_RIGHT, "a b c d e f" for u = a col + b row + c,
// v = d col + e row + f (image pixel corners to grid pixel corners); LUOJIA_EPIPOLAR_DISPARITY
// says right u = left u - d.
std::vector<std::pair<std::string, std::string>> epipolar_metadata(const EpipolarGeometry& g);

// The nodata of the epipolar images (no image value is this).
constexpr double kEpipolarNodata = -3.0e38;

}  // namespace luojia::stereo
