#pragma once
// The Awesome Spectral Indices catalogue (https://github.com/awesome-spectral-indices, MIT): the
// indices' formulas over standard band symbols, the constants they use, and which band of each
// sensor each symbol is. luojia carries a copy compiled into the library (data/spectral-indices/).
#include <luojia/export.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace luojia {

struct SpectralIndexEntry {
  std::string short_name;              // NDVI, kNDVI, ...
  std::string long_name;
  std::string domain;                  // vegetation, water, burn, urban, snow, soil, radar, kernel, ...
  std::string formula;                 // Python syntax: + - * / ** over symbols and numbers
  std::vector<std::string> symbols;    // the bands, constants and kernel terms it uses
  std::string reference;               // DOI or URL
};

struct IndexConstant {
  std::string name;
  std::string description;
  std::optional<double> value;  // none: it must be given (PAR) or come from a sensor (wavelengths)
};

struct SensorBand {
  std::string band;   // the sensor's name of it: B4, B8A, ...
  double wavelength;  // centre, nm
};

struct BandSymbol {
  std::string symbol;       // R, N, S1, RE1, VV, ...
  std::string common_name;  // red, nir, swir16, ... (STAC's names)
  std::string long_name;
  double min_wavelength = 0, max_wavelength = 0;  // nm
  // By sensor (landsat8, sentinel2a, modis, ...): bands.json's, and where it gives a sensor no
  // band for this symbol, the sensor's band whose centre lies in this symbol's range (bands.json
  // lists Landsat 8's B5 as N2 only; at 865 nm it is also N, 760-900 nm).
  std::map<std::string, SensorBand> sensors;
};

class LUOJIA_API IndexCatalogue {
public:
  // The catalogue compiled into luojia.
  static const IndexCatalogue& builtin();

  const std::vector<SpectralIndexEntry>& indices() const { return indices_; }
  const std::vector<IndexConstant>& constants() const { return constants_; }
  const std::vector<BandSymbol>& bands() const { return bands_; }

  // By short name: exactly, else ignoring case when that names one index; nullptr if none.
  const SpectralIndexEntry* find(std::string_view name) const;
  const IndexConstant* constant(std::string_view name) const;
  const BandSymbol* band(std::string_view symbol) const;

  // The sensors bands.json knows, and the aliases luojia accepts for them (sentinel2 is
  // sentinel2a, landsat4-7 is landsat7); throws UsageError("sensor") for an unknown one.
  std::vector<std::string> sensors() const;
  std::string sensor_key(std::string_view name) const;

  // Parses the catalogue's three files (spectral-indices-dict.json, constants.json, bands.json).
  static IndexCatalogue parse(const std::string& indices_json, const std::string& constants_json,
                              const std::string& bands_json);

private:
  std::vector<SpectralIndexEntry> indices_;
  std::vector<IndexConstant> constants_;
  std::vector<BandSymbol> bands_;
};

}  // namespace luojia
