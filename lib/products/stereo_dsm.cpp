// A satellite pair with RPCs to a DSM, in five streamed steps, each exact under tiling:
//  1. the height range (given, from a DEM, or the RPCs') sets the disparity range;
//  2. both views resampled onto one epipolar grid (global affine maps from the RPCs);
//  3. matched (luojia-stereo's matcher, tiles with its halo);
//  4. every matched pixel's two lines of sight intersected (Gauss-Newton on both RPCs, started
//     from an affine fit of the virtual matches, so each point depends on its pixel alone), and
//     put on the map (X, Y, height: a temporary raster on the epipolar grid);
//  5. the DSM's cells reduce the heights of the points falling in them (median by default: an
//     order-free reduction), each DSM tile reading the epipolar window its cells can come from.
#include <luojia/products/stereo.hpp>

#include <luojia/error.hpp>
#include <luojia/io/crs.hpp>
#include <luojia/io/rpc_model.hpp>
#include <luojia/io/vector_format.hpp>

#include "engine/scaled_progress.hpp"
#include "io/band_stack.hpp"
#include "io/file_names.hpp"
#include "io/gdal_support.hpp"
#include "io/las_writer.hpp"
#include "io/vector_output.hpp"
#include "model_task/model_loading.hpp"
#include "stereo/disparity_survey.hpp"
#include "stereo/epipolar_rectification.hpp"

#include <Eigen/Dense>
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>

namespace luojia {
namespace {

using stereo::Affine;

constexpr float kNodata = -9999.0f;

struct Transform {
  // WGS84 lon/lat (and ellipsoidal height) -> the map (and its heights); the map -> WGS84 lon/lat.
  std::unique_ptr<OGRCoordinateTransformation> forward, backward;
  bool vertical = false;  // the map CRS is compound: heights go to its vertical datum (a geoid)
  std::string vertical_name;  // that datum's CRS, as the CRS names it
};

Transform map_transform(const std::string& crs_wkt) {
  OGRSpatialReference wgs84, map;
  map.importFromWkt(crs_wkt.c_str());
  map.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  Transform t;
  t.vertical = map.IsCompound();
  if (t.vertical) t.vertical_name = map.GetAttrValue("COMPD_CS|VERT_CS") ? map.GetAttrValue("COMPD_CS|VERT_CS") : "the vertical CRS";
  // With a vertical datum the points leave WGS84 as 3-D (EPSG:4979: heights above the ellipsoid),
  // and PROJ may not fall back on a "ballpark" operation, which keeps heights unchanged when the
  // geoid's grid is missing: that would be a wrong DSM without a word.
  if (t.vertical) wgs84.importFromEPSG(4979);
  else wgs84.SetWellKnownGeogCS("WGS84");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRCoordinateTransformationOptions strict;
  if (t.vertical) strict.SetBallparkAllowed(false);
  CPLErrorHandlerPusher quiet(CPLQuietErrorHandler);  // PROJ's own message is a page of WKT; ours says what to do
  t.forward.reset(OGRCreateCoordinateTransformation(&wgs84, &map, strict));
  OGRSpatialReference wgs84_2d;
  wgs84_2d.SetWellKnownGeogCS("WGS84");
  wgs84_2d.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  t.backward.reset(OGRCreateCoordinateTransformation(&map, &wgs84_2d));
  if (t.vertical && !t.forward)
    throw UsageError("crs", "needs a transformation from WGS84 ellipsoidal heights to " + t.vertical_name +
                                " that PROJ lacks here: the geoid's grid is missing (Debian's proj-data has EGM96's; projsync fetches others)");
  if (!t.forward || !t.backward) raise("cannot transform between WGS84 and the DSM's CRS");
  return t;
}

// What the DSM's heights are, for its metadata.
std::string height_kind(const Transform& t) {
  return t.vertical ? "gravity-related (" + t.vertical_name + "), metres" : "ellipsoidal (WGS84), metres";
}

std::string map_crs(const DsmOptions& o, const RpcModel& left) {
  const std::string target = o.crs.empty() ? utm_zone_crs(left.longitude_offset(), left.latitude_offset()) : o.crs;
  std::string wkt = crs_wkt(target, "crs");
  if (!OGRSpatialReference(wkt.c_str()).IsProjected())
    throw UsageError("crs", "must be a projected CRS (metres or feet), not '" + target + "'");
  return wkt;
}

// The left image's outline on the ground at a height: points along its border.
std::vector<std::array<double, 2>> footprint(const RpcModel& m, std::int64_t width, std::int64_t height, double h) {
  std::vector<std::array<double, 2>> out;
  for (int i = 0; i <= 8; ++i) {
    const double t = i / 8.0;
    for (const auto& [c, r] : {std::array<double, 2>{t * width, 0}, {t * width, static_cast<double>(height)}, {0, t * height},
                               {static_cast<double>(width), t * height}})
      out.push_back(m.localise(c, r, h));
  }
  return out;
}

// The lowest and highest DEM values under the scene.
std::array<double, 2> dem_heights(const std::string& dem_path, const std::vector<std::array<double, 2>>& outline) {
  Raster dem = Raster::open(dem_path);
  const RasterInfo& info = dem.info();
  const ErrorContext where{dem_path, {}, {}, {}};
  if (!info.geotransform || info.crs_wkt.empty()) throw InputError("a DEM needs a CRS and a geotransform", where);
  OGRSpatialReference wgs84, dem_srs;
  wgs84.SetWellKnownGeogCS("WGS84");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  dem_srs.importFromWkt(info.crs_wkt.c_str());
  dem_srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_dem(OGRCreateCoordinateTransformation(&wgs84, &dem_srs));
  if (!to_dem) throw InputError("cannot transform the scene's outline into the DEM's CRS", where);
  const auto& g = info.geotransform->c;
  const double det = g[1] * g[5] - g[2] * g[4];
  double c0 = 1e300, r0 = 1e300, c1 = -1e300, r1 = -1e300;
  for (auto p : outline) {
    double x = p[0], y = p[1];
    if (!to_dem->Transform(1, &x, &y)) continue;
    const double dx = x - g[0], dy = y - g[3];
    const double c = (g[5] * dx - g[2] * dy) / det, r = (-g[4] * dx + g[1] * dy) / det;
    c0 = std::min(c0, c);
    c1 = std::max(c1, c);
    r0 = std::min(r0, r);
    r1 = std::max(r1, r);
  }
  const Window all{0, 0, info.width, info.height};
  const Window w = intersection(Window{static_cast<std::int64_t>(std::floor(c0)) - 1, static_cast<std::int64_t>(std::floor(r0)) - 1,
                                       static_cast<std::int64_t>(std::ceil(c1 - c0)) + 3, static_cast<std::int64_t>(std::ceil(r1 - r0)) + 3},
                                all);
  if (w.empty() || c0 > c1) throw InputError("does not cover the scene", where);
  Mask mask;
  const std::vector<int> band{1};
  const Image heights = dem.read(w, band, {}, &mask);
  double low = std::numeric_limits<double>::max(), high = -low;
  for (std::size_t i = 0; i < heights.plane_size(); ++i)
    if (mask[i]) {
      low = std::min<double>(low, heights.data()[i]);
      high = std::max<double>(high, heights.data()[i]);
    }
  if (low > high) throw InputError("holds no heights under the scene", where);
  return {low, high};
}

struct Range {
  double low, high;
};

Range scene_heights(const DsmOptions& o, const RpcModel& left, const RasterInfo& li) {
  if (o.min_height.has_value() != o.max_height.has_value())
    throw UsageError(o.min_height ? "max_height" : "min_height", "must be given with the other end of the range");
  if (o.min_height) {
    if (!(*o.max_height > *o.min_height)) throw UsageError("max_height", "must lie above min_height");
    if (!o.dem.empty()) throw UsageError("dem", "and min_height/max_height both set the height range: give one");
    return {*o.min_height, *o.max_height};
  }
  if (!o.dem.empty()) {
    const auto h = dem_heights(o.dem, footprint(left, li.width, li.height, left.height_offset()));
    // The DEM is the ground: buildings and trees stand above it, and DEMs err a little below.
    return {h[0] - 10.0, h[1] + o.height_margin};
  }
  return {left.height_offset() - left.height_scale(), left.height_offset() + left.height_scale()};
}

// An affine fit (u, v, d) -> (longitude, latitude, height) of the virtual matches: the start of
// every intersection, so that a point's result depends on its own pixel only.
struct GroundStart {
  std::array<double, 4> lon{}, lat{}, h{};
  Intersection at(double u, double v, double d) const {
    Intersection s;
    s.longitude = lon[0] * u + lon[1] * v + lon[2] * d + lon[3];
    s.latitude = lat[0] * u + lat[1] * v + lat[2] * d + lat[3];
    s.height = h[0] * u + h[1] * v + h[2] * d + h[3];
    return s;
  }
};

GroundStart fit_start(const RpcModel& left, const RpcModel& right, const stereo::EpipolarGeometry& g, std::int64_t lw, std::int64_t lh,
                      Range heights) {
  std::vector<std::array<double, 6>> rows;  // u, v, d, lon, lat, h
  for (int k = 0; k < 3; ++k) {
    const double h = heights.low + (heights.high - heights.low) * k / 2.0;
    for (int i = 0; i <= 10; ++i)
      for (int j = 0; j <= 10; ++j) {
        const double c = lw * i / 10.0, r = lh * j / 10.0;
        const auto ground = left.localise(c, r, h);
        const auto seen = right.project(ground[0], ground[1], h);
        const auto pl = g.grid_at(stereo::View::Left, c, r), pr = g.grid_at(stereo::View::Right, seen[0], seen[1]);
        rows.push_back({pl[0], pl[1], pl[0] - pr[0], ground[0], ground[1], h});
      }
  }
  Eigen::MatrixXd a(static_cast<Eigen::Index>(rows.size()), 4);
  Eigen::MatrixXd b(static_cast<Eigen::Index>(rows.size()), 3);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto k = static_cast<Eigen::Index>(i);
    a.row(k) << rows[i][0], rows[i][1], rows[i][2], 1.0;
    b.row(k) << rows[i][3], rows[i][4], rows[i][5];
  }
  const Eigen::MatrixXd x = a.colPivHouseholderQr().solve(b);
  GroundStart s;
  for (int k = 0; k < 4; ++k) {
    s.lon[static_cast<std::size_t>(k)] = x(k, 0);
    s.lat[static_cast<std::size_t>(k)] = x(k, 1);
    s.h[static_cast<std::size_t>(k)] = x(k, 2);
  }
  return s;
}

struct Bounds {
  double x0 = std::numeric_limits<double>::max(), y0 = x0, x1 = -x0, y1 = -x0;
  void add(const Bounds& b) {
    x0 = std::min(x0, b.x0);
    y0 = std::min(y0, b.y0);
    x1 = std::max(x1, b.x1);
    y1 = std::max(y1, b.y1);
  }
};

// Step 4: the points of every matched epipolar pixel, as X - origin_x, Y - origin_y, height.
Bounds write_points(const std::string& disparity_path, const std::string& points_path, const RpcModel& left, const RpcModel& right,
                    const stereo::EpipolarGeometry& g, const GroundStart& start, Range heights, const std::string& crs_wkt,
                    std::array<double, 2> origin, const DsmOptions& o, StreamOptions so, DsmReport& report) {
  Raster disparity = Raster::open(disparity_path);
  RasterLayout layout;
  layout.width = disparity.info().width;
  layout.height = disparity.info().height;
  layout.bands = 3;
  layout.nodata = kNodata;
  RasterWriter writer(points_path, layout, OutputOptions{"GTiff", {"TILED=YES"}, true});
  TileGridOptions go;
  go.tile_width = go.tile_height = 256;
  const TileGrid grid(layout.width, layout.height, go);
  std::mutex mutex;
  Bounds bounds;
  std::atomic<std::int64_t> kept{0}, dropped{0};
  so.read.edge = EdgeMode::Nodata;
  const TileKernel kernel = [&](const InputTile& in, OutputTile& out) {
    const Transform t = map_transform(crs_wkt);
    const std::int64_t w = in.tile.core.width, h = in.tile.core.height;
    auto x_band = out.pixels.band(0), y_band = out.pixels.band(1), z_band = out.pixels.band(2);
    Bounds b;
    std::int64_t n_kept = 0, n_dropped = 0;
    for (std::int64_t y = 0; y < h; ++y) {
      // The row's points, put on the map together (one call to the transformation per row).
      std::vector<std::int64_t> row_points;
      std::vector<double> px, py, pz;
      for (std::int64_t x = 0; x < w; ++x) {
        const std::size_t i = static_cast<std::size_t>(y * w + x);
        x_band[i] = y_band[i] = z_band[i] = kNodata;
        const float d = in.pixels.band(0)[i];
        if (!in.mask[i]) continue;
        const double u = static_cast<double>(in.tile.core.x + x) + 0.5, v = static_cast<double>(in.tile.core.y + y) + 0.5;
        const auto pl = g.image_at(stereo::View::Left, u, v), pr = g.image_at(stereo::View::Right, u - d, v);
        const Intersection p = intersect(left, pl[0], pl[1], right, pr[0], pr[1], start.at(u, v, d));
        if (!(p.residual <= o.max_intersection_residual) || !(p.height >= heights.low && p.height <= heights.high)) {
          ++n_dropped;
          continue;
        }
        px.push_back(p.longitude);
        py.push_back(p.latitude);
        pz.push_back(p.height);
        row_points.push_back(x);
      }
      std::vector<int> success(px.size(), 0);
      if (!px.empty())
        t.forward->Transform(static_cast<int>(px.size()), px.data(), py.data(), t.vertical ? pz.data() : nullptr, success.data());
      for (std::size_t k = 0; k < row_points.size(); ++k) {
        const std::size_t i = static_cast<std::size_t>(y * w + row_points[k]);
        if (!success[k]) {
          z_band[i] = kNodata;
          ++n_dropped;
          continue;
        }
        x_band[i] = static_cast<float>(px[k] - origin[0]);
        y_band[i] = static_cast<float>(py[k] - origin[1]);
        z_band[i] = static_cast<float>(pz[k]);
        b.x0 = std::min(b.x0, px[k]);
        b.x1 = std::max(b.x1, px[k]);
        b.y0 = std::min(b.y0, py[k]);
        b.y1 = std::max(b.y1, py[k]);
        ++n_kept;
      }
    }
    kept += n_kept;
    dropped += n_dropped;
    std::lock_guard lock(mutex);
    bounds.add(b);
  };
  so.kernel_bytes_per_tile += static_cast<std::size_t>(256 * 256 * 40);
  stream(disparity, {1}, grid, writer, 3, kernel, so);
  writer.finish();
  report.points = kept.load();
  report.dropped_points = dropped.load();
  // Into points_path, a temporary of the run's that step 5 reads and the run removes.
  writer.commit();
  return bounds;
}

// Step 4b: the kept points on the map, in the epipolar grid's order, read in strips of about a
// million pixels (memory bounded by the strip, not the scene), each strip's to write.
void write_point_cloud(const std::string& points_path, std::array<double, 2> origin, const detail::ScaledProgress& progress,
                       const std::function<void(const std::vector<std::array<double, 3>>&)>& write) {
  Raster points = Raster::open(points_path);
  const std::int64_t w = points.info().width, h = points.info().height;
  const std::int64_t rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / std::max<std::int64_t>(w, 1));
  const std::vector<int> bands{1, 2, 3};
  Image strip;
  std::vector<std::array<double, 3>> kept;
  for (std::int64_t y0 = 0; y0 < h; y0 += rows) {
    const Window window{0, y0, w, std::min(rows, h - y0)};
    points.read_into(window, bands, strip);
    kept.clear();
    for (std::size_t i = 0; i < strip.plane_size(); ++i) {
      const float z = strip.band(2)[i];
      if (z == kNodata) continue;
      kept.push_back({strip.band(0)[i] + origin[0], strip.band(1)[i] + origin[1], z});
    }
    write(kept);
    if (!progress.tick(static_cast<double>(y0 + window.height) / static_cast<double>(h))) throw Cancelled();
  }
}

// The point cloud as a 3-D point layer of an OGR dataset (FlatGeobuf, GeoPackage, ...).
std::function<void(const std::vector<std::array<double, 3>>&)> ogr_points(detail::VectorOutput& out, const std::string& crs_wkt) {
  OGRSpatialReference srs;
  srs.importFromWkt(crs_wkt.c_str());
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRLayer* layer = out.dataset().CreateLayer("points", &srs, wkbPoint25D, nullptr);
  if (!layer) raise(std::string("cannot create the point layer: ") + CPLGetLastErrorMsg());
  return [&out, layer](const std::vector<std::array<double, 3>>& points) {
    const bool transaction = out.dataset().StartTransaction() == OGRERR_NONE;
    for (const auto& p : points) {
      OGRFeature feature(layer->GetLayerDefn());
      feature.SetGeometryDirectly(new OGRPoint(p[0], p[1], p[2]));
      if (layer->CreateFeature(&feature) != OGRERR_NONE) raise(std::string("cannot write a point: ") + CPLGetLastErrorMsg());
    }
    if (transaction && out.dataset().CommitTransaction() != OGRERR_NONE) raise(std::string("cannot write the points: ") + CPLGetLastErrorMsg());
  };
}

// A raster of the DSM's size without data of its own: the engine's grid for step 5, whose
// kernel reads the points itself.
std::string blank_grid(std::int64_t width, std::int64_t height, detail::TemporaryFiles& files) {
  const std::string path = detail::unique_vsimem("dsm-grid");
  GDALDriver* vrt = GetGDALDriverManager()->GetDriverByName("VRT");
  detail::DatasetPtr d(vrt->Create(path.c_str(), static_cast<int>(width), static_cast<int>(height), 1, GDT_Byte, nullptr));
  if (!d) raise("cannot make the DSM's grid");
  d.reset();
  files.paths.push_back(path);
  return path;
}

double reduce(std::vector<float>& heights, const std::string& how) {
  if (how == "max") return *std::max_element(heights.begin(), heights.end());
  if (how == "min") return *std::min_element(heights.begin(), heights.end());
  if (how == "mean") {
    std::sort(heights.begin(), heights.end());  // a fixed order: the same sum whatever the tiling
    double s = 0;
    for (float h : heights) s += h;
    return s / static_cast<double>(heights.size());
  }
  std::sort(heights.begin(), heights.end());
  const std::size_t n = heights.size();
  return n % 2 ? heights[n / 2] : 0.5 * (static_cast<double>(heights[n / 2 - 1]) + heights[n / 2]);
}

// The options a DSM run takes, checked before anything is read; outputs not there unless overwritten.
void check_dsm_options(const DsmOptions& o, const std::string& dsm_path) {
  const StereoOptions& so = o.stereo;
  check_match_options(so.match);
  if (!so.depth.empty() || so.baseline != 0.0 || so.focal != 0.0 || so.disparity_offset != 0.0)
    throw UsageError("depth", "is for rectified pairs: a pair with RPCs gives a DSM");
  if (so.model.empty()) detail::refuse_load_options(so.load, "chooses a learned matcher's kernels: it needs `model`");
  if (!so.model.empty()) {
    check_learned_matcher_options(so.match);
    if (o.min_disparity)
      throw UsageError("min_disparity", "is not for a learned matcher, which searches its own disparities from where the heights put "
                                        "them: give the heights or a DEM");
  }
  if (o.reduction != "median" && o.reduction != "max" && o.reduction != "mean" && o.reduction != "min")
    throw UsageError("reduction", "is median, max, mean or min, not '" + o.reduction + "'");
  if (!(o.resolution >= 0.0) || !std::isfinite(o.resolution)) throw UsageError("resolution", "must be a positive cell size");
  if (o.max_disparity_span < 1 || o.max_disparity_span > 4096) throw UsageError("max_disparity_span", "must be from 1 to 4096");
  if (o.min_disparity.has_value() != o.max_disparity.has_value())
    throw UsageError(o.min_disparity ? "max_disparity" : "min_disparity", "must be given with the other end of the range");
  if (!(o.max_intersection_residual > 0.0)) throw UsageError("max_intersection_residual", "must be positive");
  check_output_path(dsm_path, so.output.overwrite);
  check_output_path(o.disparity, so.output.overwrite);
  check_output_path(o.point_cloud, so.output.overwrite);
  // LAS, or a vector format, before any work
  if (!o.point_cloud.empty() && !detail::is_las_path(o.point_cloud)) vector_driver_for(o.point_cloud);
}

// A view's RPCs, or an error saying what to give instead.
RpcModel rpcs_of(const RasterInfo& info, const std::string& path) {
  std::optional<RpcModel> rpc = RpcModel::of(info);
  if (!rpc) throw InputError("has no RPCs: give an epipolar pair with `rectified`, or the views with their RPCs", ErrorContext{path, {}, {}, {}});
  return *rpc;
}

// The disparities the heights allow, a little wider for the rectification's own error.
std::pair<int, int> heights_disparities(const stereo::EpipolarGeometry& g) {
  const double a = std::min(g.disparity_at_min_height, g.disparity_at_max_height), b = std::max(g.disparity_at_min_height, g.disparity_at_max_height);
  return {static_cast<int>(std::floor(a)) - 2, static_cast<int>(std::ceil(b)) + 2};
}

// The range searched, cut to max_disparity_span around its middle.
void cap_disparity_range(const DsmOptions& o, int dmin, int dmax, DsmReport& report) {
  if (dmax - dmin + 1 > o.max_disparity_span) {
    const int middle = (dmin + dmax) / 2;
    dmin = middle - o.max_disparity_span / 2;
    dmax = dmin + o.max_disparity_span - 1;
    report.range_capped = true;
  }
  report.min_disparity = dmin;
  report.max_disparity = dmax;
}

// Where nothing says where the surface lies (heights from the RPCs' validity range, often a
// kilometre or more), the disparities the epipolar pair holds, from a survey of reduced copies,
// within those the heights allow; what stands on the ground may be finer than the survey's
// pixels, so height_margin more on the side of greater heights. Without enough matches (clouds,
// water), the heights' range.
void survey_disparity_range(const DsmOptions& o, const stereo::EpipolarGeometry& g, const std::string& left_epipolar,
                            const std::string& right_epipolar, DsmReport& report) {
  auto [dmin, dmax] = heights_disparities(g);
  const std::size_t bytes = std::clamp<std::size_t>(o.stereo.stream.memory_budget / 4, 16u << 20, 256u << 20);
  const stereo::DisparitySurvey s = stereo::survey_disparities(left_epipolar, right_epipolar, dmin, dmax, bytes);
  report.survey_factor = s.factor;
  report.survey_matches = s.matches;
  report.surveyed = s.found;
  if (s.found) {
    const int margin = static_cast<int>(std::ceil(o.height_margin * std::abs(g.disparity_per_metre)));
    dmin = std::max(dmin, s.min_disparity - (g.disparity_per_metre < 0 ? margin : 0));
    dmax = std::min(dmax, s.max_disparity + (g.disparity_per_metre >= 0 ? margin : 0));
  }
  cap_disparity_range(o, dmin, dmax, report);
}

// A learned matcher's disparities, found on the right view moved by `shift` pixels, onto the
// grid (d + shift; nodata and the grid's metadata kept), by strips of a million pixels.
void shift_disparities(const std::string& from, const std::string& to, int shift, const OutputOptions& output) {
  Raster in = Raster::open(from);
  const RasterInfo& info = in.info();
  RasterLayout layout = layout_like(info, DataType::Float32, 1);
  layout.metadata = info.metadata;
  RasterWriter out(to, layout, output);
  out.set_band_description(1, "disparity");
  const std::int64_t rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / std::max<std::int64_t>(info.width, 1));
  const int bands[] = {1};
  Image strip;
  for (std::int64_t y0 = 0; y0 < info.height; y0 += rows) {
    const Window window{0, y0, info.width, std::min(rows, info.height - y0)};
    in.read_into(window, bands, strip);
    for (float& d : strip.band(0))
      if (d != kNodata) d += static_cast<float>(shift);
    out.write(window, strip);
  }
  out.commit();
}

// The heights the surveyed disparities span (the disparity grows linearly with the height on
// the grid), within the range searched.
Range surveyed_heights(const stereo::EpipolarGeometry& g, const DsmReport& report, Range heights) {
  if (!(std::abs(g.disparity_per_metre) > 0.0)) return heights;
  const auto height = [&](double d) { return heights.low + (d - g.disparity_at_min_height) / g.disparity_per_metre; };
  const double a = height(report.min_disparity), b = height(report.max_disparity);
  return {std::max(heights.low, std::min(a, b)), std::min(heights.high, std::max(a, b))};
}

// The DSM's cell size: given, else the left image's ground sample distance at the scene's middle
// height, to the centimetre.
double dsm_resolution(const DsmOptions& o, const RpcModel& left, const RasterInfo& li, const Range& heights, const Transform& t) {
  if (o.resolution != 0.0) return o.resolution;
  const double h = (heights.low + heights.high) / 2, c = li.width / 2.0, r = li.height / 2.0;
  auto a = left.localise(c, r, h), b = left.localise(c + 1, r, h), d = left.localise(c, r + 1, h);
  double xs[3] = {a[0], b[0], d[0]}, ys[3] = {a[1], b[1], d[1]};
  t.forward->Transform(3, xs, ys);
  double resolution = std::sqrt(std::hypot(xs[1] - xs[0], ys[1] - ys[0]) * std::hypot(xs[2] - xs[0], ys[2] - ys[0]));
  resolution = std::round(resolution * 100.0) / 100.0;
  return resolution <= 0 ? 1.0 : resolution;
}

// The DSM's grid over the points' bounds, cells snapped to the resolution.
struct DsmGrid {
  double x0 = 0, y1 = 0, resolution = 1;  // west edge, north edge, cell size
  std::int64_t width = 0, height = 0;

  DsmGrid(const Bounds& bounds, double cell)
      : x0(std::floor(bounds.x0 / cell) * cell), y1(std::ceil(bounds.y1 / cell) * cell), resolution(cell),
        width(static_cast<std::int64_t>(std::floor((bounds.x1 - x0) / cell)) + 1),
        height(static_cast<std::int64_t>(std::floor((y1 - bounds.y0) / cell)) + 1) {}
  GeoTransform geotransform() const { return GeoTransform{{x0, resolution, 0.0, y1, 0.0, -resolution}}; }
};

// Step 5's kernel: each DSM tile reads the epipolar window its cells' points can come from
// (points_path, on the left view's epipolar grid), and reduces each cell's heights. Bands out:
// the height, the points in the cell, their median absolute deviation.
class CellReduction {
public:
  CellReduction(const DsmGrid& grid, std::string points_path, std::array<double, 2> origin, const RpcModel& left,
                const stereo::EpipolarGeometry& g, const Range& heights, std::string crs_wkt, std::string reduction, bool fill_holes)
      : grid_(grid), points_path_(std::move(points_path)), origin_(origin), left_(left), geometry_(g),
        epipolar_{0, 0, g.width, g.height}, heights_(heights), crs_wkt_(std::move(crs_wkt)), reduction_(std::move(reduction)),
        fill_holes_(fill_holes) {}

  void operator()(const InputTile& in, OutputTile& out) {
    const Window& core = in.tile.core;
    // The core's cells and a ring of one around them (the neighbours a hole is filled from).
    const Window ring{core.x - 1, core.y - 1, core.width + 2, core.height + 2};
    std::vector<std::vector<float>> per_cell(static_cast<std::size_t>(ring.area()));
    const Window window = intersection(source_window(ring), epipolar_);
    if (!window.empty()) gather(window, ring, per_cell);
    std::int64_t with_height = 0, filled = 0;
    std::vector<float> around;
    for (std::int64_t y = 0; y < core.height; ++y)
      for (std::int64_t x = 0; x < core.width; ++x) {
        const auto k = static_cast<std::size_t>(y * core.width + x);
        std::vector<float>* cell = &per_cell[static_cast<std::size_t>((y + 1) * ring.width + x + 1)];
        const bool own = !cell->empty();
        if (!own && fill_holes_) {
          around.clear();
          int neighbours = 0;
          for (std::int64_t dy = 0; dy < 3; ++dy)
            for (std::int64_t dx = 0; dx < 3; ++dx) {
              const auto& n = per_cell[static_cast<std::size_t>((y + dy) * ring.width + x + dx)];
              neighbours += !n.empty();
              around.insert(around.end(), n.begin(), n.end());
            }
          if (neighbours >= 3) cell = &around;
        }
        if (cell->empty()) {
          out.pixels.band(0)[k] = out.pixels.band(1)[k] = out.pixels.band(2)[k] = kNodata;
          continue;
        }
        ++with_height;
        filled += !own;
        write_cell(*cell, own, out, k);
      }
    cells_ += with_height;
    filled_ += filled;
  }

  std::int64_t cells() const { return cells_.load(); }
  std::int64_t filled_cells() const { return filled_.load(); }

private:
  // A cell's height (the reduction of hs), its count of points (0 when filled from its
  // neighbours) and their spread.
  void write_cell(std::vector<float>& hs, bool own, OutputTile& out, std::size_t k) const {
    const double value = reduce(hs, reduction_);
    // The spread of the cell's heights around their median: the DSM's confidence.
    std::sort(hs.begin(), hs.end());
    const double median = hs.size() % 2 ? hs[hs.size() / 2] : 0.5 * (static_cast<double>(hs[hs.size() / 2 - 1]) + hs[hs.size() / 2]);
    std::vector<float> deviations(hs.size());
    for (std::size_t i = 0; i < hs.size(); ++i) deviations[i] = static_cast<float>(std::abs(hs[i] - median));
    out.pixels.band(0)[k] = static_cast<float>(value);
    out.pixels.band(1)[k] = own ? static_cast<float>(hs.size()) : 0.0f;
    out.pixels.band(2)[k] = static_cast<float>(reduce(deviations, "median"));
  }

  // The epipolar window whose points can fall in core: its corners, on the ground at the range's
  // heights, seen by the left image, on the grid; widened for the maps' curvature.
  Window source_window(const Window& core) const {
    const Transform tt = map_transform(crs_wkt_);
    double u0 = 1e300, v0 = 1e300, u1 = -1e300, v1 = -1e300;
    for (int i = 0; i <= 4; ++i)
      for (int j = 0; j <= 4; ++j) {
        double x = grid_.x0 + (core.x + core.width * i / 4.0) * grid_.resolution, y = grid_.y1 - (core.y + core.height * j / 4.0) * grid_.resolution;
        if (!tt.backward->Transform(1, &x, &y)) continue;
        for (const double h : {heights_.low, heights_.high}) {
          const auto p = left_.project(x, y, h);
          const auto e = geometry_.grid_at(stereo::View::Left, p[0], p[1]);
          u0 = std::min(u0, e[0]);
          u1 = std::max(u1, e[0]);
          v0 = std::min(v0, e[1]);
          v1 = std::max(v1, e[1]);
        }
      }
    const double margin = 4.0 + 0.02 * std::max(u1 - u0, v1 - v0);
    return Window{static_cast<std::int64_t>(std::floor(u0 - margin)), static_cast<std::int64_t>(std::floor(v0 - margin)),
                  static_cast<std::int64_t>(std::ceil(u1 - u0 + 2 * margin)) + 1,
                  static_cast<std::int64_t>(std::ceil(v1 - v0 + 2 * margin)) + 1};
  }

  // The heights of window's points, each into its cell of core.
  void gather(const Window& window, const Window& core, std::vector<std::vector<float>>& per_cell) const {
    Raster points = Raster::open(points_path_);
    Mask mask;
    const std::vector<int> bands{1, 2, 3};
    const Image p = points.read(window, bands, {}, &mask);
    for (std::size_t i = 0; i < p.plane_size(); ++i) {
      if (!mask[i]) continue;
      const double x = origin_[0] + p.band(0)[i], y = origin_[1] + p.band(1)[i];
      const auto col = static_cast<std::int64_t>(std::floor((x - grid_.x0) / grid_.resolution)) - core.x;
      const auto row = static_cast<std::int64_t>(std::floor((grid_.y1 - y) / grid_.resolution)) - core.y;
      if (col < 0 || row < 0 || col >= core.width || row >= core.height) continue;
      per_cell[static_cast<std::size_t>(row * core.width + col)].push_back(p.band(2)[i]);
    }
  }

  const DsmGrid grid_;
  const std::string points_path_;
  const std::array<double, 2> origin_;
  const RpcModel& left_;
  const stereo::EpipolarGeometry& geometry_;
  const Window epipolar_;
  const Range heights_;
  const std::string crs_wkt_, reduction_;
  const bool fill_holes_;
  std::atomic<std::int64_t> cells_{0}, filled_{0};
};

}  // namespace

DsmReport stereo_dsm(const std::string& left_path, const std::string& right_path, const std::string& dsm_path, const DsmOptions& o) {
  if (!o.stereo.stream.shard.whole())
    throw UsageError("shard", "a DSM runs whole: its epipolar grid, survey and cells span the scene");
  const StereoOptions& so0 = o.stereo;
  check_dsm_options(o, dsm_path);
  const Raster left_raster = Raster::open(left_path), right_raster = Raster::open(right_path);
  const RasterInfo &li = left_raster.info(), &ri = right_raster.info();
  const RpcModel left = rpcs_of(li, left_path), right = rpcs_of(ri, right_path);
  for (const auto& [info, band, field] : {std::tuple{&li, so0.left_band, "left_band"}, std::tuple{&ri, so0.right_band, "right_band"}})
    if (band < 1 || band > info->band_count())
      throw UsageError(field, "is band " + std::to_string(band) + ", but the raster has " + std::to_string(info->band_count()),
                       ErrorContext{info->path, {}, {}, {}});

  DsmReport report;
  // The map and its heights first: a CRS PROJ cannot reach (a geoid without its grid) fails here,
  // before any work.
  const std::string crs_wkt = map_crs(o, left);
  report.crs_wkt = crs_wkt;
  const Transform t = map_transform(crs_wkt);
  const Range heights = scene_heights(o, left, li);
  report.min_height = heights.low;
  report.max_height = heights.high;
  stereo::EpipolarGeometry g = stereo::rectify_from_rpc(left, li.width, li.height, right, heights.low, heights.high);
  // The disparities searched: given; from the heights of a DEM or given ones; else surveyed once
  // both views are on the epipolar grid.
  const bool survey = !o.min_disparity && o.dem.empty() && !o.min_height;
  if (o.min_disparity) {
    report.min_disparity = *o.min_disparity;
    report.max_disparity = *o.max_disparity;
  } else if (!survey) {
    const auto [dmin, dmax] = heights_disparities(g);
    cap_disparity_range(o, dmin, dmax, report);
  }

  // Step 2: both views on the epipolar grid (temporaries beside the DSM, removed at the end).
  const detail::ScaledProgress warp_progress(so0.stream, 0.0, 0.1);
  const int threads = resolve_threads(so0.stream.threads);
  const std::size_t warp_cache = so0.stream.memory_budget / 16;
  detail::TemporaryFiles temporaries;
  const auto temporary = [&](const std::string& what) {
    temporaries.paths.push_back(detail::temporary_path(dsm_path, what));
    return temporaries.paths.back();
  };
  const std::string left_epipolar = temporary("left-epipolar.tif"), right_epipolar = temporary("right-epipolar.tif");
  // A learned matcher searches disparities 0..D-1 of its own: once the range is known, its right
  // view is moved by the range's start (its pixel u is the grid's u - min_disparity, so its
  // d + min_disparity is the grid's), and its disparities are moved back onto the grid's after matching.
  const bool learned = !so0.model.empty();
  const auto right_shift = [&] { return learned ? -static_cast<double>(report.min_disparity) : 0.0; };
  const auto resample_right = [&](double shift, const std::function<bool(double)>& progress) {
    stereo::resample_to_epipolar(right_path, so0.right_band, g, stereo::View::Right, shift, right_epipolar, warp_cache, threads, progress);
  };
  const auto resample = [&](double shift, const std::function<bool(double)>& progress) {
    stereo::resample_to_epipolar(left_path, so0.left_band, g, stereo::View::Left, 0.0, left_epipolar, warp_cache, threads,
                                 [&](double f) { return progress(0.5 * f); }, stereo::epipolar_metadata(g));
    resample_right(shift, [&](double f) { return progress(0.5 + 0.5 * f); });
  };
  // (a survey matches the views as the grid has them: the range is not known before)
  resample(survey ? 0.0 : right_shift(), [&](double f) { return warp_progress.tick(f); });
  if (survey) {
    survey_disparity_range(o, g, left_epipolar, right_epipolar, report);
    // The grid again for the heights surveyed rather than the RPCs' whole range: what the views'
    // epipolar curves leave between heights shrinks with the heights' span.
    const Range surface = surveyed_heights(g, report, heights);
    if (report.surveyed && surface.high - surface.low < 0.75 * (heights.high - heights.low)) {
      g = stereo::rectify_from_rpc(left, li.width, li.height, right, surface.low, surface.high);
      const auto [dmin, dmax] = heights_disparities(g);
      cap_disparity_range(o, dmin, dmax, report);
      report.min_height = surface.low;
      report.max_height = surface.high;
      resample(right_shift(), [&](double) { return warp_progress.tick(1.0); });
    } else if (right_shift() != 0.0) {
      resample_right(right_shift(), [&](double) { return warp_progress.tick(1.0); });
    }
  }
  report.epipolar_width = g.width;
  report.epipolar_height = g.height;
  report.vertical_rms = g.vertical_rms;
  report.vertical_max = g.vertical_max;
  report.disparity_per_metre = g.disparity_per_metre;

  // Step 3: matching, by the semi-global matcher over the range, or by a learned matcher on the
  // right view moved by the range's start (above).
  StereoOptions match = so0;
  if (!learned) {
    match.match.min_disparity = report.min_disparity;
    match.match.max_disparity = report.max_disparity;
  }
  match.left_band = match.right_band = 1;
  match.nodata = kNodata;
  const detail::ScaledProgress match_progress(so0.stream, 0.1, 0.75);
  match.stream = match_progress.apply(so0.stream);
  const std::string disparity_path = o.disparity.empty() ? temporary("disparity.tif") : o.disparity;
  const OutputOptions disparity_output = o.disparity.empty() ? OutputOptions{"GTiff", {"TILED=YES"}, true} : so0.output;
  match.output = learned ? OutputOptions{"GTiff", {"TILED=YES"}, true} : disparity_output;
  const std::string matched_path = learned ? temporary("model-disparity.tif") : disparity_path;
  report.matching = match_stereo(left_epipolar, right_epipolar, matched_path, match);
  if (learned) {
    shift_disparities(matched_path, disparity_path, report.min_disparity, disparity_output);
    report.matching.written = {disparity_path};
    // (a network's reach covers its cost volume's shifts, 0..D-1: a shorter reach means a smaller D)
    report.matcher_short = report.matching.reach < report.max_disparity - report.min_disparity;
  }

  // Step 4: points on the map.
  double cx = left.longitude_offset(), cy = left.latitude_offset();
  t.forward->Transform(1, &cx, &cy);
  const std::array<double, 2> origin{std::round(cx), std::round(cy)};
  const GroundStart start = fit_start(left, right, g, li.width, li.height, heights);
  const detail::ScaledProgress point_progress(so0.stream, 0.75, 0.9);
  const std::string points_path = temporary("points.tif");
  const Bounds bounds = write_points(disparity_path, points_path, left, right, g, start, heights, crs_wkt, origin, o,
                                     point_progress.apply(so0.stream), report);
  if (report.points == 0) throw InputError("no pixel of the pair was matched: nothing to put in a DSM", ErrorContext{left_path, {}, {}, {}});
  // (finished now, put in place with the DSM below)
  std::optional<detail::VectorOutput> cloud;
  std::optional<detail::LasWriter> las;
  if (!o.point_cloud.empty()) {
    const detail::ScaledProgress cloud_progress(so0.stream, 0.9, 0.92);
    if (detail::is_las_path(o.point_cloud)) {
      las.emplace(o.point_cloud, so0.output.overwrite, crs_wkt, std::array<double, 3>{origin[0], origin[1], 0.0});
      write_point_cloud(points_path, origin, cloud_progress, [&](const std::vector<std::array<double, 3>>& points) {
        for (const auto& p : points) las->add(p[0], p[1], p[2]);
      });
      las->finish();
    } else {
      cloud.emplace(o.point_cloud, so0.output.overwrite);
      write_point_cloud(points_path, origin, cloud_progress, ogr_points(*cloud, crs_wkt));
      cloud->finish();
    }
  }

  // Step 5: the DSM grid over the points.
  const DsmGrid cells(bounds, dsm_resolution(o, left, li, heights, t));
  report.width = cells.width;
  report.height = cells.height;
  RasterLayout layout;
  layout.width = cells.width;
  layout.height = cells.height;
  layout.bands = 3;
  layout.nodata = kNodata;
  layout.crs_wkt = crs_wkt;
  layout.geotransform = cells.geotransform();
  layout.metadata = {{"LUOJIA_HEIGHTS", height_kind(t)}, {"LUOJIA_DSM_REDUCTION", o.reduction},
                     {"LUOJIA_EPIPOLAR_VERTICAL_RMS", std::to_string(g.vertical_rms)}};
  RasterWriter dsm(dsm_path, layout, so0.output);
  dsm.set_band_description(1, "height");
  dsm.set_band_description(2, "points");
  dsm.set_band_description(3, "median absolute deviation");
  Raster grid_raster = Raster::open(blank_grid(cells.width, cells.height, temporaries));
  TileGridOptions go;
  go.tile_width = go.tile_height = std::min<std::int64_t>(so0.tile, 512);
  const TileGrid grid(cells.width, cells.height, go);
  CellReduction reduction(cells, points_path, origin, left, g, heights, crs_wkt, o.reduction, o.fill_holes);
  const detail::ScaledProgress dsm_progress(so0.stream, 0.92, 1.0);
  StreamOptions dso = dsm_progress.apply(so0.stream);
  dso.kernel_bytes_per_tile += static_cast<std::size_t>(go.tile_width * go.tile_height) * 64;
  stream(grid_raster, {1}, grid, dsm, 3, std::ref(reduction), dso);
  report.cells = reduction.cells();
  report.filled_cells = reduction.filled_cells();
  dsm.finish();
  dsm.commit();
  report.written.push_back(dsm_path);
  if (cloud || las) {
    if (cloud) cloud->commit();
    if (las) las->commit();
    report.written.push_back(o.point_cloud);
  }
  if (!o.disparity.empty()) report.written.insert(report.written.begin(), o.disparity);
  return report;
}

}  // namespace luojia
