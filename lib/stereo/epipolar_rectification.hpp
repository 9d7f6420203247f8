#pragma once
// Epipolar rectification of a satellite pair from its RPCs over the whole scene, as one global
// resampling grid per view (CARS and OTB compute theirs for the scene, not per tile), so that a
// ground point's two images share a row and its height moves it along the row only. Each view has
// an affine map (a rotation for the left view, s2p's affine approximation of pushbroom geometry for
// the right) and a smooth grid of row shifts that bends its rows onto the epipolar curves, which
// turn across a scene: what an affine map alone leaves grows with the scene (pixels over 20000 px
// of oblique views). Both come from the RPCs: points of one view sent to the ground at several
// heights through its model and back into the other view through the other's.
#include <luojia/io/rpc_model.hpp>
#include <luojia/products/stereo.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace luojia::stereo {

// (u, v) = (m[0] c + m[1] r + m[2], m[3] c + m[4] r + m[5]) for image coordinates (c, r) in GDAL's
// corner convention.
using Affine = std::array<double, 6>;
Affine inverse(const Affine& m);
std::array<double, 2> apply(const Affine& m, double c, double r);

// Row shifts on a view's grid: its grid point (u, v) lies where its affine map puts
// (u, v + at(u, v)). Bilinear between nodes step pixels apart from (0, 0), held at the outer nodes
// beyond them; no nodes, no shift.
struct RowShiftGrid {
  double step = 0;
  int columns = 0, rows = 0;
  std::vector<double> values;  // row after row
  double at(double u, double v) const;
};

enum class View { Left, Right };

struct EpipolarGeometry {
  Affine left{}, right{};              // image -> epipolar grid, before the row shifts
  RowShiftGrid left_shift, right_shift;  // what each view's rows are bent by
  std::int64_t width = 0, height = 0;  // the grid: the left image's footprint
  // The image coordinates of grid point (u, v) of a view, and back (corner conventions).
  std::array<double, 2> image_at(View view, double u, double v) const;
  std::array<double, 2> grid_at(View view, double column, double row) const;
  // Disparity (u_left - u_right) of the range's heights, and how it grows per metre.
  double disparity_at_min_height = 0, disparity_at_max_height = 0, disparity_per_metre = 0;
  // What the maps leave across the rows over the virtual matches, in pixels, with the row shifts
  // (root mean square and largest) and with the affine maps alone (largest).
  double vertical_rms = 0, vertical_max = 0;
  double affine_vertical_max = 0;
  // grid -> image, the inverses of left and right (rectify_from_rpc sets them)
  Affine left_back{}, right_back{};
};

// From the models, the images' sizes and the scene's height range (metres above the ellipsoid).
EpipolarGeometry rectify_from_rpc(const RpcModel& left, std::int64_t left_width, std::int64_t left_height, const RpcModel& right,
                                  double min_height, double max_height);

// Resamples band `band` of source onto the epipolar grid as view, its grid pixel (u, v) taken
// from the view's (u + column_offset, v) (a learned matcher's disparities start at 0), bicubic (Keys, a = -0.5, as
// GDAL's cubic), into a Float32 GeoTIFF at path carrying metadata. A grid pixel is nodata where its
// nearest source pixel is outside the image or nodata; beside nodata or the edge it is the
// bilinear mean of the valid pixels around it. Tiles of the grid on threads workers, each reading
// only the window its tile needs, GDAL's block cache held to cache_bytes: memory does not grow with
// the scene. progress(fraction) returning false cancels (Cancelled).
void resample_to_epipolar(const std::string& source, int band, const EpipolarGeometry& geometry, View view, double column_offset,
                          const std::string& path, std::size_t cache_bytes, int threads, const std::function<bool(double)>& progress,
                          const std::vector<std::pair<std::string, std::string>>& metadata = {});

// The grid's maps as metadata items, which a disparity on the grid carries:
// LUOJIA_EPIPOLAR_LEFT and LUOJIA_EPIPOLAR_RIGHT, "a b c d e f" for u = a col + b row + c,
// v = d col + e row + f (image pixel corners to the affine frame's pixel corners);
// LUOJIA_EPIPOLAR_LEFT_SHIFT and LUOJIA_EPIPOLAR_RIGHT_SHIFT, "step columns rows" and the row
// shifts row after row (grid point (u, v) is the affine frame's (u, v + shift), bilinear between
// nodes); LUOJIA_EPIPOLAR_DISPARITY says right u = left u - d.
std::vector<std::pair<std::string, std::string>> epipolar_metadata(const EpipolarGeometry& g);

// The nodata of the epipolar images (no image value is this).
constexpr double kEpipolarNodata = -3.0e38;

}  // namespace luojia::stereo
