#pragma once
// Where a raster's pixels lie on the ground, for vector products: its geotransform, or, for L1
// imagery without one, GDAL's RPC or GCP transformer (what gdalwarp -rpc and gdaltransform use),
// which gives longitude/latitude (RPC) or the GCPs' CRS.
#include <luojia/io/raster_info.hpp>

#include <string>
#include <utility>

class OGRGeometry;

namespace luojia::detail {

class PixelPlacement {
public:
  // Opens dataset_path (read-only) when the raster is placed by RPCs or GCPs.
  PixelPlacement(const RasterInfo& info, const std::string& dataset_path);
  ~PixelPlacement();
  PixelPlacement(const PixelPlacement&) = delete;
  PixelPlacement& operator=(const PixelPlacement&) = delete;

  enum class Method { Geotransform, Rpc, Gcp, Pixels };
  Method method() const { return method_; }
  // The CRS of placed coordinates (empty: none, pixel coordinates).
  const std::string& crs_wkt() const { return crs_wkt_; }
  // What a run should say about it, empty for a geotransform.
  std::string note() const;

  // Pixel (x right, y down, in pixels) to ground coordinates; throws Error where the
  // transformer cannot place a point.
  std::pair<double, double> apply(double x, double y) const;
  // Every vertex of a geometry in pixel coordinates, placed.
  void place(OGRGeometry& geometry) const;

private:
  Method method_ = Method::Pixels;
  GeoTransform geotransform_;
  std::string crs_wkt_;
  std::string path_;
  void* dataset_ = nullptr;      // GDALDatasetH the transformer refers to
  void* transformer_ = nullptr;  // GDALCreateGenImgProjTransformer2
};

}  // namespace luojia::detail
