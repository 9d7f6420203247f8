#pragma once
// What a luojia-detect shard (a GeoPackage) carries for luojia-merge besides its final boxes.
namespace luojia::detail {

// Boxes of groups that may link to boxes of a neighbouring shard, not yet suppressed, with their
// pixel geometry (px_cx, px_cy, px_width, px_height, px_angle) and anchor number in the whole raster's
// run (px_anchor, for ties); the dataset's metadata holds
// LUOJIA_SHARD (K/N), LUOJIA_NMS_IOU, LUOJIA_NMS_CLASS_AGNOSTIC and LUOJIA_MAX_DETECTIONS.
inline constexpr const char* kCandidateLayer = "nms_candidates";
// The dataset's metadata item describing the image for pixel boxes (CocoImage::to_json); the final
// boxes of the "detections" layer carry the same px_ fields as the candidates.
inline constexpr const char* kPixelImageItem = "LUOJIA_PIXEL_IMAGE";

}  // namespace luojia::detail
