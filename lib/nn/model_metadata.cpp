#include <luojia/nn/model_metadata.hpp>

#include <luojia/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <sstream>

namespace luojia::nn {
namespace {

std::array<int, 3> parse_color(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) {
    const std::string s = value.get<std::string>();
    if (s.size() == 7 && s[0] == '#') {
      try {
        const unsigned long rgb = std::stoul(s.substr(1), nullptr, 16);
        return {static_cast<int>((rgb >> 16) & 255), static_cast<int>((rgb >> 8) & 255), static_cast<int>(rgb & 255)};
      } catch (const std::exception&) {
      }
    }
  } else if (value.is_array() && value.size() == 3) {
    std::array<int, 3> c{};
    for (std::size_t i = 0; i < 3; ++i) {
      if (!value[i].is_number_integer() || value[i].get<int>() < 0 || value[i].get<int>() > 255) break;
      c[i] = value[i].get<int>();
      if (i == 2) return c;
    }
  }
  throw ModelError("colour " + value.dump() + " is neither \"#rrggbb\" nor [r, g, b]", ErrorContext{where, {}, {}, {}});
}

std::vector<double> numbers(const nlohmann::json& doc, const char* key, const std::string& where) {
  if (!doc.contains(key)) return {};
  const auto& v = doc[key];
  if (v.is_number()) return {v.get<double>()};
  if (!v.is_array()) throw ModelError(std::string("\"") + key + "\" must be a number or a list of numbers", ErrorContext{where, {}, {}, {}});
  std::vector<double> out;
  for (const auto& x : v) {
    if (!x.is_number()) throw ModelError(std::string("\"") + key + "\" must hold numbers", ErrorContext{where, {}, {}, {}});
    out.push_back(x.get<double>());
  }
  return out;
}

const char* const kDeepnessKeys[] = {"model_type",        "class_names",          "names",         "resolution",
                                     "tile_size",         "tiles_overlap",        "standardization_mean",
                                     "standardization_std", "seg_thresh",         "reg_output_scaling",
                                     "det_conf",          "det_iou_thresh",       "det_type"};

bool is_deepness_key(const std::string& key) {
  return std::find(std::begin(kDeepnessKeys), std::end(kDeepnessKeys), key) != std::end(kDeepnessKeys);
}

double number_in(const nlohmann::json& doc, const char* key, double low, double high, const ErrorContext& context) {
  const auto& v = doc[key];
  if (!v.is_number() || v.get<double>() < low || v.get<double>() > high) {
    std::ostringstream range;
    range << low << " to " << high;
    throw ModelError(std::string("\"") + key + "\" must be a number from " + range.str() + ", not " + v.dump(), context);
  }
  return v.get<double>();
}

// Deepness's keys in doc (an object whose values are already parsed); returns whether any was there.
bool read_deepness(const nlohmann::json& doc, ModelMetadata& m, const std::string& where) {
  const ErrorContext context{where, {}, {}, {}};
  bool any = false;
  for (const char* key : kDeepnessKeys) any = any || doc.contains(key);
  if (!any) return false;
  if (doc.contains("model_type")) {
    static const char* const known[] = {"Segmentor", "Detector", "Regressor", "Superresolution", "Recognition"};
    const auto& v = doc["model_type"];
    std::string type = v.is_string() ? v.get<std::string>() : v.dump();
    const auto match = std::find_if(std::begin(known), std::end(known), [&](const char* k) {
      return std::equal(type.begin(), type.end(), k, k + std::strlen(k),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
    });
    if (match == std::end(known))
      throw ModelError("\"model_type\" " + v.dump() + " is none of Segmentor, Detector, Regressor, Superresolution, Recognition", context);
    m.model_type = *match;
  }
  for (const char* key : {"class_names", "names"}) {
    if (!doc.contains(key) || !m.classes.empty()) continue;
    const auto& v = doc[key];
    const auto set = [&](long long id, const nlohmann::json& name) {
      if (id < 0 || id > 65535) throw ModelError(std::string("\"") + key + "\" has class id " + std::to_string(id), context);
      if (!name.is_string()) throw ModelError(std::string("\"") + key + "\" must map class ids to names", context);
      if (m.classes.size() <= static_cast<std::size_t>(id)) m.classes.resize(static_cast<std::size_t>(id) + 1);
      m.classes[static_cast<std::size_t>(id)].name = name.get<std::string>();
    };
    if (v.is_object()) {
      for (const auto& [id, name] : v.items()) {
        std::size_t used = 0;
        long long n = -1;
        try {
          n = std::stoll(id, &used);
        } catch (const std::exception&) {
        }
        if (used != id.size()) throw ModelError(std::string("\"") + key + "\" has class id \"" + id + "\", not a number", context);
        set(n, name);
      }
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) set(static_cast<long long>(i), v[i]);
    } else {
      throw ModelError(std::string("\"") + key + "\" must be {\"0\": \"name\", ...} or a list of names", context);
    }
  }
  if (doc.contains("resolution")) m.resolution_cm = number_in(doc, "resolution", 1e-6, 1e9, context);
  if (doc.contains("tile_size")) {
    const auto& v = doc["tile_size"];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1 << 20)
      throw ModelError("\"tile_size\" must be a positive whole number of pixels, not " + v.dump(), context);
    m.tile_size = v.get<std::int64_t>();
  }
  if (doc.contains("tiles_overlap")) m.tile_overlap_percent = number_in(doc, "tiles_overlap", 0, 99, context);
  if (m.mean.empty()) m.mean = numbers(doc, "standardization_mean", where);
  if (m.std.empty()) m.std = numbers(doc, "standardization_std", where);
  if (doc.contains("seg_thresh")) m.segmentation_threshold = number_in(doc, "seg_thresh", 0, 1, context);
  if (doc.contains("reg_output_scaling")) m.output_scale = number_in(doc, "reg_output_scaling", -1e30, 1e30, context);
  if (doc.contains("det_conf")) m.detection_confidence = number_in(doc, "det_conf", 0, 1, context);
  if (doc.contains("det_iou_thresh")) m.detection_iou_threshold = number_in(doc, "det_iou_thresh", 0, 1, context);
  if (doc.contains("det_type")) {
    if (!doc["det_type"].is_string()) throw ModelError("\"det_type\" must be a string", context);
    m.detection_type = doc["det_type"].get<std::string>();
  }
  // Deepness feeds the network pixels / 255 (then standardises); so does luojia unless told.
  if (m.scale.empty()) m.scale = {1.0 / 255.0};
  return true;
}

nlohmann::json parse_json(const std::string& text, const ErrorContext& context) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("model metadata is not valid JSON: ") + e.what(), context);
  }
}

}  // namespace

ModelMetadata parse_model_metadata(const std::string& text, const std::string& where) {
  const ErrorContext context{where, {}, {}, {}};
  const nlohmann::json doc = parse_json(text, context);
  if (!doc.is_object()) throw ModelError("model metadata must be a JSON object", context);
  ModelMetadata m;
  if (doc.contains("bands")) {
    if (!doc["bands"].is_array()) throw ModelError("\"bands\" must be a list of band numbers", context);
    for (const auto& b : doc["bands"]) {
      if (!b.is_number_integer() || b.get<long long>() < 1 || b.get<long long>() > 65535)
        throw ModelError("\"bands\" must hold band numbers from 1", context);
      m.bands.push_back(b.get<int>());
    }
  }
  m.scale = numbers(doc, "scale", where);
  m.mean = numbers(doc, "mean", where);
  m.std = numbers(doc, "std", where);
  for (double s : m.std)
    if (s == 0.0) throw ModelError("\"std\" must not contain zero", context);
  if (doc.contains("classes")) {
    if (!doc["classes"].is_array()) throw ModelError("\"classes\" must be a list", context);
    for (const auto& c : doc["classes"]) {
      ClassInfo info;
      if (c.is_string()) {
        info.name = c.get<std::string>();
      } else if (c.is_object()) {
        if (c.contains("name")) {
          if (!c["name"].is_string()) throw ModelError("a class name must be a string", context);
          info.name = c["name"].get<std::string>();
        }
        if (c.contains("color")) info.color = parse_color(c["color"], where);
      } else {
        throw ModelError("each class must be a name or {\"name\": ..., \"color\": ...}", context);
      }
      m.classes.push_back(info);
    }
  }
  if (doc.contains("box_reach")) m.box_reach = number_in(doc, "box_reach", 1, 1e7, context);
  read_deepness(doc, m, where);  // a sidecar may use Deepness's names as well
  for (double s : m.std)
    if (s == 0.0) throw ModelError("\"standardization_std\" must not contain zero", context);
  return m;
}

// Ultralytics writes its class names as Python's str(dict): {0: 'person', 1: "it's"}. The same as
// JSON {"0": "person", ...}, or nullopt when the text is not such a dict.
std::optional<nlohmann::json> python_names(const std::string& text) {
  nlohmann::json out = nlohmann::json::object();
  std::size_t i = 0;
  const auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  const auto at = [&](char c) { return i < text.size() && text[i] == c; };
  skip();
  if (!at('{')) return std::nullopt;
  ++i;
  skip();
  if (at('}')) return ++i, skip(), i == text.size() ? std::optional(out) : std::nullopt;
  while (true) {
    skip();
    const std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return std::nullopt;
    const std::string id = text.substr(start, i - start);
    skip();
    if (!at(':')) return std::nullopt;
    ++i;
    skip();
    if (!at('\'') && !at('"')) return std::nullopt;
    const char quote = text[i++];
    std::string name;
    while (i < text.size() && text[i] != quote) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;  // \' \" \\ as the character escaped
      name += text[i++];
    }
    if (!at(quote)) return std::nullopt;
    ++i;
    out[id] = name;
    skip();
    if (at(',')) {
      ++i;
      skip();
      if (at('}')) break;  // a trailing comma
      continue;
    }
    if (at('}')) break;
    return std::nullopt;
  }
  ++i;
  skip();
  return i == text.size() ? std::optional(out) : std::nullopt;
}

ModelMetadata parse_metadata_props(const std::vector<std::pair<std::string, std::string>>& properties, const std::string& where) {
  nlohmann::json deepness = nlohmann::json::object();
  std::string luojia;
  for (const auto& [key, value] : properties) {
    if (key == "luojia") luojia = value;
    if (!is_deepness_key(key)) continue;
    // Deepness writes json.dumps(value); a bare word (model_type Segmentor) is taken as a string.
    try {
      deepness[key] = nlohmann::json::parse(value);
    } catch (const nlohmann::json::exception&) {
      const std::optional<nlohmann::json> names = key == "names" ? python_names(value) : std::nullopt;
      deepness[key] = names ? *names : nlohmann::json(value);
    }
  }
  ModelMetadata m;
  if (!luojia.empty()) m = parse_model_metadata(luojia, where + " (metadata_props \"luojia\")");
  const bool from_deepness = read_deepness(deepness, m, where + " (metadata_props)");
  for (double s : m.std)
    if (s == 0.0) throw ModelError("\"standardization_std\" must not contain zero", ErrorContext{where, {}, {}, {}});
  m.source = !luojia.empty() ? (from_deepness ? "metadata_props (luojia and Deepness keys)" : "metadata_props")
                             : (from_deepness ? "metadata_props (Deepness keys)" : "none");
  m.properties = properties;
  return m;
}

namespace {

template <typename T>
nlohmann::ordered_json or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string to_json(const ModelMetadata& m) {
  using Json = nlohmann::ordered_json;
  Json doc;
  doc["source"] = m.source;
  doc["model_type"] = m.model_type.empty() ? Json(nullptr) : Json(m.model_type);
  doc["bands"] = m.bands;
  doc["scale"] = m.scale;
  doc["mean"] = m.mean;
  doc["std"] = m.std;
  doc["classes"] = Json::array();
  for (const auto& c : m.classes) doc["classes"].push_back({{"name", c.name}, {"color", c.color}});
  doc["resolution_cm"] = or_null(m.resolution_cm);
  doc["tile_size"] = or_null(m.tile_size);
  doc["tile_overlap_percent"] = or_null(m.tile_overlap_percent);
  doc["segmentation_threshold"] = or_null(m.segmentation_threshold);
  doc["output_scale"] = or_null(m.output_scale);
  doc["detection_confidence"] = or_null(m.detection_confidence);
  doc["detection_iou_threshold"] = or_null(m.detection_iou_threshold);
  doc["detection_type"] = m.detection_type.empty() ? Json(nullptr) : Json(m.detection_type);
  doc["box_reach"] = or_null(m.box_reach);
  doc["properties"] = Json::object();
  for (const auto& [key, value] : m.properties) doc["properties"][key] = value;
  // Invalid UTF-8 in a file's metadata_props is replaced, not thrown on: this describes the file.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string to_text(const ModelMetadata& m) {
  std::ostringstream out;
  const auto list = [&out](const std::vector<double>& v) {
    for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
  };
  out << "Metadata: " << m.source << "\n";
  if (!m.model_type.empty()) out << "Model type: " << m.model_type << "\n";
  if (!m.bands.empty()) {
    out << "Bands:";
    for (int b : m.bands) out << " " << b;
    out << "\n";
  }
  if (!m.scale.empty()) out << "Scale: ", list(m.scale), out << "\n";
  if (!m.mean.empty()) out << "Mean: ", list(m.mean), out << "\n";
  if (!m.std.empty()) out << "Std: ", list(m.std), out << "\n";
  for (std::size_t k = 0; k < m.classes.size(); ++k) {
    out << "Class " << k << ": " << (m.classes[k].name.empty() ? "(unnamed)" : m.classes[k].name);
    const auto& c = m.classes[k].color;
    if (c != std::array<int, 3>{0, 0, 0}) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "#%02x%02x%02x", c[0], c[1], c[2]);
      out << " " << hex;
    }
    out << "\n";
  }
  if (m.resolution_cm) out << "Resolution: " << *m.resolution_cm << " cm/px\n";
  if (m.tile_size) out << "Tile size: " << *m.tile_size << "\n";
  if (m.tile_overlap_percent) out << "Tile overlap: " << *m.tile_overlap_percent << " %\n";
  if (m.segmentation_threshold) out << "Segmentation threshold: " << *m.segmentation_threshold << "\n";
  if (m.output_scale) out << "Output scale: " << *m.output_scale << "\n";
  if (m.detection_confidence) out << "Detection confidence: " << *m.detection_confidence << "\n";
  if (m.detection_iou_threshold) out << "Detection IoU threshold: " << *m.detection_iou_threshold << "\n";
  if (!m.detection_type.empty()) out << "Detection type: " << m.detection_type << "\n";
  if (m.box_reach) out << "Box reach: " << *m.box_reach << " px\n";
  for (const auto& [key, value] : m.properties)
    if (key != "luojia" && !is_deepness_key(key)) out << "Other metadata: " << key << "=" << value << "\n";
  return out.str();
}

void ModelMetadata::normalisation(int channels, std::vector<float>& gain, std::vector<float>& bias) const {
  const auto pick = [channels](const std::vector<double>& v, double fallback, const char* what) {
    if (v.empty()) return std::vector<double>(static_cast<std::size_t>(channels), fallback);
    if (v.size() == 1) return std::vector<double>(static_cast<std::size_t>(channels), v[0]);
    if (static_cast<int>(v.size()) != channels)
      throw ModelError(std::string("model metadata gives ") + std::to_string(v.size()) + " " + what + " values for " +
            std::to_string(channels) + " input channels");
    return v;
  };
  const auto s = pick(scale, 1.0, "scale"), m = pick(mean, 0.0, "mean"), d = pick(std, 1.0, "std");
  gain.resize(static_cast<std::size_t>(channels));
  bias.resize(static_cast<std::size_t>(channels));
  for (std::size_t c = 0; c < gain.size(); ++c) {
    gain[c] = static_cast<float>(s[c] / d[c]);
    bias[c] = static_cast<float>(-m[c] / d[c]);
  }
}

}  // namespace luojia::nn
