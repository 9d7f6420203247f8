#pragma once
// Spectral indices and band math over a raster's bands: any index of the Awesome Spectral
// Indices catalogue, or a user's formula, many in one pass.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/io/raster_writer.hpp>

#include <map>
#include <string>
#include <vector>

namespace luojia {

// One index to compute: a catalogue short name (NDVI, EVI, kNDVI, ...; see IndexCatalogue), one
// of luojia's former lowercase names (ndvi, ndwi, mndwi, ndbi, savi, evi), or a user's own formula
// over the same symbols. Formulas also take b1, b2, ... for raster bands by number.
struct IndexSpec {
  std::string name;
  std::string formula;                      // empty: the catalogue's formula for name
  std::map<std::string, double> constants;  // this index's constants, over the job's
};

// Which raster band (1-based) holds each band symbol (R, N, S1, RE1, VV, ...). given wins; then
// a band whose description names a symbol (its symbol, common or long name: "red", "nir",
// "Near Infrared (NIR)"), or, with a sensor, the sensor's band name ("B4", "B04", "B8A"); then
// the colour interpretation (Red, Green, Blue); then, with a sensor, its band order (band k is
// the sensor's Bk; Sentinel-2's 13 bands run B1..B8, B8A, B9..B12). Throws UsageError("sensor")
// for an unknown sensor.
LUOJIA_API std::map<std::string, int> assign_band_symbols(const RasterInfo& info, const std::map<std::string, int>& given,
                                                          const std::string& sensor);

// The bands a set of indices reads, in reading order (each once, whatever the number of indices),
// their names, and the kernel that computes one output band per index: the formulas compiled
// once, evaluated over whole tile rows in double precision. A pixel is nodata where an input of
// its index is nodata, a divisor is zero, or the value is not finite. Constants: the spec's, then
// constants, then (wavelengths) the sensor's, then the catalogue's defaults. Throws UsageError
// naming the index and the symbol it misses ("bands", "const"), or Error for a formula that does
// not parse.
struct IndexPlan {
  std::vector<int> bands;
  std::vector<std::string> names;
  TileKernel kernel;
};
LUOJIA_API IndexPlan plan_indices(const std::vector<IndexSpec>& specs, const std::map<std::string, int>& bands,
                                  const std::map<std::string, double>& constants, const std::string& sensor,
                                  float nodata);

struct IndexJob {
  std::vector<IndexSpec> indices;
  std::map<std::string, int> bands;         // R=3, N=4, ...: over what the raster and sensor say
  std::string sensor;                       // sentinel2, landsat8, modis, ...: band order, wavelengths
  std::map<std::string, double> constants;  // L=0.5, sigma=0.3, PAR=...: over the catalogue's defaults
  float nodata = -9999.0f;
  std::int64_t tile = 512;                   // tile side in pixels, as every task names it
  OutputOptions output;
  StreamOptions stream;  // threads, memory, progress; read.apply_scale is honoured
};

// luojia-index as a function: INPUT's indices into a Float32 raster at OUTPUT with INPUT's grid,
// CRS and geotransform. Checks band numbers against the raster before anything is written.
LUOJIA_API StreamStats compute_indices(const std::string& input, const std::string& output,
                                       const IndexJob& job);

}  // namespace luojia
