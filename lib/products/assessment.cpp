// Accuracy assessment: a confusion matrix accumulated tile by tile, never a scene in memory.
#include <luojia/products/assessment.hpp>

#include <luojia/io/grid_match.hpp>

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include "io/gdal_support.hpp"
#include "io/raster_pool.hpp"
#include "io/rasterize.hpp"

#include <gdal_alg.h>
#include <nlohmann/json.hpp>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <sstream>

namespace luojia {
namespace {

using detail::DatasetPtr;
using detail::GdalErrorTrap;
constexpr int kMaxClasses = 256;

// Polygons of a vector reference with their class, in the class map's CRS.
struct VectorReference {
  std::vector<std::unique_ptr<OGRGeometry>> geometries;
  std::vector<double> values;
};

VectorReference load_vector(const std::string& path, const std::string& field, const RasterInfo& grid) {
  const ErrorContext where{path, {}, {}, {}};
  GdalErrorTrap trap;
  DatasetPtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  if (!ds) raise("not a raster or vector GDAL can read: " + trap.message("cannot open"), where);
  OGRSpatialReference target;
  const bool has_target = !grid.crs_wkt.empty() && target.importFromWkt(grid.crs_wkt.c_str()) == OGRERR_NONE;
  target.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  VectorReference ref;
  for (auto* layer : ds->GetLayers()) {
    const int index = layer->GetLayerDefn()->GetFieldIndex(field.c_str());
    if (index < 0) raise("layer '" + std::string(layer->GetName()) + "' has no field '" + field + "' (`field`)", where);
    std::unique_ptr<OGRCoordinateTransformation> to_grid;
    if (const OGRSpatialReference* s = layer->GetSpatialRef(); s && has_target && !s->IsSame(&target)) {
      OGRSpatialReference source(*s);
      source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
      to_grid.reset(OGRCreateCoordinateTransformation(&source, &target));
    }
    for (auto& f : *layer) {
      const OGRGeometry* g = f->GetGeometryRef();
      if (!g || g->IsEmpty() || f->IsFieldNull(index)) continue;
      std::unique_ptr<OGRGeometry> copy(g->clone());
      if (to_grid) copy->transform(to_grid.get());
      ref.geometries.push_back(std::move(copy));
      ref.values.push_back(f->GetFieldAsDouble(index));
    }
  }
  if (ref.geometries.empty()) raise("holds no features with a '" + field + "' value", where);
  return ref;
}

}  // namespace

void finish(Assessment& a) {
  const int k = a.classes;
  a.pixels = 0;
  std::vector<double> rows(static_cast<std::size_t>(k), 0), cols(static_cast<std::size_t>(k), 0);
  double diagonal = 0;
  for (int r = 0; r < k; ++r)
    for (int c = 0; c < k; ++c) {
      const auto v = static_cast<double>(a.at(r, c));
      rows[static_cast<std::size_t>(r)] += v;
      cols[static_cast<std::size_t>(c)] += v;
      if (r == c) diagonal += v;
      a.pixels += a.at(r, c);
    }
  const double n = static_cast<double>(a.pixels);
  a.overall_accuracy = n > 0 ? diagonal / n : NAN;
  double expected = 0;
  for (int i = 0; i < k; ++i) expected += rows[static_cast<std::size_t>(i)] * cols[static_cast<std::size_t>(i)];
  expected = n > 0 ? expected / (n * n) : NAN;
  a.kappa = n > 0 && expected < 1.0 ? (a.overall_accuracy - expected) / (1.0 - expected) : NAN;
  a.precision.assign(static_cast<std::size_t>(k), NAN);
  a.recall = a.f1 = a.iou = a.precision;
  double iou_sum = 0;
  int iou_count = 0;
  for (int i = 0; i < k; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const double tp = static_cast<double>(a.at(i, i));
    if (cols[u] > 0) a.precision[u] = tp / cols[u];
    if (rows[u] > 0) a.recall[u] = tp / rows[u];
    if (cols[u] + rows[u] > 0) {
      a.f1[u] = 2 * tp / (cols[u] + rows[u]);
      a.iou[u] = tp / (cols[u] + rows[u] - tp);
      iou_sum += a.iou[u];
      ++iou_count;
    }
  }
  a.mean_iou = iou_count ? iou_sum / iou_count : NAN;
}

Assessment assess(const std::string& class_map, const std::string& reference, const AssessOptions& o) {
  if (!o.stream.shard.whole()) throw UsageError("shard", "an assessment is of the whole raster: run it whole");
  Raster map = Raster::open(class_map);
  const RasterInfo& info = map.info();
  std::unique_ptr<Raster> reference_raster;
  VectorReference vector;
  {
    detail::register_gdal();
    GdalErrorTrap quiet;
    DatasetPtr probe(GDALDataset::Open(reference.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    if (probe) {
      probe.reset();
      reference_raster = std::make_unique<Raster>(Raster::open(reference));
      const RasterInfo& r = reference_raster->info();
      if (const auto why = grid_difference(info, r))
        raise("the reference and the class map are not on one grid: " + *why + "; they must share the grid",
              ErrorContext{reference, {}, {}, {}});
    } else {
      DatasetPtr as_vector(GDALDataset::Open(reference.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
      if (!as_vector) Raster::open(reference);  // its message: missing, empty, not a raster
    }
  }
  if (!reference_raster) {
    if (!info.geotransform) raise("the class map has no geotransform to place a vector reference on", ErrorContext{class_map, {}, {}, {}});
    vector = load_vector(reference, o.field, info);
  }
  std::vector<int> remap(65536 + 1, -2);  // -2: not remapped
  for (const auto& [from, to] : o.remap) {
    if (from < 0 || from > 65535 || to < 0 || to >= kMaxClasses) throw UsageError("remap", "values are 0..65535 -> 0..255");
    remap[static_cast<std::size_t>(from)] = to;
  }

  TileGridOptions go;
  const TileGrid grid(info.width, info.height, go);
  std::vector<std::int64_t> confusion(kMaxClasses * kMaxClasses, 0);
  std::unique_ptr<detail::RasterPool> reference_handles;
  if (reference_raster) reference_handles = std::make_unique<detail::RasterPool>(*reference_raster);
  // Each tile's confusion counts, row-major over (reference, predicted), added up in tile order.
  using Counts = std::vector<std::int64_t>;
  const std::function<Counts(const InputTile&)> kernel = [&](const InputTile& in) {
    const Window& w = in.tile.core;
    std::vector<float> ref(static_cast<std::size_t>(w.area()));
    std::vector<std::uint8_t> ref_valid(ref.size(), 1);
    if (reference_raster) {
      const auto handle = reference_handles->acquire();
      Mask mask;
      const Image r = handle->read(w, std::vector<int>{1}, {}, &mask);
      std::copy(r.data(), r.data() + ref.size(), ref.begin());
      ref_valid.assign(mask.begin(), mask.end());
    } else {
      // Outside every polygon there is no reference: -1.
      std::vector<const OGRGeometry*> shapes;
      for (const auto& g : vector.geometries) shapes.push_back(g.get());
      detail::rasterize(shapes, vector.values,
                        detail::window_geotransform(*info.geotransform, static_cast<double>(w.x), static_cast<double>(w.y)), w.width,
                        w.height, -1.0f, ref, "the reference");
      for (std::size_t i = 0; i < ref.size(); ++i) ref_valid[i] = ref[i] >= 0;
    }
    Counts counts(confusion.size(), 0);
    for (std::size_t i = 0; i < ref.size(); ++i) {
      if (!in.mask[i] || !ref_valid[i]) continue;
      const double rv = ref[i];
      if (o.ignore && rv == *o.ignore) continue;
      int r = static_cast<int>(rv);
      if (rv >= 0 && rv <= 65535 && rv == std::floor(rv) && remap[static_cast<std::size_t>(r)] >= 0) r = remap[static_cast<std::size_t>(r)];
      const int p = static_cast<int>(in.pixels.data()[i]);
      if (r < 0 || r >= kMaxClasses - 1 || p < 0 || p >= kMaxClasses - 1)
        raise("class " + std::to_string(r < 0 || r >= kMaxClasses - 1 ? r : p) + " is outside 0..254 (use `remap` or `ignore`)",
              ErrorContext{r < 0 || r >= kMaxClasses - 1 ? reference : class_map, {}, {}, {}});
      ++counts[static_cast<std::size_t>(r * kMaxClasses + p)];
    }
    return counts;
  };
  const std::function<void(const Tile&, Counts&&)> add = [&](const Tile&, Counts&& counts) {
    for (std::size_t i = 0; i < confusion.size(); ++i) confusion[i] += counts[i];
  };
  StreamOptions so = o.stream;
  so.kernel_bytes_per_tile += confusion.size() * sizeof(std::int64_t);
  stream_results<Counts>(map, {1}, grid, kernel, add, so);

  Assessment a;
  int top = -1;
  for (int r = 0; r < kMaxClasses; ++r)
    for (int c = 0; c < kMaxClasses; ++c)
      if (confusion[static_cast<std::size_t>(r * kMaxClasses + c)]) top = std::max({top, r, c});
  // Class names from the class map's categories, and at least as many classes as it names.
  GDALRasterBand* band = static_cast<GDALDataset*>(map.gdal_handle())->GetRasterBand(1);
  char** categories = band->GetCategoryNames();
  for (char** c = categories; c && *c; ++c) a.names.emplace_back(*c);
  a.classes = std::max(top + 1, static_cast<int>(a.names.size()));
  for (int k = static_cast<int>(a.names.size()); k < a.classes; ++k) a.names.push_back("class " + std::to_string(k));
  a.confusion.assign(static_cast<std::size_t>(a.classes * a.classes), 0);
  for (int r = 0; r < a.classes; ++r)
    for (int c = 0; c < a.classes; ++c)
      a.confusion[static_cast<std::size_t>(r * a.classes + c)] = confusion[static_cast<std::size_t>(r * kMaxClasses + c)];
  finish(a);
  return a;
}

namespace {
std::string fmt(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
// An undefined measure is an empty CSV field.
std::string csv_num(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}
// JSON has neither NaN nor infinity: a measure that is undefined (no pixel of a class) is null.
nlohmann::ordered_json measure(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); }
}  // namespace

std::string to_text(const Assessment& a) {
  std::ostringstream out;
  out << "Pixels assessed: " << a.pixels << "\nOverall accuracy: " << fmt(a.overall_accuracy) << "\nCohen's kappa: " << fmt(a.kappa)
      << "\nMean IoU: " << fmt(a.mean_iou) << "\n\nConfusion matrix (rows: reference, columns: predicted)\n";
  out << "reference\\predicted";
  for (int c = 0; c < a.classes; ++c) out << "\t" << c;
  out << "\n";
  for (int r = 0; r < a.classes; ++r) {
    out << r << " " << a.names[static_cast<std::size_t>(r)];
    for (int c = 0; c < a.classes; ++c) out << "\t" << a.at(r, c);
    out << "\n";
  }
  out << "\nclass\tname\tprecision\trecall\tF1\tIoU\n";
  for (int k = 0; k < a.classes; ++k) {
    const auto u = static_cast<std::size_t>(k);
    out << k << "\t" << a.names[u] << "\t" << fmt(a.precision[u]) << "\t" << fmt(a.recall[u]) << "\t" << fmt(a.f1[u]) << "\t"
        << fmt(a.iou[u]) << "\n";
  }
  return out.str();
}

std::string to_json(const Assessment& a) {
  nlohmann::ordered_json doc;
  doc["pixels"] = a.pixels;
  doc["overall_accuracy"] = measure(a.overall_accuracy);
  doc["kappa"] = measure(a.kappa);
  doc["mean_iou"] = measure(a.mean_iou);
  doc["classes"] = nlohmann::ordered_json::array();
  for (int k = 0; k < a.classes; ++k) {
    const auto u = static_cast<std::size_t>(k);
    doc["classes"].push_back({{"id", k}, {"name", a.names[u]}, {"precision", measure(a.precision[u])},
                              {"recall", measure(a.recall[u])}, {"f1", measure(a.f1[u])}, {"iou", measure(a.iou[u])}});
  }
  auto& confusion = doc["confusion"] = nlohmann::ordered_json::array();
  for (int r = 0; r < a.classes; ++r) {
    auto row = nlohmann::ordered_json::array();
    for (int c = 0; c < a.classes; ++c) row.push_back(a.at(r, c));
    confusion.push_back(std::move(row));
  }
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string to_csv(const Assessment& a) {
  std::ostringstream out;
  out << "class,name,precision,recall,f1,iou";
  for (int c = 0; c < a.classes; ++c) out << ",predicted_" << c;
  out << "\n";
  for (int k = 0; k < a.classes; ++k) {
    const auto u = static_cast<std::size_t>(k);
    out << k << "," << a.names[u] << "," << csv_num(a.precision[u]) << "," << csv_num(a.recall[u]) << "," << csv_num(a.f1[u]) << ","
        << csv_num(a.iou[u]);
    for (int c = 0; c < a.classes; ++c) out << "," << a.at(k, c);
    out << "\n";
  }
  out << "overall_accuracy," << csv_num(a.overall_accuracy) << "\nkappa," << csv_num(a.kappa) << "\nmean_iou," << csv_num(a.mean_iou)
      << "\npixels," << a.pixels << "\n";
  return out.str();
}

}  // namespace luojia
