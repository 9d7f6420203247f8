#include "rpc_cases.hpp"

#include <gdal_priv.h>

#include <array>
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

RpcMetadata synthetic_rpc(int view, int size) {
  // Normalised: L, P in [-1, 1] over the scene (about 1 km), H in [-1, 1] over 0..200 m.
  const double half = size / 2.0;
  const double lon_scale = 0.0055, lat_scale = 0.0046, height_offset = 100.0, height_scale = 100.0;
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

}  // namespace luojia::test
