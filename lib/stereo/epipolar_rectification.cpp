#include "stereo/epipolar_rectification.hpp"

#include <luojia/error.hpp>

#include "io/gdal_support.hpp"

#include <Eigen/Dense>
#include <gdal_alg.h>
#include <gdalwarper.h>
#include <cpl_string.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace luojia::stereo {

Affine inverse(const Affine& m) {
  const double det = m[0] * m[4] - m[1] * m[3];
  if (det == 0.0 || !std::isfinite(det)) raise("the epipolar map is singular: the two views do not form a stereo pair");
  const double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
  return {a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])};
}

std::array<double, 2> apply(const Affine& m, double c, double r) { return {m[0] * c + m[1] * r + m[2], m[3] * c + m[4] * r + m[5]}; }

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
  // What the maps leave: vertical disparity, and the disparity the height range spans.
  double sum2 = 0, low = 0, high = 0;
  int n_low = 0, n_high = 0;
  for (const auto& m : matches) {
    const auto l = apply(g.left, m.left_c, m.left_r), r = apply(g.right, m.right_c, m.right_r);
    const double dv = l[1] - r[1];
    sum2 += dv * dv;
    g.vertical_max = std::max(g.vertical_max, std::abs(dv));
    if (m.height == min_height) {
      low += l[0] - r[0];
      ++n_low;
    } else if (m.height == max_height) {
      high += l[0] - r[0];
      ++n_high;
    }
  }
  g.vertical_rms = std::sqrt(sum2 / static_cast<double>(matches.size()));
  g.disparity_at_min_height = low / std::max(n_low, 1);
  g.disparity_at_max_height = high / std::max(n_high, 1);
  g.disparity_per_metre = (g.disparity_at_max_height - g.disparity_at_min_height) / (max_height - min_height);
  return g;
}

std::vector<std::pair<std::string, std::string>> epipolar_metadata(const EpipolarGeometry& g) {
  const auto text = [](const Affine& m) {
    std::string s;
    for (double v : m) s += (s.empty() ? "" : " ") + CPLString().Printf("%.17g", v);
    return s;
  };
  return {{"LUOJIA_EPIPOLAR_LEFT", text(g.left)}, {"LUOJIA_EPIPOLAR_RIGHT", text(g.right)},
          {"LUOJIA_EPIPOLAR_DISPARITY", "right u = left u - d"}};
}

void warp_to_epipolar(const std::string& source, int band, const Affine& map, std::int64_t width, std::int64_t height,
                      const std::string& path, double memory_limit, int threads,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  // GDAL's block cache while warping: a quarter of the warper's memory (at least 16 MiB), so the
  // process does not grow with the scene up to GDAL's default of 5% of RAM.
  const detail::GdalCacheScope cache(std::max<std::size_t>(static_cast<std::size_t>(memory_limit / 4), 16u << 20));
  detail::GdalErrorTrap trap;
  detail::DatasetPtr src(GDALDataset::Open(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!src) raise("cannot open: " + trap.message("open failed"), ErrorContext{source, {}, {}, {}});
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  const char* create_options[] = {"TILED=YES", "BIGTIFF=IF_SAFER", nullptr};
  detail::DatasetPtr dst(gtiff->Create(path.c_str(), static_cast<int>(width), static_cast<int>(height), 1, GDT_Float32,
                                       const_cast<char**>(create_options)));
  if (!dst) raise("cannot create the epipolar image: " + trap.message("create failed"), ErrorContext{path, {}, {}, {}});
  dst->GetRasterBand(1)->SetNoDataValue(kEpipolarNodata);
  for (const auto& [key, value] : metadata) dst->SetMetadataItem(key.c_str(), value.c_str());
  // Source "georeferencing": its own pixel coordinates; the grid's: the inverse map.
  const double identity[6] = {0, 1, 0, 0, 0, 1};
  const Affine back = inverse(map);
  const double grid[6] = {back[2], back[0], back[1], back[5], back[3], back[4]};
  void* transformer = GDALCreateGenImgProjTransformer3(nullptr, identity, nullptr, grid);
  if (!transformer) raise("cannot make the epipolar resampling: " + trap.message("transformer failed"));
  GDALWarpOptions* wo = GDALCreateWarpOptions();
  wo->hSrcDS = src.get();
  wo->hDstDS = dst.get();
  wo->nBandCount = 1;
  wo->panSrcBands = static_cast<int*>(CPLMalloc(sizeof(int)));
  wo->panDstBands = static_cast<int*>(CPLMalloc(sizeof(int)));
  wo->panSrcBands[0] = band;
  wo->panDstBands[0] = 1;
  wo->eResampleAlg = GRA_Cubic;
  wo->eWorkingDataType = GDT_Float32;
  wo->dfWarpMemoryLimit = memory_limit;
  wo->pfnTransformer = GDALGenImgProjTransform;
  wo->pTransformerArg = transformer;
  int has_nodata = 0;
  const double nodata = src->GetRasterBand(band)->GetNoDataValue(&has_nodata);
  if (has_nodata) {
    wo->padfSrcNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double)));
    wo->padfSrcNoDataReal[0] = nodata;
  }
  wo->padfDstNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double)));
  wo->padfDstNoDataReal[0] = kEpipolarNodata;
  wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
  wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "NUM_THREADS", std::to_string(std::max(threads, 1)).c_str());
  GDALWarpOperation operation;
  CPLErr err = operation.Initialize(wo);
  if (err == CE_None) err = operation.ChunkAndWarpImage(0, 0, static_cast<int>(width), static_cast<int>(height));
  GDALDestroyWarpOptions(wo);
  GDALDestroyGenImgProjTransformer(transformer);
  if (err != CE_None) raise("cannot resample onto the epipolar grid: " + trap.message("warp failed"), ErrorContext{source, band, {}, {}});
  dst.reset();
  if (trap.has_error()) raise("cannot write the epipolar image: " + trap.message("close failed"), ErrorContext{path, {}, {}, {}});
}

}  // namespace luojia::stereo
