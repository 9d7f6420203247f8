#pragma once
// Test fixtures: rasters made directly with GDAL (independent of luojia's writer) in a temp folder.
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace luojia::test {

// A fresh folder, removed with everything in it at the end of the test.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Names of the entries in the folder, for checking that nothing was left behind.
  std::vector<std::string> entries() const;

private:
  std::filesystem::path path_;
};

// LUOJIA_WINOGRAD=off|f2|f4|auto for the models loaded in its lifetime (Conv reads it at load).
class WinogradMode {
public:
  explicit WinogradMode(const char* mode);
  ~WinogradMode();
  WinogradMode(const WinogradMode&) = delete;
  WinogradMode& operator=(const WinogradMode&) = delete;
};

struct RasterSpec {
  int width = 16;
  int height = 16;
  int bands = 1;
  GDALDataType type = GDT_Float32;
  std::optional<double> nodata;
  int epsg = 32618;
  double geotransform[6] = {500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0};
  std::vector<std::string> options;  // GTiff creation options
};

// Writes a GeoTIFF whose pixel (band b, 0-based, x, y) is value(b, x, y).
void make_raster(const std::string& path, const RasterSpec& spec,
                 const std::function<double(int, int, int)>& value);

// Reads one band of a raster with GDAL as float64, row-major.
std::vector<double> read_band(const std::string& path, int band);

std::string read_file(const std::string& path);

// A VRT at vrt_path stretching bands 1..bands of source (source_size x source_size pixels) to
// size x size of type (GDAL's name), EPSG:32618 with 10 m pixels: long to process, tiny on disk.
void write_stretched_vrt(const std::string& vrt_path, const std::string& source, int source_size, int size, int bands,
                         const std::string& type);

// A deterministic pseudo-random value in [0, 1) for (b, x, y, seed).
double hash01(int b, int x, int y, int seed = 0);

}  // namespace luojia::test
