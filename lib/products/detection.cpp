#include <luojia/products/detection.hpp>

#include <luojia/error.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

namespace luojia {
namespace {

using Point = std::array<double, 2>;
using Polygon = std::vector<Point>;

double cross(const Point& o, const Point& a, const Point& b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }

double polygon_area(const Polygon& p) {
  double twice = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const Point& a = p[i];
    const Point& b = p[(i + 1) % p.size()];
    twice += a[0] * b[1] - b[0] * a[1];
  }
  return std::fabs(twice) / 2;
}

// Sutherland-Hodgman: subject clipped by a convex polygon given counter-clockwise (in the plane's
// orientation; the caller makes both polygons the same orientation).
Polygon clip(const Polygon& subject, const Polygon& by) {
  Polygon out = subject;
  for (std::size_t e = 0; e < by.size() && !out.empty(); ++e) {
    const Point& a = by[e];
    const Point& b = by[(e + 1) % by.size()];
    const Polygon in = std::move(out);
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
      const Point& p = in[i];
      const Point& q = in[(i + 1) % in.size()];
      const double dp = cross(a, b, p), dq = cross(a, b, q);
      if (dp >= 0) out.push_back(p);
      if ((dp >= 0) != (dq >= 0)) {
        const double t = dp / (dp - dq);
        out.push_back({p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])});
      }
    }
  }
  return out;
}

Polygon polygon_of(const Detection& d) {
  const auto c = d.corners();
  Polygon p(c.begin(), c.end());
  // Counter-clockwise in the x-right, y-up sense the cross product above assumes.
  if (cross(p[0], p[1], p[2]) < 0) std::reverse(p.begin(), p.end());
  return p;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::array<std::array<double, 2>, 4> Detection::corners() const {
  const double c = std::cos(angle), s = std::sin(angle), hw = width / 2, hh = height / 2;
  // Half-axis vectors: along the box's width and its height, turned by angle (clockwise on screen).
  const double ux = hw * c, uy = hw * s, vx = -hh * s, vy = hh * c;
  return {{{cx - ux - vx, cy - uy - vy}, {cx + ux - vx, cy + uy - vy}, {cx + ux + vx, cy + uy + vy}, {cx - ux + vx, cy - uy + vy}}};
}

DetectionLayout parse_detection_layout(const std::string& text) {
  const std::string s = lower(text);
  if (s == "auto") return DetectionLayout::Auto;
  if (s == "yolo8") return DetectionLayout::Yolo8;
  if (s == "yolo5") return DetectionLayout::Yolo5;
  if (s == "oriented") return DetectionLayout::Oriented;
  if (s == "end2end") return DetectionLayout::EndToEnd;
  if (s == "end2end-oriented") return DetectionLayout::EndToEndOriented;
  if (s == "yolo8-seg") return DetectionLayout::Yolo8Segment;
  throw UsageError("layout", "is auto, yolo8, yolo5, oriented, end2end, end2end-oriented or yolo8-seg, not '" + text + "'");
}

DetectionAugmentation parse_detection_augmentation(const std::string& text) {
  const std::string s = lower(text);
  if (s == "none") return DetectionAugmentation::None;
  if (s == "flips") return DetectionAugmentation::Flips;
  if (s == "d4") return DetectionAugmentation::D4;
  throw UsageError("tta", "is none, flips or d4, not '" + text + "'");
}

const char* name(DetectionLayout layout) {
  switch (layout) {
    case DetectionLayout::Auto: return "auto";
    case DetectionLayout::Yolo8: return "yolo8";
    case DetectionLayout::Yolo5: return "yolo5";
    case DetectionLayout::Oriented: return "oriented";
    case DetectionLayout::EndToEnd: return "end2end";
    case DetectionLayout::EndToEndOriented: return "end2end-oriented";
    case DetectionLayout::Yolo8Segment: return "yolo8-seg";
  }
  return "?";
}

DetectionLayout detection_layout(const nn::Shape& s, int classes, const std::string& det_type, std::int64_t mask_channels) {
  if (s.size() != 3 || s[0] != 1)
    throw ModelError("a detector's output is (1, rows, columns), not " + nn::to_string(s));
  const std::int64_t a = s[1], b = s[2];
  const std::string type = lower(det_type);
  if (type.find("seg") != std::string::npos && mask_channels == 0)
    throw ModelError("det_type '" + det_type + "' names instance segmentation, but the model has no prototype output (1, nm, H/4, W/4)");
  if (mask_channels > 0) {
    // Prototypes beside the boxes: YOLOv8-seg's (1, 4 + nc + nm, N), whatever det_type says of boxes.
    const std::int64_t scored = a - 4 - mask_channels;
    if (a >= b || scored < 1 || (classes > 0 && scored != classes))
      throw ModelError("output " + nn::to_string(s) + " beside " + std::to_string(mask_channels) +
                       " prototypes is not (1, 4 + classes + " + std::to_string(mask_channels) + ", anchors)" +
                       (classes > 0 ? " for " + std::to_string(classes) + " classes" : std::string()));
    return DetectionLayout::Yolo8Segment;
  }
  if (type.find("obb") != std::string::npos) return b == 7 && a > 7 ? DetectionLayout::EndToEndOriented : DetectionLayout::Oriented;
  if (type.find("v5") != std::string::npos || type.find("v7") != std::string::npos) return DetectionLayout::Yolo5;
  if (!type.empty() && type.find("ultralytics") == std::string::npos)
    throw ModelError("det_type '" + det_type + "' is not a layout luojia decodes (YOLO_v5_v7_DEFAULT, YOLO_Ultralytics, YOLO_Ultralytics_obb)");
  // Without a name, the shape, read with the class count when the metadata gives one. Anchors
  // (thousands) outnumber values per box; NMS-free exports keep K boxes of 6 or 7 values.
  if (classes > 0) {
    if (b == 5 + classes && a > b) return DetectionLayout::Yolo5;
    if (a == 4 + classes && a < b) return DetectionLayout::Yolo8;
    if (a == 5 + classes && a < b) return DetectionLayout::Oriented;
    if (b == 6 && a > b) return DetectionLayout::EndToEnd;
    if (b == 7 && a > b) return DetectionLayout::EndToEndOriented;
    throw ModelError("output " + nn::to_string(s) + " fits no detection layout for " + std::to_string(classes) +
                     " classes: neither 4 + " + std::to_string(classes) + " rows (YOLOv8), 5 + " + std::to_string(classes) +
                     " (oriented), nor 5 + " + std::to_string(classes) + " values per box (YOLOv5); give the layout");
  }
  if ((b == 6 || b == 7) && a > b) return b == 6 ? DetectionLayout::EndToEnd : DetectionLayout::EndToEndOriented;
  if (a < b) {
    if (a < 5) throw ModelError("output " + nn::to_string(s) + " has no class scores");
    return DetectionLayout::Yolo8;
  }
  if (b < 6) throw ModelError("output " + nn::to_string(s) + " has no class scores");
  return DetectionLayout::Yolo5;
}

std::vector<Detection> decode_detections(const nn::Tensor& output, const DecodeOptions& o) {
  const nn::Shape& s = output.shape();
  const DetectionLayout layout = o.layout == DetectionLayout::Auto ? detection_layout(s, o.classes, o.det_type) : o.layout;
  if (s.size() != 3 || s[0] != 1) throw ModelError("a detector's output is (1, rows, columns), not " + nn::to_string(s));
  const std::int64_t rows = s[1], cols = s[2];
  const float* v = output.data();
  const bool channels_first =
      layout == DetectionLayout::Yolo8 || layout == DetectionLayout::Oriented || layout == DetectionLayout::Yolo8Segment;
  if (layout == DetectionLayout::Yolo8Segment && o.mask_channels < 1)
    throw ModelError("layout yolo8-seg needs the prototypes' count (a second output of (1, nm, H/4, W/4))");
  const std::int64_t boxes = channels_first ? cols : rows, values = channels_first ? rows : cols;
  // Value k of box i.
  const auto at = [&](std::int64_t i, std::int64_t k) { return channels_first ? v[k * cols + i] : v[i * cols + k]; };
  std::int64_t classes = 0;
  switch (layout) {
    case DetectionLayout::Yolo8: classes = values - 4; break;
    case DetectionLayout::Oriented: classes = values - 5; break;
    case DetectionLayout::Yolo8Segment: classes = values - 4 - o.mask_channels; break;
    case DetectionLayout::Yolo5: classes = values - 5; break;
    case DetectionLayout::EndToEnd:
    case DetectionLayout::EndToEndOriented: {
      const std::int64_t want = layout == DetectionLayout::EndToEnd ? 6 : 7;
      if (values != want) throw ModelError("output " + nn::to_string(s) + " is not (1, K, " + std::to_string(want) + ") for " + name(layout));
      break;
    }
    case DetectionLayout::Auto: break;
  }
  if (channels_first || layout == DetectionLayout::Yolo5) {
    if (classes < 1) throw ModelError("output " + nn::to_string(s) + " has no class scores for layout " + name(layout));
    if (o.classes > 0 && classes != o.classes)
      throw ModelError("output " + nn::to_string(s) + " holds " + std::to_string(classes) + " classes for layout " + name(layout) +
                       "; the model's metadata names " + std::to_string(o.classes));
  }
  const auto wanted = [&](int c) {
    return o.keep_classes.empty() || std::find(o.keep_classes.begin(), o.keep_classes.end(), c) != o.keep_classes.end();
  };
  std::vector<Detection> out;
  for (std::int64_t i = 0; i < boxes; ++i) {
    Detection d;
    d.anchor = i;
    if (layout == DetectionLayout::EndToEnd || layout == DetectionLayout::EndToEndOriented) {
      d.score = at(i, 4);
      d.class_id = static_cast<int>(std::lround(at(i, 5)));
      if (layout == DetectionLayout::EndToEnd) {
        d.cx = (at(i, 0) + at(i, 2)) / 2.0;
        d.cy = (at(i, 1) + at(i, 3)) / 2.0;
        d.width = at(i, 2) - at(i, 0);
        d.height = at(i, 3) - at(i, 1);
      } else {
        d.cx = at(i, 0);
        d.cy = at(i, 1);
        d.width = at(i, 2);
        d.height = at(i, 3);
        d.angle = at(i, 6);
      }
    } else {
      const std::int64_t first = layout == DetectionLayout::Yolo5 ? 5 : 4;
      const float objectness = layout == DetectionLayout::Yolo5 ? at(i, 4) : 1.0f;
      if (objectness < o.confidence) continue;  // as YOLOv5's own filter: no class can reach it
      std::int64_t best = 0;
      float top = at(i, first);
      for (std::int64_t k = 1; k < classes; ++k)
        if (at(i, first + k) > top) {
          top = at(i, first + k);
          best = k;
        }
      d.score = top * objectness;
      d.class_id = static_cast<int>(best);
      d.cx = at(i, 0);
      d.cy = at(i, 1);
      d.width = at(i, 2);
      d.height = at(i, 3);
      if (layout == DetectionLayout::Oriented) d.angle = at(i, 4 + classes);
    }
    if (layout == DetectionLayout::Yolo8Segment && d.score >= o.confidence) {
      d.coefficients.resize(static_cast<std::size_t>(o.mask_channels));
      for (std::int64_t k = 0; k < o.mask_channels; ++k) d.coefficients[static_cast<std::size_t>(k)] = at(i, 4 + classes + k);
    }
    if (!(d.score >= o.confidence) || !wanted(d.class_id)) continue;
    if (!(d.width > 0 && d.height > 0) || d.width < o.min_size || d.height < o.min_size) continue;
    if (!std::isfinite(d.cx) || !std::isfinite(d.cy) || !std::isfinite(d.width) || !std::isfinite(d.height) || !std::isfinite(d.angle))
      continue;
    out.push_back(d);
  }
  return out;
}

bool ranks_before(const Detection& a, const Detection& b) {
  return a.score > b.score || (a.score == b.score && a.anchor < b.anchor);
}

double box_iou(const Detection& a, const Detection& b) {
  double inter = 0;
  if (a.angle == 0 && b.angle == 0) {
    const double w = std::min(a.cx + a.width / 2, b.cx + b.width / 2) - std::max(a.cx - a.width / 2, b.cx - b.width / 2);
    const double h = std::min(a.cy + a.height / 2, b.cy + b.height / 2) - std::max(a.cy - a.height / 2, b.cy - b.height / 2);
    inter = std::max(0.0, w) * std::max(0.0, h);
  } else {
    // Far apart: no need to clip (the circumscribed circles do not meet).
    const double ra = std::hypot(a.width, a.height) / 2, rb = std::hypot(b.width, b.height) / 2;
    if (std::hypot(a.cx - b.cx, a.cy - b.cy) > ra + rb) return 0.0;
    inter = polygon_area(clip(polygon_of(a), polygon_of(b)));
  }
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<std::size_t> non_maximum_suppression(const std::vector<Detection>& d, double iou_threshold, bool class_agnostic,
                                                 std::size_t max_detections) {
  std::vector<std::size_t> order(d.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ranks_before(d[a], d[b]); });
  std::vector<std::size_t> kept;
  for (std::size_t i : order) {
    bool suppressed = false;
    for (std::size_t k : kept)
      if ((class_agnostic || d[k].class_id == d[i].class_id) && box_iou(d[k], d[i]) > iou_threshold) {
        suppressed = true;
        break;
      }
    if (suppressed) continue;
    kept.push_back(i);
    if (max_detections > 0 && kept.size() == max_detections) break;
  }
  return kept;
}

}  // namespace luojia
