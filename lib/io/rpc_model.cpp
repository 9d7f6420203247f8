// RPC00B as GDAL evaluates it (gdal_rpc.cpp): the 20 cubic terms of normalised longitude,
// latitude and height, ratios for line and sample, GDAL's half-pixel shift to corner-based pixels.
#include <luojia/io/rpc_model.hpp>

#include <luojia/error.hpp>

#include <cmath>
#include <sstream>

namespace luojia {
namespace {

using Terms = std::array<double, 20>;

// The RPC00B terms in (L)ongitude, (P)latitude, (H)eight, and their derivatives.
void terms(double l, double p, double h, Terms& t, Terms* dl = nullptr, Terms* dp = nullptr, Terms* dh = nullptr) {
  t = {1, l, p, h, l * p, l * h, p * h, l * l, p * p, h * h, p * l * h, l * l * l, l * p * p, l * h * h, l * l * p, p * p * p, p * h * h,
       l * l * h, p * p * h, h * h * h};
  if (dl) *dl = {0, 1, 0, 0, p, h, 0, 2 * l, 0, 0, p * h, 3 * l * l, p * p, h * h, 2 * l * p, 0, 0, 2 * l * h, 0, 0};
  if (dp) *dp = {0, 0, 1, 0, l, 0, h, 0, 2 * p, 0, l * h, 0, 2 * l * p, 0, l * l, 3 * p * p, h * h, 0, 2 * p * h, 0};
  if (dh) *dh = {0, 0, 0, 1, 0, l, p, 0, 0, 2 * h, l * p, 0, 0, 2 * l * h, 0, 0, 2 * p * h, l * l, p * p, 3 * h * h};
}

double dot(const Terms& a, const std::array<double, 20>& b) {
  double s = 0;
  for (std::size_t i = 0; i < 20; ++i) s += a[i] * b[i];
  return s;
}

double number(const std::vector<std::pair<std::string, std::string>>& rpc, const std::string& key, const std::string& where) {
  for (const auto& [k, v] : rpc)
    if (k == key) {
      std::istringstream in(v);
      double value;
      if (in >> value && std::isfinite(value)) return value;
      throw InputError("its RPC " + key + " is not a number: '" + v + "'", ErrorContext{where, {}, {}, {}});
    }
  throw InputError("its RPCs lack " + key, ErrorContext{where, {}, {}, {}});
}

std::array<double, 20> coefficients(const std::vector<std::pair<std::string, std::string>>& rpc, const std::string& key,
                                    const std::string& where) {
  for (const auto& [k, v] : rpc)
    if (k == key) {
      std::istringstream in(v);
      std::array<double, 20> c{};
      for (double& x : c)
        if (!(in >> x) || !std::isfinite(x)) throw InputError("its RPC " + key + " does not hold 20 numbers", ErrorContext{where, {}, {}, {}});
      return c;
    }
  throw InputError("its RPCs lack " + key, ErrorContext{where, {}, {}, {}});
}

}  // namespace

RpcModel RpcModel::from_metadata(const std::vector<std::pair<std::string, std::string>>& rpc, const std::string& where) {
  RpcModel m;
  const char* names[5] = {"LINE", "SAMP", "LAT", "LONG", "HEIGHT"};
  for (int i = 0; i < 5; ++i) {
    m.offset_[static_cast<std::size_t>(i)] = number(rpc, std::string(names[i]) + "_OFF", where);
    m.scale_[static_cast<std::size_t>(i)] = number(rpc, std::string(names[i]) + "_SCALE", where);
    if (m.scale_[static_cast<std::size_t>(i)] == 0.0) throw InputError("its RPC " + std::string(names[i]) + "_SCALE is 0", ErrorContext{where, {}, {}, {}});
  }
  m.line_num_ = coefficients(rpc, "LINE_NUM_COEFF", where);
  m.line_den_ = coefficients(rpc, "LINE_DEN_COEFF", where);
  m.samp_num_ = coefficients(rpc, "SAMP_NUM_COEFF", where);
  m.samp_den_ = coefficients(rpc, "SAMP_DEN_COEFF", where);
  return m;
}

std::optional<RpcModel> RpcModel::of(const RasterInfo& info) {
  if (info.rpc.empty()) return std::nullopt;
  return from_metadata(info.rpc, info.path);
}

std::array<double, 2> RpcModel::project(double longitude, double latitude, double height) const {
  std::array<double, 6> unused;
  return project(longitude, latitude, height, unused);
}

std::array<double, 2> RpcModel::project(double longitude, double latitude, double height, std::array<double, 6>& jacobian) const {
  const double l = (longitude - offset_[3]) / scale_[3], p = (latitude - offset_[2]) / scale_[2], h = (height - offset_[4]) / scale_[4];
  Terms t, dl, dp, dh;
  terms(l, p, h, t, &dl, &dp, &dh);
  // column = samp_num / samp_den * scale + offset; d(n/d) = (dn d - n dd) / d^2.
  const auto ratio = [&](const std::array<double, 20>& num, const std::array<double, 20>& den, double out_scale, double* d) {
    const double n = dot(t, num), q = dot(t, den);
    const Terms* dt[3] = {&dl, &dp, &dh};
    const double in_scale[3] = {scale_[3], scale_[2], scale_[4]};
    for (int k = 0; k < 3; ++k) d[k] = (dot(*dt[k], num) * q - n * dot(*dt[k], den)) / (q * q) * out_scale / in_scale[k];
    return n / q * out_scale;
  };
  double dcol[3], drow[3];
  const double column = ratio(samp_num_, samp_den_, scale_[1], dcol) + offset_[1] + 0.5;
  const double row = ratio(line_num_, line_den_, scale_[0], drow) + offset_[0] + 0.5;
  jacobian = {dcol[0], dcol[1], dcol[2], drow[0], drow[1], drow[2]};
  return {column, row};
}

std::array<double, 2> RpcModel::localise(double column, double row, double height) const {
  double lon = offset_[3], lat = offset_[2];
  for (int iteration = 0; iteration < 30; ++iteration) {
    std::array<double, 6> j;
    const auto [c, r] = project(lon, lat, height, j);
    const double ec = column - c, er = row - r;
    const double det = j[0] * j[4] - j[1] * j[3];
    if (det == 0.0 || !std::isfinite(det)) break;
    const double step_lon = (j[4] * ec - j[1] * er) / det, step_lat = (-j[3] * ec + j[0] * er) / det;
    lon += step_lon;
    lat += step_lat;
    if (std::abs(step_lon) < 1e-12 && std::abs(step_lat) < 1e-12) break;
  }
  return {lon, lat};
}

Intersection intersect(const RpcModel& first, double column1, double row1, const RpcModel& second, double column2, double row2) {
  const double h0 = first.height_offset();
  const auto ground = first.localise(column1, row1, h0);
  Intersection start;
  start.longitude = ground[0];
  start.latitude = ground[1];
  start.height = h0;
  return intersect(first, column1, row1, second, column2, row2, start);
}

Intersection intersect(const RpcModel& first, double column1, double row1, const RpcModel& second, double column2, double row2,
                       const Intersection& start) {
  double x[3] = {start.longitude, start.latitude, start.height};
  // Unknowns scaled to comparable sizes (degrees are tiny against metres) for the normal equations.
  const double s[3] = {1e-5, 1e-5, 1.0};
  Intersection out;
  for (int iteration = 0; iteration < 20; ++iteration) {
    std::array<double, 6> j1, j2;
    const auto p1 = first.project(x[0], x[1], x[2], j1);
    const auto p2 = second.project(x[0], x[1], x[2], j2);
    const double e[4] = {column1 - p1[0], row1 - p1[1], column2 - p2[0], row2 - p2[1]};
    const double* rows[4] = {&j1[0], &j1[3], &j2[0], &j2[3]};
    // (J^T J) dx = J^T e in scaled unknowns.
    double a[3][3] = {}, b[3] = {};
    for (int i = 0; i < 4; ++i)
      for (int m = 0; m < 3; ++m) {
        b[m] += rows[i][m] * s[m] * e[i];
        for (int n = 0; n < 3; ++n) a[m][n] += rows[i][m] * s[m] * rows[i][n] * s[n];
      }
    // Cramer's rule on the 3 x 3 system.
    const auto det3 = [](const double m[3][3]) {
      return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
             m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    };
    const double d = det3(a);
    if (d == 0.0 || !std::isfinite(d)) break;
    double step[3];
    for (int k = 0; k < 3; ++k) {
      double m[3][3];
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) m[r][c] = c == k ? b[r] : a[r][c];
      step[k] = det3(m) / d * s[k];
    }
    for (int k = 0; k < 3; ++k) x[k] += step[k];
    out.residual = std::sqrt((e[0] * e[0] + e[1] * e[1] + e[2] * e[2] + e[3] * e[3]) / 4.0);
    if (std::abs(step[2]) < 1e-6 && std::abs(step[0]) < 1e-12 && std::abs(step[1]) < 1e-12) break;
  }
  const auto p1 = first.project(x[0], x[1], x[2]);
  const auto p2 = second.project(x[0], x[1], x[2]);
  out.longitude = x[0];
  out.latitude = x[1];
  out.height = x[2];
  out.residual = std::sqrt(((column1 - p1[0]) * (column1 - p1[0]) + (row1 - p1[1]) * (row1 - p1[1]) + (column2 - p2[0]) * (column2 - p2[0]) +
                            (row2 - p2[1]) * (row2 - p2[1])) /
                           4.0);
  return out;
}

}  // namespace luojia
