// The RPC model against GDAL's RPC transformer (an independent implementation of RPC00B):
// projection, localisation at a height, and the intersection of two lines of sight.
#include "rpc_cases.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/rpc_model.hpp>

#include <catch2/catch.hpp>
#include <gdal_alg.h>

#include <cmath>

using namespace luojia;
using namespace luojia::test;

namespace {

// GDAL's transformer for a raster with RPCs, at a fixed height (RPC_HEIGHT) or not.
struct GdalRpc {
  GDALDatasetH dataset;
  void* transformer;
  GdalRpc(const std::string& path, double height) {
    dataset = GDALOpen(path.c_str(), GA_ReadOnly);
    const std::string h = "RPC_HEIGHT=" + std::to_string(height);
    const char* options[] = {"METHOD=RPC", h.c_str(), nullptr};
    transformer = GDALCreateGenImgProjTransformer2(dataset, nullptr, const_cast<char**>(options));
  }
  ~GdalRpc() {
    GDALDestroyGenImgProjTransformer(transformer);
    GDALClose(dataset);
  }
  // Ground to image at the transformer's height (RPC_HEIGHT is added to the z given: 0 here).
  std::array<double, 2> project(double lon, double lat) const {
    double x = lon, y = lat, z = 0;
    int ok = 0;
    GDALGenImgProjTransform(transformer, TRUE, 1, &x, &y, &z, &ok);
    return {x, y};
  }
  std::array<double, 2> localise(double column, double row) const {
    double x = column, y = row, z = 0;
    int ok = 0;
    GDALGenImgProjTransform(transformer, FALSE, 1, &x, &y, &z, &ok);
    return {x, y};
  }
};

std::string raster_with_rpc(const TempDir& dir, const std::string& name, int view) {
  RasterSpec spec;
  spec.width = 2000;
  spec.height = 2000;
  spec.epsg = 0;
  spec.type = GDT_Byte;
  spec.options = {"TILED=YES", "COMPRESS=DEFLATE"};
  const std::string path = dir.file(name);
  make_raster(path, spec, [](int, int, int) { return 0.0; });
  attach_rpc(path, synthetic_rpc(view));
  return path;
}

}  // namespace

TEST_CASE("RPC model: projection and localisation equal GDAL's", "[rpc]") {
  TempDir dir;
  for (const int view : {0, 1}) {
    const std::string path = raster_with_rpc(dir, "v" + std::to_string(view) + ".tif", view);
    const RasterInfo info = Raster::open(path).info();
    const std::optional<RpcModel> model = RpcModel::of(info);
    REQUIRE(model);
    for (const double height : {-20.0, 0.0, 75.0, 230.0}) {
      const GdalRpc gdal(path, height);
      for (int i = 0; i < 25; ++i) {
        const double lon = 114.35 + 0.005 * (hash01(0, i, view) * 2 - 1), lat = 30.53 + 0.004 * (hash01(1, i, view) * 2 - 1);
        const auto ours = model->project(lon, lat, height);
        const auto theirs = gdal.project(lon, lat);
        CHECK(ours[0] == Approx(theirs[0]).margin(1e-6));
        CHECK(ours[1] == Approx(theirs[1]).margin(1e-6));
        const double column = 2000 * hash01(2, i, view), row = 2000 * hash01(3, i, view);
        const auto ground = model->localise(column, row, height);
        const auto expected = gdal.localise(column, row);
        CHECK(ground[0] == Approx(expected[0]).margin(1e-9));
        CHECK(ground[1] == Approx(expected[1]).margin(1e-9));
      }
    }
    // The analytic Jacobian against central differences.
    std::array<double, 6> j;
    model->project(114.351, 30.529, 40.0, j);
    const double step[3] = {1e-7, 1e-7, 1e-3};
    for (int k = 0; k < 3; ++k) {
      double plus[3] = {114.351, 30.529, 40.0}, minus[3] = {114.351, 30.529, 40.0};
      plus[k] += step[k];
      minus[k] -= step[k];
      const auto a = model->project(plus[0], plus[1], plus[2]), b = model->project(minus[0], minus[1], minus[2]);
      CHECK(j[static_cast<std::size_t>(k)] == Approx((a[0] - b[0]) / (2 * step[k])).epsilon(1e-5));
      CHECK(j[static_cast<std::size_t>(3 + k)] == Approx((a[1] - b[1]) / (2 * step[k])).epsilon(1e-5).margin(1e-6));
    }
  }
}

TEST_CASE("RPC model: two lines of sight meet at the ground point both views see", "[rpc]") {
  TempDir dir;
  const std::string left = raster_with_rpc(dir, "l.tif", 0), right = raster_with_rpc(dir, "r.tif", 1);
  const RpcModel l = *RpcModel::of(Raster::open(left).info()), r = *RpcModel::of(Raster::open(right).info());
  for (int i = 0; i < 40; ++i) {
    const double lon = 114.35 + 0.005 * (hash01(4, i, 0) * 2 - 1), lat = 30.53 + 0.004 * (hash01(5, i, 0) * 2 - 1);
    const double height = -10.0 + 220.0 * hash01(6, i, 0);
    // Where GDAL says each view sees the point.
    const auto pl = GdalRpc(left, height).project(lon, lat), pr = GdalRpc(right, height).project(lon, lat);
    const Intersection x = intersect(l, pl[0], pl[1], r, pr[0], pr[1]);
    CHECK(x.longitude == Approx(lon).margin(1e-9));
    CHECK(x.latitude == Approx(lat).margin(1e-9));
    CHECK(x.height == Approx(height).margin(1e-4));
    CHECK(x.residual < 1e-6);
  }
  // Lines that miss each other by a pixel across the rows: the residual says so.
  const auto pl = GdalRpc(left, 50).project(114.35, 30.53), pr = GdalRpc(right, 50).project(114.35, 30.53);
  CHECK(intersect(l, pl[0], pl[1], r, pr[0], pr[1] + 2.0).residual > 0.4);
}

TEST_CASE("RPC model: malformed metadata is refused with the file's name", "[rpc][errors]") {
  RpcMetadata rpc = synthetic_rpc(0);
  rpc.erase(rpc.begin());
  CHECK_THROWS_WITH(RpcModel::from_metadata(rpc, "scene.tif"), Catch::Contains("scene.tif") && Catch::Contains("lack LINE_OFF"));
  rpc = synthetic_rpc(0);
  rpc.back().second = "1 2 3";
  CHECK_THROWS_AS(RpcModel::from_metadata(rpc, "scene.tif"), InputError);
}
