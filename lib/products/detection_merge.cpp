// luojia-detect's shards back into one layer: every shard's final boxes as they are, and the boxes
// each shard left unsuppressed at its borders suppressed together, which gives the boxes of one
// run over the whole raster.
#include <luojia/products/detection.hpp>
#include <luojia/error.hpp>
#include <luojia/products/merge.hpp>

#include "io/gdal_support.hpp"
#include "io/vector_output.hpp"
#include "products/coco_boxes.hpp"
#include "products/detection_shards.hpp"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <queue>

namespace luojia {

using detail::DatasetPtr;
using detail::GdalErrorTrap;

bool is_detection_shard(const std::string& path) {
  detail::register_gdal();
  GdalErrorTrap trap;
  DatasetPtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  return ds && ds->GetLayerByName(detail::kCandidateLayer) != nullptr;
}

namespace {

// A shard's final layer: "detections" (boxes) or "instances" (instance masks).
OGRLayer* final_layer(GDALDataset& ds) {
  OGRLayer* boxes = ds.GetLayerByName("detections");
  return boxes ? boxes : ds.GetLayerByName("instances");
}

// The shards of one job, opened and checked against each other: all there, once each, with the
// same NMS settings, layer and CRS.
struct DetectionShards {
  std::vector<DatasetPtr> datasets;
  double iou = 0.0;
  bool class_agnostic = false;
  std::size_t max_detections = 0;
  std::string pixel_image;  // the COCO image record (empty in shards of earlier versions)
  std::unique_ptr<OGRSpatialReference> srs;

  OGRLayer* first() const { return final_layer(*datasets[0]); }
  bool instances() const { return std::string(first()->GetName()) == "instances"; }
};

DetectionShards open_detection_shards(const std::vector<std::string>& paths, const ErrorContext& where) {
  if (paths.empty()) raise("no shards to merge", where);
  DetectionShards shards;
  std::vector<bool> seen;
  std::string iou_text, agnostic_text, max_text;
  for (const auto& path : paths) {
    const ErrorContext at{path, {}, {}, {}};
    GdalErrorTrap trap;
    DatasetPtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds) raise("not a vector dataset GDAL can read: " + trap.message_about(path, "unrecognised format"), at);
    if (!final_layer(*ds) || !ds->GetLayerByName(detail::kCandidateLayer))
      raise("has no detections (or instances) and nms_candidates layers: not a luojia-detect shard", at);
    const char* shard_text = ds->GetMetadataItem("LUOJIA_SHARD");
    if (!shard_text) raise("has no LUOJIA_SHARD metadata: not a luojia-detect shard", at);
    const Shard shard = parse_shard(shard_text);
    if (seen.empty()) seen.assign(static_cast<std::size_t>(shard.count), false);
    if (static_cast<int>(seen.size()) != shard.count)
      raise("is shard " + std::string(shard_text) + ", of another job than " + paths[0] + " (" + std::to_string(seen.size()) + " shards)", at);
    if (seen[static_cast<std::size_t>(shard.index)]) raise("is shard " + std::string(shard_text) + " again", at);
    seen[static_cast<std::size_t>(shard.index)] = true;
    const auto item = [&](const char* key) { return std::string(ds->GetMetadataItem(key) ? ds->GetMetadataItem(key) : ""); };
    if (shards.datasets.empty()) {
      iou_text = item("LUOJIA_NMS_IOU");
      agnostic_text = item("LUOJIA_NMS_CLASS_AGNOSTIC");
      max_text = item("LUOJIA_MAX_DETECTIONS");
      shards.pixel_image = item(detail::kPixelImageItem);
      if (const OGRSpatialReference* s = final_layer(*ds)->GetSpatialRef()) shards.srs.reset(s->Clone());
    } else if (item("LUOJIA_NMS_IOU") != iou_text || item("LUOJIA_NMS_CLASS_AGNOSTIC") != agnostic_text ||
               item("LUOJIA_MAX_DETECTIONS") != max_text) {
      raise("was made with other NMS settings than " + paths[0], at);
    } else if (std::string(final_layer(*ds)->GetName()) != shards.first()->GetName()) {
      raise("holds " + std::string(final_layer(*ds)->GetName()) + ", and " + paths[0] + " " + shards.first()->GetName(), at);
    } else {
      const OGRSpatialReference* s = final_layer(*ds)->GetSpatialRef();
      if ((s == nullptr) != (shards.srs == nullptr) || (s && !s->IsSame(shards.srs.get()))) raise("has another CRS than " + paths[0], at);
    }
    shards.datasets.push_back(std::move(ds));
  }
  for (std::size_t k = 0; k < seen.size(); ++k)
    if (!seen[k]) raise("shard " + std::to_string(k + 1) + "/" + std::to_string(seen.size()) + " is missing", where);
  shards.iou = std::atof(iou_text.c_str());
  shards.class_agnostic = agnostic_text == "1";
  shards.max_detections = static_cast<std::size_t>(std::atoll(max_text.c_str()));
  return shards;
}

// A feature's box in the pixel geometry the shard kept for it (px_* fields).
Detection pixel_box(const OGRFeature& f) {
  Detection d;
  d.class_id = f.GetFieldAsInteger("class_id");
  d.score = static_cast<float>(f.GetFieldAsDouble("score"));
  d.cx = f.GetFieldAsDouble("px_cx");
  d.cy = f.GetFieldAsDouble("px_cy");
  d.width = f.GetFieldAsDouble("px_width");
  d.height = f.GetFieldAsDouble("px_height");
  d.angle = f.GetFieldAsDouble("px_angle");
  const int anchor = f.GetFieldIndex("px_anchor");  // (shards of earlier versions have none)
  d.anchor = anchor >= 0 ? f.GetFieldAsInteger64(anchor) : -1;
  return d;
}

// The pixel boxes need every box's pixel geometry, which shards of earlier versions lack.
std::unique_ptr<detail::CocoBoxes> coco_output(const DetectionShards& shards, const std::string& first_path, const MergeOptions& options) {
  if (options.pixel_boxes.empty()) return nullptr;
  if (shards.instances())
    throw UsageError("pixel_boxes", "of instance segmentation shards are not written yet (their masks stay polygons): run the raster whole");
  if (shards.pixel_image.empty() || shards.first()->GetLayerDefn()->GetFieldIndex("px_cx") < 0)
    raise("has no pixel geometry for its final boxes (a shard of an earlier luojia-detect): run the shards again to write pixel boxes",
          ErrorContext{first_path, {}, {}, {}});
  return std::make_unique<detail::CocoBoxes>(options.pixel_boxes, detail::CocoImage::from_json(shards.pixel_image), options.output.overwrite);
}

}  // namespace

MergeReport merge_detection_shards(const std::vector<std::string>& paths, const std::string& output, const MergeOptions& options) {
  detail::register_gdal();
  const ErrorContext where{output, {}, {}, {}};
  DetectionShards shards = open_detection_shards(paths, where);
  OGRLayer* first = shards.first();
  const bool instances = shards.instances();
  const std::unique_ptr<detail::CocoBoxes> coco = coco_output(shards, paths[0], options);
  const std::size_t max_detections = shards.max_detections;

  detail::VectorOutput out(output, options.output.overwrite);
  GdalErrorTrap trap;
  OGRFeatureDefn* fields = first->GetLayerDefn();
  OGRLayer* layer = out.dataset().CreateLayer(first->GetName(), shards.srs ? shards.srs->Clone() : nullptr, first->GetGeomType(), nullptr);
  if (!layer) raise("cannot create a layer: " + trap.message("layer creation failed"), where);
  for (int f = 0; f < fields->GetFieldCount(); ++f)  // the pixel geometry stays in the shards
    if (std::string(fields->GetFieldDefn(f)->GetNameRef()).rfind("px_", 0) != 0) layer->CreateField(fields->GetFieldDefn(f));
  const bool transaction = out.dataset().TestCapability(ODsCTransactions) && out.dataset().StartTransaction() == OGRERR_NONE;
  MergeReport report;
  report.shards = static_cast<int>(shards.datasets.size());
  const auto put = [&](const OGRFeature& from) {
    // A candidate instance without a mask pixel took part in the suppression; it is not written.
    if (instances && (!from.GetGeometryRef() || from.GetGeometryRef()->IsEmpty())) return;
    OGRFeature f(layer->GetLayerDefn());
    f.SetFrom(&from, TRUE);  // by field name: the pixel fields are left behind
    if (layer->CreateFeature(&f) != OGRERR_NONE) raise("cannot write a detection: " + trap.message("CreateFeature failed"), where);
    if (coco) coco->add(pixel_box(from));
    ++report.polygons;
  };
  // With a cap, the best max_detections of all (a min-heap on score).
  using Scored = std::pair<double, std::unique_ptr<OGRFeature>>;
  const auto worse = [](const Scored& a, const Scored& b) { return a.first > b.first; };
  std::priority_queue<Scored, std::vector<Scored>, decltype(worse)> best(worse);
  const auto keep = [&](std::unique_ptr<OGRFeature> f) {
    if (max_detections == 0) return put(*f);
    const double score = f->GetFieldAsDouble("score");
    best.emplace(score, std::move(f));
    if (best.size() > max_detections) best.pop();
  };
  std::vector<Detection> candidates;
  std::vector<std::unique_ptr<OGRFeature>> candidate_features;
  for (auto& ds : shards.datasets) {
    for (auto& f : *final_layer(*ds)) keep(std::unique_ptr<OGRFeature>(f.release()));
    for (auto& f : *ds->GetLayerByName(detail::kCandidateLayer)) {
      candidates.push_back(pixel_box(*f));
      candidate_features.emplace_back(f.release());
    }
  }
  const std::vector<std::size_t> kept = non_maximum_suppression(candidates, shards.iou, shards.class_agnostic);
  report.joined = static_cast<std::int64_t>(candidates.size() - kept.size());
  for (std::size_t i : kept) keep(std::move(candidate_features[i]));
  std::vector<std::unique_ptr<OGRFeature>> top;
  while (!best.empty()) {
    top.push_back(std::move(const_cast<Scored&>(best.top()).second));
    best.pop();
  }
  for (auto it = top.rbegin(); it != top.rend(); ++it) put(**it);
  if (transaction && out.dataset().CommitTransaction() != OGRERR_NONE)
    raise("cannot finish the vector output: " + trap.message("commit failed"), where);
  out.finish();
  if (coco) coco->finish();
  out.commit();
  if (coco) coco->commit();
  return report;
}

}  // namespace luojia
