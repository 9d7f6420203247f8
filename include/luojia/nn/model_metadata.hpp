#pragma once
// What a model file says of itself: bands, normalisation, classes, tiling hints (luojia's and Deepness's keys).
#include <luojia/export.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace luojia::nn {

struct ClassInfo {
  std::string name;
  std::array<int, 3> color{0, 0, 0};  // RGB
};

// How a model wants its input and what its outputs mean. Read from the model's metadata_props
// key "luojia" or from a sidecar MODEL.json beside MODEL.onnx (the sidecar wins), e.g.
//   {"bands": [3, 2, 1, 4], "scale": 0.0001, "mean": [0.1, 0.1, 0.1, 0.2], "std": [0.05, 0.05, 0.05, 0.1],
//    "classes": [{"name": "background", "color": "#000000"}, {"name": "road", "color": "#ff0000"}],
//    "box_reach": 224}
// Input channel c = ((raw value of raster band bands[c]) * scale[c] - mean[c]) / std[c].
// Absent fields: bands 1..C in order, scale 1, mean 0, std 1, classes "class 0", "class 1", ...
//
// Models made for Deepness (the QGIS plugin) carry their own metadata_props keys, each value JSON:
// model_type, class_names (or names: {"0": "background", ...}), resolution (cm/px), tile_size,
// tiles_overlap (percent), standardization_mean / standardization_std, seg_thresh,
// reg_output_scaling, det_conf, det_iou_thresh, det_type. They are read too. Deepness scales pixels
// to [0, 1] (divides by 255) before standardising, so such a model gets scale 1/255 unless luojia's
// own "scale" says otherwise. luojia's key wins field by field over Deepness's; a sidecar wins over both.
struct ModelMetadata {
  std::vector<int> bands;     // 1-based raster bands, one per input channel
  std::vector<double> scale;  // one value, or one per channel
  std::vector<double> mean;
  std::vector<double> std;
  std::vector<ClassInfo> classes;
  std::string source;  // where it came from: "sidecar PATH", "metadata_props", "metadata_props (Deepness keys)", or "none"

  // What the model is for, as Deepness names it: Segmentor, Detector, Regressor, Superresolution,
  // Recognition; empty when the model does not say.
  std::string model_type;
  std::optional<double> resolution_cm;          // ground sampling distance it was trained at, cm per pixel
  std::optional<std::int64_t> tile_size;        // the tile it was trained on, pixels
  std::optional<double> tile_overlap_percent;   // of tile_size
  std::optional<double> segmentation_threshold; // a pixel whose best class probability is below it is class 0
  std::optional<double> output_scale;           // regression outputs are multiplied by it
  std::optional<double> detection_confidence;   // detections below it are dropped
  std::optional<double> detection_iou_threshold; // non-maximum suppression overlap
  std::string detection_type;                   // Deepness's det_type (YOLO_v5_v7_DEFAULT, YOLO_v6, YOLO_ULTRALYTICS, ...)
  // luojia's "box_reach": the farthest (input pixels) a detection can reach from its anchor's cell
  // centre, (reg_max - 1) x the largest stride for a DFL head. Lets non-maximum suppression over a
  // raster finish boxes row by row instead of holding them all.
  std::optional<double> box_reach;
  // Every metadata_props entry of the file as it stands, for luojia-info.
  std::vector<std::pair<std::string, std::string>> properties;

  // The per-channel transform for `channels` input channels: value * gain[c] + bias[c].
  void normalisation(int channels, std::vector<float>& gain, std::vector<float>& bias) const;
};

// Parses the JSON form above; throws ModelError saying what is wrong (where is used in messages).
LUOJIA_API ModelMetadata parse_model_metadata(const std::string& json, const std::string& where);

// Reads a model file's metadata_props: Deepness's keys, then luojia's "luojia" key over them.
// Throws ModelError naming the key that does not parse.
LUOJIA_API ModelMetadata parse_metadata_props(const std::vector<std::pair<std::string, std::string>>& properties,
                                              const std::string& where);

// The metadata as text (what luojia-info prints for a model) and as one JSON object, the form
// luojia-info --json and the Python module's Model.metadata give: every field above by its name
// (source, model_type, bands, scale, mean, std, classes [{name, color}], resolution_cm, tile_size,
// tile_overlap_percent, segmentation_threshold, output_scale, detection_confidence,
// detection_iou_threshold, detection_type, box_reach, properties), null where the model says nothing.
LUOJIA_API std::string to_text(const ModelMetadata& metadata);
LUOJIA_API std::string to_json(const ModelMetadata& metadata);

}  // namespace luojia::nn
