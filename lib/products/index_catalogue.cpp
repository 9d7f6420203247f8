#include <luojia/products/index_catalogue.hpp>

#include <luojia/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace luojia {
namespace detail {
extern const char catalogue_spectral_indices_dict_json[];
extern const char catalogue_constants_json[];
extern const char catalogue_bands_json[];
}  // namespace detail

namespace {

bool same_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Sentinel-1 and other SAR polarisations: symbols of the catalogue's radar indices that
// bands.json, being about optical sensors, does not list.
const BandSymbol kRadar[] = {{"VV", "vv", "Vertical transmit, vertical receive", 0, 0, {}},
                             {"VH", "vh", "Vertical transmit, horizontal receive", 0, 0, {}},
                             {"HH", "hh", "Horizontal transmit, horizontal receive", 0, 0, {}},
                             {"HV", "hv", "Horizontal transmit, vertical receive", 0, 0, {}}};

// A field that may be missing or null.
template <class T>
T field(const nlohmann::json& e, const char* key, T fallback) {
  const auto it = e.find(key);
  return it == e.end() || it->is_null() ? fallback : it->get<T>();
}

}  // namespace

IndexCatalogue IndexCatalogue::parse(const std::string& indices_json, const std::string& constants_json,
                                     const std::string& bands_json) {
  IndexCatalogue c;
  try {
    // Each document in a variable: a range-for would not keep a temporary's parent alive.
    const nlohmann::json indices = nlohmann::json::parse(indices_json), constants = nlohmann::json::parse(constants_json),
                         bands = nlohmann::json::parse(bands_json);
    for (const auto& [name, e] : indices.at("SpectralIndices").items()) {
      SpectralIndexEntry entry;
      entry.short_name = field<std::string>(e, "short_name", name);
      entry.long_name = field<std::string>(e, "long_name", "");
      entry.domain = field<std::string>(e, "application_domain", "");
      entry.formula = e.at("formula").get<std::string>();
      entry.symbols = field<std::vector<std::string>>(e, "bands", {});
      entry.reference = field<std::string>(e, "reference", "");
      c.indices_.push_back(std::move(entry));
    }
    for (const auto& [name, e] : constants.items()) {
      IndexConstant k{name, field<std::string>(e, "description", ""), std::nullopt};
      if (e.contains("default") && e["default"].is_number()) k.value = e["default"].get<double>();
      c.constants_.push_back(std::move(k));
    }
    for (const auto& [symbol, e] : bands.items()) {
      BandSymbol b{symbol, field<std::string>(e, "common_name", ""), field<std::string>(e, "long_name", ""),
                   field<double>(e, "min_wavelength", 0.0), field<double>(e, "max_wavelength", 0.0), {}};
      const nlohmann::json platforms = field<nlohmann::json>(e, "platforms", nlohmann::json::object());
      for (const auto& [sensor, p] : platforms.items())
        b.sensors[sensor] = SensorBand{p.at("band").get<std::string>(), field<double>(p, "wavelength", 0.0)};
      c.bands_.push_back(std::move(b));
    }
  } catch (const nlohmann::json::exception& e) {
    raise(std::string("the spectral index catalogue does not parse: ") + e.what());
  }
  // A sensor's band for a symbol it has none for: the band of another symbol whose centre lies
  // in this symbol's range, the nearest to the range's middle.
  const std::vector<BandSymbol> listed = c.bands_;
  for (BandSymbol& b : c.bands_) {
    if (b.max_wavelength <= 0) continue;
    const double middle = (b.min_wavelength + b.max_wavelength) / 2;
    std::map<std::string, SensorBand> borrowed;
    for (const BandSymbol& other : listed)
      for (const auto& [sensor, band] : other.sensors) {
        if (b.sensors.count(sensor) || band.wavelength < b.min_wavelength || band.wavelength > b.max_wavelength) continue;
        const auto it = borrowed.find(sensor);
        if (it == borrowed.end() || std::fabs(band.wavelength - middle) < std::fabs(it->second.wavelength - middle))
          borrowed[sensor] = band;
      }
    b.sensors.insert(borrowed.begin(), borrowed.end());
  }
  for (const BandSymbol& r : kRadar)
    if (!c.band(r.symbol)) c.bands_.push_back(r);
  return c;
}

const IndexCatalogue& IndexCatalogue::builtin() {
  static const IndexCatalogue catalogue = parse(detail::catalogue_spectral_indices_dict_json, detail::catalogue_constants_json,
                                                detail::catalogue_bands_json);
  return catalogue;
}

const SpectralIndexEntry* IndexCatalogue::find(std::string_view name) const {
  for (const auto& e : indices_)
    if (e.short_name == name) return &e;
  const SpectralIndexEntry* found = nullptr;
  for (const auto& e : indices_)
    if (same_ignoring_case(e.short_name, name)) {
      if (found) return nullptr;  // ambiguous without case
      found = &e;
    }
  return found;
}

const IndexConstant* IndexCatalogue::constant(std::string_view name) const {
  for (const auto& k : constants_)
    if (k.name == name) return &k;
  return nullptr;
}

const BandSymbol* IndexCatalogue::band(std::string_view symbol) const {
  for (const auto& b : bands_)
    if (b.symbol == symbol) return &b;
  return nullptr;
}

std::vector<std::string> IndexCatalogue::sensors() const {
  std::vector<std::string> out;
  for (const auto& b : bands_)
    for (const auto& [sensor, band] : b.sensors)
      if (std::find(out.begin(), out.end(), sensor) == out.end()) out.push_back(sensor);
  std::sort(out.begin(), out.end());
  return out;
}

std::string IndexCatalogue::sensor_key(std::string_view name) const {
  std::string key;
  for (char ch : name)
    if (ch != '-' && ch != '_' && ch != ' ') key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (key == "sentinel2" || key == "s2") key = "sentinel2a";
  if (key == "landsat47" || key == "landsattm" || key == "landsatetm") key = "landsat7";
  if (key == "landsatoli") key = "landsat8";
  const auto known = sensors();
  if (std::find(known.begin(), known.end(), key) != known.end()) return key;
  std::string list;
  for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
  throw UsageError("sensor", "is one of " + list + " (or sentinel2, landsat4-7), not '" + std::string(name) + "'");
}

}  // namespace luojia
