#include <luojia/products/spectral_index.hpp>

#include <luojia/error.hpp>
#include <luojia/products/index_catalogue.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/tiling/shard_layout.hpp>

#include "products/band_math.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

namespace luojia {
namespace {

// luojia's names before the catalogue, and what they were: SAVI's L was 0.5 (the catalogue's
// default, 1.0, is EVI's).
struct Alias {
  std::string_view name, index;
  std::optional<double> l;
};
constexpr Alias kAliases[] = {{"ndvi", "NDVI", {}}, {"ndwi", "NDWI", {}}, {"mndwi", "MNDWI", {}},
                              {"ndbi", "NDBI", {}}, {"savi", "SAVI", 0.5}, {"evi", "EVI", {}}};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "B04" and "b4" are the same band name.
std::string band_name_key(std::string_view s) {
  std::string key = lower(s);
  if (key.size() > 1 && key[0] == 'b') {
    std::size_t i = 1;
    while (i + 1 < key.size() && key[i] == '0') ++i;
    key = std::string("b").append(key, i);
  }
  return key;
}

// b1, b2, ...: a raster band by number.
std::optional<int> band_number(std::string_view name) {
  if (name.size() < 2 || name[0] != 'b') return std::nullopt;
  int n = 0;
  const auto [p, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), n);
  if (ec != std::errc() || p != name.data() + name.size()) return std::nullopt;
  return n;
}

// The sensor's band names in the order a full stack of its bands has them.
std::vector<std::string> sensor_band_order(const IndexCatalogue& catalogue, const std::string& sensor) {
  if (sensor == "sentinel2a" || sensor == "sentinel2b")
    return {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"};
  int highest = 0;
  for (const auto& b : catalogue.bands()) {
    const auto it = b.sensors.find(sensor);
    if (it == b.sensors.end()) continue;
    const auto n = band_number(band_name_key(it->second.band));
    if (n) highest = std::max(highest, *n);
  }
  std::vector<std::string> order;
  for (int k = 1; k <= highest; ++k) order.push_back(std::string("B").append(std::to_string(k)));
  return order;
}

struct CompiledIndex {
  std::string name;
  std::unique_ptr<detail::BandExpression> expression;
  std::vector<int> rows;  // the positions in the plan's bands it reads
};

std::string describe(const BandSymbol& b) { return b.long_name.empty() ? b.symbol : b.symbol + " (" + b.long_name + ")"; }

}  // namespace

std::map<std::string, int> assign_band_symbols(const RasterInfo& info, const std::map<std::string, int>& given,
                                               const std::string& sensor) {
  const IndexCatalogue& catalogue = IndexCatalogue::builtin();
  const std::string key = sensor.empty() ? std::string() : catalogue.sensor_key(sensor);
  std::map<std::string, int> out = given;
  const auto assign = [&](const std::string& symbol, int band) { out.try_emplace(symbol, band); };
  // Band descriptions: the sensor's band names first, then the symbols' own names.
  bool named_by_sensor = false;  // then the descriptions, not the order, say where its bands are
  for (int k = 1; k <= info.band_count(); ++k) {
    const std::string& d = info.band(k).description;
    if (d.empty()) continue;
    for (const auto& b : catalogue.bands()) {
      const auto it = key.empty() ? b.sensors.end() : b.sensors.find(key);
      if (it != b.sensors.end() && band_name_key(it->second.band) == band_name_key(d)) {
        assign(b.symbol, k);
        named_by_sensor = true;
      }
    }
    for (const auto& b : catalogue.bands())
      if (d == b.symbol || lower(d) == lower(b.common_name) || lower(d) == lower(b.long_name)) assign(b.symbol, k);
    if (lower(d) == "near infrared" || lower(d) == "near-infrared") assign("N", k);
  }
  for (int k = 1; k <= info.band_count(); ++k) {
    const std::string& ci = info.band(k).color_interpretation;
    if (ci == "Red") assign("R", k);
    if (ci == "Green") assign("G", k);
    if (ci == "Blue") assign("B", k);
  }
  if (!key.empty() && !named_by_sensor) {
    const auto order = sensor_band_order(catalogue, key);
    for (const auto& b : catalogue.bands()) {
      const auto it = b.sensors.find(key);
      if (it == b.sensors.end()) continue;
      const auto pos = std::find_if(order.begin(), order.end(), [&](const std::string& n) {
        return band_name_key(n) == band_name_key(it->second.band);
      });
      const int band = static_cast<int>(pos - order.begin()) + 1;
      if (pos != order.end() && band <= info.band_count()) assign(b.symbol, band);
    }
  }
  return out;
}

IndexPlan plan_indices(const std::vector<IndexSpec>& specs, const std::map<std::string, int>& bands,
                       const std::map<std::string, double>& constants, const std::string& sensor, float nodata) {
  if (specs.empty()) raise("no index requested");
  const IndexCatalogue& catalogue = IndexCatalogue::builtin();
  const std::string sensor_key = sensor.empty() ? std::string() : catalogue.sensor_key(sensor);
  IndexPlan plan;
  auto compiled = std::make_shared<std::vector<CompiledIndex>>();
  for (const IndexSpec& spec : specs) {
    std::string name = spec.name, formula = spec.formula;
    std::map<std::string, double> local = spec.constants;
    if (formula.empty()) {
      const auto alias = std::find_if(std::begin(kAliases), std::end(kAliases), [&](const Alias& a) { return a.name == spec.name; });
      const SpectralIndexEntry* entry = catalogue.find(alias != std::end(kAliases) ? alias->index : std::string_view(spec.name));
      if (!entry)
        throw UsageError("index", "'" + spec.name + "' is not in the catalogue (luojia-index --list shows its " +
                                      std::to_string(catalogue.indices().size()) + " indices)");
      if (alias != std::end(kAliases) && alias->l && !constants.count("L")) local.try_emplace("L", *alias->l);
      formula = entry->formula;
      name = entry->short_name;
    }
    const std::string option = spec.formula.empty() ? "index" : "expr";
    if (name.empty()) throw UsageError(option, "a formula needs a name");
    CompiledIndex index{name, nullptr, {}};
    const auto row_of_band = [&](int band) {
      auto it = std::find(plan.bands.begin(), plan.bands.end(), band);
      if (it == plan.bands.end()) it = plan.bands.insert(plan.bands.end(), band);
      const int row = static_cast<int>(it - plan.bands.begin());
      if (std::find(index.rows.begin(), index.rows.end(), row) == index.rows.end()) index.rows.push_back(row);
      return row;
    };
    const auto constant_value = [&](const std::string& symbol) -> std::optional<double> {
      if (const auto it = local.find(symbol); it != local.end()) return it->second;
      if (const auto it = constants.find(symbol); it != constants.end()) return it->second;
      if (symbol.rfind("lambda", 0) == 0 && !sensor_key.empty())
        if (const BandSymbol* b = catalogue.band(symbol.substr(6)))
          if (const auto it = b->sensors.find(sensor_key); it != b->sensors.end()) return it->second.wavelength;
      if (const IndexConstant* k = catalogue.constant(symbol)) return k->value;
      return std::nullopt;
    };
    const detail::SymbolResolver resolve = [&](const std::string& symbol) -> detail::SymbolBinding {
      using Kind = detail::SymbolBinding::Kind;
      if (const auto n = band_number(symbol)) {
        return {Kind::Row, row_of_band(*n), 0, {}};
      }
      if (const BandSymbol* b = catalogue.band(symbol)) {
        const auto it = bands.find(symbol);
        if (it == bands.end())
          throw UsageError("bands", "has no " + describe(*b) + ", which " + name + " needs: give `bands` " + symbol +
                                        "=BAND, or `sensor`, or name the band in the raster's band description");
        if (it->second < 1) throw UsageError("bands", symbol + "=" + std::to_string(it->second) + ": bands are numbered from 1");
        return {Kind::Row, row_of_band(it->second), 0, {}};
      }
      if (local.count(symbol) || constants.count(symbol) || catalogue.constant(symbol)) {
        const auto v = constant_value(symbol);
        if (!v) {
          const IndexConstant* k = catalogue.constant(symbol);
          throw UsageError("const", "has no " + symbol + (k && !k->description.empty() ? " (" + k->description + ")" : "") +
                                        ", which " + name + " needs: give `const` " + symbol + "=VALUE" +
                                        (symbol.rfind("lambda", 0) == 0 ? " or `sensor`" : ""));
        }
        return {Kind::Scalar, 0, *v, {}};
      }
      if (symbol.rfind("lambda", 0) == 0 && catalogue.band(symbol.substr(6))) {
        if (const auto v = constant_value(symbol)) return {Kind::Scalar, 0, *v, {}};
        throw UsageError("const", "has no " + symbol + " (the central wavelength of " + symbol.substr(6) + ", nm), which " + name +
                                      " needs: give `const` " + symbol + "=NM or `sensor`");
      }
      // Kernel terms kXY: the catalogue's RBF kernel of two bands (or of a band and L).
      if (symbol.size() >= 3 && symbol[0] == 'k') {
        for (std::size_t split = 2; split < symbol.size(); ++split) {
          const std::string x = symbol.substr(1, split - 1), y = symbol.substr(split);
          const auto term = [&](const std::string& s) { return catalogue.band(s) || catalogue.constant(s); };
          if (term(x) && term(y))
            return {Kind::Formula, 0, 0, "exp(-((" + x + ") - (" + y + "))**2 / (2 * sigma**2))"};
        }
      }
      throw UsageError(option, name + " uses '" + symbol +
                                    "', which is no band symbol, constant or kernel term (luojia-index --list shows the symbols)");
    };
    try {
      index.expression = std::make_unique<detail::BandExpression>(formula, resolve);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      throw UsageError(option, name + ": " + e.message());
    }
    plan.names.push_back(name);
    compiled->push_back(std::move(index));
  }

  const std::size_t inputs = plan.bands.size();
  plan.kernel = [compiled, inputs, nodata](const InputTile& in, OutputTile& out) {
    const Tile& t = in.tile;
    const auto n = static_cast<std::size_t>(t.core.width);
    std::vector<std::vector<double>> rows(inputs, std::vector<double>(n));
    std::vector<const double*> pointers(inputs);
    for (std::size_t k = 0; k < inputs; ++k) pointers[k] = rows[k].data();
    std::vector<double> value(n), scratch;
    std::vector<std::uint8_t> valid(n);
    const std::int64_t stride = in.pixels.width();
    for (std::int64_t y = 0; y < t.core.height; ++y) {
      const std::int64_t start = (y + in.core_y()) * stride + in.core_x();
      for (std::size_t k = 0; k < inputs; ++k) {
        const float* src = in.pixels.band(static_cast<int>(k)).data() + start;
        std::copy(src, src + n, rows[k].begin());
      }
      for (std::size_t i = 0; i < compiled->size(); ++i) {
        const CompiledIndex& index = (*compiled)[i];
        std::fill(valid.begin(), valid.end(), std::uint8_t{1});
        for (int r : index.rows) {
          const std::uint8_t* m = in.mask_plane(r) + start;
          for (std::size_t x = 0; x < n; ++x) valid[x] &= m[x];
        }
        index.expression->evaluate(pointers.data(), n, value.data(), valid.data(), scratch);
        float* dst = out.pixels.band(static_cast<int>(i)).data() + y * t.core.width;
        for (std::size_t x = 0; x < n; ++x) dst[x] = valid[x] ? static_cast<float>(value[x]) : nodata;
      }
    }
  };
  return plan;
}

StreamStats compute_indices(const std::string& input, const std::string& output, const IndexJob& job) {
  Raster raster = Raster::open(input);
  const RasterInfo& info = raster.info();
  const ErrorContext where{input, {}, {}, {}};
  IndexPlan plan;
  try {
    plan = plan_indices(job.indices, assign_band_symbols(info, job.bands, job.sensor), job.constants, job.sensor, job.nodata);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    raise(e.message(), where);
  }
  for (int band : plan.bands) {
    if (band < 1 || band > info.band_count())
      raise("band " + std::to_string(band) + " is out of range: the raster has " +
                std::to_string(info.band_count()) + " band" + (info.band_count() == 1 ? "" : "s"),
            where);
    if (is_complex(info.band(band).type))
      raise("complex data type " + std::string(name(info.band(band).type)) + " is not supported",
            ErrorContext{input, band, {}, {}});
  }

  // Whole source blocks per tile where blocks are not much wider than a tile (strips, tiles).
  TileGridOptions grid_options;
  grid_options.tile_width = grid_options.tile_height = job.tile;
  const BandInfo& first = info.band(plan.bands.front());
  if (first.block_width <= 4 * job.tile) grid_options.align_width = first.block_width;
  if (first.block_height <= 4 * job.tile) grid_options.align_height = first.block_height;
  const TileGrid grid = TileGrid(info.width, info.height, grid_options).shard(job.stream.shard);

  RasterLayout layout = layout_like(info, DataType::Float32, static_cast<int>(job.indices.size()));
  layout.nodata = job.nodata;
  layout = shard_layout(layout, grid.extent(), job.stream.shard);
  RasterWriter writer(output, layout, job.output);
  for (std::size_t k = 0; k < plan.names.size(); ++k) writer.set_band_description(static_cast<int>(k) + 1, plan.names[k]);

  StreamOptions stream_options = job.stream;
  stream_options.read.mask_per_band = true;  // each index is judged by its own bands
  StreamStats stats = stream(raster, plan.bands, grid, writer, static_cast<int>(job.indices.size()),
                             plan.kernel, stream_options);
  writer.commit();
  return stats;
}

}  // namespace luojia
