// Shards back into one product: a VRT over the shard files (or a copy of it into one file), after
// checking that they are one job's shards, each once, covering the grid; and shards' polygon
// layers into one, joining polygons across the borders the shards cut.
#include <luojia/products/merge.hpp>

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include "io/file_names.hpp"
#include "io/gdal_support.hpp"
#include "io/vector_output.hpp"

#include <cpl_string.h>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>
#include <vrtdataset.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <sstream>

#include <unistd.h>

namespace luojia {

using detail::DatasetPtr;
using detail::GdalErrorTrap;
namespace fs = std::filesystem;

namespace {

std::vector<std::int64_t> numbers(const char* text, std::size_t count) {
  std::vector<std::int64_t> out;
  if (!text) return out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      std::size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size()) return {};
    } catch (const std::exception&) {
      return {};
    }
  }
  return out.size() == count ? out : std::vector<std::int64_t>{};
}

struct ShardFile {
  std::string path;
  Shard shard;
  Window window;
  std::int64_t grid_width = 0, grid_height = 0;
  RasterInfo info;
};

ShardFile read_shard(const std::string& path) {
  ShardFile s;
  s.path = path;
  const Raster raster = Raster::open(path);  // missing, empty, not a raster: its messages
  s.info = raster.info();
  const ErrorContext where{path, {}, {}, {}};
  std::string shard, window, grid;
  for (const auto& [key, value] : s.info.metadata) {
    if (key == "LUOJIA_SHARD") shard = value;
    if (key == "LUOJIA_SHARD_WINDOW") window = value;
    if (key == "LUOJIA_SHARD_GRID") grid = value;
  }
  if (shard.empty()) raise("is not a luojia shard (no LUOJIA_SHARD metadata; it comes from --shard K/N)", where);
  try {
    s.shard = parse_shard(shard);
  } catch (const Error& e) {
    raise("has a damaged LUOJIA_SHARD: " + e.message(), where);
  }
  const auto w = numbers(window.c_str(), 4), g = numbers(grid.c_str(), 2);
  if (w.empty() || g.empty()) raise("has damaged LUOJIA_SHARD_WINDOW or LUOJIA_SHARD_GRID metadata", where);
  s.window = {w[0], w[1], w[2], w[3]};
  s.grid_width = g[0];
  s.grid_height = g[1];
  if (s.window.width != s.info.width || s.window.height != s.info.height)
    raise("is " + std::to_string(s.info.width) + "x" + std::to_string(s.info.height) + " but its LUOJIA_SHARD_WINDOW says " +
              std::to_string(s.window.width) + "x" + std::to_string(s.window.height),
          where);
  if (s.window.x < 0 || s.window.y < 0 || s.window.x + s.window.width > s.grid_width || s.window.y + s.window.height > s.grid_height)
    raise("has a window outside its grid", where);
  return s;
}

bool nearly_equal(double a, double b, double scale) { return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b), scale}); }

std::string shard_name(const Shard& s) { return std::to_string(s.index + 1) + "/" + std::to_string(s.count); }

// The checks of merge_raster_shards; returns the whole grid's geotransform (if the shards have one).
std::optional<GeoTransform> check_shards(const std::vector<ShardFile>& shards) {
  const ShardFile& first = shards.front();
  const int n = first.shard.count;
  std::map<int, const ShardFile*> by_index;
  for (const ShardFile& s : shards) {
    const ErrorContext where{s.path, {}, {}, {}};
    if (s.shard.count != n)
      raise("is shard " + shard_name(s.shard) + " but " + first.path + " is " + shard_name(first.shard) + ": not one job", where);
    if (s.grid_width != first.grid_width || s.grid_height != first.grid_height)
      raise("belongs to a " + std::to_string(s.grid_width) + "x" + std::to_string(s.grid_height) + " grid, " + first.path + " to a " +
                std::to_string(first.grid_width) + "x" + std::to_string(first.grid_height) + " one",
            where);
    const auto [it, fresh] = by_index.emplace(s.shard.index, &s);
    if (!fresh) raise("is shard " + shard_name(s.shard) + ", and so is " + it->second->path + ": each shard must be given once", where);
    if (s.info.band_count() != first.info.band_count())
      raise("has " + std::to_string(s.info.band_count()) + " bands, " + first.path + " " + std::to_string(first.info.band_count()),
            where);
    for (int b = 1; b <= s.info.band_count(); ++b) {
      if (s.info.band(b).type != first.info.band(b).type)
        raise("band " + std::to_string(b) + " is " + std::string(name(s.info.band(b).type)) + ", in " + first.path + " " +
                  std::string(name(first.info.band(b).type)),
              where);
      const auto& a = s.info.band(b).nodata;
      const auto& f = first.info.band(b).nodata;
      if (a.has_value() != f.has_value() || (a && !(*a == *f || (std::isnan(*a) && std::isnan(*f)))))
        raise("band " + std::to_string(b) + " has another nodata value than " + first.path, where);
    }
    if (s.info.crs_wkt.empty() != first.info.crs_wkt.empty()) raise("has a CRS and " + first.path + " has not, or the reverse", where);
    if (!s.info.crs_wkt.empty()) {
      OGRSpatialReference a, b;
      a.importFromWkt(s.info.crs_wkt.c_str());
      b.importFromWkt(first.info.crs_wkt.c_str());
      if (!a.IsSame(&b)) raise("has another CRS than " + first.path, where);
    }
    if (s.info.geotransform.has_value() != first.info.geotransform.has_value())
      raise("has a geotransform and " + first.path + " has not, or the reverse", where);
  }
  std::vector<int> missing;
  for (int k = 0; k < n; ++k)
    if (!by_index.count(k)) missing.push_back(k + 1);
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + std::to_string(missing[i]);
    if (missing.size() > 10) list += ", ...";
    raise(std::to_string(missing.size()) + " of the " + std::to_string(n) + " shards are missing: " + list,
          ErrorContext{first.path, {}, {}, {}});
  }
  // Windows: inside the grid (checked on reading), pairwise disjoint, and their areas add up to it.
  std::int64_t area = 0;
  std::vector<const ShardFile*> sorted;
  for (const auto& [k, s] : by_index) sorted.push_back(s);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    area += sorted[i]->window.area();
    for (std::size_t j = 0; j < i; ++j)
      if (!intersection(sorted[i]->window, sorted[j]->window).empty())
        raise("overlaps " + sorted[j]->path + ": the shards are not one job's", ErrorContext{sorted[i]->path, {}, {}, {}});
  }
  if (area != first.grid_width * first.grid_height)
    raise("the shards cover " + std::to_string(area) + " of the grid's " + std::to_string(first.grid_width * first.grid_height) + " pixels",
          ErrorContext{first.path, {}, {}, {}});
  if (!first.info.geotransform) return std::nullopt;
  // One grid: the same pixel size and rotation, and each origin where its window puts it.
  GeoTransform whole = *first.info.geotransform;
  const auto& c = whole.c;
  whole.c[0] = c[0] - (static_cast<double>(first.window.x) * c[1] + static_cast<double>(first.window.y) * c[2]);
  whole.c[3] = c[3] - (static_cast<double>(first.window.x) * c[4] + static_cast<double>(first.window.y) * c[5]);
  const double pixel = std::max(std::fabs(c[1]), std::fabs(c[5]));
  for (const ShardFile& s : shards) {
    const GeoTransform& g = *s.info.geotransform;
    for (int i : {1, 2, 4, 5})
      if (!nearly_equal(g.c[static_cast<std::size_t>(i)], c[static_cast<std::size_t>(i)], 0.0))
        raise("has another pixel size or rotation than " + first.path, ErrorContext{s.path, {}, {}, {}});
    const auto [x, y] = whole.apply(static_cast<double>(s.window.x), static_cast<double>(s.window.y));
    if (!nearly_equal(g.c[0], x, pixel * 1e3) || !nearly_equal(g.c[3], y, pixel * 1e3))
      raise("is not where its LUOJIA_SHARD_WINDOW puts it on " + first.path + "'s grid", ErrorContext{s.path, {}, {}, {}});
  }
  return whole;
}

// A VRT of the shards at path (a file, or /vsimem/); sources are absolute, and GDAL writes
// them relative to the VRT when they share its folder.
DatasetPtr build_vrt(const std::vector<ShardFile>& shards, const std::optional<GeoTransform>& gt, const std::string& path) {
  const ShardFile& first = shards.front();
  GdalErrorTrap trap;
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("VRT");
  DatasetPtr ds(driver->Create(path.c_str(), static_cast<int>(first.grid_width), static_cast<int>(first.grid_height), 0, GDT_Unknown,
                               nullptr));
  if (!ds) raise("cannot create a VRT: " + trap.message("VRT creation failed"), ErrorContext{path, {}, {}, {}});
  auto* vrt = static_cast<VRTDataset*>(ds.get());
  if (gt) {
    double c[6];
    std::copy(gt->c.begin(), gt->c.end(), c);
    vrt->SetGeoTransform(c);
  }
  DatasetPtr model(GDALDataset::Open(first.path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!model) raise("cannot open: " + trap.message("open failed"), ErrorContext{first.path, {}, {}, {}});
  if (const OGRSpatialReference* srs = model->GetSpatialRef()) vrt->SetSpatialRef(srs);
  char** metadata = CSLDuplicate(model->GetMetadata());
  for (const char* key : {"LUOJIA_SHARD", "LUOJIA_SHARD_WINDOW", "LUOJIA_SHARD_GRID"}) metadata = CSLSetNameValue(metadata, key, nullptr);
  vrt->SetMetadata(metadata);
  CSLDestroy(metadata);
  for (int b = 1; b <= first.info.band_count(); ++b) {
    GDALRasterBand* source_band = model->GetRasterBand(b);
    vrt->AddBand(source_band->GetRasterDataType(), nullptr);
    auto* band = static_cast<VRTSourcedRasterBand*>(vrt->GetRasterBand(b));
    int has_nodata = 0;
    const double nodata = source_band->GetNoDataValue(&has_nodata);
    if (has_nodata) band->SetNoDataValue(nodata);
    if (source_band->GetColorTable()) band->SetColorTable(source_band->GetColorTable());
    if (source_band->GetCategoryNames()) band->SetCategoryNames(source_band->GetCategoryNames());
    band->SetDescription(source_band->GetDescription());
    band->SetColorInterpretation(source_band->GetColorInterpretation());
    for (const ShardFile& s : shards) {
      const std::string absolute = fs::absolute(s.path).lexically_normal().string();
      band->AddSimpleSource(absolute.c_str(), b, 0, 0, static_cast<double>(s.window.width), static_cast<double>(s.window.height),
                            static_cast<double>(s.window.x), static_cast<double>(s.window.y), static_cast<double>(s.window.width),
                            static_cast<double>(s.window.height));
    }
  }
  if (trap.has_error()) raise("cannot build the VRT: " + trap.message("VRT failed"), ErrorContext{path, {}, {}, {}});
  return ds;
}

// Shards in the VRT's folder (or below it) are named relative to it, so the folder can move.
void make_sources_relative(const std::string& vrt_path, std::string folder) {
  if (folder.empty() || folder.back() != '/') folder += '/';
  VSILFILE* in = VSIFOpenL(vrt_path.c_str(), "rb");
  if (!in) return;
  std::string text;
  char buffer[65536];
  for (std::size_t n; (n = VSIFReadL(buffer, 1, sizeof buffer, in)) > 0;) text.append(buffer, n);
  VSIFCloseL(in);
  const std::string absolute = "<SourceFilename relativeToVRT=\"0\">" + folder;
  const std::string relative = "<SourceFilename relativeToVRT=\"1\">";
  for (std::size_t at; (at = text.find(absolute)) != std::string::npos;) text.replace(at, absolute.size(), relative);
  VSILFILE* out = VSIFOpenL(vrt_path.c_str(), "wb");
  if (!out) return;
  VSIFWriteL(text.data(), 1, text.size(), out);
  VSIFCloseL(out);
}


}  // namespace

MergeReport merge_raster_shards(const std::vector<std::string>& paths, const std::string& output, const MergeOptions& options) {
  detail::register_gdal();
  if (paths.empty()) raise("no shards to merge", ErrorContext{output, {}, {}, {}});
  if (!options.pixel_boxes.empty()) throw UsageError("pixel_boxes", "are written for detection shards (luojia-detect --shard), not rasters");
  std::vector<ShardFile> shards;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::exists(output, ec) && fs::exists(p, ec) && fs::equivalent(output, p, ec))
      raise("is also a shard to merge; write the result to another path", ErrorContext{output, {}, {}, {}});
    shards.push_back(read_shard(p));
  }
  const std::optional<GeoTransform> gt = check_shards(shards);
  check_output_path(output, options.output.overwrite);
  MergeReport report;
  report.shards = static_cast<int>(shards.size());
  report.width = shards.front().grid_width;
  report.height = shards.front().grid_height;
  const ErrorContext where{output, {}, {}, {}};

  std::string driver_name = options.output.driver.empty() ? "VRT" : options.output.driver;
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(driver_name.c_str());
  if (!driver || !driver->GetMetadataItem(GDAL_DCAP_RASTER)) raise("unknown raster output format '" + driver_name + "'", where);
  const bool vrt_output = EQUAL(driver_name.c_str(), "VRT");
  // The VRT: beside the output (and renamed to it), or in memory as the source of a copy.
  static std::atomic<int> counter{0};
  const std::string vrt_path = vrt_output ? detail::temporary_path(output, "vrt")
                                          : "/vsimem/luojia-merge-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".vrt";
  struct Remove {
    std::string path;
    bool armed = true;
    ~Remove() {
      if (armed) VSIUnlink(path.c_str());
    }
  } remove_vrt{vrt_path};
  DatasetPtr vrt = build_vrt(shards, gt, vrt_path);
  if (vrt_output) {
    GdalErrorTrap trap;
    vrt.reset();  // writes the XML
    if (trap.has_error()) raise("cannot write the VRT: " + trap.message("VRT write failed"), where);
    make_sources_relative(vrt_path, fs::absolute(output).parent_path().lexically_normal().string());
    if (VSIRename(vrt_path.c_str(), output.c_str()) != 0) raise("cannot move the VRT into place: " + std::string(VSIStrerror(errno)), where);
    remove_vrt.armed = false;
    if (options.progress) options.progress(1.0, "", options.progress_data);
    return report;
  }
  // One file: GDAL copies the VRT, block by block, into a temporary that is renamed on success.
  std::vector<std::string> create = options.output.creation_options;
  const auto has = [&](const char* key) {
    return std::any_of(create.begin(), create.end(), [&](const std::string& o) { return EQUALN(o.c_str(), key, std::strlen(key)); });
  };
  if (EQUAL(driver_name.c_str(), "GTiff")) {
    if (!has("TILED")) create.emplace_back("TILED=YES");
    if (!has("BIGTIFF")) create.emplace_back("BIGTIFF=IF_SAFER");
  }
  char** list = nullptr;
  for (const auto& o : create) list = CSLAddString(list, o.c_str());
  const std::string temp = detail::temporary_path(output, CPLGetExtension(output.c_str()));
  const detail::GdalCacheScope cache(options.memory_budget);  // GDAL's default is 5% of RAM
  GdalErrorTrap trap;
  DatasetPtr copy(driver->CreateCopy(temp.c_str(), vrt.get(), FALSE, list, options.progress, options.progress_data));
  CSLDestroy(list);
  const bool ok = copy != nullptr;
  copy.reset();
  const bool closed_clean = !trap.has_error();
  if (!ok || !closed_clean) {
    GdalErrorTrap quiet;
    driver->Delete(temp.c_str());
    VSIUnlink(temp.c_str());
    if (options.progress && !options.progress(0.0, "", options.progress_data)) throw Cancelled();
    raise("cannot write " + driver_name + ": " + trap.message("copy failed"), where);
  }
  if (VSIRename(temp.c_str(), output.c_str()) != 0) {
    VSIUnlink(temp.c_str());
    VSIUnlink((temp + ".aux.xml").c_str());
    raise("cannot move the merged output into place: " + std::string(VSIStrerror(errno)), where);
  }
  // Class names and the like live in GDAL's .aux.xml sidecar for some formats: it moves along.
  VSIStatBufL stat;
  if (VSIStatL((temp + ".aux.xml").c_str(), &stat) == 0) VSIRename((temp + ".aux.xml").c_str(), (output + ".aux.xml").c_str());
  else VSIUnlink((output + ".aux.xml").c_str());
  return report;
}

// ---- polygons ----------------------------------------------------------------------------------

namespace {

struct Polygon {
  std::unique_ptr<OGRFeature> feature;
  int shard = 0;
  OGREnvelope envelope;
};

// A border's y comes out of two sums that can differ in the last bits (the upper shard's origin
// plus its height, and the lower shard's own origin). Every vertex is moved onto one value per
// border level, so the polygons on both sides share their edge exactly.
void snap_border_levels(std::vector<Polygon>& polygons) {
  std::vector<double> levels;
  for (const Polygon& p : polygons) {
    levels.push_back(p.envelope.MinY);
    levels.push_back(p.envelope.MaxY);
  }
  std::sort(levels.begin(), levels.end());
  std::vector<double> representatives;
  const auto tolerance = [](double y) { return 1e-9 * std::max(1.0, std::fabs(y)); };
  for (double y : levels)
    if (representatives.empty() || y - representatives.back() > tolerance(y)) representatives.push_back(y);
  const auto snap = [&](double y) {
    auto it = std::lower_bound(representatives.begin(), representatives.end(), y - tolerance(y));
    return it != representatives.end() && std::fabs(*it - y) <= tolerance(y) ? *it : y;
  };
  const auto snap_ring = [&](OGRLinearRing* ring) {
    for (int i = 0; ring && i < ring->getNumPoints(); ++i) {
      const double y = ring->getY(i), snapped = snap(y);
      if (snapped != y) ring->setPoint(i, ring->getX(i), snapped);
    }
  };
  for (Polygon& p : polygons) {
    OGRGeometry* g = p.feature->GetGeometryRef();
    if (wkbFlatten(g->getGeometryType()) != wkbPolygon) continue;
    auto* polygon = g->toPolygon();
    snap_ring(polygon->getExteriorRing());
    for (int r = 0; r < polygon->getNumInteriorRings(); ++r) snap_ring(polygon->getInteriorRing(r));
    g->getEnvelope(&p.envelope);
  }
}

std::size_t find(std::vector<std::size_t>& parent, std::size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// The merged layer: the first shard's CRS and fields, which every other shard must share.
struct MergedLayer {
  std::unique_ptr<OGRSpatialReference> srs;
  std::unique_ptr<OGRFeatureDefn> fields;
  std::unique_ptr<detail::VectorOutput> out;
  OGRLayer* layer = nullptr;
  bool transaction = false;
  int class_field = -1, area_field = -1, conf_field = -1;
};

void open_merged_layer(MergedLayer& m, OGRLayer& first, const std::string& output, const MergeOptions& options,
                       const GdalErrorTrap& out_trap) {
  const ErrorContext where{output, {}, {}, {}};
  if (const OGRSpatialReference* layer_srs = first.GetSpatialRef()) m.srs.reset(layer_srs->Clone());
  m.fields.reset(first.GetLayerDefn()->Clone());
  m.class_field = m.fields->GetFieldIndex("class_id");
  m.area_field = m.fields->GetFieldIndex("area");
  m.conf_field = m.fields->GetFieldIndex("mean_conf");
  m.out = std::make_unique<detail::VectorOutput>(output, options.output.overwrite);
  m.layer = m.out->dataset().CreateLayer("classes", m.srs ? m.srs->Clone() : nullptr, wkbPolygon, nullptr);
  if (!m.layer) raise("cannot create a layer: " + out_trap.message("layer creation failed"), where);
  for (int f = 0; f < m.fields->GetFieldCount(); ++f) m.layer->CreateField(m.fields->GetFieldDefn(f));
  m.transaction = m.out->dataset().TestCapability(ODsCTransactions) && m.out->dataset().StartTransaction() == OGRERR_NONE;
}

// Polygons inside shard k are written as they are read; those on its top or bottom edge, which
// may continue in the next shard, are held in `held`.
void take_polygons(OGRLayer& in, int k, const OGREnvelope& extent, MergedLayer& m, std::vector<Polygon>& held, MergeReport& report,
                   const GdalErrorTrap& out_trap, const ErrorContext& where) {
  const auto on_edge = [&extent](const OGREnvelope& e) {
    const auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(a)); };
    return near(e.MinY, extent.MinY) || near(e.MaxY, extent.MaxY);
  };
  in.ResetReading();
  for (auto& f : in) {
    if (!f->GetGeometryRef()) continue;
    Polygon p;
    p.shard = k;
    f->GetGeometryRef()->getEnvelope(&p.envelope);
    if (!on_edge(p.envelope)) {
      OGRFeature copy(m.layer->GetLayerDefn());
      for (int i = 0; i < m.fields->GetFieldCount(); ++i)
        if (f->IsFieldSetAndNotNull(i)) copy.SetField(i, f->GetRawFieldRef(i));
      copy.SetGeometry(f->GetGeometryRef());
      if (m.layer->CreateFeature(&copy) != OGRERR_NONE) raise("cannot write a polygon: " + out_trap.message("CreateFeature failed"), where);
      ++report.polygons;
      continue;
    }
    p.feature.reset(f.release());
    held.push_back(std::move(p));
  }
}

// Shard k: checked to be luojia-segment's polygons in the first shard's CRS (the first opens the
// merged layer), its polygons written or held; the first half of the progress goes to reading.
void read_polygon_shard(const std::vector<std::string>& paths, std::size_t k, const std::string& output, const MergeOptions& options,
                        MergedLayer& m, std::vector<Polygon>& held, MergeReport& report, const GdalErrorTrap& out_trap) {
  const ErrorContext at{paths[k], {}, {}, {}};
  std::error_code ec;
  if (!fs::exists(paths[k], ec)) raise("no such file", at);
  GdalErrorTrap trap;
  DatasetPtr ds(GDALDataset::Open(paths[k].c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  if (!ds || ds->GetLayerCount() < 1) raise("not a vector layer GDAL can read: " + trap.message_about(paths[k], "unrecognised format"), at);
  OGRLayer* in = ds->GetLayer(0);
  OGRFeatureDefn* defn = in->GetLayerDefn();
  for (const char* field : {"class_id", "area", "mean_conf"})
    if (defn->GetFieldIndex(field) < 0) raise(std::string("has no ") + field + " field: not polygons from luojia-segment", at);
  const OGRSpatialReference* layer_srs = in->GetSpatialRef();
  if (k == 0) {
    open_merged_layer(m, *in, output, options, out_trap);
  } else if ((layer_srs == nullptr) != (m.srs == nullptr) || (layer_srs && !layer_srs->IsSame(m.srs.get()))) {
    raise("has another CRS than " + paths[0], at);
  }
  OGREnvelope extent;
  if (in->GetExtent(&extent, TRUE) != OGRERR_NONE) return;  // no polygons
  take_polygons(*in, static_cast<int>(k), extent, m, held, report, out_trap, ErrorContext{output, {}, {}, {}});
  if (options.progress && !options.progress(0.5 * static_cast<double>(k + 1) / static_cast<double>(paths.size()), "", options.progress_data))
    throw Cancelled();
}

// Groups of held polygons that continue each other across shard borders, by root. Shards are
// bands of rows, so polygons can only meet across a horizontal border: one's bottom edge is
// exactly the other's top edge (both come from the same grid arithmetic).
std::map<std::size_t, std::vector<std::size_t>> join_across_borders(const std::vector<Polygon>& polygons, int class_field) {
  std::vector<std::size_t> parent(polygons.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::map<std::pair<int, double>, std::vector<std::size_t>> by_bottom;  // (class, MinY)
  for (std::size_t i = 0; i < polygons.size(); ++i)
    by_bottom[{polygons[i].feature->GetFieldAsInteger(class_field), polygons[i].envelope.MinY}].push_back(i);
  for (std::size_t i = 0; i < polygons.size(); ++i) {
    const Polygon& top = polygons[i];
    const auto found = by_bottom.find({top.feature->GetFieldAsInteger(class_field), top.envelope.MaxY});
    if (found == by_bottom.end()) continue;
    for (std::size_t j : found->second) {
      const Polygon& below = polygons[j];
      if (below.shard == top.shard || below.envelope.MaxX < top.envelope.MinX || below.envelope.MinX > top.envelope.MaxX) continue;
      if (find(parent, i) == find(parent, j)) continue;
      std::unique_ptr<OGRGeometry> shared(top.feature->GetGeometryRef()->Intersection(below.feature->GetGeometryRef()));
      if (shared && !shared->IsEmpty() && shared->getDimension() >= 1) parent[find(parent, i)] = find(parent, j);
    }
  }
  std::map<std::size_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < polygons.size(); ++i) groups[find(parent, i)].push_back(i);
  return groups;
}

// A group of several polygons as one feature: their union, its area, and the area-weighted mean
// of their confidences (null when none has one).
void join_group(OGRFeature& feature, const std::vector<std::size_t>& members, const std::vector<Polygon>& polygons, const MergedLayer& m,
                const GdalErrorTrap& trap, const ErrorContext& where) {
  OGRMultiPolygon parts;
  double weighted = 0.0, weight = 0.0;
  for (std::size_t i : members) {
    const OGRFeature& part = *polygons[i].feature;
    parts.addGeometry(part.GetGeometryRef());
    if (part.IsFieldSetAndNotNull(m.conf_field)) {
      const double a = part.GetFieldAsDouble(m.area_field);
      weighted += a * part.GetFieldAsDouble(m.conf_field);
      weight += a;
    }
  }
  std::unique_ptr<OGRGeometry> joined(parts.UnionCascaded());
  if (!joined) raise("cannot join polygons across a shard border: " + trap.message("union failed"), where);
  feature.SetGeometry(joined.get());
  feature.SetField(m.area_field, OGR_G_Area(OGRGeometry::ToHandle(joined.get())));
  if (weight > 0) feature.SetField(m.conf_field, weighted / weight);
  else feature.SetFieldNull(m.conf_field);
}

// One feature per group, the fields of its first member; the second half of the progress.
void write_groups(const std::map<std::size_t, std::vector<std::size_t>>& groups, const std::vector<Polygon>& polygons, MergedLayer& m,
                  const MergeOptions& options, MergeReport& report, const GdalErrorTrap& trap, const ErrorContext& where) {
  std::int64_t done = 0;
  for (const auto& [root, members] : groups) {
    OGRFeature feature(m.layer->GetLayerDefn());
    const OGRFeature& model = *polygons[members.front()].feature;
    for (int f = 0; f < m.fields->GetFieldCount(); ++f)
      if (model.IsFieldSetAndNotNull(f)) feature.SetField(f, model.GetRawFieldRef(f));
    if (members.size() == 1) {
      feature.SetGeometry(model.GetGeometryRef());
    } else {
      join_group(feature, members, polygons, m, trap, where);
      report.joined += static_cast<std::int64_t>(members.size());
    }
    if (m.layer->CreateFeature(&feature) != OGRERR_NONE) raise("cannot write a polygon: " + trap.message("CreateFeature failed"), where);
    ++report.polygons;
    if (options.progress && (++done % 1024 == 0) &&
        !options.progress(0.5 + 0.5 * static_cast<double>(done) / static_cast<double>(groups.size()), "", options.progress_data))
      throw Cancelled();
  }
}

}  // namespace

MergeReport merge_vector_shards(const std::vector<std::string>& paths, const std::string& output, const MergeOptions& options) {
  detail::register_gdal();
  const ErrorContext where{output, {}, {}, {}};
  if (paths.empty()) raise("no shards to merge", where);
  if (is_detection_shard(paths[0])) return merge_detection_shards(paths, output, options);
  if (!options.pixel_boxes.empty()) throw UsageError("pixel_boxes", "are written for detection shards (luojia-detect --shard), not polygons");
  // Polygons inside a shard are written as they are read; only those on a shard's top or bottom
  // edge, which may continue in the next shard, are held to be joined: memory grows with the
  // raster's width, not with the number of polygons.
  std::vector<Polygon> polygons;
  MergedLayer merged;
  MergeReport report;
  report.shards = static_cast<int>(paths.size());
  GdalErrorTrap out_trap;
  for (std::size_t k = 0; k < paths.size(); ++k) read_polygon_shard(paths, k, output, options, merged, polygons, report, out_trap);
  snap_border_levels(polygons);
  const auto groups = join_across_borders(polygons, merged.class_field);
  write_groups(groups, polygons, merged, options, report, out_trap, where);
  if (merged.transaction && merged.out->dataset().CommitTransaction() != OGRERR_NONE)
    raise("cannot finish the vector output: " + out_trap.message("commit failed"), where);
  merged.out->commit();
  if (options.progress) options.progress(1.0, "", options.progress_data);
  return report;
}

}  // namespace luojia
