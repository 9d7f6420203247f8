// The detection task head on the shared model stage. Each tile keeps the anchors whose cell lies
// in its core (the graph analysis says which output index is which level and cell), so every kept
// anchor's raw output equals the whole-image run's; boxes are then suppressed over the raster as
// tile rows pass, a group of overlapping boxes being settled once no later row can add to it.
#include <luojia/products/detection.hpp>

#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/io/vector_format.hpp>

#include "io/file_names.hpp"
#include "io/gdal_support.hpp"
#include "io/pixel_placement.hpp"
#include "io/vector_output.hpp"
#include "products/aoi.hpp"
#include "products/coco_boxes.hpp"
#include "products/detection_shards.hpp"
#include "products/instance_raster.hpp"
#include "products/class_legend.hpp"
#include "model_task/model_stage.hpp"
#include "products/prototype_masks.hpp"
#include "products/symmetry.hpp"

#include <ogrsf_frmts.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <numbers>
#include <numeric>
#include <queue>
#include <unordered_map>

namespace luojia {
namespace {

namespace fs = std::filesystem;

using detail::kCandidateLayer;

// The extent of a box's corners: what positive-area overlap can only happen within.
struct Extent {
  double x0, y0, x1, y1;
};

Extent extent_of(const Detection& d) {
  Extent e{INFINITY, INFINITY, -INFINITY, -INFINITY};
  for (const auto& [x, y] : d.corners()) {
    e.x0 = std::min(e.x0, x);
    e.y0 = std::min(e.y0, y);
    e.x1 = std::max(e.x1, x);
    e.y1 = std::max(e.y1, y);
  }
  return e;
}

// Greedy NMS over a raster, fed row by row. Whether greedy NMS keeps a box depends only on the
// boxes linked to it by chains of suppressing overlaps (same class, IoU above the threshold): a
// box falls to a better kept neighbour, whose own fate depends on its neighbours, and so on. So a
// group linked that way is settled, and suppressed on its own, once none of its boxes can overlap
// a box still to come.
class StreamingSuppression {
public:
  StreamingSuppression(double iou, bool class_agnostic) : iou_(iou), agnostic_(class_agnostic) {}

  void add(std::vector<Detection> boxes) {
    for (auto& b : boxes) pending_.push_back(std::move(b));
    most_held_ = std::max(most_held_, pending_.size());
  }
  std::size_t most_held() const { return most_held_; }

  struct Settled {
    std::vector<Detection> kept;    // suppressed and final
    std::vector<Detection> border;  // groups that may link to boxes of a neighbouring shard: not suppressed
  };
  // The boxes settled now that no box to come reaches above y = boundary: groups with a box that
  // on_border says may link across a shard border are handed back whole, the others suppressed.
  Settled settle(double boundary, const std::function<bool(const Extent&)>& on_border) {
    const std::size_t n = pending_.size();
    if (n == 0) return {};
    std::vector<Extent> ext(n);
    for (std::size_t i = 0; i < n; ++i) ext[i] = extent_of(pending_[i]);
    std::vector<std::size_t> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    const auto find = [&](std::size_t i) {
      while (parent[i] != i) i = parent[i] = parent[parent[i]];
      return i;
    };
    // Sweep along x: boxes whose x ranges overlap, then their y ranges, of the same class.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ext[a].x0 < ext[b].x0; });
    std::vector<std::size_t> active;
    for (std::size_t i : order) {
      std::erase_if(active, [&](std::size_t j) { return ext[j].x1 <= ext[i].x0; });
      for (std::size_t j : active)
        if (std::min(ext[i].y1, ext[j].y1) > std::max(ext[i].y0, ext[j].y0) &&
            (agnostic_ || pending_[i].class_id == pending_[j].class_id) && box_iou(pending_[i], pending_[j]) > iou_)
          parent[find(i)] = find(j);
      active.push_back(i);
    }
    std::vector<bool> open(n, false);    // groups with a box that a later row could still overlap
    std::vector<bool> border(n, false);  // groups with a box a neighbouring shard's boxes could overlap
    for (std::size_t i = 0; i < n; ++i) {
      if (!(ext[i].y1 <= boundary)) open[find(i)] = true;
      if (on_border && on_border(ext[i])) border[find(i)] = true;
    }
    Settled out;
    std::vector<Detection> settled, rest;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t g = find(i);
      (open[g] ? rest : border[g] ? out.border : settled).push_back(std::move(pending_[i]));
    }
    pending_ = std::move(rest);
    for (std::size_t i : non_maximum_suppression(settled, iou_, agnostic_)) out.kept.push_back(settled[i]);
    return out;
  }

private:
  double iou_;
  bool agnostic_;
  std::vector<Detection> pending_;
  std::size_t most_held_ = 0;
};

// The products: polygons in the raster's CRS, and the optional COCO-style pixel boxes, both
// temporaries until commit.
class DetectionWriter {
public:
  DetectionWriter(const RasterInfo& info, const std::string& output, const DetectOptions& o, std::vector<std::string> class_names,
                  bool oriented, double iou, bool instances)
      : output_(output), vector_(output, o.overwrite, o.format), class_names_(std::move(class_names)), oriented_(oriented),
        instances_(instances), simplify_(o.simplify), on_detection_(o.on_detection), image_width_(info.width), image_height_(info.height),
        placement_(info, info.path) {
    const ErrorContext where{output, {}, {}, {}};
    detail::GdalErrorTrap trap;
    OGRSpatialReference srs;
    const std::string& crs = placement_.crs_wkt();
    const bool has_srs = !crs.empty() && srs.importFromWkt(crs.c_str()) == OGRERR_NONE;
    if (has_srs) srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    GDALDataset& ds = vector_.dataset();
    CPLStringList layer_options;
    for (const auto& kv : o.layer_options) {
      if (kv.find('=') == std::string::npos) throw UsageError("layer_options", "takes KEY=VALUE, not '" + kv + "'");
      layer_options.AddString(kv.c_str());
    }
    layer_ = ds.CreateLayer(instances_ ? "instances" : "detections", has_srs ? &srs : nullptr,
                            instances_ ? wkbMultiPolygon : wkbPolygon, layer_options.List());
    if (!layer_) raise("cannot create a layer: " + trap.message("layer creation failed"), where);
    OGRFieldDefn id("class_id", OFTInteger), name("class_name", OFTString), score("score", OFTReal), angle("angle", OFTReal);
    OGRFieldDefn area("area", OFTReal);
    layer_->CreateField(&id);
    layer_->CreateField(&name);
    layer_->CreateField(&score);
    if (oriented_) layer_->CreateField(&angle);
    if (instances_) layer_->CreateField(&area);
    const detail::CocoImage image{fs::path(info.path).filename().string(), info.width, info.height, class_names_, oriented_};
    if (!o.stream.shard.whole()) {
      // Every box with its pixel geometry (px_cx, px_cy, px_width, px_height, px_angle) and the
      // whole raster's anchor number (ties go as in one run); in a second layer the boxes of groups
      // that may reach into a neighbouring shard, not yet suppressed: luojia-merge suppresses them
      // together with the other shards' and can write the pixel boxes of the whole.
      candidates_ = ds.CreateLayer(kCandidateLayer, has_srs ? &srs : nullptr, instances_ ? wkbMultiPolygon : wkbPolygon, nullptr);
      if (!candidates_) raise("cannot create a layer: " + trap.message("layer creation failed"), where);
      for (OGRFieldDefn* f : {&id, &name, &score, &angle}) candidates_->CreateField(f);
      if (instances_) candidates_->CreateField(&area);
      for (OGRLayer* l : {layer_, candidates_}) {
        for (const char* px : {"px_cx", "px_cy", "px_width", "px_height", "px_angle"}) {
          OGRFieldDefn field(px, OFTReal);
          l->CreateField(&field);
        }
        OGRFieldDefn anchor("px_anchor", OFTInteger64);
        l->CreateField(&anchor);
      }
      ds.SetMetadataItem("LUOJIA_SHARD", (std::to_string(o.stream.shard.index + 1) + "/" + std::to_string(o.stream.shard.count)).c_str());
      ds.SetMetadataItem("LUOJIA_NMS_IOU", std::to_string(iou).c_str());
      ds.SetMetadataItem("LUOJIA_NMS_CLASS_AGNOSTIC", o.class_agnostic ? "1" : "0");
      ds.SetMetadataItem("LUOJIA_MAX_DETECTIONS", std::to_string(o.max_detections).c_str());
      ds.SetMetadataItem(detail::kPixelImageItem, image.to_json().c_str());
    }
    transaction_ = ds.TestCapability(ODsCTransactions) && ds.StartTransaction() == OGRERR_NONE;
    if (instances_ && !o.instance_raster.empty()) ids_ = std::make_unique<detail::InstanceRaster>(info, o.instance_raster, o.overwrite);
    if (!o.pixel_boxes.empty()) coco_ = std::make_unique<detail::CocoBoxes>(o.pixel_boxes, image, o.overwrite);
  }

  const detail::PixelPlacement& placement() const { return placement_; }
  // A final box (instance), or a shard's border candidate. An instance whose mask is still to be
  // made waits (see take_pending).
  void write(const Detection& d) { put(layer_, d); }
  void write_candidate(const Detection& d) { put(candidates_, d); }
  struct Pending {
    std::vector<Detection> final, candidates;
  };
  Pending take_pending() { return std::exchange(pending_, {}); }
  std::int64_t empty_masks() const { return empty_; }

private:
  void put(OGRLayer* layer, const Detection& d) {
    if (!instances_) return write_to(layer, d);
    const bool candidate = layer == candidates_;
    if (!d.mask && !d.mask_logits) return (candidate ? pending_.candidates : pending_.final).push_back(d);
    Detection drawn = d;
    if (!drawn.mask) drawn.mask = std::make_shared<const InstanceMask>(detail::draw_mask(*d.mask_logits));
    drawn.mask_logits.reset();
    // An instance without a mask pixel is dropped; a candidate is written all the same, for it
    // may still suppress others when luojia-merge suppresses the shards' candidates together.
    if (drawn.mask->pixels() == 0 && !candidate) ++empty_;
    else write_to(layer, drawn);
  }

  void write_to(OGRLayer* layer, const Detection& d) {
    const ErrorContext where{output_, {}, {}, {}};
    const bool candidate = layer == candidates_;
    OGRFeature feature(layer->GetLayerDefn());
    feature.SetField(0, d.class_id);
    const auto k = static_cast<std::size_t>(d.class_id);
    feature.SetField(1, k < class_names_.size() ? class_names_[k].c_str() : ("class " + std::to_string(d.class_id)).c_str());
    feature.SetField(2, static_cast<double>(d.score));
    if (oriented_ || candidate) feature.SetField(3, d.angle * 180.0 / std::numbers::pi);
    if (candidates_)
      for (const auto& [field, value] : {std::pair{"px_cx", d.cx}, {"px_cy", d.cy}, {"px_width", d.width}, {"px_height", d.height},
                                         {"px_angle", d.angle}})
        feature.SetField(field, value);
    if (candidates_) feature.SetField("px_anchor", static_cast<GIntBig>(d.anchor));
    if (instances_) {
      std::unique_ptr<OGRGeometry> parts = detail::mask_polygons(*d.mask);
      if (!parts) parts = std::make_unique<OGRMultiPolygon>();  // an empty candidate's
      placement_.place(*parts);
      if (simplify_ > 0)
        if (std::unique_ptr<OGRGeometry> simple(parts->SimplifyPreserveTopology(simplify_)); simple && !simple->IsEmpty())
          parts.reset(OGRGeometryFactory::forceToMultiPolygon(simple.release()));
      feature.SetField("area", OGR_G_Area(OGRGeometry::ToHandle(parts.get())));
      feature.SetGeometryDirectly(parts.release());
    } else {
      OGRLinearRing ring;
      const auto corners = d.corners();
      for (int i = 0; i <= 4; ++i) {
        const auto& [x, y] = corners[static_cast<std::size_t>(i % 4)];
        const auto [gx, gy] = placement_.apply(x, y);
        ring.addPoint(gx, gy);
      }
      OGRPolygon polygon;
      polygon.addRing(&ring);
      feature.SetGeometry(&polygon);
    }
    detail::GdalErrorTrap trap;
    if (layer->CreateFeature(&feature) != OGRERR_NONE) raise("cannot write a detection: " + trap.message("CreateFeature failed"), where);
    if (candidate) return;
    if (ids_) ids_->paint(d, static_cast<std::uint32_t>(count_ + 1));
    if (coco_) coco_->add(d);
    if (on_detection_) on_detection_(d);
    ++count_;
  }

public:
  std::int64_t count() const { return count_; }

  void commit() {
    const ErrorContext where{output_, {}, {}, {}};
    detail::GdalErrorTrap trap;
    if (transaction_ && vector_.dataset().CommitTransaction() != OGRERR_NONE)
      raise("cannot finish the vector output: " + trap.message("commit failed"), where);
    vector_.finish();
    if (ids_) ids_->finish();
    if (coco_) coco_->finish();
    vector_.commit();
    if (ids_) ids_->commit();
    if (coco_) coco_->commit();
  }

private:
  std::string output_;
  detail::VectorOutput vector_;
  std::vector<std::string> class_names_;
  bool oriented_;
  bool instances_;
  double simplify_;
  std::function<void(const Detection&)> on_detection_;
  std::int64_t image_width_, image_height_;
  Pending pending_;
  std::int64_t empty_ = 0;
  std::unique_ptr<detail::InstanceRaster> ids_;  // the instance-id raster, when asked for
  detail::PixelPlacement placement_;
  OGRLayer* layer_ = nullptr;
  OGRLayer* candidates_ = nullptr;
  bool transaction_ = false;
  std::unique_ptr<detail::CocoBoxes> coco_;
  std::int64_t count_ = 0;
};

double threshold_in_unit(std::optional<double> given, std::optional<double> from_metadata, double fallback, const char* field) {
  const double v = given ? *given : from_metadata.value_or(fallback);
  if (!(v >= 0 && v <= 1)) throw UsageError(field, "must be from 0 to 1");
  return v;
}

// Which level and cell anchor index i of an output is, for each read-window shape a tile has.
class AnchorMap {
public:
  AnchorMap(const nn::Model& model, std::int64_t channels) : model_(model), channels_(channels) {}

  // The output's anchor grids for a network input of w x h; throws when the analysis finds none.
  const nn::OutputAnalysis& at(std::int64_t w, std::int64_t h) {
    std::lock_guard lock(mutex_);
    auto it = cache_.find({w, h});
    if (it == cache_.end()) it = cache_.emplace(std::pair{w, h}, model_.analyse({1, channels_, h, w}).at(0)).first;
    return it->second;
  }

private:
  const nn::Model& model_;
  std::int64_t channels_;
  std::mutex mutex_;
  std::map<std::pair<std::int64_t, std::int64_t>, nn::OutputAnalysis> cache_;
};

// The anchors of one run over the whole (padded) raster, numbered as its output would: level by
// level, then each cell's groups, then rows of cells. A box keeps its anchor's number there,
// whatever tile found it, so boxes of equal score are suppressed in the order a whole-image run
// suppresses them (its output's order), and the result does not depend on the tiling.
class WholeImageAnchors {
public:
  WholeImageAnchors(const std::vector<nn::AnchorGrid>& levels, std::int64_t width, std::int64_t height) {
    for (const nn::AnchorGrid& g : levels) {
      const std::int64_t w = (width + g.stride - 1) / g.stride, h = (height + g.stride - 1) / g.stride;
      levels_.push_back({total, g.stride, w, h});
      total += g.groups * w * h;
    }
  }
  // The number of the anchor of group `group` whose cell on level `level` holds raster pixel (x, y).
  std::int64_t index(std::size_t level, std::int64_t group, double x, double y) const {
    if (level >= levels_.size()) return total;
    const Level& l = levels_[level];
    const auto cx = static_cast<std::int64_t>(std::floor(x)) / l.stride, cy = static_cast<std::int64_t>(std::floor(y)) / l.stride;
    return l.first + (group * l.height + cy) * l.width + cx;
  }
  std::int64_t total = 0;  // anchors of one run

private:
  struct Level {
    std::int64_t first, stride, width, height;
  };
  std::vector<Level> levels_;
};

// A fixed-size model's windows: halo (default a tenth of the window, as SAHI's 20% overlap)
// around cores of the window less two halos; a raster that fits one window is one tile.
detail::ModelTiling fixed_window_tiling(const nn::Model& model, const detail::ModelInput& input, const RasterInfo& info,
                                        std::int64_t w, std::int64_t h, std::optional<std::int64_t> halo) {
  detail::ModelTiling t;
  t.analysis = model.analyse({1, input.input_channels[0], h, w}).at(0);
  t.alignment = std::max<std::int64_t>(1, t.analysis.alignment);
  t.one_tile = info.width <= w && info.height <= h;
  if (!t.one_tile) {
    const std::int64_t wanted = halo ? *halo : std::min(w, h) / 10;
    if (wanted < 0) throw UsageError("halo", "must not be negative");
    t.halo = detail::round_up(wanted, t.alignment);
    if (std::min(w, h) - 2 * t.halo < t.alignment)
      throw UsageError("halo", std::to_string(t.halo) + " leaves no core in the model's fixed " + std::to_string(w) + " x " +
                                   std::to_string(h) + " window");
  }
  t.tile = std::max(w, h) - 2 * t.halo;
  t.padded_width = w;
  t.padded_height = h;
  return t;
}

TileGrid fixed_window_grid(const detail::ModelTiling& t, const RasterInfo& info, std::int64_t w, std::int64_t h) {
  TileGridOptions go;
  go.tile_width = w - 2 * t.halo;
  go.tile_height = h - 2 * t.halo;
  go.halo = t.halo;
  go.stride = t.one_tile ? 1 : t.alignment;
  return TileGrid(info.width, info.height, go);
}

// x (1 x C x H x W) completed to h x w by reflection, as numpy's "reflect" pads.
nn::Tensor reflect_to(const nn::Tensor& x, std::int64_t h, std::int64_t w) {
  const std::int64_t c = x.shape()[1], xh = x.shape()[2], xw = x.shape()[3];
  nn::Tensor out({1, c, h, w});
  for (std::int64_t k = 0; k < c; ++k)
    for (std::int64_t yy = 0; yy < h; ++yy) {
      const float* src = x.data() + (k * xh + detail::reflect_index(yy, xh)) * xw;
      float* dst = out.data() + (k * h + yy) * w;
      for (std::int64_t xx = 0; xx < w; ++xx) dst[xx] = src[detail::reflect_index(xx, xw)];
    }
  return out;
}

// ---- prepare: the model's window, the tiling, the output's layout and the thresholds -----------

// What a detection run settles before it reads a pixel.
struct DetectPlan {
  detail::ModelInput input;
  // Static exports (640 x 640 and the like) run on windows of exactly their size.
  bool fixed_size = false;
  std::int64_t fixed_w = 0, fixed_h = 0;
  detail::ModelTiling tiling;
  // A fixed-size export whose anchor grids the analysis still finds has its boxes owned by cell,
  // as a dynamic one: within one window the result is then the whole-window run's.
  bool cells_known = false;
  bool anchored = false;  // a dynamic input with anchor grids: tiles cut along cells
  nn::Shape probe_shape;  // the output of a run at the smallest aligned size
  DetectionLayout layout = DetectionLayout::Auto;
  bool oriented = false;
  DecodeOptions decode;
  double iou = 0;
  std::optional<double> reach;  // how far a box reaches from its anchor, when known
  std::vector<std::string> class_names;
  std::size_t symmetries = 1;  // views of each tile the network sees (tta)
  // Instance segmentation: a second output of prototypes, scale input pixels per cell, whose
  // cells read radius pixels past their own; and the halo that lets a tile make its boxes' masks.
  bool instances = false;
  std::int64_t proto_scale = 0, proto_radius = 0;
  bool masks_clipped = false;  // masks cut to their tile's window (fixed-size windows, global context)
  std::optional<std::int64_t> halo;
  DetectReport report;

  void add_note(const std::string& text) { report.note += (report.note.empty() ? "" : "; ") + text; }
};

void resolve_fixed_window(DetectPlan& p, const nn::Model& model, const ErrorContext& at_model) {
  const nn::Shape& declared = model.inputs().at(0).shape;
  p.fixed_size = declared[2] > 0 || declared[3] > 0;
  if (p.fixed_size && (declared[2] <= 0 || declared[3] <= 0))
    raise("the model's input " + nn::to_string(declared) + " fixes only one of height and width", at_model);
  p.fixed_h = p.fixed_size ? declared[2] : 0;
  p.fixed_w = p.fixed_size ? declared[3] : 0;
}

// A second output of prototypes (1, nm, H/s, W/s) makes the detector an instance segmenter. Its
// tiles then read, past their core, the prototypes' receptive radius plus how far a box reaches
// from its anchor: every box a tile owns finds its whole mask in the tile's sure prototypes.
void resolve_instances(DetectPlan& p, const nn::Model& model, const DetectOptions& o) {
  p.halo = o.halo;
  if (model.outputs().size() < 2) return;
  const std::int64_t h = p.fixed_size ? p.fixed_h : 256, w = p.fixed_size ? p.fixed_w : 256;
  const std::vector<nn::OutputAnalysis> outputs = model.analyse({1, p.input.input_channels[0], h, w});
  const nn::OutputAnalysis& protos = outputs.at(1);
  if (protos.shape.size() != 4 || protos.shape[1] < 1 || protos.stride < 2) return;
  p.instances = true;
  p.proto_scale = protos.stride;
  p.proto_radius = protos.radius;
  p.decode.mask_channels = protos.shape[1];
  if (o.tta != DetectionAugmentation::None) throw UsageError("tta", "is not applied to instance masks yet: run an instance segmenter without it");
  if (!o.stream.shard.whole() && !o.instance_raster.empty())
    throw UsageError("instance_raster", "cannot be written by shards yet: run the raster whole");
  p.masks_clipped = p.fixed_size || !protos.tileable;
  // Without a box reach, a quarter of the tile: most masks then lie within their tile's sure
  // prototypes, and the few reaching further get windows of their own.
  const std::optional<double> reach = o.box_reach ? o.box_reach : model.metadata().box_reach;
  const std::int64_t extension = reach ? static_cast<std::int64_t>(std::ceil(*reach)) : std::max<std::int64_t>(0, o.tile / 4);
  if (!o.halo && !p.fixed_size && protos.tileable)
    p.halo = std::max(outputs.at(0).radius, p.proto_radius + p.proto_scale + extension);
}

// Tiles cut along anchor cells when the analysis finds them; otherwise overlapping tiles (or a
// fixed-size model's windows) whose boxes are merged by NMS, which the report calls not exact.
void plan_detection_tiling(DetectPlan& p, const nn::Model& model, const RasterInfo& info, const DetectOptions& o) {
  p.tiling = p.fixed_size ? fixed_window_tiling(model, p.input, info, p.fixed_w, p.fixed_h, o.halo)
                          : detail::plan_model_tiling(model, p.input, info, o.tile, p.halo, false, false);
  p.cells_known = !p.tiling.analysis.anchors.empty() && p.tiling.analysis.tileable;
  p.anchored = !p.fixed_size && p.cells_known;
  DetectReport& report = p.report;
  if (p.fixed_size && !p.tiling.one_tile) {
    report.exact = false;
    report.note = "not exact: the model's input has a fixed size " + nn::to_string(model.inputs().at(0).shape) +
                  " (export with dynamic height and width " + "for exact tiling); windows of " + std::to_string(p.fixed_w) + " x " +
                  std::to_string(p.fixed_h) + " overlap by " + std::to_string(2 * p.tiling.halo) +
                  " pixels and boxes are merged by NMS across windows";
  } else if (!p.anchored && !p.tiling.one_tile) {
    // No anchor grid to cut along: overlapping tiles, boxes kept where their centre lies in the
    // tile's core, NMS across tiles. Boxes near a border may differ from a whole-image run.
    p.tiling = detail::plan_model_tiling(model, p.input, info, o.tile, o.halo, true, false);
    report.exact = false;
    report.note = "not exact: the analysis finds no anchor grid behind the model's output (" +
                  (p.tiling.analysis.reason.empty() ? std::string("its anchors are not flattened grids") : p.tiling.analysis.reason) +
                  "); tiles overlap by " + std::to_string(p.tiling.halo) + " pixels and boxes are merged by NMS across tiles";
  } else if (!p.tiling.exact) {
    report.exact = false;
    report.note = p.tiling.note;
  }
}

// The layout, from a run at the smallest aligned size.
void resolve_layout(DetectPlan& p, const nn::Model& model, const DetectOptions& o, const ErrorContext& at_model) {
  const std::int64_t probe = detail::round_up(std::max<std::int64_t>(64, p.tiling.alignment), p.tiling.alignment);
  const std::int64_t ph = p.fixed_size ? p.fixed_h : probe, pw = p.fixed_size ? p.fixed_w : probe;
  const std::vector<nn::Tensor> outputs = model.run(p.input.split(nn::Tensor({1, p.input.channels(), ph, pw})));
  p.probe_shape = outputs.at(0).shape();
  const int classes = static_cast<int>(model.metadata().classes.size());
  p.layout = o.layout;
  if (p.instances) {
    const nn::Shape& protos = outputs.at(1).shape();
    if (protos[2] * p.proto_scale != ph || protos[3] * p.proto_scale != pw)
      raise("the model's prototypes " + nn::to_string(protos) + " are not 1/" + std::to_string(p.proto_scale) + " of its " +
                std::to_string(pw) + " x " + std::to_string(ph) + " input",
            at_model);
    if (p.layout != DetectionLayout::Auto && p.layout != DetectionLayout::Yolo8Segment)
      throw UsageError("layout", std::string("is ") + name(p.layout) + ", but the model has a second output of prototypes " +
                                     nn::to_string(protos) + ": an instance segmenter (yolo8-seg)");
  } else if (p.layout == DetectionLayout::Yolo8Segment) {
    throw UsageError("layout", "is yolo8-seg, but the model has no second output of prototypes (1, nm, H/4, W/4)");
  }
  try {
    if (p.layout == DetectionLayout::Auto)
      p.layout = detection_layout(p.probe_shape, classes, model.metadata().detection_type, p.decode.mask_channels);
  } catch (const ModelError& e) {
    e.rethrow_with(at_model);  // say which model it is
  }
  p.oriented = p.layout == DetectionLayout::Oriented || p.layout == DetectionLayout::EndToEndOriented;
  if (p.anchored && (p.layout == DetectionLayout::EndToEnd || p.layout == DetectionLayout::EndToEndOriented))
    raise("the model's output " + nn::to_string(p.probe_shape) + " is laid out as anchors, not as end-to-end boxes (" +
              name(p.layout) + ")",
          at_model);
}

// Decoding, NMS and box reach: the options given, else the model's metadata, else defaults.
void resolve_thresholds(DetectPlan& p, const nn::ModelMetadata& meta, const DetectOptions& o) {
  if (p.masks_clipped && !p.tiling.one_tile) {
    p.report.exact = false;
    p.add_note(p.fixed_size ? "instance masks are cut at the edges of the model's fixed-size windows"
                            : "instance masks are cut at their tile's edges: the prototypes have global context");
  }
  p.decode.layout = p.layout;
  p.decode.classes = static_cast<int>(meta.classes.size());
  p.decode.confidence = static_cast<float>(threshold_in_unit(o.confidence, meta.detection_confidence, 0.25, "confidence"));
  p.decode.keep_classes = o.classes;
  p.decode.min_size = o.min_size;
  if (o.min_size < 0) throw UsageError("min_size", "must not be negative");
  p.iou = threshold_in_unit(o.iou, meta.detection_iou_threshold, 0.45, "iou");
  p.reach = o.box_reach ? o.box_reach : meta.box_reach;
  if (p.reach && !(*p.reach > 0)) throw UsageError("box_reach", "must be positive");
  DetectReport& report = p.report;
  report.layout = p.layout;
  report.confidence = p.decode.confidence;
  report.iou = p.iou;
  report.tile_size = p.tiling.tile;
  report.halo = p.tiling.halo;
  report.alignment = p.tiling.alignment;
  if (!p.reach && !p.tiling.one_tile)
    p.add_note("boxes are held until the raster is done: the model's metadata gives no box_reach (how far a box reaches from its anchor)");
}

// Names for every class the output scores (the metadata may name fewer).
std::vector<std::string> scored_class_names(const DetectPlan& p, const nn::ModelMetadata& meta) {
  const std::int64_t classes = static_cast<int>(meta.classes.size());
  const std::int64_t scored = p.layout == DetectionLayout::Yolo8Segment ? p.probe_shape[1] - 4 - p.decode.mask_channels
                              : p.layout == DetectionLayout::Yolo8      ? p.probe_shape[1] - 4
                              : p.layout == DetectionLayout::Oriented ? p.probe_shape[1] - 5
                              : p.layout == DetectionLayout::Yolo5    ? p.probe_shape[2] - 5
                                                                      : classes;
  return detail::class_legend(meta, std::max<std::int64_t>(classes, scored)).names;
}

DetectPlan plan_detection(const detail::ModelStage& stage, const DetectOptions& o) {
  const RasterInfo& info = stage.info;
  const nn::Model& model = stage.model;
  const ErrorContext& at_model = stage.at_model;
  DetectPlan p;
  p.input = stage.input;
  resolve_fixed_window(p, model, at_model);
  resolve_instances(p, model, o);
  if (o.simplify < 0) throw UsageError("simplify", "must not be negative");
  if (o.simplify > 0 && !p.instances) throw UsageError("simplify", "applies to instance masks, and the model finds boxes");
  if (!o.instance_raster.empty() && !p.instances)
    throw UsageError("instance_raster", "is written for instance masks, and the model finds boxes");
  plan_detection_tiling(p, model, info, o);
  resolve_layout(p, model, o, at_model);
  resolve_thresholds(p, model.metadata(), o);
  p.class_names = scored_class_names(p, model.metadata());
  return p;
}

TileGrid plan_detection_grid(const DetectPlan& p, const RasterInfo& info, const DetectOptions& o) {
  if (p.fixed_size && o.tta == DetectionAugmentation::D4 && p.fixed_w != p.fixed_h)
    throw UsageError("tta", "d4 transposes windows, which the model's fixed " + std::to_string(p.fixed_w) + " x " +
                                std::to_string(p.fixed_h) + " input cannot take: use `tta` flips");
  return p.fixed_size ? fixed_window_grid(p.tiling, info, p.fixed_w, p.fixed_h) : detail::model_tile_grid(p.tiling, info);
}

// Checked before the writer makes anything: the output's name, and what a shard can write.
void check_detection_outputs(const std::string& output, const DetectOptions& o) {
  check_output_path(output, o.overwrite);
  const bool sharded = !o.stream.shard.whole();
  if (sharded && (o.format.empty() ? vector_driver_for(output) : o.format) != "GPKG")
    throw UsageError("shard", "detection shards are GeoPackages (.gpkg): they carry the boxes luojia-merge suppresses across shard borders");
  if (sharded && !o.pixel_boxes.empty()) throw UsageError("pixel_boxes", "cannot be written by shards (merge them, then write)");
  check_output_path(o.instance_raster, o.overwrite);
}

void check_placement(DetectPlan& p, const DetectionWriter& writer, bool sharded) {
  if (const std::string placed = writer.placement().note(); !placed.empty()) p.add_note(placed);
  if (sharded && writer.placement().method() != detail::PixelPlacement::Method::Geotransform &&
      writer.placement().method() != detail::PixelPlacement::Method::Pixels)
    throw UsageError("shard", "detection shards of a raster placed by RPCs or GCPs cannot be merged yet: run it whole");
}

// ---- run: each tile's boxes, the anchors it owns -----------------------------------------------

// One network run over a tile: which view of the read window (a D4 symmetry) the network saw, at
// what size, and its output's anchor grids when the analysis knows them.
struct TileView {
  const InputTile& in;
  const std::vector<std::uint8_t>& inside;  // the area of interest over the core, when one is given
  std::size_t symmetry;
  std::int64_t nw, nh;  // the network input before the symmetry
  const nn::OutputAnalysis* map;
};

// The kernel's work: the network over each tile (and its mirrored views), boxes decoded and kept
// when the tile owns their anchor, in raster pixels, held by tile index until the sink takes them.
class TileDetector {
public:
  TileDetector(const detail::ModelStage& stage, const DetectPlan& plan, const detail::AreaOfInterest* aoi)
      : stage_(stage), plan_(plan), at_model_(stage.at_model), aoi_(aoi), anchors_(stage.model, plan.input.input_channels[0]),
        whole_(plan.tiling.analysis.anchors, plan.tiling.padded_width, plan.tiling.padded_height), width_(stage.info.width),
        height_(stage.info.height) {}

  // The boxes this tile owns (none for a tile without data).
  std::vector<Detection> detect(const InputTile& in) {
    const Window& r = in.tile.read;
    std::vector<Detection> kept;
    // The network's input: the read window, or a fixed-size model's window (edge windows
    // completed by reflection).
    const std::int64_t nw = plan_.fixed_size ? plan_.fixed_w : r.width, nh = plan_.fixed_size ? plan_.fixed_h : r.height;
    const std::int64_t alignment = plan_.tiling.alignment;
    if (!plan_.fixed_size && plan_.symmetries > 1 && (r.width % alignment != 0 || r.height % alignment != 0))
      throw Error("internal: a read window of " + std::to_string(r.width) + " x " + std::to_string(r.height) +
                  " is not aligned to the model's stride " + std::to_string(alignment) + ", which mirrored tiles need");
    if (!in.any_valid())
      ++skipped_;
    else
      kept = owned_boxes(in, nw, nh);
    return kept;
  }

  std::int64_t skipped() const { return skipped_.load(); }
  std::int64_t candidates() const { return candidates_.load(); }

  // The mask of a kept box whose prototypes reached past its tile's sure ones: the network over a
  // window of its own around the cells the mask reads, their receptive radius included.
  std::shared_ptr<const InstanceMask> own_window_mask(Raster& raster, const Detection& d, const ReadOptions& read) {
    const std::int64_t scale = plan_.proto_scale, pw = plan_.tiling.padded_width, ph = plan_.tiling.padded_height;
    const detail::CellRange cells = detail::cells_of_mask(d, width_, height_, ph / scale, pw / scale, scale);
    const std::int64_t a = plan_.tiling.alignment, margin = plan_.proto_radius + scale;
    const auto span = [&](std::int64_t c0, std::int64_t c1, std::int64_t padded) {
      const std::int64_t lo = std::max<std::int64_t>(0, c0 * scale - margin) / a * a;
      return std::pair{lo, std::min(padded, detail::round_up(c1 * scale + margin, a)) - lo};
    };
    const auto [x0, w] = span(cells.col0, cells.col1, pw);
    const auto [y0, h] = span(cells.row0, cells.row1, ph);
    Tile tile;
    tile.index = -1;
    tile.read = tile.core = Window{x0, y0, w, h};
    Image pixels;
    Mask valid;
    raster.read_into(tile.read, plan_.input.bands, pixels, read, &valid);
    nn::Tensor x({1, plan_.input.channels(), h, w});
    detail::network_input(InputTile{tile, pixels, valid}, plan_.input, width_, height_, x);
    std::vector<nn::Tensor> outputs;
    {
      const auto session = stage_.session();
      outputs = session->run(plan_.input.split(x));
    }
    const std::optional<detail::MaskLogits> logits =
        detail::mask_logits(d, prototypes(outputs.at(1), tile.read, pw, ph), width_, height_);
    if (!logits) throw Error("internal: a mask reads prototypes outside the window made for it");
    return std::make_shared<const InstanceMask>(detail::draw_mask(*logits));
  }

private:
  detail::PrototypeView prototypes(const nn::Tensor& protos, const Window& read, std::int64_t padded_width,
                                   std::int64_t padded_height) const {
    const nn::Shape& s = protos.shape();
    if (s.size() != 4 || s[1] != plan_.decode.mask_channels || s[2] * plan_.proto_scale != read.height ||
        s[3] * plan_.proto_scale != read.width)
      raise("the model's prototypes " + nn::to_string(s) + " are not 1/" + std::to_string(plan_.proto_scale) + " of its " +
                std::to_string(read.width) + " x " + std::to_string(read.height) + " input",
            at_model_);
    return detail::prototype_view(protos.data(), s[1], read.x, read.y, read.width, read.height, padded_width, padded_height,
                                  plan_.proto_scale, plan_.proto_radius);
  }

  // The box's mask logits when the tile's sure prototypes hold them (drawn if the box is kept);
  // else its coefficients stay for own_window_mask.
  static void attach_mask(Detection& d, const detail::PrototypeView& protos, bool clip, std::int64_t width, std::int64_t height) {
    if (std::optional<detail::MaskLogits> m = detail::mask_logits(d, protos, width, height, clip)) {
      d.mask_logits = std::make_shared<const detail::MaskLogits>(std::move(*m));
      d.coefficients = {};
    }
  }
  void attach_mask(Detection& d, const detail::PrototypeView& protos, bool clip) const { attach_mask(d, protos, clip, width_, height_); }

  std::vector<Detection> owned_boxes(const InputTile& in, std::int64_t nw, std::int64_t nh) {
    const Window& r = in.tile.read;
    const Window& core = in.tile.core;
    const detail::ModelInput& input = plan_.input;
    std::vector<Detection> kept;
    nn::Tensor x({1, input.channels(), r.height, r.width});
    detail::network_input(in, input, width_, height_, x);
    if (nw != r.width || nh != r.height) x = reflect_to(x, nh, nw);
    std::vector<std::uint8_t> inside;
    if (aoi_) {
      inside.assign(static_cast<std::size_t>(core.area()), 1);
      aoi_->restrict(core, inside);
    }
    nn::Tensor xt;
    for (std::size_t s = 0; s < plan_.symmetries; ++s) {
      const detail::Symmetry sym = detail::kD4[s];
      const std::int64_t tw = sym.transpose ? nh : nw, th = sym.transpose ? nw : nh;
      if (s > 0) {
        xt = nn::Tensor({1, input.channels(), th, tw});
        detail::apply_symmetry(x.data(), input.channels(), nh, nw, sym, false, xt.data());
      }
      std::vector<nn::Tensor> outputs;
      {
        const auto session = stage_.session();
        outputs = session->run(input.split(s > 0 ? xt : x));
      }
      const nn::Tensor& y = outputs.at(0);
      std::vector<Detection> boxes = decode_detections(y, plan_.decode);
      candidates_ += static_cast<std::int64_t>(boxes.size());
      const nn::OutputAnalysis* map = plan_.cells_known ? &anchors_.at(tw, th) : nullptr;
      if (map) check_anchor_count(*map, y, tw, th);
      const TileView view{in, inside, s, nw, nh, map};
      // A fixed-size window's prototypes are placed on a grid of its own, clamped at its edges.
      const std::int64_t pw = plan_.fixed_size ? r.x + nw : plan_.tiling.padded_width;
      const std::int64_t ph = plan_.fixed_size ? r.y + nh : plan_.tiling.padded_height;
      const detail::PrototypeView protos =
          plan_.instances ? prototypes(outputs.at(1), Window{r.x, r.y, nw, nh}, pw, ph) : detail::PrototypeView{};
      for (Detection& d : boxes)
        if (take_if_owned(d, view)) {
          if (plan_.instances) attach_mask(d, protos, plan_.masks_clipped);
          kept.push_back(d);
        }
    }
    return kept;
  }

  void check_anchor_count(const nn::OutputAnalysis& map, const nn::Tensor& y, std::int64_t tw, std::int64_t th) const {
    std::int64_t total = 0;
    for (const auto& g : map.anchors) total += g.count();
    const auto axis = static_cast<std::size_t>(map.anchor_axis);
    if (axis >= y.shape().size() || y.shape()[axis] != total)
      raise("the model's output " + nn::to_string(y.shape()) + " does not have the " + std::to_string(total) +
                " anchors its graph lays out for a " + std::to_string(tw) + " x " + std::to_string(th) + " input",
            at_model_);
  }

  // Whether the tile owns box d; if so d is moved into raster pixels (and numbered by its anchor
  // in a whole-image run), else left as it is.
  bool take_if_owned(Detection& d, const TileView& v) const {
    const InputTile& in = v.in;
    const Window& r = in.tile.read;
    const Window& core = in.tile.core;
    const detail::Symmetry sym = detail::kD4[v.symmetry];
    // The pixel (read-window coordinates) that decides whether the box is this tile's: its
    // cell's centre, or without anchor grids its own centre, moved onto the raster (a box
    // reaching past the raster's edge is still a box of the raster).
    detail::Point owner{d.cx, d.cy};
    std::int64_t cell_size = 0, group = 0;
    std::size_t level = 0;
    if (v.map) {
      const auto grid_of = std::find_if(v.map->anchors.begin(), v.map->anchors.end(), [&](const nn::AnchorGrid& g) {
        return d.anchor >= g.first && d.anchor < g.first + g.count();
      });
      if (grid_of == v.map->anchors.end()) return false;
      const std::int64_t cell = (d.anchor - grid_of->first) % (grid_of->height * grid_of->width);
      level = static_cast<std::size_t>(grid_of - v.map->anchors.begin());
      group = (d.anchor - grid_of->first) / (grid_of->height * grid_of->width);
      cell_size = grid_of->stride;
      owner = detail::untransform(detail::Point{static_cast<double>(cell % grid_of->width * cell_size) + static_cast<double>(cell_size) / 2,
                                               static_cast<double>(cell / grid_of->width * cell_size) + static_cast<double>(cell_size) / 2},
                                  sym, v.nh, v.nw);
    } else {
      owner = detail::untransform(owner, sym, v.nh, v.nw);
      owner.x = std::clamp(owner.x, -static_cast<double>(r.x), static_cast<double>(width_ - r.x) - 0.5);
      owner.y = std::clamp(owner.y, -static_cast<double>(r.y), static_cast<double>(height_ - r.y) - 0.5);
    }
    const detail::Box b = detail::untransform(detail::Box{d.cx, d.cy, d.width, d.height, d.angle}, sym, v.nh, v.nw);
    // A cell must start in the core (the read window is aligned to the cells, so a mirrored
    // cell is a cell); a box without one must have its centre there.
    const double ox = owner.x - static_cast<double>(cell_size) / 2, oy = owner.y - static_cast<double>(cell_size) / 2;
    if (ox < static_cast<double>(in.core_x()) || ox >= static_cast<double>(in.core_x() + core.width) ||
        oy < static_cast<double>(in.core_y()) || oy >= static_cast<double>(in.core_y() + core.height))
      return false;
    // The cell's centre must lie on the raster.
    const double gx = static_cast<double>(r.x) + owner.x, gy = static_cast<double>(r.y) + owner.y;
    if (!(gx >= 0 && gy >= 0 && gx < static_cast<double>(width_) && gy < static_cast<double>(height_))) return false;
    const auto lx = static_cast<std::int64_t>(std::floor(owner.x)), ly = static_cast<std::int64_t>(std::floor(owner.y));
    if (!in.mask[static_cast<std::size_t>(ly * r.width + lx)]) return false;
    if (aoi_ && !v.inside[static_cast<std::size_t>((r.y + ly - core.y) * core.width + (r.x + lx - core.x))]) return false;
    if (v.map) d.anchor = static_cast<std::int64_t>(v.symmetry) * whole_.total + whole_.index(level, group, gx, gy);
    d.cx = b.cx + static_cast<double>(r.x);
    d.cy = b.cy + static_cast<double>(r.y);
    d.width = b.width;
    d.height = b.height;
    d.angle = b.angle;
    return true;
  }

  const detail::ModelStage& stage_;
  const DetectPlan& plan_;
  ErrorContext at_model_;
  const detail::AreaOfInterest* aoi_;
  AnchorMap anchors_;
  const WholeImageAnchors whole_;
  std::int64_t width_, height_;
  std::atomic<std::int64_t> skipped_{0}, candidates_{0};
};

// ---- the sink: boxes suppressed as tile rows pass, settled groups written ----------------------

// With a cap, the best max_detections kept so far sit in a min-heap on score.
struct RanksBefore {
  bool operator()(const Detection& a, const Detection& b) const { return ranks_before(a, b); }
};

class SettledBoxes {
public:
  SettledBoxes(const DetectPlan& p, const DetectOptions& o, const TileGrid& grid, DetectionWriter& writer)
      : o_(o), reach_(p.reach), sharded_(!o.stream.shard.whole()), last_col_(grid.cols() - 1), shard_rows_(grid.extent()),
        writer_(writer), nms_(p.iou, o.class_agnostic) {
    if (sharded_) on_border_ = [this](const Extent& e) { return on_border(e); };
  }

  void add(const Tile& t, std::vector<Detection> boxes) {
    nms_.add(std::move(boxes));
    // Once a tile row is done, no box still to come reaches above the next row's top minus reach.
    if (reach_ && t.col == last_col_) emit(nms_.settle(static_cast<double>(t.core.y + t.core.height) - *reach_, on_border_));
  }

  // After the last tile: the rest settled, and with a cap the best written, best first.
  void finish() {
    emit(nms_.settle(INFINITY, on_border_));
    if (o_.max_detections > 0) {
      std::vector<Detection> top;
      while (!best_.empty()) {
        top.push_back(best_.top());
        best_.pop();
      }
      for (auto it = top.rbegin(); it != top.rend(); ++it) writer_.write(*it);
    }
  }

  std::size_t most_held() const { return nms_.most_held(); }

private:
  // A shard hands the groups that may link to a neighbour's boxes to luojia-merge unsuppressed.
  bool on_border(const Extent& e) const {
    if (!reach_) return true;
    const bool above = o_.stream.shard.index > 0, below = o_.stream.shard.index < o_.stream.shard.count - 1;
    return (above && e.y0 < static_cast<double>(shard_rows_.y) + *reach_) ||
           (below && e.y1 > static_cast<double>(shard_rows_.y + shard_rows_.height) - *reach_);
  }

  void emit(StreamingSuppression::Settled settled) {
    for (const Detection& d : settled.border) writer_.write_candidate(d);
    for (Detection& d : settled.kept) {
      if (o_.max_detections == 0 || sharded_) {  // shards are capped when merged
        writer_.write(d);
        continue;
      }
      best_.push(std::move(d));
      if (best_.size() > o_.max_detections) best_.pop();
    }
  }

  const DetectOptions& o_;
  std::optional<double> reach_;
  bool sharded_;
  std::int64_t last_col_;
  Window shard_rows_;
  DetectionWriter& writer_;
  StreamingSuppression nms_;
  std::function<bool(const Extent&)> on_border_;  // empty unless sharded
  std::priority_queue<Detection, std::vector<Detection>, RanksBefore> best_;
};

// The head: prepare (plan, grid, writer), run (each tile's owned boxes through streaming NMS),
// done (the last boxes settled, masks that needed windows of their own, the products committed).
class DetectHead : public detail::TaskHead<std::vector<Detection>> {
public:
  DetectHead(const std::string& output, const DetectOptions& o) : output_(output), o_(o) {}

  TileGrid plan(detail::ModelStage& stage) override {
    plan_ = plan_detection(stage, o_);
    stage.tiling = plan_.tiling;
    return plan_detection_grid(plan_, stage.info, o_);
  }

  void open(const detail::ModelStage& stage) override {
    if (!o_.aoi.empty() || !o_.mask.empty()) aoi_ = std::make_unique<detail::AreaOfInterest>(stage.info, o_.aoi, o_.mask);
    check_detection_outputs(output_, o_);
    writer_.emplace(stage.info, output_, o_, plan_.class_names, plan_.oriented, plan_.iou, plan_.instances);
    check_placement(plan_, *writer_, !o_.stream.shard.whole());
    plan_.symmetries = o_.tta == DetectionAugmentation::D4 ? 8 : o_.tta == DetectionAugmentation::Flips ? 4 : 1;
    detector_.emplace(stage, plan_, aoi_.get());
    settled_.emplace(plan_, o_, stage.grid(), *writer_);
  }

  // Per tile in flight: activations and the network's input (twice with tta).
  detail::TileBudget budget(const detail::ModelStage& stage) override {
    plan_.report.activation_bytes = plan_.fixed_size ? detail::activation_bytes(stage.model, plan_.input, plan_.fixed_w, plan_.fixed_h)
                                                     : stage.activation_bytes();
    const std::int64_t window_area = plan_.fixed_size ? plan_.fixed_w * plan_.fixed_h : stage.grid().max_read_window().area();
    return {plan_.report.activation_bytes +
                static_cast<std::size_t>(window_area) * static_cast<std::size_t>(plan_.input.channels()) * 4 * (plan_.symmetries > 1 ? 2 : 1),
            0};
  }

  // Each tile's owned boxes travel with it from the kernel to the NMS, in tile order.
  void compute(const InputTile& in, const detail::ModelStage&, std::vector<Detection>& boxes) override { boxes = detector_->detect(in); }
  void consume(const Tile& t, std::vector<Detection>& boxes) override { settled_->add(t, std::move(boxes)); }

  void finish(const detail::ModelStage& stage, const StreamStats& stats) override {
    settled_->finish();
    const ReadOptions read = stage.stream().read;
    auto [pending, pending_candidates] = writer_->take_pending();
    for (Detection& d : pending) {
      d.mask = detector_->own_window_mask(stage.raster, d, read);
      writer_->write(d);
      ++plan_.report.masks_from_own_window;
    }
    for (Detection& d : pending_candidates) {
      d.mask = detector_->own_window_mask(stage.raster, d, read);
      writer_->write_candidate(d);
      ++plan_.report.masks_from_own_window;
    }
    writer_->commit();

    DetectReport& report = plan_.report;
    report.tiles = stats.tiles;
    report.skipped = detector_->skipped();
    report.candidates = detector_->candidates();
    report.detections = writer_->count();
    report.most_held = settled_->most_held();
    report.box_reach = plan_.reach;
    report.empty_masks = writer_->empty_masks();
    report.written.push_back(output_);
    if (!o_.pixel_boxes.empty()) report.written.push_back(o_.pixel_boxes);
    if (plan_.instances && !o_.instance_raster.empty()) report.written.push_back(o_.instance_raster);
  }

  const DetectReport& report() const { return plan_.report; }

private:
  const std::string& output_;
  const DetectOptions& o_;
  DetectPlan plan_;
  std::unique_ptr<detail::AreaOfInterest> aoi_;
  std::optional<DetectionWriter> writer_;
  std::optional<TileDetector> detector_;
  std::optional<SettledBoxes> settled_;
};

DetectReport run_detect(Raster& raster, const nn::Model& model, const std::string& output, const DetectOptions& o) {
  DetectHead head(output, o);
  detail::run_model_task(raster, model, o, head);
  return head.report();
}

}  // namespace

DetectReport detect(Raster& input, const nn::Model& model, const std::string& output, const DetectOptions& options) {
  detail::refuse_load_options(options.load, detail::kLoadedModel);
  return run_detect(input, model, output, options);
}

DetectReport detect(const std::string& input, const std::string& model, const std::string& output, const DetectOptions& options) {
  Raster raster = Raster::open(input);
  const nn::Model loaded = detail::load_model(model, options.registry, options.load);
  return run_detect(raster, loaded, output, options);
}

}  // namespace luojia
