// Class map to polygons with GDAL's polygoniser, over the whole map at once so that no polygon is
// cut where tiles met; GDAL streams it line by line.
#include "products/polygonize.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include "io/band_stack.hpp"
#include "io/gdal_support.hpp"
#include "io/pixel_placement.hpp"
#include "io/file_names.hpp"
#include "io/rasterize.hpp"
#include "io/vector_output.hpp"

#include <cpl_string.h>
#include <gdal_alg.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

namespace luojia {

using detail::DatasetPtr;
using detail::GdalErrorTrap;
using detail::VectorOutput;
using detail::PixelPlacement;

namespace {

// Mean of confidence over the pixels of polygon, in strips so that memory stays bounded.
double mean_confidence(GDALDataset& confidence, const OGRGeometry& polygon, const double* gt) {
  OGREnvelope e;
  polygon.getEnvelope(&e);
  double inv[6];
  if (!GDALInvGeoTransform(const_cast<double*>(gt), inv)) return NAN;
  // Pixel bounds of the envelope's corners.
  double px[4], py[4];
  const double xs[4] = {e.MinX, e.MaxX, e.MinX, e.MaxX}, ys[4] = {e.MinY, e.MinY, e.MaxY, e.MaxY};
  for (int i = 0; i < 4; ++i) GDALApplyGeoTransform(inv, xs[i], ys[i], &px[i], &py[i]);
  const int w = confidence.GetRasterXSize(), h = confidence.GetRasterYSize();
  const int x0 = std::max(0, static_cast<int>(std::floor(*std::min_element(px, px + 4))));
  const int x1 = std::min(w, static_cast<int>(std::ceil(*std::max_element(px, px + 4))));
  const int y0 = std::max(0, static_cast<int>(std::floor(*std::min_element(py, py + 4))));
  const int y1 = std::min(h, static_cast<int>(std::ceil(*std::max_element(py, py + 4))));
  if (x1 <= x0 || y1 <= y0) return NAN;
  constexpr int kStrip = 256;
  double sum = 0;
  std::int64_t count = 0;
  std::vector<float> inside, values;
  GeoTransform grid;
  std::copy(gt, gt + 6, grid.c.begin());
  for (int sy = y0; sy < y1; sy += kStrip) {
    const int rows = std::min(kStrip, y1 - sy), cols = x1 - x0;
    detail::rasterize({&polygon}, {1.0}, detail::window_geotransform(grid, x0, sy), cols, rows, 0.0f, inside, "a polygon");
    values.resize(inside.size());
    if (confidence.GetRasterBand(1)->RasterIO(GF_Read, x0, sy, cols, rows, values.data(), cols, rows, GDT_Float32, 0, 0, nullptr) != CE_None)
      continue;
    for (std::size_t i = 0; i < inside.size(); ++i)
      if (inside[i] != 0.0f && values[i] >= 0.0f) {
        sum += values[i];
        ++count;
      }
  }
  return count ? sum / static_cast<double>(count) : NAN;
}

}  // namespace

std::unique_ptr<VectorOutput> detail::polygonize_uncommitted(const std::string& class_map, const std::string& confidence_path,
                                                             const std::string& vector_path, const PolygonizeOptions& options) {
  detail::register_gdal();
  const ErrorContext where{vector_path, {}, {}, {}};
  auto owned = std::make_unique<VectorOutput>(vector_path, options.overwrite);
  VectorOutput& output = *owned;
  GdalErrorTrap trap;
  DatasetPtr classes(GDALDataset::Open(class_map.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!classes) raise("cannot open the class map: " + trap.message("open failed"), ErrorContext{class_map, {}, {}, {}});
  double gt[6] = {0, 1, 0, 0, 0, 1};
  classes->GetGeoTransform(gt);
  GDALRasterBand* band = classes->GetRasterBand(1);

  // Sieve small regions first, in a temporary copy beside the output.
  DatasetPtr sieved;
  const std::string sieved_path = detail::temporary_path(vector_path, "sieved.tif");
  detail::TemporaryFiles cleanup;
  const double pixel_area = std::fabs(gt[1] * gt[5] - gt[2] * gt[4]);
  const double by_area = options.min_area > 0 && pixel_area > 0 ? std::ceil(options.min_area / pixel_area) : 0.0;
  const int threshold = std::max(options.min_pixels, static_cast<int>(std::min(by_area, 2e9)));
  if (threshold > 1) {
    char** co = CSLAddString(nullptr, "TILED=YES");
    sieved.reset(GetGDALDriverManager()->GetDriverByName("GTiff")->CreateCopy(sieved_path.c_str(), classes.get(), FALSE, co,
                                                                               nullptr, nullptr));
    CSLDestroy(co);
    cleanup.paths.push_back(sieved_path);
    if (!sieved) raise("cannot write a temporary class map for sieving: " + trap.message("copy failed"), where);
    GDALRasterBand* b = sieved->GetRasterBand(1);
    if (GDALSieveFilter(GDALRasterBand::ToHandle(band), GDALRasterBand::ToHandle(band->GetMaskBand()),
                        GDALRasterBand::ToHandle(b), threshold, 4, nullptr, nullptr, nullptr) != CE_None)
      raise("sieving failed: " + trap.message("GDALSieveFilter failed"), where);
    band = b;
  }

  GDALDataset* out = &output.dataset();
  {
    // Class maps of RPC/GCP imagery have no geotransform: their polygons are placed through the
    // sensor model (the confidence and area are computed in pixels first).
    const RasterInfo class_info = Raster::open(class_map).info();
    const PixelPlacement placement(class_info, class_map);
    const bool sensor = placement.method() == PixelPlacement::Method::Rpc || placement.method() == PixelPlacement::Method::Gcp;
    OGRSpatialReference sensor_srs;
    if (sensor && !placement.crs_wkt().empty()) {
      sensor_srs.importFromWkt(placement.crs_wkt().c_str());
      sensor_srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    }
    const OGRSpatialReference* srs = sensor ? (placement.crs_wkt().empty() ? nullptr : &sensor_srs) : classes->GetSpatialRef();
    OGRLayer* layer = out->CreateLayer("classes", srs ? srs->Clone() : nullptr, wkbPolygon, nullptr);
    if (!layer) raise("cannot create a layer: " + trap.message("layer creation failed"), where);
    OGRFieldDefn id("class_id", OFTInteger), name("class_name", OFTString), area("area", OFTReal), conf("mean_conf", OFTReal);
    for (OGRFieldDefn* field : {&id, &name, &area, &conf}) layer->CreateField(field);
    // GDALPolygonize writes into GDAL's in-memory layer first: polygons are then simplified,
    // measured and placed before they are written once. Formats written as a stream (GeoJSON,
    // FlatGeobuf) cannot read back or update what they hold, so finishing them in place dropped
    // every step after polygonising without a word.
    DatasetPtr memory(GetGDALDriverManager()->GetDriverByName("Memory")->Create("", 0, 0, 0, GDT_Unknown, nullptr));
    if (!memory) raise("cannot create an in-memory layer: " + trap.message("Memory driver failed"), where);
    OGRLayer* raw = memory->CreateLayer("classes", nullptr, wkbPolygon, nullptr);
    if (!raw) raise("cannot create an in-memory layer: " + trap.message("layer creation failed"), where);
    raw->CreateField(&id);
    if (GDALPolygonize(GDALRasterBand::ToHandle(band), GDALRasterBand::ToHandle(band->GetMaskBand()), OGRLayer::ToHandle(raw), 0,
                       nullptr, nullptr, nullptr) != CE_None)
      raise("polygonising failed: " + trap.message("GDALPolygonize failed"), where);
    DatasetPtr confidence;
    if (!confidence_path.empty()) confidence.reset(GDALDataset::Open(confidence_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    // GeoPackage writes far faster in one transaction; GeoJSON and shapefiles have none.
    const bool transaction = out->TestCapability(ODsCTransactions) && out->StartTransaction() == OGRERR_NONE;
    raw->ResetReading();
    for (auto& polygon : *raw) {
      OGRFeature f(layer->GetLayerDefn());
      const int cls = polygon->GetFieldAsInteger(0);
      f.SetField(0, cls);
      std::unique_ptr<OGRGeometry> g(polygon->StealGeometry());
      if (g && options.simplify > 0) {
        std::unique_ptr<OGRGeometry> simple(g->SimplifyPreserveTopology(options.simplify));
        if (simple && !simple->IsEmpty()) g = std::move(simple);
      }
      const auto i = static_cast<std::size_t>(cls);
      f.SetField(1, i < options.class_names.size() ? options.class_names[i].c_str() : ("class " + std::to_string(cls)).c_str());
      if (g) f.SetField(2, OGR_G_Area(OGRGeometry::ToHandle(g.get())));
      if (confidence && g) {
        const double m = mean_confidence(*confidence, *g, gt);
        if (std::isnan(m)) f.SetFieldNull(3);
        else f.SetField(3, m);
      } else {
        f.SetFieldNull(3);
      }
      if (g && sensor) placement.place(*g);
      if (g) f.SetGeometryDirectly(g.release());
      if (layer->CreateFeature(&f) != OGRERR_NONE) raise("cannot write a polygon: " + trap.message("CreateFeature failed"), where);
    }
    if (transaction && out->CommitTransaction() != OGRERR_NONE) raise("cannot finish the vector output: " + trap.message("commit failed"), where);
  }
  output.finish();
  return owned;
}

void polygonize_classes(const std::string& class_map, const std::string& confidence_path, const std::string& vector_path,
                        const PolygonizeOptions& options) {
  detail::polygonize_uncommitted(class_map, confidence_path, vector_path, options)->commit();
}

}  // namespace luojia
