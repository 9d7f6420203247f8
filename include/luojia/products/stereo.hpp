#pragma once
// Dense stereo matching of a rectified (epipolar) pair: census costs, semi-global matching whose
// paths have a bounded length, so a disparity depends on a bounded neighbourhood and a tile with
// the right halo gives exactly the whole scene's disparity, in memory bounded by the tile.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace luojia {

// How left pixel x meets its right pixel: x - d, for d in [min_disparity, max_disparity].
struct MatchOptions {
  int min_disparity = 0;
  int max_disparity = 63;  // inclusive
  int paths = 8;           // 8 (every 45 degrees) or 4 (rows and columns)
  // Each path restarts every path_length pixels, on two grids half a length apart fixed in
  // scene coordinates; a pixel takes the grid whose path has run at least half a length. So a
  // disparity sees at most path_length - 1 pixels back along each path, whatever the tiling.
  int path_length = 32;
  int p1 = 10;   // penalty of a one-pixel disparity step between neighbours (census bits)
  int p2 = 120;  // penalty of a larger step
  // Refused when another disparity (two or more away) costs at most this fraction more than the best.
  double uniqueness = 0.10;
  // Left-right consistency: largest difference between the left disparity and the right view's
  // at the matched pixel; negative turns the check off.
  int lr_max_diff = 1;
  // Connected regions of similar disparity (4-neighbours within speckle_range) smaller than
  // speckle_size pixels are removed; 0 turns the filter off.
  int speckle_size = 100;
  double speckle_range = 1.0;
  bool subpixel = true;  // parabola through the aggregated costs around the best disparity

  bool operator==(const MatchOptions&) const = default;
};

// Refuses options that do not make a matcher (UsageError naming the field).
LUOJIA_API void check_match_options(const MatchOptions& o);
// Refuses the matcher's options beside a learned matcher (`model`), which sets the disparities
// itself: they would do nothing (UsageError naming `model`).
LUOJIA_API void check_learned_matcher_options(const MatchOptions& o);

// How far a disparity depends on the pair, in pixels each side: the halo a tile needs. x looks
// further left than right for positive disparities (the right view's match lies to the left).
LUOJIA_API Margins match_reach(const MatchOptions& o);

// Bytes match_window allocates for a width x height window whose core is core_width x
// core_height (its largest part: the aggregated costs around the core, 16 bits per disparity).
LUOJIA_API std::size_t match_window_bytes(std::int64_t width, std::int64_t height, std::int64_t core_width,
                                          std::int64_t core_height, const MatchOptions& o);

// What match_window counts.
struct MatchCounts {
  std::int64_t valid = 0;        // left pixels holding data
  std::int64_t matched = 0;      // given a disparity
  std::int64_t not_unique = 0;   // refused by the uniqueness test
  std::int64_t inconsistent = 0; // refused by the left-right check
  std::int64_t speckles = 0;     // removed as speckles
  // Matched at the range's first or last disparity: many of them say the range is too narrow.
  std::int64_t at_range_end = 0;
  MatchCounts& operator+=(const MatchCounts& other);
};

// Matches one window of the pair (both planes width x height floats, row-major, masks 1 where a
// pixel holds data) whose top-left pixel is (origin_x, origin_y) in scene coordinates (the paths'
// restart grids are fixed there). Writes disparity over the window: over core (the whole window
// when null), nodata elsewhere; only core's pixels are computed, counted and kept in memory with
// what they need. A pixel is exact (equal to a match of the whole scene) when the window reaches
// match_reach beyond it, or to the scene's edge and past it with pixels without data: a tile's
// core with the tile's halo.
LUOJIA_API void match_window(const float* left, const std::uint8_t* left_mask, const float* right,
                             const std::uint8_t* right_mask, std::int64_t width, std::int64_t height,
                             std::int64_t origin_x, std::int64_t origin_y, const MatchOptions& o,
                             float nodata, float* disparity, const Window* core = nullptr,
                             MatchCounts* counts = nullptr);

// A rectified pair to products on the left image's grid.
struct StereoOptions {
  MatchOptions match;
  int left_band = 1;
  int right_band = 1;
  float nodata = -9999.0f;  // of the disparity and depth products
  // depth = focal * baseline / (disparity + disparity_offset), written when depth is given:
  // baseline in metres (or any length unit, which depth then has), focal in pixels,
  // disparity_offset the principal points' x difference (right minus left, Middlebury's doffs).
  std::string depth;
  double baseline = 0.0;
  double focal = 0.0;
  double disparity_offset = 0.0;
  std::int64_t tile = 512;  // core size; the halo comes from match_reach
  OutputOptions output;
  StreamOptions stream;
  // A learned matcher instead of census and SGM: an ONNX network with two inputs (left, right:
  // NCHW, left_band and right_band) and one output, the disparity (N, 1, H, W) in this convention
  // (GC-Net, PSMNet: a cost volume, 3-D convolutions, soft-argmin). It runs tile by tile with the
  // halo its graph analysis finds (the cost volume's shifts included), so tiles equal one
  // whole-image run; the matcher's own options must stay at their defaults.
  std::string model;
  const nn::LayerRegistry* registry = nullptr;  // the model's layers; default: the built-ins
  nn::LoadOptions load;  // with `model`: the kernels' instruction set (isa) and Winograd
};

struct StereoReport {
  MatchCounts counts;
  Margins halo;
  std::int64_t reach = 0;  // a learned matcher's receptive radius (its cost volume's shifts included), pixels
  std::int64_t tiles = 0;
  int tiles_in_flight = 0;
  std::size_t bytes_per_tile = 0;
  std::vector<std::string> written;
};

// Matches LEFT against RIGHT (same size, rows epipolar) and writes the disparity (Float32,
// nodata options.nodata) to disparity_path, and the depth when asked, both carrying LEFT's
// georeferencing. Products appear only when complete.
LUOJIA_API StereoReport match_stereo(const std::string& left, const std::string& right,
                                     const std::string& disparity_path, const StereoOptions& options = {});

}  // namespace luojia

namespace luojia {

// A satellite pair with RPCs to a DSM: epipolar rectification from the RPCs, matching, the two
// lines of sight intersected for every matched pixel, the points gridded on a map.
struct DsmOptions {
  StereoOptions stereo;  // matching, bands, tile, output format, threads, memory, progress
  // The scene's heights (metres above the WGS84 ellipsoid), which set the disparity range: from
  // a DEM covering the scene (its lowest and highest values under the left image, widened by
  // height_margin for what stands on the ground), or given. Otherwise the disparities the pair
  // holds, surveyed on reduced copies of the epipolar views within the left RPC's validity range
  // (height_margin wider on the side of greater heights: buildings finer than the survey's pixels).
  std::string dem;
  std::optional<double> min_height, max_height;
  double height_margin = 50.0;
  int max_disparity_span = 256;  // wider ranges are cut around their middle, with a warning
  std::optional<int> min_disparity, max_disparity;  // instead of the heights' range
  // The DSM's grid: CRS (GDAL's -t_srs forms; default the scene centre's UTM zone) and cell size
  // in its units (default the left image's ground sample distance).
  std::string crs;
  double resolution = 0.0;
  std::string reduction = "median";  // of the heights falling in a cell: median, max, mean or min
  std::string disparity;             // also write the epipolar disparity here
  // Also write every kept point here, on the DSM's CRS (x, y on the map, z its height): the
  // point cloud before gridding, for point-cloud tools. .las: ASPRS LAS 1.4 (.laz refused: no
  // LASzip in Debian 12); else a 3-D point layer (.fgb streams fastest, .gpkg, .geojson, .shp).
  std::string point_cloud;
  // Points whose lines of sight miss each other by more than this (pixels, RMS) are dropped.
  double max_intersection_residual = 1.0;
  // A cell without points of its own whose 8 neighbours hold points in at least 3 takes the
  // reduction of those neighbours' points (band 2 says 0 points): the one- and two-cell holes a
  // point spacing about the cell's leaves (half of a scene's empty cells). Off: such cells stay nodata.
  bool fill_holes = true;
};

struct DsmReport {
  StereoReport matching;
  std::int64_t epipolar_width = 0, epipolar_height = 0;
  double vertical_rms = 0, vertical_max = 0;  // the rectification's residual vertical disparity, px
  double min_height = 0, max_height = 0;      // the heights the grid is made for: given, the DEM's, or surveyed
  int min_disparity = 0, max_disparity = 0;
  bool range_capped = false;
  // Without a DEM or heights, the disparities were surveyed on an overview reduced survey_factor
  // times (survey_matches matches there); surveyed is false when too few matched (the heights'
  // range was searched).
  bool surveyed = false;
  int survey_factor = 0;
  std::int64_t survey_matches = 0;
  double disparity_per_metre = 0;
  std::int64_t points = 0;          // intersected points kept
  std::int64_t dropped_points = 0;  // missed by more than max_intersection_residual or outside the range
  std::int64_t cells = 0;           // DSM cells with a height
  std::int64_t filled_cells = 0;    // of which from their neighbours' points (fill_holes)
  // A learned matcher that reaches fewer pixels (matching.reach) than the disparity range spans:
  // it searches fewer disparities than the heights need and cannot find them all.
  bool matcher_short = false;
  std::int64_t width = 0, height = 0;
  std::string crs_wkt;
  std::vector<std::string> written;
};

// LEFT and RIGHT carry RPCs (GeoTIFF tags, .RPB or _RPC.TXT). Writes the DSM (Float32 heights,
// nodata -9999; band 2 the points per cell, band 3 their median absolute deviation) with the
// grid's CRS and geotransform; heights are ellipsoidal (WGS84), as the RPCs give them.
LUOJIA_API DsmReport stereo_dsm(const std::string& left, const std::string& right, const std::string& dsm_path,
                                const DsmOptions& options = {});

}  // namespace luojia
