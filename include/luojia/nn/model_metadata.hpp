#pragma once
#include <luojia/export.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace luojia::nn {

struct ClassInfo {
  std::string name;
  std::array<int, 3> color{0, 0, 0};  // RGB
};

// How a model wants its input and what its outputs mean. Read from the model's metadata_props
// key "luojia" or from a sidecar MODEL.json beside MODEL.onnx (the sidecar wins), e.g.
//   {"bands": [3, 2, 1, 4], "scale": 0.0001, "mean": [0.1, 0.1, 0.1, 0.2], "std": [0.05, 0.05, 0.05, 0.1],
//    "classes": [{"name": "background", "color": "#000000"}, {"name": "road", "color": "#ff0000"}]}
// Input channel c = ((raw value of raster band bands[c]) * scale[c] - mean[c]) / std[c].
// Absent fields: bands 1..C in order, scale 1, mean 0, std 1, classes "class 0", "class 1", ...
struct ModelMetadata {
  std::vector<int> bands;     // 1-based raster bands, one per input channel
  std::vector<double> scale;  // one value, or one per channel
  std::vector<double> mean;
  std::vector<double> std;
  std::vector<ClassInfo> classes;
  std::string source;  // where it came from: "sidecar PATH", "metadata_props", or "none"

  // The per-channel transform for `channels` input channels: value * gain[c] + bias[c].
  void normalisation(int channels, std::vector<float>& gain, std::vector<float>& bias) const;
};

// Parses the JSON form above; throws Error saying what is wrong (where is used in messages).
LUOJIA_API ModelMetadata parse_model_metadata(const std::string& json, const std::string& where);

}  // namespace luojia::nn
