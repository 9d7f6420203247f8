#include "stereo/epipolar_rectification.hpp"

#include <luojia/error.hpp>

#include <Eigen/Dense>
#include <cpl_string.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

namespace luojia::stereo {

Affine inverse(const Affine& m) {
  const double det = m[0] * m[4] - m[1] * m[3];
  if (det == 0.0 || !std::isfinite(det)) raise("the epipolar map is singular: the two views do not form a stereo pair");
  const double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
  return {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
}

std::array<double, 2> apply(const Affine& m, double c, double r) { return {m[0] * c + m[1] * r + m[2], m[3] * c + m[4] * r + m[5]}; }

double RowShiftGrid::at(double u, double v) const {
  if (values.empty()) return 0.0;
  const double x = std::clamp(u / step, 0.0, static_cast<double>(columns - 1));
  const double y = std::clamp(v / step, 0.0, static_cast<double>(rows - 1));
  const int i = std::min(static_cast<int>(x), columns - 2), j = std::min(static_cast<int>(y), rows - 2);
  const double fx = x - i, fy = y - j;
  const double* p = values.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(columns) + static_cast<std::size_t>(i);
  return (p[0] * (1 - fx) + p[1] * fx) * (1 - fy) + (p[columns] * (1 - fx) + p[columns + 1] * fx) * fy;
}

std::array<double, 2> EpipolarGeometry::image_at(View view, double u, double v) const {
  if (view == View::Left) return apply(left_back, u, v + left_shift.at(u, v));
  return apply(right_back, u, v + right_shift.at(u, v));
}

std::array<double, 2> EpipolarGeometry::grid_at(View view, double column, double row) const {
  const auto a = apply(view == View::Left ? left : right, column, row);
  const RowShiftGrid& shift = view == View::Left ? left_shift : right_shift;
  if (shift.values.empty()) return a;
  // v + shift(u, v) = the affine row: the shifts change by far less than a pixel per pixel, so a
  // few fixed-point steps settle it.
  double v = a[1];
  for (int k = 0; k < 6; ++k) v = a[1] - shift.at(a[0], v);
  return {a[0], v};
}

namespace {

struct VirtualMatch {
  double left_c, left_r, right_c, right_r, height;
};

// Least squares of target = a x + b y + c over the matches chosen.
std::array<double, 3> fit(const std::vector<VirtualMatch>& matches, const std::function<bool(const VirtualMatch&)>& use,
                          const std::function<std::array<double, 3>(const VirtualMatch&)>& row) {
  std::vector<std::array<double, 3>> rows;
  for (const auto& m : matches)
    if (use(m)) rows.push_back(row(m));
  Eigen::MatrixXd a(static_cast<Eigen::Index>(rows.size()), 3);
  Eigen::VectorXd b(static_cast<Eigen::Index>(rows.size()));
  // row() gives (x, y, target); the constant's column is 1.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto k = static_cast<Eigen::Index>(i);
    a(k, 0) = rows[i][0];
    a(k, 1) = rows[i][1];
    a(k, 2) = 1.0;
    b(k) = rows[i][2];
  }
  const Eigen::Vector3d x = a.colPivHouseholderQr().solve(b);
  return {x(0), x(1), x(2)};
}

// The root mean square and largest row difference of the matches' two grid points.
std::pair<double, double> vertical_residual(const EpipolarGeometry& g, const std::vector<VirtualMatch>& matches) {
  double sum2 = 0, largest = 0;
  for (const auto& m : matches) {
    const double dv = g.grid_at(View::Left, m.left_c, m.left_r)[1] - g.grid_at(View::Right, m.right_c, m.right_r)[1];
    sum2 += dv * dv;
    largest = std::max(largest, std::abs(dv));
  }
  return {std::sqrt(sum2 / static_cast<double>(matches.size())), largest};
}

// Nodes about 1/48 of the grid apart, at least 64 px, over the whole grid: the shifts are as
// smooth as the RPCs' cubic terms.
RowShiftGrid empty_shifts(const EpipolarGeometry& g) {
  RowShiftGrid s;
  s.step = std::max(64.0, std::ceil(static_cast<double>(std::max(g.width, g.height)) / 48.0));
  s.columns = static_cast<int>(std::ceil(static_cast<double>(g.width) / s.step)) + 1;
  s.rows = static_cast<int>(std::ceil(static_cast<double>(g.height) / s.step)) + 1;
  s.values.assign(static_cast<std::size_t>(s.columns) * static_cast<std::size_t>(s.rows), std::numeric_limits<double>::quiet_NaN());
  return s;
}

// A node no height could place (the RPCs fail there) takes the mean of the others.
RowShiftGrid filled(RowShiftGrid s) {
  double sum = 0;
  int n = 0;
  for (const double v : s.values)
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  if (n == 0) return {};
  for (double& v : s.values)
    if (!std::isfinite(v)) v = sum / n;
  return s;
}

// The left view's rows follow its epipolar curves. The slope of the curve through a left point
// (in the left affine frame): the right view sees the point at the middle height; that pixel's
// line of sight, seen from the left at heights either side, draws the curve. Each row is traced
// from the grid's middle column both ways, a midpoint step from node to node; the affine rotation
// made the curves nearly level, so a row's shift is its curve's departure from the affine row.
// (Epipolar curves of pushbroom views turn across a scene: a rotation leaves each end of a row
// on other curves, which no shift of the right view alone can take out at every height.)
RowShiftGrid left_shifts(const EpipolarGeometry& g, const RpcModel& left, const RpcModel& right, double min_height, double max_height) {
  RowShiftGrid s = empty_shifts(g);
  const double middle = (min_height + max_height) / 2.0, reach = std::max((max_height - min_height) / 2.0, 10.0);
  const auto slope = [&](double u, double w) {
    const auto p = apply(g.left_back, u, w);
    const auto ground = left.localise(p[0], p[1], middle);
    const auto q = right.project(ground[0], ground[1], middle);
    const auto low = right.localise(q[0], q[1], middle - reach), high = right.localise(q[0], q[1], middle + reach);
    const auto pl = left.project(low[0], low[1], middle - reach), ph = left.project(high[0], high[1], middle + reach);
    const auto a = apply(g.left, pl[0], pl[1]), b = apply(g.left, ph[0], ph[1]);
    return (b[1] - a[1]) / (b[0] - a[0]);
  };
  const int centre = s.columns / 2;
  for (int j = 0; j < s.rows; ++j) {
    double* row = s.values.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(s.columns);
    const double v = j * s.step;
    row[centre] = 0.0;
    for (const int direction : {1, -1}) {
      const double du = direction * s.step;
      double w = v;
      for (int i = centre + direction; i >= 0 && i < s.columns; i += direction) {
        const double u = (i - direction) * s.step;
        const double k1 = slope(u, w);
        const double k2 = slope(u + du / 2, w + k1 * du / 2);
        if (!std::isfinite(k2)) break;
        w += k2 * du;
        row[i] = w - v;
      }
    }
  }
  return filled(std::move(s));
}

// The right view's row shifts. At each node (u, v) of its grid and each of the range's heights:
// the point of left row v that the height sends to column u of the right affine map, and how far
// from row v the right view sees it there. A node's shift is the mean over the heights: what
// differs between heights is what the views' geometry leaves (vertical_rms tells it).
RowShiftGrid right_shifts(const EpipolarGeometry& g, const RpcModel& left, const RpcModel& right, double min_height, double max_height) {
  constexpr int kHeights = 5;
  RowShiftGrid s = empty_shifts(g);
  for (int j = 0; j < s.rows; ++j)
    for (int i = 0; i < s.columns; ++i) {
      const double u = i * s.step, v = j * s.step;
      double sum = 0;
      int n = 0;
      for (int k = 0; k < kHeights; ++k) {
        const double h = min_height + (max_height - min_height) * k / (kHeights - 1);
        // Newton on the left column: the right column follows it about one for one.
        double ul = u + g.disparity_at_min_height + g.disparity_per_metre * (h - min_height), shift = 0;
        bool found = false;
        for (int step = 0; step < 10 && !found; ++step) {
          const auto p = g.image_at(View::Left, ul, v);
          const auto ground = left.localise(p[0], p[1], h);
          const auto seen = right.project(ground[0], ground[1], h);
          const auto r = apply(g.right, seen[0], seen[1]);
          if (!std::isfinite(r[0]) || !std::isfinite(r[1])) break;
          shift = r[1] - v;
          found = std::abs(u - r[0]) < 1e-3;
          ul += u - r[0];
        }
        if (found) {
          sum += shift;
          ++n;
        }
      }
      if (n > 0) s.values[static_cast<std::size_t>(j) * static_cast<std::size_t>(s.columns) + static_cast<std::size_t>(i)] = sum / n;
    }
  return filled(std::move(s));
}

}  // namespace

EpipolarGeometry rectify_from_rpc(const RpcModel& left, std::int64_t left_width, std::int64_t left_height, const RpcModel& right,
                                  double min_height, double max_height) {
  if (!(max_height > min_height)) throw UsageError("max_height", "must lie above min_height");
  // Virtual matches: a 21 x 21 grid over the left image at five heights through the range.
  constexpr int kGrid = 21, kHeights = 5;
  std::vector<VirtualMatch> matches;
  for (int hi = 0; hi < kHeights; ++hi) {
    const double h = min_height + (max_height - min_height) * hi / (kHeights - 1);
    for (int gy = 0; gy < kGrid; ++gy)
      for (int gx = 0; gx < kGrid; ++gx) {
        const double c = static_cast<double>(left_width) * gx / (kGrid - 1), r = static_cast<double>(left_height) * gy / (kGrid - 1);
        const auto ground = left.localise(c, r, h);
        const auto seen = right.project(ground[0], ground[1], h);
        if (std::isfinite(seen[0]) && std::isfinite(seen[1])) matches.push_back({c, r, seen[0], seen[1], h});
      }
  }
  if (matches.size() < 10) raise("the two views' RPCs do not see a common ground: no epipolar geometry");
  // The left epipolar direction: where the left image sees, as the height changes, the ground
  // point the right image sees at a fixed pixel.
  double ex = 0, ey = 0;
  for (const auto& m : matches) {
    if (m.height != min_height) continue;
    const auto low = right.localise(m.right_c, m.right_r, min_height), high = right.localise(m.right_c, m.right_r, max_height);
    const auto a = left.project(low[0], low[1], min_height), b = left.project(high[0], high[1], max_height);
    const double dx = b[0] - a[0], dy = b[1] - a[1], n = std::hypot(dx, dy);
    if (n > 0) {
      ex += dx / n;
      ey += dy / n;
    }
  }
  if (std::hypot(ex, ey) == 0.0) raise("the two views see the scene from one direction: no parallax to match");
  // Rotate the left image so that its epipolar lines run along the rows, turning by less than a
  // quarter turn (the image keeps its orientation; heights move points left or right).
  double angle = std::atan2(ey, ex);
  if (angle > M_PI / 2) angle -= M_PI;
  if (angle < -M_PI / 2) angle += M_PI;
  const double cs = std::cos(angle), sn = std::sin(angle);
  EpipolarGeometry g;
  g.left = {cs, sn, 0.0, -sn, cs, 0.0};
  // The right map: rows fitted to the left rows over every height, columns to the left columns at
  // the middle height (so disparity is 0 there and grows with the height difference).
  const double middle = min_height + (max_height - min_height) / 2.0;
  const auto left_uv = [&](const VirtualMatch& m) { return apply(g.left, m.left_c, m.left_r); };
  const auto v = fit(matches, [](const VirtualMatch&) { return true; },
                     [&](const VirtualMatch& m) { return std::array<double, 3>{m.right_c, m.right_r, left_uv(m)[1]}; });
  const auto u = fit(matches, [&](const VirtualMatch& m) { return std::abs(m.height - middle) < 1e-9; },
                     [&](const VirtualMatch& m) { return std::array<double, 3>{m.right_c, m.right_r, left_uv(m)[0]}; });
  g.right = {u[0], u[1], u[2], v[0], v[1], v[2]};
  // The grid: the left image's footprint, shifted to start at 0 (both maps shifted alike).
  double u0 = std::numeric_limits<double>::max(), v0 = u0, u1 = -u0, v1 = -u0;
  for (const auto& [c, r] : {std::array<double, 2>{0, 0}, {static_cast<double>(left_width), 0}, {0, static_cast<double>(left_height)},
                             {static_cast<double>(left_width), static_cast<double>(left_height)}}) {
    const auto p = apply(g.left, c, r);
    u0 = std::min(u0, p[0]);
    u1 = std::max(u1, p[0]);
    v0 = std::min(v0, p[1]);
    v1 = std::max(v1, p[1]);
  }
  u0 = std::floor(u0);
  v0 = std::floor(v0);
  for (Affine* m : {&g.left, &g.right}) {
    (*m)[2] -= u0;
    (*m)[5] -= v0;
  }
  g.width = static_cast<std::int64_t>(std::ceil(u1 - u0));
  g.height = static_cast<std::int64_t>(std::ceil(v1 - v0));
  g.left_back = inverse(g.left);
  g.right_back = inverse(g.right);
  // What the affine maps leave across the rows, and the disparity the height range spans.
  double low = 0, high = 0;
  int n_low = 0, n_high = 0;
  for (const auto& m : matches) {
    const auto l = apply(g.left, m.left_c, m.left_r), r = apply(g.right, m.right_c, m.right_r);
    if (m.height == min_height) {
      low += l[0] - r[0];
      ++n_low;
    } else if (m.height == max_height) {
      high += l[0] - r[0];
      ++n_high;
    }
  }
  g.disparity_at_min_height = low / std::max(n_low, 1);
  g.disparity_at_max_height = high / std::max(n_high, 1);
  g.disparity_per_metre = (g.disparity_at_max_height - g.disparity_at_min_height) / (max_height - min_height);
  g.affine_vertical_max = vertical_residual(g, matches).second;
  g.left_shift = left_shifts(g, left, right, min_height, max_height);
  g.right_shift = right_shifts(g, left, right, min_height, max_height);
  std::tie(g.vertical_rms, g.vertical_max) = vertical_residual(g, matches);
  return g;
}

std::vector<std::pair<std::string, std::string>> epipolar_metadata(const EpipolarGeometry& g) {
  const auto text = [](const Affine& m) {
    std::string s;
    for (double v : m) s += (s.empty() ? "" : " ") + CPLString().Printf("%.17g", v);
    return s;
  };
  const auto shifts = [](const RowShiftGrid& grid) {
    std::string text = CPLString().Printf("%.17g %d %d", grid.step, grid.columns, grid.rows);
    for (const double v : grid.values) text += CPLString().Printf(" %.6g", v);
    return text;
  };
  return {{"LUOJIA_EPIPOLAR_LEFT", text(g.left)},
          {"LUOJIA_EPIPOLAR_RIGHT", text(g.right)},
          {"LUOJIA_EPIPOLAR_LEFT_SHIFT", shifts(g.left_shift)},
          {"LUOJIA_EPIPOLAR_RIGHT_SHIFT", shifts(g.right_shift)},
          {"LUOJIA_EPIPOLAR_DISPARITY", "right u = left u - d"}};
}

}  // namespace luojia::stereo
