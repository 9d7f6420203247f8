#pragma once
// Object detections from a detector's output tensor: decoding the output layouts YOLO exports
// have, box overlap (axis-aligned and oriented), and class-aware greedy non-maximum suppression.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/nn/tensor.hpp>
#include <luojia/products/instance_mask.hpp>
#include <luojia/products/model_task.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace luojia {

class Raster;
namespace nn {
class Model;
}
namespace detail {
struct MaskLogits;
}

// One box in pixel coordinates of the network input (x right, y down): centre, size, and a
// rotation in radians, clockwise on screen (y points down); 0 for axis-aligned boxes.
struct Detection {
  int class_id = 0;
  float score = 0.0f;
  double cx = 0, cy = 0, width = 0, height = 0;
  double angle = 0;
  std::int64_t anchor = -1;  // the row or column of the output it was decoded from (see ranks_before)
  // Instance segmentation: the mask coefficients the output gives the box, until its mask is
  // made; then the mask (raster pixels, within the box).
  std::vector<float> coefficients;
  std::shared_ptr<const InstanceMask> mask;
  std::shared_ptr<const detail::MaskLogits> mask_logits;  // internal: a candidate's mask before it is drawn

  // The four corners, in order around the box.
  std::array<std::array<double, 2>, 4> corners() const;
  double area() const { return width * height; }
};

// How a detector lays out its output (N anchors, nc classes, K kept boxes):
enum class DetectionLayout {
  Auto,              // from the shape, the class count and the metadata (see detection_layout)
  Yolo8,             // (1, 4+nc, N): cx, cy, w, h, class scores (YOLOv8, YOLO11)
  Yolo5,             // (1, N, 5+nc): cx, cy, w, h, objectness, class scores (YOLOv5, YOLOv7)
  Oriented,          // (1, 4+nc+1, N): cx, cy, w, h, class scores, angle in radians (YOLOv8-OBB)
  EndToEnd,          // (1, K, 6): x1, y1, x2, y2, score, class (NMS-free exports)
  EndToEndOriented,  // (1, K, 7): cx, cy, w, h, score, class, angle in radians
  Yolo8Segment,      // (1, 4+nc+nm, N): boxes, class scores, nm mask coefficients, with a second
                     // output of nm prototypes (1, nm, H/4, W/4) (YOLOv8-seg, YOLO11-seg)
};

// "yolo8", "yolo5", "oriented", "end2end", "end2end-oriented", "yolo8-seg" (and "auto"); throws
// UsageError("layout").
LUOJIA_API DetectionLayout parse_detection_layout(const std::string& name);
LUOJIA_API const char* name(DetectionLayout layout);

// The layout of an output of this shape. classes: the model's class count when its metadata names
// them (0: unknown); det_type: Deepness's name for the layout ("YOLO_v5_v7_DEFAULT",
// "YOLO_Ultralytics", "YOLO_Ultralytics_obb", "YOLO_Ultralytics_segmentation"; empty: none);
// mask_channels: the prototypes' count when the model has a prototype output (0: none). Throws
// ModelError saying why a shape fits no layout.
LUOJIA_API DetectionLayout detection_layout(const nn::Shape& output, int classes, const std::string& det_type,
                                            std::int64_t mask_channels = 0);

struct DecodeOptions {
  DetectionLayout layout = DetectionLayout::Auto;
  int classes = 0;             // class count from metadata (0: from the shape)
  std::string det_type;        // Deepness's det_type, for Auto
  float confidence = 0.25f;    // detections scoring below it are dropped
  std::vector<int> keep_classes;  // only these classes (empty: all)
  double min_size = 0;         // boxes with a side below it (pixels) are dropped
  std::int64_t mask_channels = 0;  // Yolo8Segment: the prototypes' count (nm)
};

// The detections of one image (batch 1) whose score reaches options.confidence. For Yolo5 the
// score is objectness x class score; for the others the best class score. Throws ModelError when
// the output does not fit the layout.
LUOJIA_API std::vector<Detection> decode_detections(const nn::Tensor& output, const DecodeOptions& options);

// Intersection over union: of rectangles when both angles are 0, else of the rotated rectangles'
// polygons (exact, by convex polygon clipping).
LUOJIA_API double box_iou(const Detection& a, const Detection& b);

// The order NMS visits boxes in: higher score first; of equal scores, the lower anchor number
// (the output's order; luojia-detect numbers a tile's anchors as the whole raster's run would).
LUOJIA_API bool ranks_before(const Detection& a, const Detection& b);

// Greedy NMS as torchvision's batched_nms: boxes in ranks_before's order (then by index); a box is
// kept unless a kept box of the same class (any class when class_agnostic) overlaps it with an IoU
// above iou_threshold. Returns the indices kept, best first; max_detections > 0 caps their number.
LUOJIA_API std::vector<std::size_t> non_maximum_suppression(const std::vector<Detection>& detections, double iou_threshold,
                                                           bool class_agnostic = false, std::size_t max_detections = 0);

// Test-time augmentation of a detector: the network also runs on mirrored copies of each tile,
// their boxes are carried back and all of them suppressed together.
enum class DetectionAugmentation {
  None,
  Flips,  // as is, mirrored in x, in y, and both (4 runs)
  D4,     // the flips and their transposes: the 8 symmetries of the square
};
// "none", "flips", "d4"; throws UsageError("tta").
LUOJIA_API DetectionAugmentation parse_detection_augmentation(const std::string& name);

// Input, tiling, threads and kernels: ModelTaskOptions (halo nullopt: from the graph analysis, exact).
struct DetectOptions : ModelTaskOptions {
  DetectionLayout layout = DetectionLayout::Auto;
  std::optional<double> confidence;  // default: the metadata's det_conf, else 0.25
  std::optional<double> iou;         // NMS threshold; default: the metadata's det_iou_thresh, else 0.45
  std::vector<int> classes;          // keep only these class ids (empty: all)
  std::size_t max_detections = 0;    // the best N of the raster (0: no cap)
  double min_size = 0;               // boxes with a side below it (pixels) are dropped
  bool class_agnostic = false;       // NMS across classes
  DetectionAugmentation tta = DetectionAugmentation::None;
  // The farthest (pixels) a box reaches from its anchor's cell centre; default: the metadata's
  // box_reach. Without it every box is held until the raster is done (exact, memory grows with
  // the detections); with it, boxes are final and written out as tile rows pass.
  std::optional<double> box_reach;

  std::string aoi;                   // vector: only detections anchored inside its polygons
  std::string mask;                  // raster on the same grid: only detections anchored on non-zero pixels
  std::string pixel_boxes;           // optional COCO-style JSON of the detections in pixel coordinates
  // Instance segmentation: an optional instance-id raster (COG, UInt32 on the input's grid, 0: no
  // instance, k: the k-th feature written; where masks overlap, the better instance's id).
  std::string instance_raster;
  double simplify = 0;               // instance polygons: Douglas-Peucker tolerance (CRS units), topology kept
  std::string format;                // OGR driver of the output (ogr2ogr -f); empty: from its extension
  std::vector<std::string> layer_options;  // KEY=VALUE creation options of its layer (ogr2ogr -lco)

  bool overwrite = false;
  // Called with every detection written (raster pixels; instances with their mask), in the order
  // written, one call at a time: the results for a C++ caller, besides the files.
  std::function<void(const Detection&)> on_detection;
};

// Not exact when tiles overlap and are merged by NMS (no anchor grid found); the note also carries
// warnings (no geotransform, boxes held).
struct DetectReport : ModelTaskReport {
  DetectionLayout layout = DetectionLayout::Auto;
  double confidence = 0, iou = 0;
  std::int64_t candidates = 0;     // boxes above the confidence, before NMS
  std::int64_t detections = 0;     // written
  std::size_t most_held = 0;       // the most boxes held at once waiting for NMS
  std::optional<double> box_reach; // the reach that let boxes be final row by row (none: held to the end)
  // Instance segmentation: masks whose prototypes reached past their tile's sure region and were
  // made from a window of their own, and instances dropped because no pixel of their mask is on.
  std::int64_t masks_from_own_window = 0;
  std::int64_t empty_masks = 0;
};

// luojia-detect as a function: the detector's boxes over the whole raster, as one polygon per
// detection (4 corners, rotated for oriented boxes) in the input's CRS, fields class_id,
// class_name, score and, for oriented boxes, angle (degrees, clockwise from the raster's x axis).
// When the graph analysis finds the anchor grids behind the output (a fully convolutional
// detector with dynamic H and W), each tile keeps the anchors whose cell lies in its core and the
// result equals one whole-image run: decode, confidence filter, class-aware greedy NMS over the
// raster. The raster is padded on the right and bottom to a multiple of the largest stride by
// reflection; anchors whose cell centre lies outside the raster (or on nodata, or outside the
// AOI) are dropped. Throws Error before writing when the model does not fit.
//
// Instance segmentation (layout yolo8-seg: a second output of prototypes): each kept box's mask,
// as Ultralytics' retina masks (logits = coefficients . prototypes, upsampled bilinearly to the
// input, cropped to the box, above 0), is written as the box's polygons (holes kept; fields
// class_id, class_name, score, area) instead of its rectangle; the pixel boxes gain COCO RLE
// segmentations. Tiles read their prototypes' receptive radius plus the box reach past their core,
// so a box anchored in a tile finds its whole mask there and the masks equal one whole-image run's;
// a mask reaching further (no box reach known, or a larger box) is made from a window around it of
// its own. Memory holds each mask as runs over its box, never a raster-sized mask.
LUOJIA_API DetectReport detect(Raster& input, const nn::Model& model, const std::string& output,
                               const DetectOptions& options = {});
LUOJIA_API DetectReport detect(const std::string& input, const std::string& model, const std::string& output,
                               const DetectOptions& options = {});

}  // namespace luojia
