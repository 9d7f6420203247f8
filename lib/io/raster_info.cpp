#include <luojia/raster_info.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace luojia {
namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// JSON has no NaN or infinity; GDAL's own JSON writes them as strings, and so do we.
std::string json_number(double value) {
  if (std::isnan(value)) return "\"NaN\"";
  if (std::isinf(value)) return value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
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
  for (int b = 1; b <= info.band_count(); ++b) {
    const BandInfo& band = info.band(b);
    out << "Band " << b << ": " << name(band.type) << ", block " << band.block_width << "x"
        << band.block_height << ", " << band.color_interpretation;
    if (band.nodata) out << ", nodata " << number(*band.nodata);
    if (band.scale != 1.0 || band.offset != 0.0)
      out << ", scale " << number(band.scale) << " offset " << number(band.offset);
    if (!band.description.empty()) out << ", \"" << band.description << "\"";
    out << "\n";
  }
  return out.str();
}

std::string to_json(const RasterInfo& info) {
  std::ostringstream out;
  out << "{\n  \"path\": " << json_string(info.path) << ",\n  \"driver\": " << json_string(info.driver)
      << ",\n  \"width\": " << info.width << ",\n  \"height\": " << info.height
      << ",\n  \"crs_wkt\": " << (info.crs_wkt.empty() ? "null" : json_string(info.crs_wkt))
      << ",\n  \"epsg\": " << (info.epsg ? std::to_string(*info.epsg) : "null")
      << ",\n  \"geotransform\": ";
  if (info.geotransform) {
    out << "[";
    for (std::size_t i = 0; i < 6; ++i) out << (i ? ", " : "") << json_number(info.geotransform->c[i]);
    out << "]";
  } else {
    out << "null";
  }
  out << ",\n  \"metadata\": {";
  for (std::size_t i = 0; i < info.metadata.size(); ++i)
    out << (i ? ", " : "") << json_string(info.metadata[i].first) << ": "
        << json_string(info.metadata[i].second);
  out << "},\n  \"bands\": [";
  for (int b = 1; b <= info.band_count(); ++b) {
    const BandInfo& band = info.band(b);
    out << (b > 1 ? "," : "") << "\n    {\"band\": " << b << ", \"type\": "
        << json_string(std::string(name(band.type)))
        << ", \"nodata\": " << (band.nodata ? json_number(*band.nodata) : "null")
        << ", \"scale\": " << json_number(band.scale) << ", \"offset\": " << json_number(band.offset)
        << ", \"color_interpretation\": " << json_string(band.color_interpretation)
        << ", \"description\": " << json_string(band.description) << ", \"block\": ["
        << band.block_width << ", " << band.block_height << "]}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

}  // namespace luojia
