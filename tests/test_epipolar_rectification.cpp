// The epipolar grid of an RPC pair: rows that meet, checked through GDAL's RPC transformer (an
// independent implementation of RPC00B) on a scene large enough that no affine map rectifies it;
// and the resampling onto the grid, against GDAL's cubic warper and against closed-form values.
#include "rpc_cases.hpp"
#include "support.hpp"

#include "stereo/epipolar_rectification.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/rpc_model.hpp>

#include <catch2/catch.hpp>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <gdalwarper.h>
#include <gdal_priv.h>

#include <cmath>
#include <functional>
#include <optional>
#include <random>

using namespace luojia;
using namespace luojia::test;

namespace {

// GDAL's RPC transformer over a model's metadata: image <-> ground at a height.
struct GdalRpc {
  void* transformer = nullptr;
  explicit GdalRpc(const RpcMetadata& rpc) {
    CPLStringList list;
    for (const auto& [k, v] : rpc) list.SetNameValue(k.c_str(), v.c_str());
    GDALRPCInfoV2 info;
    REQUIRE(GDALExtractRPCInfoV2(list.List(), &info));
    transformer = GDALCreateRPCTransformerV2(&info, FALSE, 0.0, nullptr);
    REQUIRE(transformer);
  }
  ~GdalRpc() { GDALDestroyRPCTransformer(transformer); }
  std::array<double, 2> ground(double column, double row, double height) const { return transform(FALSE, column, row, height); }
  std::array<double, 2> image(double longitude, double latitude, double height) const {
    return transform(TRUE, longitude, latitude, height);
  }
  std::array<double, 2> transform(int to_image, double x, double y, double z) const {
    int ok = 0;
    GDALRPCTransform(transformer, to_image, 1, &x, &y, &z, &ok);
    REQUIRE(ok);
    return {x, y};
  }
};

struct Residual {
  double grid = 0, affine = 0;  // largest |row difference| with the row shifts, and without
};

// Random ground points at random heights of [low, high] over the left image, projected into
// both views by GDAL: how far apart the grid puts the rows of their two images.
Residual rows_apart(const stereo::EpipolarGeometry& g, const RpcMetadata& left, const RpcMetadata& right, int size, double low,
                    double high) {
  const GdalRpc l(left), r(right);
  std::mt19937 random(7);
  std::uniform_real_distribution<double> pixel(0.0, size), height(low, high);
  Residual out;
  for (int k = 0; k < 2000; ++k) {
    const double h = height(random);
    // A ground point about the left pixel: both views' images of it by the forward formula.
    const auto ground = l.ground(pixel(random), pixel(random), h);
    const auto mine = l.image(ground[0], ground[1], h), seen = r.image(ground[0], ground[1], h);
    const double c = mine[0], row = mine[1];
    const double v_left = g.grid_at(stereo::View::Left, c, row)[1];
    out.grid = std::max(out.grid, std::abs(v_left - g.grid_at(stereo::View::Right, seen[0], seen[1])[1]));
    out.affine = std::max(out.affine, std::abs(stereo::apply(g.left, c, row)[1] - stereo::apply(g.right, seen[0], seen[1])[1]));
  }
  return out;
}

// A Float32 raster of size x size whose pixel centre (x + 0.5, y + 0.5) holds value(x + 0.5, y + 0.5).
std::string ramp_raster(const TempDir& dir, const std::string& name, int size, const std::function<double(double, double)>& value,
                        std::optional<double> nodata = {}) {
  RasterSpec spec;
  spec.width = spec.height = size;
  spec.epsg = 0;
  spec.type = GDT_Float32;
  spec.nodata = nodata;
  const std::string path = dir.file(name);
  make_raster(path, spec, [&](int, int x, int y) { return value(x + 0.5, y + 0.5); });
  return path;
}

}  // namespace

TEST_CASE("epipolar rectification: row shifts take out what an affine map leaves over a large scene", "[stereo][epipolar]") {
  // 20000 px views: the models' curved terms leave pixels of vertical disparity to an affine map.
  constexpr int kSize = 20000;
  RpcMetadata left = synthetic_rpc(0, kSize), right = synthetic_rpc(1, kSize);
  const RpcModel left_model = RpcModel::from_metadata(left, "left"), right_model = RpcModel::from_metadata(right, "right");
  SECTION("over a thin slice of heights, the rows meet everywhere") {
    const auto g = stereo::rectify_from_rpc(left_model, kSize, kSize, right_model, 40.0, 42.0);
    const Residual apart = rows_apart(g, left, right, kSize, 40.0, 42.0);
    INFO("rows apart: " << apart.grid << " px with the shifts, " << apart.affine << " px affine; reported " << g.vertical_max
                        << " (affine " << g.affine_vertical_max << ")");
    CHECK(apart.affine > 2.0);
    CHECK(apart.grid < 0.02);
    CHECK(g.vertical_max < 0.02);
    CHECK(g.affine_vertical_max == Approx(apart.affine).epsilon(0.2));
  }
  SECTION("over the scene's heights, what is left is the views' own curvature, and is said") {
    const auto g = stereo::rectify_from_rpc(left_model, kSize, kSize, right_model, 20.0, 65.0);
    const Residual apart = rows_apart(g, left, right, kSize, 20.0, 65.0);
    INFO("rows apart: " << apart.grid << " px with the shifts, " << apart.affine << " px affine; reported " << g.vertical_max
                        << " (affine " << g.affine_vertical_max << ")");
    CHECK(apart.grid < apart.affine / 2);
    CHECK(g.vertical_max == Approx(apart.grid).epsilon(0.25));
  }
  SECTION("grid and image coordinates are each other's inverse") {
    const auto g = stereo::rectify_from_rpc(left_model, kSize, kSize, right_model, 20.0, 65.0);
    REQUIRE_FALSE(g.right_shift.values.empty());
    for (const stereo::View view : {stereo::View::Left, stereo::View::Right})
      for (const double c : {0.0, 1234.5, 19999.0})
        for (const double r : {0.0, 777.25, 15000.0}) {
          const auto p = g.image_at(view, g.grid_at(view, c, r)[0], g.grid_at(view, c, r)[1]);
          CHECK(p[0] == Approx(c).margin(1e-6));
          CHECK(p[1] == Approx(r).margin(1e-6));
        }
  }
}

TEST_CASE("epipolar resampling: a rotation equals GDAL's cubic warper", "[stereo][epipolar]") {
  TempDir dir;
  constexpr int kSize = 300;
  const std::string source = ramp_raster(dir, "texture.tif", kSize, [](double x, double y) {
    return 100.0 + 40.0 * std::sin(x * 0.21) * std::cos(y * 0.17) + 0.3 * x;
  });
  stereo::EpipolarGeometry g;
  const double a = 0.35, cs = std::cos(a), sn = std::sin(a);
  g.left = {cs, sn, 3.0, -sn, cs, 110.0};
  g.left_back = stereo::inverse(g.left);
  g.width = 397;  // not a multiple of the 256 px tiles
  g.height = 389;
  const std::string ours = dir.file("ours.tif");
  stereo::resample_to_epipolar(source, 1, g, stereo::View::Left, 0.0, ours, 16u << 20, 2, {});
  // GDAL: the source's georeferencing its pixel coordinates, the grid's the inverse map.
  GDALDatasetH src = GDALOpen(source.c_str(), GA_ReadOnly);
  GDALDriverH mem = GDALGetDriverByName("MEM");
  GDALDatasetH dst = GDALCreate(mem, "", g.width, g.height, 1, GDT_Float32, nullptr);
  const double identity[6] = {0, 1, 0, 0, 0, 1};
  const auto& b = g.left_back;
  const double grid[6] = {b[2], b[0], b[1], b[5], b[3], b[4]};
  void* transformer = GDALCreateGenImgProjTransformer3(nullptr, identity, nullptr, grid);
  GDALWarpOptions* wo = GDALCreateWarpOptions();
  wo->hSrcDS = src;
  wo->hDstDS = dst;
  wo->nBandCount = 1;
  wo->panSrcBands = static_cast<int*>(CPLMalloc(sizeof(int)));
  wo->panDstBands = static_cast<int*>(CPLMalloc(sizeof(int)));
  wo->panSrcBands[0] = wo->panDstBands[0] = 1;
  wo->eResampleAlg = GRA_Cubic;
  wo->pfnTransformer = GDALGenImgProjTransform;
  wo->pTransformerArg = transformer;
  wo->padfDstNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double)));
  wo->padfDstNoDataReal[0] = stereo::kEpipolarNodata;
  wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
  // (GDAL takes a rotation's wider footprint per pixel for a reduction and widens its kernel
  // unless told the scale is 1)
  wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "XSCALE", "1");
  wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "YSCALE", "1");
  GDALWarpOperation operation;
  REQUIRE(operation.Initialize(wo) == CE_None);
  REQUIRE(operation.ChunkAndWarpImage(0, 0, static_cast<int>(g.width), static_cast<int>(g.height)) == CE_None);
  GDALDestroyWarpOptions(wo);
  GDALDestroyGenImgProjTransformer(transformer);
  std::vector<float> theirs(static_cast<std::size_t>(g.width * g.height));
  REQUIRE(GDALRasterIO(GDALGetRasterBand(dst, 1), GF_Read, 0, 0, static_cast<int>(g.width), static_cast<int>(g.height), theirs.data(),
                       static_cast<int>(g.width), static_cast<int>(g.height), GDT_Float32, 0, 0) == CE_None);
  GDALClose(dst);
  GDALClose(src);
  const std::vector<double> mine = read_band(ours, 1);
  // Every grid pixel whose sixteen taps lie inside the image: the same value; outside the image:
  // nodata in both.
  std::int64_t inside = 0, outside = 0;
  double worst = 0;
  for (std::int64_t y = 0; y < g.height; ++y)
    for (std::int64_t x = 0; x < g.width; ++x) {
      const auto p = g.image_at(stereo::View::Left, x + 0.5, y + 0.5);
      const auto k = static_cast<std::size_t>(y * g.width + x);
      if (p[0] > 2.5 && p[1] > 2.5 && p[0] < kSize - 2.5 && p[1] < kSize - 2.5) {
        ++inside;
        worst = std::max(worst, std::abs(mine[k] - theirs[k]));
      } else if (p[0] < -0.5 || p[1] < -0.5 || p[0] > kSize + 0.5 || p[1] > kSize + 0.5) {
        ++outside;
        CHECK(mine[k] == Approx(stereo::kEpipolarNodata));
      }
    }
  INFO(inside << " pixels inside, " << outside << " outside");
  CHECK(inside > 60000);
  CHECK(outside > 20000);
  CHECK(worst < 1e-3);
}

TEST_CASE("epipolar resampling: the right view through its row shifts, exact on a ramp, nodata kept", "[stereo][epipolar]") {
  TempDir dir;
  constexpr int kSize = 200;
  // Keys' cubic reproduces a linear ramp exactly: every grid pixel is the ramp at its image point.
  const auto ramp = [](double x, double y) { return 3.0 * x - 2.0 * y + 1000.0; };
  const std::string source = ramp_raster(dir, "ramp.tif", kSize, [&](double x, double y) {
    return (x > 120 && x < 130 && y > 60 && y < 70) ? -1.0 : ramp(x, y);  // a hole of nodata
  }, -1.0);
  stereo::EpipolarGeometry g;
  g.right = {1.02, 0.05, -4.0, -0.05, 1.02, 6.0};
  g.right_back = stereo::inverse(g.right);
  g.right_shift.step = 64;
  g.right_shift.columns = 5;
  g.right_shift.rows = 5;
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < 5; ++i) g.right_shift.values.push_back(1.5 * std::sin(i * 0.9) + 0.7 * j - 1.0);
  g.width = 257;
  g.height = 1;  // one row, ...
  SECTION("one row") {}
  SECTION("a grid larger than a tile") { g.height = 211; }
  const std::string path = dir.file("right.tif");
  stereo::resample_to_epipolar(source, 1, g, stereo::View::Right, 0.0, path, 16u << 20, 2, {});
  const std::vector<double> out = read_band(path, 1);
  std::int64_t checked = 0, holes = 0;
  for (std::int64_t y = 0; y < g.height; ++y)
    for (std::int64_t x = 0; x < g.width; ++x) {
      const auto p = g.image_at(stereo::View::Right, x + 0.5, y + 0.5);
      const double v = out[static_cast<std::size_t>(y * g.width + x)];
      if (p[0] > 118 && p[0] < 132 && p[1] > 58 && p[1] < 72) {
        // The hole: nodata where its nearest pixel is one.
        if (p[0] > 121 && p[0] < 129 && p[1] > 61 && p[1] < 69) {
          CHECK(v == Approx(stereo::kEpipolarNodata));
          ++holes;
        }
        continue;
      }
      if (p[0] < 0 || p[1] < 0 || p[0] > kSize || p[1] > kSize) {
        CHECK(v == Approx(stereo::kEpipolarNodata));
        continue;
      }
      // (the outer half pixel takes its nearest pixels' mean, not the ramp)
      if (p[0] < 0.5 || p[1] < 0.5 || p[0] > kSize - 0.5 || p[1] > kSize - 0.5) continue;
      // Cubic inside, bilinear by the edges: both give the ramp.
      CHECK(v == Approx(ramp(p[0], p[1])).margin(2e-3));
      ++checked;
    }
  CHECK(checked > (g.height > 1 ? 20000 : 50));
  if (g.height > 1) CHECK(holes > 20);
}

TEST_CASE("epipolar resampling: a band the raster lacks is refused", "[stereo][epipolar][errors]") {
  TempDir dir;
  const std::string source = ramp_raster(dir, "one.tif", 16, [](double x, double) { return x; });
  stereo::EpipolarGeometry g;
  g.left_back = stereo::inverse(g.left = {1, 0, 0, 0, 1, 0});
  g.width = g.height = 16;
  CHECK_THROWS_AS(stereo::resample_to_epipolar(source, 2, g, stereo::View::Left, 0.0, dir.file("out.tif"), 16u << 20, 1, {}), UsageError);
  CHECK(dir.entries().size() == 1);
}
