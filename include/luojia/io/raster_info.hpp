#pragma once
// What luojia knows of a raster: size, bands, types, nodata, CRS, geotransform, RPCs, GCPs.
#include <luojia/data_type.hpp>
#include <luojia/export.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace luojia {

// GDAL's affine geotransform: x = c[0] + col*c[1] + row*c[2], y = c[3] + col*c[4] + row*c[5].
struct GeoTransform {
  std::array<double, 6> c{0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  double pixel_width() const { return c[1]; }
  double pixel_height() const { return c[5]; }
  std::pair<double, double> apply(double col, double row) const {
    return {c[0] + col * c[1] + row * c[2], c[3] + col * c[4] + row * c[5]};
  }
  friend bool operator==(const GeoTransform&, const GeoTransform&) = default;
};

// Where a band's validity comes from besides its values (GDAL's GetMaskFlags): nothing, its
// nodata value, an alpha band, a mask shared by all bands (an internal or .msk mask, JPEG-in-TIFF
// masks), or a mask of its own. Pixels a mask marks 0 are nodata in every program.
enum class MaskKind { AllValid, Nodata, Alpha, PerDataset, PerBand };
LUOJIA_API std::string_view name(MaskKind kind);

// A ground control point: a pixel/line position and where it lies (x, y, z in the GCPs' CRS).
struct GroundControlPoint {
  std::string id;
  double pixel = 0, line = 0;
  double x = 0, y = 0, z = 0;
  friend bool operator==(const GroundControlPoint&, const GroundControlPoint&) = default;
};

struct BandInfo {
  DataType type = DataType::Unknown;
  std::optional<double> nodata;
  double scale = 1.0;
  double offset = 0.0;
  std::string color_interpretation;  // GDAL's name: "Red", "Gray", "Undefined", ...
  std::string description;
  int block_width = 0;
  int block_height = 0;
  MaskKind mask = MaskKind::AllValid;
};

struct RasterInfo {
  std::string path;
  std::string driver;
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::vector<BandInfo> bands;
  std::optional<GeoTransform> geotransform;
  std::string crs_wkt;  // empty when the raster has no CRS
  std::optional<int> epsg;
  std::vector<std::pair<std::string, std::string>> metadata;  // default domain, KEY=VALUE order kept
  // Sensor-model georeferencing of L1 imagery (GF-1/2, ZY-3, WorldView): the RPC metadata domain
  // and ground control points with their CRS. Raster products carry both.
  std::vector<std::pair<std::string, std::string>> rpc;
  std::vector<GroundControlPoint> gcps;
  std::string gcp_crs_wkt;

  int band_count() const { return static_cast<int>(bands.size()); }
  const BandInfo& band(int number) const { return bands.at(static_cast<std::size_t>(number - 1)); }
};

// Human-readable summary and JSON, as luojia-info prints them.
LUOJIA_API std::string to_text(const RasterInfo& info);
LUOJIA_API std::string to_json(const RasterInfo& info);

}  // namespace luojia
