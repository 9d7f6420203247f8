#include "support.hpp"

#include <cstdlib>

#include <cpl_conv.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace luojia::test {

TempDir::TempDir() {
  static std::mt19937_64 rng{std::random_device{}()};
  path_ = std::filesystem::temp_directory_path() / ("luojia-test-" + std::to_string(rng()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
  return out;
}

void make_raster(const std::string& path, const RasterSpec& spec,
                 const std::function<double(int, int, int)>& value) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  char** options = nullptr;
  for (const auto& o : spec.options) options = CSLAddString(options, o.c_str());
  GDALDataset* ds = driver->Create(path.c_str(), spec.width, spec.height, spec.bands, spec.type, options);
  CSLDestroy(options);
  if (!ds) throw std::runtime_error("test fixture: cannot create " + path);
  double gt[6];
  std::copy(spec.geotransform, spec.geotransform + 6, gt);
  ds->SetGeoTransform(gt);
  if (spec.epsg) {
    OGRSpatialReference srs;
    srs.importFromEPSG(spec.epsg);
    ds->SetSpatialRef(&srs);
  }
  std::vector<double> row(static_cast<std::size_t>(spec.width));
  for (int b = 0; b < spec.bands; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b + 1);
    if (spec.nodata) band->SetNoDataValue(*spec.nodata);
    for (int y = 0; y < spec.height; ++y) {
      for (int x = 0; x < spec.width; ++x) row[static_cast<std::size_t>(x)] = value(b, x, y);
      if (band->RasterIO(GF_Write, 0, y, spec.width, 1, row.data(), spec.width, 1, GDT_Float64, 0, 0) !=
          CE_None)
        throw std::runtime_error("test fixture: cannot write " + path);
    }
  }
  GDALClose(ds);
}

std::vector<double> read_band(const std::string& path, int band) {
  GDALAllRegister();
  GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY);
  if (!ds) throw std::runtime_error("test: cannot open " + path);
  const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
  std::vector<double> data(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
  const CPLErr err = ds->GetRasterBand(band)->RasterIO(GF_Read, 0, 0, w, h, data.data(), w, h, GDT_Float64, 0, 0);
  GDALClose(ds);
  if (err != CE_None) throw std::runtime_error("test: cannot read " + path);
  return data;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_stretched_vrt(const std::string& vrt_path, const std::string& source, int source_size, int size, int bands,
                         const std::string& type) {
  std::ofstream vrt(vrt_path);
  vrt << "<VRTDataset rasterXSize=\"" << size << "\" rasterYSize=\"" << size << "\">"
      << "<SRS>EPSG:32618</SRS><GeoTransform>500000, 10, 0, 4000000, 0, -10</GeoTransform>\n";
  for (int b = 1; b <= bands; ++b)
    vrt << "<VRTRasterBand dataType=\"" << type << "\" band=\"" << b << "\"><SimpleSource><SourceFilename relativeToVRT=\"0\">"
        << std::filesystem::absolute(source).string() << "</SourceFilename><SourceBand>" << b
        << "</SourceBand><SrcRect xOff=\"0\" yOff=\"0\" xSize=\"" << source_size << "\" ySize=\"" << source_size << "\"/>"
        << "<DstRect xOff=\"0\" yOff=\"0\" xSize=\"" << size << "\" ySize=\"" << size << "\"/></SimpleSource></VRTRasterBand>\n";
  vrt << "</VRTDataset>\n";
  if (!vrt) throw std::runtime_error("test fixture: cannot write " + vrt_path);
}

double hash01(int b, int x, int y, int seed) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint64_t v : {std::uint64_t(b), std::uint64_t(x), std::uint64_t(y), std::uint64_t(seed)}) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 1099511628211ull;
  }
  return static_cast<double>(h >> 11) / static_cast<double>(1ull << 53);
}

WinogradMode::WinogradMode(const char* mode) { setenv("LUOJIA_WINOGRAD", mode, 1); }
WinogradMode::~WinogradMode() { unsetenv("LUOJIA_WINOGRAD"); }

}  // namespace luojia::test
