#include <luojia/io/raster_info.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace luojia {
namespace {

// JSON has no NaN or infinity; GDAL's own JSON writes them as strings, and so do we.
nlohmann::ordered_json json_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", value);
  return buf;
}

}  // namespace

std::string to_text(const RasterInfo& info) {
  std::ostringstream out;
  out << "File: " << info.path << "\n";
  out << "Driver: " << info.driver << "\n";
  out << "Size: " << info.width << " x " << info.height << ", " << info.band_count() << " band"
      << (info.band_count() == 1 ? "" : "s") << "\n";
  if (info.epsg)
    out << "CRS: EPSG:" << *info.epsg << "\n";
  else if (!info.crs_wkt.empty())
    out << "CRS: (no EPSG code) " << info.crs_wkt.substr(0, info.crs_wkt.find('[')) << "\n";
  else
    out << "CRS: none\n";
  if (info.geotransform) {
    const auto& c = info.geotransform->c;
    out << "Origin: (" << number(c[0]) << ", " << number(c[3]) << ")\n";
    out << "Pixel size: (" << number(c[1]) << ", " << number(c[5]) << ")";
    if (c[2] != 0.0 || c[4] != 0.0) out << ", rotation (" << number(c[2]) << ", " << number(c[4]) << ")";
    out << "\n";
  } else {
    out << "Geotransform: none\n";
  }
  for (const auto& [key, value] : info.metadata) out << "Metadata: " << key << "=" << value << "\n";
  if (!info.rpc.empty()) out << "RPC: " << info.rpc.size() << " items (sensor model; products carry them)\n";
  if (!info.gcps.empty()) out << "GCPs: " << info.gcps.size() << (info.gcp_crs_wkt.empty() ? " (no CRS)" : "") << "\n";
  for (int b = 1; b <= info.band_count(); ++b) {
    const BandInfo& band = info.band(b);
    out << "Band " << b << ": " << name(band.type) << ", block " << band.block_width << "x"
        << band.block_height << ", " << band.color_interpretation;
    if (band.nodata) out << ", nodata " << number(*band.nodata);
    if (band.scale != 1.0 || band.offset != 0.0)
      out << ", scale " << number(band.scale) << " offset " << number(band.offset);
    if (!band.description.empty()) out << ", \"" << band.description << "\"";
    if (band.mask != MaskKind::AllValid && band.mask != MaskKind::Nodata) out << ", mask: " << name(band.mask);
    out << "\n";
  }
  return out.str();
}

std::string_view name(MaskKind kind) {
  switch (kind) {
    case MaskKind::AllValid: return "all valid";
    case MaskKind::Nodata: return "nodata";
    case MaskKind::Alpha: return "alpha";
    case MaskKind::PerDataset: return "per-dataset mask";
    case MaskKind::PerBand: return "per-band mask";
  }
  return "unknown";
}

std::string to_json(const RasterInfo& info) {
  using Json = nlohmann::ordered_json;
  Json doc;
  doc["path"] = info.path;
  doc["driver"] = info.driver;
  doc["width"] = info.width;
  doc["height"] = info.height;
  doc["crs_wkt"] = info.crs_wkt.empty() ? Json(nullptr) : Json(info.crs_wkt);
  doc["epsg"] = info.epsg ? Json(*info.epsg) : Json(nullptr);
  doc["geotransform"] = nullptr;
  if (info.geotransform) {
    doc["geotransform"] = Json::array();
    for (double c : info.geotransform->c) doc["geotransform"].push_back(json_number(c));
  }
  doc["metadata"] = Json::object();
  for (const auto& [key, value] : info.metadata) doc["metadata"][key] = value;
  doc["rpc"] = Json::object();
  for (const auto& [key, value] : info.rpc) doc["rpc"][key] = value;
  doc["gcps"] = Json::array();
  for (const auto& g : info.gcps) doc["gcps"].push_back({{"id", g.id}, {"pixel", g.pixel}, {"line", g.line}, {"x", g.x}, {"y", g.y}, {"z", g.z}});
  doc["bands"] = Json::array();
  for (int b = 1; b <= info.band_count(); ++b) {
    const BandInfo& band = info.band(b);
    doc["bands"].push_back({{"band", b},
                            {"type", std::string(name(band.type))},
                            {"nodata", band.nodata ? json_number(*band.nodata) : Json(nullptr)},
                            {"scale", json_number(band.scale)},
                            {"offset", json_number(band.offset)},
                            {"color_interpretation", band.color_interpretation},
                            {"description", band.description},
                            {"block", {band.block_width, band.block_height}},
                            {"mask", std::string(name(band.mask))}});
  }
  // Band descriptions and metadata come from files: replace invalid UTF-8 rather than throw.
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace luojia
