#include "products/aoi.hpp"

#include "io/rasterize.hpp"

#include "io/gdal_support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/grid_match.hpp>

#include <gdal_alg.h>
#include <ogr_geometry.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>

namespace luojia::detail {

AreaOfInterest::AreaOfInterest(const RasterInfo& raster, const std::string& vector_path, const std::string& mask_path) {
  register_gdal();
  if (!raster.geotransform && !vector_path.empty())
    throw InputError("the raster has no geotransform, so an `aoi` cannot be placed on it", ErrorContext{raster.path, {}, {}, {}});
  transform_ = raster.geotransform.value_or(GeoTransform{});
  if (!vector_path.empty()) {
    const ErrorContext where{vector_path, {}, {}, {}};
    GdalErrorTrap trap;
    DatasetPtr ds(GDALDataset::Open(vector_path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds) throw InputError("not a vector file GDAL can read: " + trap.message("cannot open"), where);
    OGRSpatialReference raster_srs;
    const bool raster_has_srs = !raster.crs_wkt.empty() && raster_srs.importFromWkt(raster.crs_wkt.c_str()) == OGRERR_NONE;
    raster_srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    envelope_[0] = envelope_[2] = INFINITY;
    envelope_[1] = envelope_[3] = -INFINITY;
    for (auto* layer : ds->GetLayers()) {
      std::unique_ptr<OGRCoordinateTransformation> to_raster;
      const OGRSpatialReference* layer_srs = layer->GetSpatialRef();
      if (layer_srs && raster_has_srs && !layer_srs->IsSame(&raster_srs)) {
        OGRSpatialReference source(*layer_srs);
        source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
        to_raster.reset(OGRCreateCoordinateTransformation(&source, &raster_srs));
        if (!to_raster) throw InputError("cannot transform the AOI's CRS to the raster's", where);
      }
      for (auto& feature : *layer) {
        const OGRGeometry* g = feature->GetGeometryRef();
        if (!g || g->IsEmpty()) continue;
        const auto type = wkbFlatten(g->getGeometryType());
        if (type != wkbPolygon && type != wkbMultiPolygon && type != wkbGeometryCollection) continue;
        std::unique_ptr<OGRGeometry> copy(g->clone());
        if (to_raster && copy->transform(to_raster.get()) != OGRERR_NONE) throw InputError("cannot transform an AOI polygon", where);
        OGREnvelope e;
        copy->getEnvelope(&e);
        envelope_[0] = std::min(envelope_[0], e.MinX);
        envelope_[1] = std::max(envelope_[1], e.MaxX);
        envelope_[2] = std::min(envelope_[2], e.MinY);
        envelope_[3] = std::max(envelope_[3], e.MaxY);
        geometries_.push_back(std::move(copy));
      }
    }
    if (geometries_.empty()) throw InputError("holds no polygons to use as an area of interest", where);
  }
  if (!mask_path.empty()) {
    auto handle = std::make_unique<Raster>(Raster::open(mask_path));
    const RasterInfo& m = handle->info();
    // The mask may lack a CRS (a hand-made raster); size and geotransform must still match.
    RasterInfo grid = m;
    if (grid.crs_wkt.empty()) grid.crs_wkt = raster.crs_wkt;
    if (!grid.geotransform) grid.geotransform = raster.geotransform;
    if (const auto why = grid_difference(raster, grid))
      throw InputError("the mask and the raster are not on one grid: " + *why + "; they must share the grid", ErrorContext{mask_path, {}, {}, {}});
    mask_ = std::make_unique<RasterPool>(mask_path);
  }
}

AreaOfInterest::~AreaOfInterest() = default;

void AreaOfInterest::restrict(const Window& part, std::vector<std::uint8_t>& valid) const {
  if (!geometries_.empty()) {
    // The part's corners in map coordinates (north-up or not), against the AOI's envelope.
    double xs[4], ys[4];
    const double cols[4] = {0, static_cast<double>(part.width), 0, static_cast<double>(part.width)};
    const double rows[4] = {0, 0, static_cast<double>(part.height), static_cast<double>(part.height)};
    for (int i = 0; i < 4; ++i) {
      const auto [x, y] = transform_.apply(static_cast<double>(part.x) + cols[i], static_cast<double>(part.y) + rows[i]);
      xs[i] = x;
      ys[i] = y;
    }
    const bool outside = *std::max_element(xs, xs + 4) < envelope_[0] || *std::min_element(xs, xs + 4) > envelope_[1] ||
                         *std::max_element(ys, ys + 4) < envelope_[2] || *std::min_element(ys, ys + 4) > envelope_[3];
    if (outside) {
      std::fill(valid.begin(), valid.end(), std::uint8_t{0});
      return;
    }
    std::vector<const OGRGeometry*> shapes;
    for (const auto& g : geometries_) shapes.push_back(g.get());
    std::vector<float> inside;
    rasterize(shapes, std::vector<double>(shapes.size(), 1.0), window_geotransform(transform_, static_cast<double>(part.x), static_cast<double>(part.y)),
              part.width, part.height, 0.0f, inside, "the area of interest");
    for (std::size_t i = 0; i < valid.size(); ++i) valid[i] = valid[i] && inside[i] != 0.0f;
  }
  if (mask_) {
    const auto handle = mask_->acquire();
    Mask data;
    const Image m = handle->read(part, std::vector<int>{1}, {}, &data);
    for (std::size_t i = 0; i < valid.size(); ++i) valid[i] = valid[i] && data[i] && m.data()[i] != 0.0f;
  }
}

}  // namespace luojia::detail
