#include "io/pixel_placement.hpp"

#include "io/gdal_support.hpp"

#include <luojia/error.hpp>

#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogr_geometry.h>
#include <ogr_spatialref.h>

namespace luojia::detail {

PixelPlacement::PixelPlacement(const RasterInfo& info, const std::string& dataset_path) : path_(dataset_path) {
  if (info.geotransform) {
    method_ = Method::Geotransform;
    geotransform_ = *info.geotransform;
    crs_wkt_ = info.crs_wkt;
    return;
  }
  if (info.rpc.empty() && info.gcps.size() < 3) return;
  register_gdal();
  GdalErrorTrap trap;
  dataset_ = GDALOpenEx(dataset_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
  if (!dataset_) raise("cannot reopen for its RPCs/GCPs: " + trap.message("open failed"), ErrorContext{dataset_path, {}, {}, {}});
  const bool rpc = !info.rpc.empty();
  const char* options[] = {rpc ? "METHOD=RPC" : "METHOD=GCP_POLYNOMIAL", nullptr};
  transformer_ = GDALCreateGenImgProjTransformer2(dataset_, nullptr, const_cast<char**>(options));
  if (!transformer_)
    raise(std::string("cannot place the raster through its ") + (rpc ? "RPCs" : "GCPs") + ": " + trap.message("transformer failed"),
          ErrorContext{dataset_path, {}, {}, {}});
  method_ = rpc ? Method::Rpc : Method::Gcp;
  if (rpc) {
    OGRSpatialReference wgs84;
    wgs84.importFromEPSG(4326);
    char* wkt = nullptr;
    wgs84.exportToWkt(&wkt);
    crs_wkt_ = wkt ? wkt : "";
    CPLFree(wkt);
  } else {
    crs_wkt_ = info.gcp_crs_wkt;
  }
}

PixelPlacement::~PixelPlacement() {
  if (transformer_) GDALDestroyGenImgProjTransformer(transformer_);
  if (dataset_) GDALClose(dataset_);
}

std::string PixelPlacement::note() const {
  switch (method_) {
    case Method::Geotransform: return {};
    case Method::Rpc: return "the raster has no geotransform: vectors are placed through its RPCs (longitude/latitude, WGS 84, at zero height)";
    case Method::Gcp: return "the raster has no geotransform: vectors are placed through its GCPs (polynomial fit, in the GCPs' CRS)";
    case Method::Pixels: return "the raster has no geotransform: vectors are in pixel coordinates";
  }
  return {};
}

std::pair<double, double> PixelPlacement::apply(double x, double y) const {
  if (method_ == Method::Geotransform) return geotransform_.apply(x, y);
  if (!transformer_) return {x, y};
  double px = x, py = y, pz = 0;
  int ok = 0;
  GDALGenImgProjTransform(transformer_, FALSE, 1, &px, &py, &pz, &ok);
  if (!ok)
    raise("cannot place pixel " + std::to_string(x) + "," + std::to_string(y) + " through the raster's " +
              (method_ == Method::Rpc ? "RPCs" : "GCPs"),
          ErrorContext{path_, {}, {}, {}});
  return {px, py};
}

namespace {

void place_curve(OGRSimpleCurve& curve, const PixelPlacement& p) {
  for (int i = 0; i < curve.getNumPoints(); ++i) {
    const auto [x, y] = p.apply(curve.getX(i), curve.getY(i));
    curve.setPoint(i, x, y);
  }
}

}  // namespace

void PixelPlacement::place(OGRGeometry& g) const {
  switch (wkbFlatten(g.getGeometryType())) {
    case wkbPolygon: {
      auto& polygon = *g.toPolygon();
      for (auto* ring : polygon) place_curve(*ring, *this);
      break;
    }
    case wkbMultiPolygon:
      for (auto* part : *g.toMultiPolygon()) place(*part);
      break;
    case wkbLineString:
      place_curve(*g.toLineString(), *this);
      break;
    case wkbPoint: {
      auto& point = *g.toPoint();
      const auto [x, y] = apply(point.getX(), point.getY());
      point.setX(x);
      point.setY(y);
      break;
    }
    default:
      raise("cannot place a " + std::string(g.getGeometryName()) + " geometry", ErrorContext{path_, {}, {}, {}});
  }
}

}  // namespace luojia::detail
