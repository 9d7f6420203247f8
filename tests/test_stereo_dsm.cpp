// Stereo to DSM from RPC pairs: a scene of known heights rendered through two RPC views by GDAL
// (tests/rpc_cases), its DSM against the surface, tiles against the whole, refusals.
#include "rpc_cases.hpp"
#include "support.hpp"

#include "stereo/disparity_survey.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/stereo.hpp>

#include <catch2/catch.hpp>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <map>

using namespace luojia;
using namespace luojia::test;

namespace {

DsmOptions scene_options() {
  DsmOptions o;
  o.min_height = 20.0;
  o.max_height = 65.0;
  o.stereo.match.speckle_size = 30;
  o.stereo.output.overwrite = true;
  return o;
}

struct Score {
  std::int64_t cells = 0, covered = 0;
  double median_error = 0;
};

// The DSM against the surface: each DSM cell's centre looked up in the truth (same CRS), over
// the cells away from the truth's edges and from blocks' walls (a 2 m step within 1.5 m).
Score score(const std::string& dsm_path, const std::string& truth_path) {
  const Raster dsm = Raster::open(dsm_path), truth = Raster::open(truth_path);
  const std::vector<double> h = read_band(dsm_path, 1), t = read_band(truth_path, 1);
  const auto& g = dsm.info().geotransform->c;
  const auto& tg = truth.info().geotransform->c;
  const std::int64_t tw = truth.info().width, th = truth.info().height;
  std::vector<double> errors;
  Score s;
  for (std::int64_t r = 0; r < dsm.info().height; ++r)
    for (std::int64_t c = 0; c < dsm.info().width; ++c) {
      const double x = g[0] + (c + 0.5) * g[1], y = g[3] + (r + 0.5) * g[5];
      const auto tc = static_cast<std::int64_t>(std::floor((x - tg[0]) / tg[1])), tr = static_cast<std::int64_t>(std::floor((y - tg[3]) / tg[5]));
      // The central part of the scene: both views see it.
      if (tc < tw / 5 || tr < th / 5 || tc >= tw * 4 / 5 || tr >= th * 4 / 5) continue;
      double low = 1e9, high = -1e9;
      for (std::int64_t dr = -3; dr <= 3; ++dr)
        for (std::int64_t dc = -3; dc <= 3; ++dc) {
          const double v = t[static_cast<std::size_t>((tr + dr) * tw + tc + dc)];
          low = std::min(low, v);
          high = std::max(high, v);
        }
      if (high - low > 2.0) continue;
      ++s.cells;
      const double v = h[static_cast<std::size_t>(r * dsm.info().width + c)];
      if (v == -9999.0) continue;
      ++s.covered;
      errors.push_back(std::abs(v - t[static_cast<std::size_t>(tr * tw + tc)]));
    }
  std::sort(errors.begin(), errors.end());
  s.median_error = errors.empty() ? 1e9 : errors[errors.size() / 2];
  return s;
}

}  // namespace

TEST_CASE("stereo DSM: an RPC pair of a known surface gives its heights", "[stereo][dsm]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 240);
  const DsmOptions o = scene_options();
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  INFO("vertical residual " << r.vertical_rms << " px, disparities " << r.min_disparity << ".." << r.max_disparity << ", "
                            << r.points << " points, " << r.cells << " cells");
  CHECK(r.vertical_rms < 0.1);
  CHECK(r.disparity_per_metre == Approx(0.8).epsilon(0.05));
  const Score s = score(dir.file("dsm.tif"), scene.truth);
  INFO(s.covered << " of " << s.cells << " cells, median |dh| " << s.median_error);
  CHECK(s.cells > 10000);
  CHECK(s.median_error < 0.5);
  // (the blocks hide up to 10 m of ground behind them from one view or the other: not all of
  // the rest can be matched)
  CHECK(s.covered >= s.cells * 80 / 100);
  // The grid: the scene's UTM zone, the image's pixel as the cell, heights said to be ellipsoidal.
  const Raster dsm = Raster::open(dir.file("dsm.tif"));
  OGRSpatialReference srs;
  srs.importFromWkt(dsm.info().crs_wkt.c_str());
  CHECK(std::string(srs.GetAuthorityCode(nullptr)) == "32650");
  CHECK(dsm.info().geotransform->c[1] == Approx(0.5).margin(0.02));
  CHECK(dsm.info().band_count() == 3);
  CHECK(dsm.info().band(1).nodata == -9999.0);
  bool ellipsoidal = false;
  for (const auto& [k, v] : dsm.info().metadata) ellipsoidal |= k == "LUOJIA_HEIGHTS" && v.find("ellipsoidal") != std::string::npos;
  CHECK(ellipsoidal);
  // Nothing left beside it: the epipolar images, disparity and points were temporaries.
  CHECK(dir.entries().size() == 4);
}

TEST_CASE("stereo DSM: tiles of any size give the whole scene's DSM bit for bit", "[stereo][dsm][exact]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 160, 3);
  DsmOptions o = scene_options();
  o.stereo.tile = 4096;
  o.disparity = dir.file("whole_disparity.tif");
  stereo_dsm(scene.left, scene.right, dir.file("whole.tif"), o);
  // The epipolar disparity carries the grid's maps: the left one turns the left image's corners
  // into the grid (a rotation, shifted so the grid starts at 0), the right one is an affine map.
  {
    const RasterInfo d = Raster::open(dir.file("whole_disparity.tif")).info();
    const RasterInfo l = Raster::open(scene.left).info();
    std::map<std::string, std::string> items(d.metadata.begin(), d.metadata.end());
    REQUIRE(items.count("LUOJIA_EPIPOLAR_LEFT"));
    REQUIRE(items.count("LUOJIA_EPIPOLAR_RIGHT"));
    CHECK(items["LUOJIA_EPIPOLAR_DISPARITY"] == "right u = left u - d");
    std::istringstream left_text(items["LUOJIA_EPIPOLAR_LEFT"]), right_text(items["LUOJIA_EPIPOLAR_RIGHT"]);
    double a[6], b[6];
    for (double& v : a) left_text >> v;
    for (double& v : b) right_text >> v;
    REQUIRE(left_text);
    REQUIRE(right_text);
    CHECK(a[0] * a[0] + a[1] * a[1] == Approx(1.0));
    CHECK(a[0] * a[4] - a[1] * a[3] == Approx(1.0));
    CHECK(b[0] * b[4] - b[1] * b[3] != Approx(0.0));
    for (const double c : {0.0, static_cast<double>(l.width)})
      for (const double r : {0.0, static_cast<double>(l.height)}) {
        const double u = a[0] * c + a[1] * r + a[2], v = a[3] * c + a[4] * r + a[5];
        CHECK(u >= -1e-6);
        CHECK(v >= -1e-6);
        CHECK(u <= static_cast<double>(d.width) + 1e-6);
        CHECK(v <= static_cast<double>(d.height) + 1e-6);
      }
  }
  for (const std::int64_t tile : {40, 77}) {
    o.stereo.tile = tile;
    o.disparity = dir.file("tiled_disparity.tif");
    stereo_dsm(scene.left, scene.right, dir.file("tiled.tif"), o);
    INFO("tiles of " << tile);
    CHECK(read_band(dir.file("tiled_disparity.tif"), 1) == read_band(dir.file("whole_disparity.tif"), 1));
    for (int band = 1; band <= 3; ++band) CHECK(read_band(dir.file("tiled.tif"), band) == read_band(dir.file("whole.tif"), band));
    CHECK(Raster::open(dir.file("tiled.tif")).info().geotransform->c == Raster::open(dir.file("whole.tif")).info().geotransform->c);
  }
}

TEST_CASE("stereo DSM: the disparity survey finds a pair's disparities on an overview, and says when it cannot", "[stereo][dsm][survey]") {
  TempDir dir;
  // An epipolar pair: texture in blocks of 4 pixels (an overview still sees it), right = left
  // shifted by 37 pixels (right x - 37 matches left x), a band without data on the left.
  RasterSpec spec;
  spec.width = 700;
  spec.height = 300;
  spec.type = GDT_Float32;
  spec.nodata = -3.0e38;
  const auto texture = [](int x, int y) { return 1000.0 * hash01(9, x / 4, y / 4) + 200.0 * hash01(8, x, y); };
  make_raster(dir.file("left.tif"), spec, [&](int, int x, int y) { return x < 60 ? -3.0e38 : texture(x, y); });
  make_raster(dir.file("right.tif"), spec, [&](int, int x, int y) { return texture(x + 37, y); });
  // Searched over -200..200: costs of 700 x 300 x 401 disparities do not fit 8 MiB, so reduced.
  const stereo::DisparitySurvey s = stereo::survey_disparities(dir.file("left.tif"), dir.file("right.tif"), -200, 200, 8u << 20);
  INFO("factor " << s.factor << ", " << s.matches << " of " << s.pixels << ", " << s.min_disparity << ".." << s.max_disparity);
  CHECK(s.factor >= 2);
  CHECK(s.found);
  CHECK(s.min_disparity <= 37);
  CHECK(s.max_disparity >= 37);
  CHECK(s.max_disparity - s.min_disparity <= 6 * s.factor + 2);
  // Never outside what was asked.
  const stereo::DisparitySurvey inside = stereo::survey_disparities(dir.file("left.tif"), dir.file("right.tif"), 30, 200, 8u << 20);
  CHECK(inside.min_disparity >= 30);
  // No texture (clouds, water): nothing to trust.
  make_raster(dir.file("flat.tif"), spec, [](int, int, int) { return 500.0; });
  const stereo::DisparitySurvey none = stereo::survey_disparities(dir.file("flat.tif"), dir.file("flat.tif"), -200, 200, 8u << 20);
  CHECK_FALSE(none.found);
}

TEST_CASE("stereo DSM: without a DEM or heights, the surveyed disparities give the heights of the scene", "[stereo][dsm][survey]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 240);
  DsmOptions o = scene_options();
  o.min_height.reset();
  o.max_height.reset();
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  // The RPCs allow 0 to 200 m: about 164 disparities. The scene's 25 to 55 m, and 50 m of margin
  // above them, are about 70.
  DsmOptions whole = o;
  whole.min_height = 0.0;
  whole.max_height = 200.0;
  const DsmReport rpc = stereo_dsm(scene.left, scene.right, dir.file("dsm_rpc.tif"), whole);
  INFO("surveyed " << r.min_disparity << ".." << r.max_disparity << " on a 1/" << r.survey_factor << " overview (" << r.survey_matches
                   << " matches), heights " << r.min_height << ".." << r.max_height << " m; the RPCs' heights " << rpc.min_disparity
                   << ".." << rpc.max_disparity);
  CHECK(r.surveyed);
  CHECK_FALSE(rpc.surveyed);
  CHECK(r.max_disparity - r.min_disparity < (rpc.max_disparity - rpc.min_disparity) / 2);
  // The grid is made again for the heights surveyed, which hold the scene's.
  CHECK(r.min_height > 0.0);
  CHECK(r.min_height <= 25.0);
  CHECK(r.max_height >= 55.0);
  CHECK(r.max_height < 130.0);
  CHECK(rpc.min_height == 0.0);
  CHECK(rpc.max_height == 200.0);
  const Score s = score(dir.file("dsm.tif"), scene.truth);
  INFO(s.covered << " of " << s.cells << " cells, median |dh| " << s.median_error);
  CHECK(s.median_error < 0.5);
  CHECK(s.covered >= s.cells * 80 / 100);
}

TEST_CASE("stereo DSM: the height range from a DEM", "[stereo][dsm]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 120, 5);
  // An SRTM-like DEM: the terrain alone (25-35 m), 30 m cells, in geographic coordinates.
  RasterSpec spec;
  spec.width = 40;
  spec.height = 40;
  spec.epsg = 4326;
  spec.geotransform[0] = 114.34;
  spec.geotransform[1] = 0.0005;
  spec.geotransform[3] = 30.54;
  spec.geotransform[5] = -0.0005;
  make_raster(dir.file("dem.tif"), spec, [](int, int x, int y) { return 30.0 + 5.0 * std::sin(x * 0.3) * std::cos(y * 0.2); });
  DsmOptions o = scene_options();
  o.min_height.reset();
  o.max_height.reset();
  o.dem = dir.file("dem.tif");
  o.height_margin = 30.0;
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  CHECK(r.min_height > 14.0);
  CHECK(r.min_height < 26.0);
  CHECK(r.max_height > 60.0);
  CHECK(r.max_height < 66.0);
  CHECK(r.cells > 0);
  // A DEM elsewhere is refused.
  spec.geotransform[0] = 10.0;
  make_raster(dir.file("far.tif"), spec, [](int, int, int) { return 1.0; });
  o.dem = dir.file("far.tif");
  CHECK_THROWS_WITH(stereo_dsm(scene.left, scene.right, dir.file("dsm2.tif"), o), Catch::Contains("does not cover the scene"));
}

TEST_CASE("stereo DSM: refusals", "[stereo][dsm][errors]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 60, 7);
  RasterSpec plain;
  make_raster(dir.file("plain.tif"), plain, [](int, int x, int y) { return x + y; });
  const auto refused = [&](const DsmOptions& o, const std::string& right) { stereo_dsm(scene.left, right, dir.file("dsm.tif"), o); };
  CHECK_THROWS_WITH(refused(scene_options(), dir.file("plain.tif")), Catch::Contains("plain.tif") && Catch::Contains("has no RPCs"));
  DsmOptions o = scene_options();
  o.reduction = "mode";
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("median, max, mean or min"));
  o = scene_options();
  o.stereo.depth = dir.file("z.tif");
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("is for rectified pairs"));
  o = scene_options();
  o.max_height.reset();
  CHECK_THROWS_AS(refused(o, scene.right), UsageError);
  o = scene_options();
  o.stereo.model = LUOJIA_TEST_DATA "/stereo/gcnet_tiny.onnx";
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("sets the disparities itself"));  // (speckle_size 30)
  o.stereo.match = MatchOptions{};
  o.min_disparity = -5;
  o.max_disparity = 5;
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("give the heights or a DEM"));
  o = scene_options();
  o.crs = "EPSG:4326";
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("projected CRS"));
  // The engine streams the shard a run's options name: a DSM (and its matching) cannot be cut.
  o = scene_options();
  o.stereo.stream.shard = Shard{0, 2};
  CHECK_THROWS_WITH(refused(o, scene.right), Catch::Contains("runs whole"));
  StereoOptions match;
  match.stream.shard = Shard{1, 2};
  CHECK_THROWS_WITH(match_stereo(scene.left, scene.right, dir.file("d.tif"), match), Catch::Contains("runs whole"));
  CHECK_FALSE(std::filesystem::exists(dir.file("dsm.tif")));
}

TEST_CASE("stereo DSM: heights on a geoid through a compound CRS, against PROJ, and a geoid PROJ lacks refused", "[stereo][dsm]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 100, 9);
  DsmOptions o = scene_options();
  stereo_dsm(scene.left, scene.right, dir.file("ellipsoid.tif"), o);
  o.crs = "EPSG:32650+5773";  // UTM 50N + EGM96 height (Debian's proj-data holds its grid)
  stereo_dsm(scene.left, scene.right, dir.file("egm96.tif"), o);
  const Raster ellipsoid = Raster::open(dir.file("ellipsoid.tif")), egm96 = Raster::open(dir.file("egm96.tif"));
  REQUIRE(egm96.info().width == ellipsoid.info().width);
  REQUIRE(egm96.info().geotransform->c == ellipsoid.info().geotransform->c);
  OGRSpatialReference compound;
  compound.importFromWkt(egm96.info().crs_wkt.c_str());
  CHECK(compound.IsCompound());
  bool said = false;
  for (const auto& [k, v] : egm96.info().metadata) said |= k == "LUOJIA_HEIGHTS" && v.find("EGM96") != std::string::npos;
  CHECK(said);
  // The reference: PROJ's own undulation at each cell's centre (h - H through EPSG:4979 ->
  // EPSG:4326+5773), which varies by centimetres over the scene; the cells' heights differ by it.
  OGRSpatialReference utm, geographic3d, egm;
  utm.importFromEPSG(32650);
  geographic3d.importFromEPSG(4979);
  egm.SetFromUserInput("EPSG:4326+5773");
  for (auto* s : {&utm, &geographic3d, &egm}) s->SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_lonlat(OGRCreateCoordinateTransformation(&utm, &geographic3d));
  std::unique_ptr<OGRCoordinateTransformation> to_geoid(OGRCreateCoordinateTransformation(&geographic3d, &egm));
  REQUIRE(to_lonlat);
  REQUIRE(to_geoid);
  const std::vector<double> h = read_band(dir.file("ellipsoid.tif"), 1), big_h = read_band(dir.file("egm96.tif"), 1);
  const auto& g = ellipsoid.info().geotransform->c;
  double worst = 0;
  std::int64_t compared = 0;
  for (std::int64_t r = 0; r < ellipsoid.info().height; ++r)
    for (std::int64_t c = 0; c < ellipsoid.info().width; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * ellipsoid.info().width + c);
      if (h[i] == -9999.0 || big_h[i] == -9999.0) continue;
      double x = g[0] + (c + 0.5) * g[1], y = g[3] + (r + 0.5) * g[5], z = 0;
      REQUIRE(to_lonlat->Transform(1, &x, &y, &z));
      z = h[i];
      REQUIRE(to_geoid->Transform(1, &x, &y, &z));
      worst = std::max(worst, std::abs(big_h[i] - z));
      ++compared;
    }
  INFO(compared << " cells compared");
  CHECK(compared > 2000);
  CHECK(worst < 0.01);
  // A geoid whose grid is not installed is refused before any work, never taken as the
  // ellipsoid (PROJ's "ballpark" fallback would keep the heights unchanged).
  OGRSpatialReference egm2008;
  egm2008.SetFromUserInput("EPSG:32650+3855");
  OGRCoordinateTransformationOptions strict;
  strict.SetBallparkAllowed(false);
  CPLPushErrorHandler(CPLQuietErrorHandler);
  std::unique_ptr<OGRCoordinateTransformation> reachable(OGRCreateCoordinateTransformation(&geographic3d, &egm2008, strict));
  CPLPopErrorHandler();
  if (reachable) {
    WARN("this machine has EGM2008's grid: the refusal is not exercised");
  } else {
    o.crs = "EPSG:32650+3855";
    try {
      stereo_dsm(scene.left, scene.right, dir.file("egm2008.tif"), o);
      FAIL("a geoid without its grid was accepted");
    } catch (const UsageError& e) {
      CHECK(e.option() == "crs");
      CHECK_THAT(e.what(), Catch::Contains("EGM2008") && Catch::Contains("grid is missing"));
    }
    CHECK_FALSE(std::filesystem::exists(dir.file("egm2008.tif")));
  }
}

TEST_CASE("stereo DSM: the point cloud holds every kept point, and gridding it gives the DSM", "[stereo][dsm]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 100, 11);
  DsmOptions o = scene_options();
  o.point_cloud = dir.file("cloud.fgb");
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  CHECK(r.written == std::vector<std::string>{dir.file("dsm.tif"), dir.file("cloud.fgb")});
  // Read back by GDAL's FlatGeobuf reader.
  std::unique_ptr<GDALDataset> cloud(GDALDataset::Open(dir.file("cloud.fgb").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(cloud);
  OGRLayer* layer = cloud->GetLayer(0);
  REQUIRE(layer);
  CHECK(wkbFlatten(layer->GetGeomType()) == wkbPoint);
  CHECK(OGR_GT_HasZ(layer->GetGeomType()));
  CHECK(layer->GetFeatureCount() == r.points);
  const Raster dsm = Raster::open(dir.file("dsm.tif"));
  OGRSpatialReference dsm_srs;
  dsm_srs.importFromWkt(dsm.info().crs_wkt.c_str());
  CHECK(layer->GetSpatialRef()->IsSame(&dsm_srs));
  // Each cell's median of the cloud's heights is the DSM's height there, and its count band 2.
  const auto& g = dsm.info().geotransform->c;
  const std::int64_t w = dsm.info().width, h = dsm.info().height;
  std::vector<std::vector<float>> cells(static_cast<std::size_t>(w * h));
  for (auto& feature : *layer) {
    const auto* p = feature->GetGeometryRef()->toPoint();
    const auto c = static_cast<std::int64_t>(std::floor((p->getX() - g[0]) / g[1])), row = static_cast<std::int64_t>(std::floor((p->getY() - g[3]) / g[5]));
    REQUIRE(c >= 0);
    REQUIRE(row >= 0);
    REQUIRE(c < w);
    REQUIRE(row < h);
    cells[static_cast<std::size_t>(row * w + c)].push_back(static_cast<float>(p->getZ()));
  }
  const std::vector<double> height = read_band(dir.file("dsm.tif"), 1), count = read_band(dir.file("dsm.tif"), 2);
  const auto median_of = [](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (static_cast<double>(v[v.size() / 2 - 1]) + v[v.size() / 2]);
  };
  std::int64_t own = 0, agree = 0, holes = 0, filled = 0, filled_agree = 0;
  for (std::int64_t row = 0; row < h; ++row)
    for (std::int64_t c = 0; c < w; ++c) {
      const auto i = static_cast<std::size_t>(row * w + c);
      const auto& v = cells[i];
      if (!v.empty()) {
        ++own;
        agree += std::abs(height[i] - median_of(v)) < 1e-3 && count[i] == static_cast<double>(v.size());
        continue;
      }
      // A cell without points: filled from its neighbours' points when 3 of its 8 hold some.
      std::vector<float> around;
      int neighbours = 0;
      for (std::int64_t dy = -1; dy <= 1; ++dy)
        for (std::int64_t dx = -1; dx <= 1; ++dx) {
          if (row + dy < 0 || c + dx < 0 || row + dy >= h || c + dx >= w) continue;
          const auto& n = cells[static_cast<std::size_t>((row + dy) * w + c + dx)];
          neighbours += !n.empty();
          around.insert(around.end(), n.begin(), n.end());
        }
      if (neighbours < 3) {
        CHECK(height[i] == -9999.0);
        continue;
      }
      ++holes;
      filled += height[i] != -9999.0 && count[i] == 0.0;
      filled_agree += std::abs(height[i] - median_of(around)) < 1e-3;
    }
  INFO(agree << " of " << own << " cells agree; " << filled_agree << " of " << holes << " holes filled alike");
  CHECK(own + filled == r.cells);
  CHECK(filled == r.filled_cells);
  CHECK(holes > 0);
  CHECK(filled >= holes * 99 / 100);
  // (a point on a cell's edge may fall on either side after the float offsets the DSM keeps)
  CHECK(agree >= own * 999 / 1000);
  CHECK(filled_agree >= holes * 99 / 100);
  // A raster path for the cloud is refused before any work.
  o.point_cloud = dir.file("cloud.tif");
  CHECK_THROWS_AS(stereo_dsm(scene.left, scene.right, dir.file("dsm2.tif"), o), OutputError);
  CHECK_FALSE(std::filesystem::exists(dir.file("dsm2.tif")));
}

namespace {

// A LAS 1.4 file read by the layout of the ASPRS specification (1.4 R15, tables 3, 4 and 14):
// the header's fields, the WKT record and point format 6's X, Y, Z and returns.
struct LasFile {
  int major = 0, minor = 0, format = 0, record_length = 0;
  std::uint16_t global_encoding = 0;
  std::uint64_t count = 0;
  double min[3]{}, max[3]{};
  std::string wkt;
  std::vector<std::array<double, 3>> points;
  bool single_returns = true;
};

template <class T>
T field(const std::string& bytes, std::size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

LasFile read_las(const std::string& path) {
  const std::string b = read_file(path);
  REQUIRE(b.size() >= 375);
  REQUIRE(b.substr(0, 4) == "LASF");
  LasFile f;
  f.global_encoding = field<std::uint16_t>(b, 6);
  f.major = b[24];
  f.minor = b[25];
  const auto header_size = field<std::uint16_t>(b, 94);
  const auto point_offset = field<std::uint32_t>(b, 96);
  const auto vlrs = field<std::uint32_t>(b, 100);
  f.format = b[104] & 0x0f;
  f.record_length = field<std::uint16_t>(b, 105);
  double scale[3], offset[3];
  for (int k = 0; k < 3; ++k) {
    scale[k] = field<double>(b, 131 + 8 * k);
    offset[k] = field<double>(b, 155 + 8 * k);
    f.max[k] = field<double>(b, 179 + 16 * k);
    f.min[k] = field<double>(b, 187 + 16 * k);
  }
  f.count = field<std::uint64_t>(b, 247);
  std::size_t at = header_size;
  for (std::uint32_t i = 0; i < vlrs; ++i) {
    const std::string user(b.data() + at + 2, strnlen(b.data() + at + 2, 16));
    const auto id = field<std::uint16_t>(b, at + 18), length = field<std::uint16_t>(b, at + 20);
    if (user == "LASF_Projection" && id == 2112) f.wkt = std::string(b.data() + at + 54, strnlen(b.data() + at + 54, length));
    at += 54u + length;
  }
  REQUIRE(at == point_offset);
  REQUIRE(b.size() == point_offset + f.count * static_cast<std::uint64_t>(f.record_length));
  for (std::uint64_t i = 0; i < f.count; ++i) {
    const std::size_t p = point_offset + i * static_cast<std::size_t>(f.record_length);
    std::array<double, 3> xyz{};
    for (int k = 0; k < 3; ++k) xyz[static_cast<std::size_t>(k)] = field<std::int32_t>(b, p + 4 * static_cast<std::size_t>(k)) * scale[k] + offset[k];
    f.points.push_back(xyz);
    f.single_returns = f.single_returns && static_cast<unsigned char>(b[p + 14]) == 0x11;
  }
  return f;
}

}  // namespace

TEST_CASE("stereo DSM: the point cloud as LAS 1.4 holds the points the vector cloud holds, on the DSM's CRS", "[stereo][dsm]") {
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 100, 11);
  DsmOptions o = scene_options();
  o.point_cloud = dir.file("cloud.fgb");
  stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  o.point_cloud = dir.file("cloud.las");
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  CHECK(r.written == std::vector<std::string>{dir.file("dsm.tif"), dir.file("cloud.las")});
  const LasFile las = read_las(dir.file("cloud.las"));
  CHECK(las.major == 1);
  CHECK(las.minor == 4);
  CHECK(las.format == 6);
  CHECK(las.record_length == 30);
  CHECK((las.global_encoding & 16) != 0);  // the CRS is WKT
  CHECK(las.single_returns);
  REQUIRE(las.count == static_cast<std::uint64_t>(r.points));
  OGRSpatialReference las_srs, dsm_srs;
  REQUIRE(las_srs.importFromWkt(las.wkt.c_str()) == OGRERR_NONE);
  dsm_srs.importFromWkt(Raster::open(dir.file("dsm.tif")).info().crs_wkt.c_str());
  CHECK(las_srs.IsSame(&dsm_srs));
  // The same points as GDAL's FlatGeobuf reader gives (in another order: FlatGeobuf sorts them
  // along a Hilbert curve), to the millimetre LAS stores; the header's bounds are theirs.
  std::unique_ptr<GDALDataset> cloud(GDALDataset::Open(dir.file("cloud.fgb").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  REQUIRE(cloud);
  std::vector<std::array<double, 3>> expected;
  for (auto& feature : *cloud->GetLayer(0)) {
    const auto* p = feature->GetGeometryRef()->toPoint();
    expected.push_back({std::round(p->getX() * 1000) / 1000, std::round(p->getY() * 1000) / 1000, std::round(p->getZ() * 1000) / 1000});
  }
  std::vector<std::array<double, 3>> got = las.points;
  for (auto& p : got)
    for (double& v : p) v = std::round(v * 1000) / 1000;
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  REQUIRE(got.size() == expected.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    same += std::abs(got[i][0] - expected[i][0]) < 1.5e-3 && std::abs(got[i][1] - expected[i][1]) < 1.5e-3 &&
            std::abs(got[i][2] - expected[i][2]) < 1.5e-3;
  CHECK(same == got.size());
  for (std::size_t k = 0; k < 3; ++k) {
    double low = 1e300, high = -1e300;
    for (const auto& p : las.points) {
      low = std::min(low, p[k]);
      high = std::max(high, p[k]);
    }
    CHECK(las.min[k] == Approx(low).margin(1e-9));
    CHECK(las.max[k] == Approx(high).margin(1e-9));
  }
  // LAZ needs LASzip, which Debian 12 lacks: refused before any work, never written as LAS.
  o.point_cloud = dir.file("cloud.laz");
  CHECK_THROWS_AS(stereo_dsm(scene.left, scene.right, dir.file("dsm3.tif"), o), UsageError);
  CHECK_FALSE(std::filesystem::exists(dir.file("dsm3.tif")));
  CHECK_FALSE(std::filesystem::exists(dir.file("cloud.laz")));
}

TEST_CASE("stereo DSM: a learned matcher on an RPC pair searches the heights' disparities and gives the surface", "[stereo][dsm][nn]") {
  // tools/make_block_matcher.py's network searches disparities 0..47: it gets the right view moved
  // by the range's start, and its disparities are moved back. A wrong move puts every height off.
  TempDir dir;
  const RpcScene scene = make_rpc_scene(dir.path().string(), 240);
  DsmOptions o = scene_options();
  o.stereo.match = MatchOptions{};
  o.stereo.model = LUOJIA_TEST_DATA "/stereo/block_matcher.onnx";
  o.stereo.tile = 4096;
  o.disparity = dir.file("disparity.tif");
  const DsmReport r = stereo_dsm(scene.left, scene.right, dir.file("dsm.tif"), o);
  INFO("disparities " << r.min_disparity << ".." << r.max_disparity << ", " << r.points << " points, " << r.dropped_points << " dropped, " << r.matching.counts.matched << " matched");
  REQUIRE(r.max_disparity - r.min_disparity < 48);
  CHECK(r.min_disparity != 0);
  CHECK_FALSE(r.matcher_short);
  CHECK(r.matching.reach >= 47);
  const Score s = score(dir.file("dsm.tif"), scene.truth);
  INFO(s.covered << " of " << s.cells << " cells, median |dh| " << s.median_error);
  CHECK(s.median_error < 0.5);
  // (a block matcher has no left-right check: what it matches wrongly beside the blocks' walls
  // lands elsewhere or is dropped, leaving more cells empty than the semi-global matcher does)
  CHECK(s.covered >= s.cells * 70 / 100);
  // The kept disparity is the grid's (right u = left u - d), within the range the network saw.
  const std::vector<double> d = read_band(dir.file("disparity.tif"), 1);
  std::int64_t inside = 0, held = 0;
  for (const double v : d) {
    if (v == -9999.0) continue;
    ++held;
    inside += v >= r.min_disparity - 1e-3 && v <= r.min_disparity + 47 + 1e-3;
  }
  CHECK(held > 10000);
  CHECK(inside == held);
  const RasterInfo info = Raster::open(dir.file("disparity.tif")).info();
  bool maps = false;
  for (const auto& [k, v] : info.metadata) maps |= k == "LUOJIA_EPIPOLAR_RIGHT_SHIFT";
  CHECK(maps);
  // Tiles give the whole scene's DSM bit for bit.
  o.stereo.tile = 64;
  o.disparity.clear();
  stereo_dsm(scene.left, scene.right, dir.file("tiled.tif"), o);
  CHECK(read_band(dir.file("tiled.tif"), 1) == read_band(dir.file("dsm.tif"), 1));
  // Heights surveyed: the grid is made again for them and the right view moved on it.
  {
    DsmOptions surveyed = o;
    surveyed.stereo.tile = 4096;
    surveyed.min_height.reset();
    surveyed.max_height.reset();
    surveyed.height_margin = 5.0;
    const DsmReport sr = stereo_dsm(scene.left, scene.right, dir.file("surveyed.tif"), surveyed);
    INFO("surveyed disparities " << sr.min_disparity << ".." << sr.max_disparity << ", heights " << sr.min_height << ".." << sr.max_height);
    CHECK(sr.surveyed);
    CHECK(sr.max_height < 100.0);  // (made again for the surveyed heights, not the RPCs' 0-200 m)
    CHECK_FALSE(sr.matcher_short);
    const Score ss = score(dir.file("surveyed.tif"), scene.truth);
    INFO(ss.covered << " of " << ss.cells << " cells, median |dh| " << ss.median_error);
    CHECK(ss.median_error < 0.5);
    CHECK(ss.covered >= ss.cells * 70 / 100);
  }
  // A network of 8 disparities cannot search the heights' 40: said.
  o.stereo.model = LUOJIA_TEST_DATA "/stereo/gcnet_tiny.onnx";
  const DsmReport small = stereo_dsm(scene.left, scene.right, dir.file("small.tif"), o);
  INFO("reach " << small.matching.reach);
  CHECK(small.matcher_short);
}
