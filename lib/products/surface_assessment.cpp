// Two streamed passes over the prediction and its reference seen as one virtual stack: counts,
// sums and a histogram of signed errors, then a histogram of deviations from their median.
#include <luojia/products/surface_assessment.hpp>

#include <luojia/error.hpp>

#include "io/band_stack.hpp"
#include "io/grid_warp.hpp"
#include "io/gdal_support.hpp"

#include <cpl_string.h>
#include <gdal_utils.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace luojia {
namespace {

constexpr double kBin = 0.001, kRange = 1000.0;
constexpr std::size_t kBins = static_cast<std::size_t>(2 * kRange / kBin);

std::size_t bin_of(double e) {
  const double k = std::floor((e + kRange) / kBin);
  return static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(kBins - 1)));
}

// The median of a histogram, interpolated within its bin.
double median_of(const std::vector<std::int64_t>& h, std::int64_t n) {
  if (n == 0) return std::nan("");
  const double half = static_cast<double>(n) / 2.0;
  double seen = 0;
  for (std::size_t k = 0; k < h.size(); ++k) {
    if (seen + static_cast<double>(h[k]) >= half && h[k] > 0)
      return -kRange + kBin * (static_cast<double>(k) + (half - seen) / static_cast<double>(h[k]));
    seen += static_cast<double>(h[k]);
  }
  return kRange;
}

// REFERENCE on PREDICTION's grid, bilinear, as a VRT in memory.
std::string resampled(const RasterInfo& grid, const std::string& reference, detail::TemporaryFiles& files) {
  if (!grid.geotransform || grid.crs_wkt.empty())
    throw InputError("a DSM needs a CRS and a geotransform to be compared", ErrorContext{grid.path, {}, {}, {}});
  const auto& c = grid.geotransform->c;
  if (c[2] != 0.0 || c[4] != 0.0) throw InputError("a DSM must be north up to be compared", ErrorContext{grid.path, {}, {}, {}});
  return detail::warped_onto(grid, reference, "bilinear", {"-dstnodata", "-3.0e38"}, "resample onto the DSM's grid", files);
}

struct Sums {
  std::int64_t reference = 0, both = 0, over_1 = 0, over_3 = 0;
  double abs = 0, square = 0;
  std::vector<std::int64_t> histogram;
};

}  // namespace

SurfaceAssessment assess_surface(const std::string& prediction, const std::string& reference, const SurfaceOptions& o) {
  if (!o.stream.shard.whole()) throw UsageError("shard", "an assessment is of the whole raster: run it whole");
  const Raster predicted = Raster::open(prediction);
  const RasterInfo& info = predicted.info();
  detail::TemporaryFiles files;
  std::string reference_path = reference;
  if (o.kind == SurfaceKind::Disparity) {
    const Raster reference_view = Raster::open(reference);
    const RasterInfo& ri = reference_view.info();
    if (ri.width != info.width || ri.height != info.height)
      throw InputError("a reference disparity must be on the prediction's grid: it is " + std::to_string(ri.width) + "x" +
                           std::to_string(ri.height) + ", the prediction " + std::to_string(info.width) + "x" + std::to_string(info.height),
                       ErrorContext{reference, {}, {}, {}});
  } else {
    reference_path = resampled(info, reference, files);
  }
  const Raster reference_raster = Raster::open(reference_path);
  Raster stack = Raster::open(detail::stack_bands(info, {{&predicted, {1}}, {&reference_raster, {1}}}, files, "the surfaces"));
  TileGridOptions go;
  go.tile_width = go.tile_height = 512;
  const TileGrid grid(info.width, info.height, go);
  StreamOptions so = o.stream;
  so.read.mask_per_band = true;
  so.read.apply_scale = true;
  so.kernel_bytes_per_tile += kBins * sizeof(std::int64_t);

  // Pass 1: counts, sums, signed errors.
  Sums total;
  total.histogram.assign(kBins, 0);
  const std::function<Sums(const InputTile&)> first = [&](const InputTile& in) {
    Sums s;
    s.histogram.assign(kBins, 0);
    const auto p = in.pixels.band(0), r = in.pixels.band(1);
    const std::uint8_t *pm = in.mask_plane(0), *rm = in.mask_plane(1);
    for (std::int64_t y = 0; y < in.tile.core.height; ++y)
      for (std::int64_t x = 0; x < in.tile.core.width; ++x) {
        const auto i = static_cast<std::size_t>((in.core_y() + y) * in.tile.read.width + in.core_x() + x);
        if (!rm[i]) continue;
        ++s.reference;
        if (!pm[i]) continue;
        const double e = static_cast<double>(p[i]) - r[i];
        ++s.both;
        s.abs += std::abs(e);
        s.square += e * e;
        s.over_1 += std::abs(e) > 1.0;
        s.over_3 += std::abs(e) > 3.0;
        ++s.histogram[bin_of(e)];
      }
    return s;
  };
  const std::function<void(const Tile&, Sums&&)> add = [&](const Tile&, Sums&& s) {
    total.reference += s.reference;
    total.both += s.both;
    total.abs += s.abs;
    total.square += s.square;
    total.over_1 += s.over_1;
    total.over_3 += s.over_3;
    for (std::size_t k = 0; k < kBins; ++k) total.histogram[k] += s.histogram[k];
  };
  stream_results<Sums>(stack, {1, 2}, grid, first, add, so);
  SurfaceAssessment a;
  a.kind = o.kind;
  a.reference_pixels = total.reference;
  a.compared = total.both;
  if (total.both == 0) return a;
  const auto n = static_cast<double>(total.both);
  a.completeness = total.reference ? n / static_cast<double>(total.reference) : 0.0;
  a.mean_abs = total.abs / n;
  a.rmse = std::sqrt(total.square / n);
  a.over_1 = static_cast<double>(total.over_1) / n;
  a.over_3 = static_cast<double>(total.over_3) / n;
  a.bias = median_of(total.histogram, total.both);
  // |e| and |e - bias| from the signed histogram (bins are symmetric about 0).
  std::vector<std::int64_t> magnitude(kBins, 0), deviation(kBins, 0);
  for (std::size_t k = 0; k < kBins; ++k) {
    if (!total.histogram[k]) continue;
    const double e = -kRange + kBin * (static_cast<double>(k) + 0.5);
    magnitude[bin_of(std::abs(e))] += total.histogram[k];
    deviation[bin_of(std::abs(e - a.bias))] += total.histogram[k];
  }
  a.median_abs = median_of(magnitude, total.both);
  a.nmad = 1.4826 * median_of(deviation, total.both);
  return a;
}

namespace {

std::vector<std::pair<std::string, double>> fields(const SurfaceAssessment& a) {
  const bool d = a.kind == SurfaceKind::Disparity;
  return {{"reference_pixels", static_cast<double>(a.reference_pixels)},
          {"compared", static_cast<double>(a.compared)},
          {"completeness", a.completeness},
          {d ? "end_point_error" : "mean_abs_error", a.mean_abs},
          {"rmse", a.rmse},
          {"median_abs_error", a.median_abs},
          {"bias", a.bias},
          {"nmad", a.nmad},
          {"over_1", a.over_1},
          {d ? "d1" : "over_3", a.over_3}};
}

}  // namespace

std::string to_text(const SurfaceAssessment& a) {
  const bool d = a.kind == SurfaceKind::Disparity;
  const char* unit = d ? " px" : " m";
  std::ostringstream out;
  out.precision(4);
  out << std::fixed;
  out << (d ? "Disparity" : "DSM") << " against the reference\n";
  out << "Reference pixels: " << a.reference_pixels << "\nCompared (both hold a value): " << a.compared
      << "\nCompleteness: " << a.completeness << "\n";
  out << (d ? "End-point error: " : "Mean absolute error: ") << a.mean_abs << unit << "\nRMSE: " << a.rmse << unit
      << "\nMedian absolute error: " << a.median_abs << unit << "\nBias (median error): " << a.bias << unit << "\nNMAD: " << a.nmad << unit
      << "\nShare above 1" << unit << ": " << a.over_1 << "\n" << (d ? "D1 (above 3 px): " : "Share above 3 m: ") << a.over_3 << "\n";
  return out.str();
}

std::string to_json(const SurfaceAssessment& a) {
  nlohmann::ordered_json doc;
  doc["kind"] = a.kind == SurfaceKind::Disparity ? "disparity" : "dsm";
  for (const auto& [k, v] : fields(a)) {
    if (k == "reference_pixels" || k == "compared")
      doc[k] = static_cast<std::int64_t>(v);
    else if (std::isfinite(v))
      doc[k] = v;
    else
      doc[k] = nullptr;
  }
  return doc.dump(2) + "\n";
}

std::string to_csv(const SurfaceAssessment& a) {
  std::ostringstream out;
  out.precision(10);
  out << "measure,value\n";
  for (const auto& [k, v] : fields(a)) out << k << "," << v << "\n";
  return out.str();
}

}  // namespace luojia
