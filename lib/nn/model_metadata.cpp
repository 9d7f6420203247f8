#include <luojia/nn/model_metadata.hpp>

#include <luojia/error.hpp>

#include <nlohmann/json.hpp>

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

}  // namespace

ModelMetadata parse_model_metadata(const std::string& text, const std::string& where) {
  const ErrorContext context{where, {}, {}, {}};
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("model metadata is not valid JSON: ") + e.what(), context);
  }
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
  return m;
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
