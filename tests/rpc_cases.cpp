#include "rpc_cases.hpp"

#include "support.hpp"

#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <vector>
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace luojia::test {
namespace {

std::string join(const std::array<double, 20>& c) {
  std::ostringstream out;
  out.precision(17);
  for (std::size_t i = 0; i < c.size(); ++i) out << (i ? " " : "") << c[i];
  return out.str();
}

}  // namespace

RpcMetadata synthetic_rpc(int view, int size, double gsd) {
  // Normalised: L, P in [-1, 1] over the scene, H in [-1, 1] over 0..200 m.
  const double half = size / 2.0;
  const double lon_scale = half * gsd / (111320.0 * std::cos(30.53 * M_PI / 180.0)), lat_scale = half * gsd / 110900.0;
  const double height_offset = 100.0, height_scale = 100.0;
  // Pixels per normalised unit: the scene spans the image; parallax 0.4 px/m -> 40 px per H unit.
  const double along = half, parallax = (view == 0 ? 1.0 : -1.0) * 0.4 * height_scale;
  const double angle = view == 0 ? 0.0 : 3.0 * M_PI / 180.0, zoom = view == 0 ? 1.0 : 1.02;
  const double c = std::cos(angle) * zoom, s = std::sin(angle) * zoom;
  std::array<double, 20> samp_num{}, line_num{}, samp_den{}, line_den{};
  // sample = along * (c L - s (-P)) + parallax H; line = along * (s L + c (-P)) (north up).
  samp_num[1] = c;
  samp_num[2] = s;
  samp_num[3] = parallax / along;
  line_num[1] = s;
  line_num[2] = -c;
  line_num[3] = view == 0 ? 0.002 : -0.003;  // a little parallax across the rows
  // Curvature and a varying denominator, as real sensors' models have.
  samp_num[7] = 0.0012 * (view + 1);
  samp_num[8] = -0.0008;
  line_num[4] = 0.0009;
  line_num[9] = 0.0004 * (view ? -1 : 1);
  samp_den = {1, 0.0006, -0.0004, 0.0002, 0, 0, 0, 0.0001, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  line_den = {1, -0.0003, 0.0005, -0.0001, 0, 0, 0, 0, 0.0002, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto number = [](double v) {
    std::ostringstream out;
    out.precision(17);
    out << v;
    return out.str();
  };
  return {{"LINE_OFF", number(half - 0.5)},      {"SAMP_OFF", number(half - 0.5)},    {"LAT_OFF", "30.53"},
          {"LONG_OFF", "114.35"},                {"HEIGHT_OFF", number(height_offset)}, {"LINE_SCALE", number(along)},
          {"SAMP_SCALE", number(along)},          {"LAT_SCALE", number(lat_scale)},    {"LONG_SCALE", number(lon_scale)},
          {"HEIGHT_SCALE", number(height_scale)}, {"LINE_NUM_COEFF", join(line_num)},  {"LINE_DEN_COEFF", join(line_den)},
          {"SAMP_NUM_COEFF", join(samp_num)},     {"SAMP_DEN_COEFF", join(samp_den)}};
}

void attach_rpc(const std::string& path, const RpcMetadata& rpc) {
  std::unique_ptr<GDALDataset> d(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
  if (!d) throw std::runtime_error("cannot open " + path);
  for (const auto& [k, v] : rpc) d->SetMetadataItem(k.c_str(), v.c_str(), "RPC");
}

RpcScene make_rpc_scene(const std::string& folder, int size, int seed) {
  GDALAllRegister();
  RpcScene scene{folder + "/left.tif", folder + "/right.tif", folder + "/truth.tif"};
  // The ground grid: 0.5 m cells over the images' footprint and a margin, around the centre.
  OGRSpatialReference wgs84, utm;
  wgs84.SetWellKnownGeogCS("WGS84");
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  utm.importFromEPSG(32650);
  utm.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> to_utm(OGRCreateCoordinateTransformation(&wgs84, &utm));
  double cx = 114.35, cy = 30.53;
  to_utm->Transform(1, &cx, &cy);
  const int cells = static_cast<int>(size * 1.3);
  const double x0 = std::floor(cx) - cells * 0.25, y0 = std::floor(cy) + cells * 0.25;
  std::vector<float> surface(static_cast<std::size_t>(cells) * cells), texture(surface.size());
  struct Block {
    int x, y, w, h;
    float height;
  };
  std::vector<Block> blocks;
  for (int i = 0; i < size / 12; ++i)
    blocks.push_back({static_cast<int>(hash01(0, i, seed, 1) * (cells - 60)), static_cast<int>(hash01(1, i, seed, 1) * (cells - 60)),
                      16 + static_cast<int>(hash01(2, i, seed, 1) * 44), 16 + static_cast<int>(hash01(3, i, seed, 1) * 44),
                      static_cast<float>(5.0 + 20.0 * hash01(4, i, seed, 1))});
  for (int r = 0; r < cells; ++r)
    for (int c = 0; c < cells; ++c) {
      float h = static_cast<float>(30.0 + 5.0 * std::sin(c / 57.0 + 0.3) * std::cos(r / 71.0));
      for (const Block& b : blocks)
        if (c >= b.x && c < b.x + b.w && r >= b.y && r < b.y + b.h) h = std::max(h, static_cast<float>(30.0 + b.height));
      surface[static_cast<std::size_t>(r) * cells + c] = h;
      texture[static_cast<std::size_t>(r) * cells + c] =
          static_cast<float>(400.0 + 900.0 * hash01(5, c / 2, r / 2, seed) + 500.0 * hash01(6, c / 7, r / 7, seed) + 300.0 * hash01(7, c, r, seed));
    }
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  {
    std::unique_ptr<GDALDataset> d(gtiff->Create(scene.truth.c_str(), cells, cells, 1, GDT_Float32, nullptr));
    double gt[6] = {x0, 0.5, 0, y0, 0, -0.5};
    d->SetGeoTransform(gt);
    d->SetSpatialRef(&utm);
    if (d->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, cells, cells, surface.data(), cells, cells, GDT_Float32, 0, 0) != CE_None)
      throw std::runtime_error("cannot write the truth");
  }
  for (int view = 0; view < 2; ++view) {
    const std::string& path = view == 0 ? scene.left : scene.right;
    const char* options[] = {"TILED=YES", nullptr};
    std::unique_ptr<GDALDataset> d(gtiff->Create(path.c_str(), size, size, 1, GDT_UInt16, const_cast<char**>(options)));
    for (const auto& [k, v] : synthetic_rpc(view, size)) d->SetMetadataItem(k.c_str(), v.c_str(), "RPC");
    d->GetRasterBand(1)->SetNoDataValue(0);
    const std::string dem = "RPC_DEM=" + scene.truth;
    const char* to[] = {"METHOD=RPC", dem.c_str(), "RPC_DEMINTERPOLATION=bilinear", nullptr};
    void* t = GDALCreateGenImgProjTransformer2(GDALDataset::ToHandle(d.get()), nullptr, const_cast<char**>(to));
    if (!t) throw std::runtime_error("no RPC transformer");
    std::vector<std::uint16_t> pixels(static_cast<std::size_t>(size) * size, 0);
    std::vector<double> xs(static_cast<std::size_t>(size)), ys(xs.size()), zs(xs.size());
    std::vector<int> ok(xs.size());
    for (int r = 0; r < size; ++r) {
      for (int c = 0; c < size; ++c) {
        xs[static_cast<std::size_t>(c)] = c + 0.5;
        ys[static_cast<std::size_t>(c)] = r + 0.5;
        zs[static_cast<std::size_t>(c)] = 0;
      }
      GDALGenImgProjTransform(t, FALSE, size, xs.data(), ys.data(), zs.data(), ok.data());
      to_utm->Transform(size, xs.data(), ys.data());
      for (int c = 0; c < size; ++c) {
        if (!ok[static_cast<std::size_t>(c)]) continue;
        const double gc = (xs[static_cast<std::size_t>(c)] - x0) / 0.5 - 0.5, gr = (y0 - ys[static_cast<std::size_t>(c)]) / 0.5 - 0.5;
        const int ic = static_cast<int>(std::floor(gc)), ir = static_cast<int>(std::floor(gr));
        if (ic < 0 || ir < 0 || ic >= cells - 1 || ir >= cells - 1) continue;
        const double fc = gc - ic, fr = gr - ir;
        const auto at = [&](int a, int b) { return static_cast<double>(texture[static_cast<std::size_t>(b) * cells + a]); };
        const double v = at(ic, ir) * (1 - fc) * (1 - fr) + at(ic + 1, ir) * fc * (1 - fr) + at(ic, ir + 1) * (1 - fc) * fr +
                         at(ic + 1, ir + 1) * fc * fr;
        pixels[static_cast<std::size_t>(r) * size + c] = static_cast<std::uint16_t>(std::clamp(std::lround(v), 1L, 65535L));
      }
    }
    GDALDestroyGenImgProjTransformer(t);
    if (d->GetRasterBand(1)->RasterIO(GF_Write, 0, 0, size, size, pixels.data(), size, size, GDT_UInt16, 0, 0) != CE_None)
      throw std::runtime_error("cannot write a view");
  }
  return scene;
}

}  // namespace luojia::test
