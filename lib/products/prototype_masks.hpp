#pragma once
// Instance masks from a YOLO-seg network's prototypes, as Ultralytics' retina masks make them:
// logits = coefficients . prototypes, upsampled bilinearly (half-pixel centres, PyTorch's
// F.interpolate with align_corners False), cropped to the box, inside where the logit is above 0.
#include <luojia/products/detection.hpp>
#include <luojia/products/instance_mask.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

class OGRGeometry;

namespace luojia::detail {

// The prototypes of one run, placed on the whole (padded) image's grid of prototype cells.
struct PrototypeView {
  const float* data = nullptr;  // channels x rows x cols
  std::int64_t channels = 0, rows = 0, cols = 0;
  std::int64_t first_row = 0, first_col = 0;  // the whole image's cell of data's first one
  // The cells whose values equal the whole image run's, [row0, row1) x [col0, col1).
  std::int64_t sure_row0 = 0, sure_row1 = 0, sure_col0 = 0, sure_col1 = 0;
  std::int64_t grid_rows = 0, grid_cols = 0;  // the whole padded image's cells
  std::int64_t scale = 4;                     // input pixels per cell
};

// The cells a box's mask reads: [row0, row1) x [col0, col1); empty when the box covers no pixel
// of the raster.
struct CellRange {
  std::int64_t row0 = 0, row1 = 0, col0 = 0, col1 = 0;
  bool empty() const { return row1 <= row0 || col1 <= col0; }
};
CellRange cells_of_mask(const Detection& box, std::int64_t raster_width, std::int64_t raster_height, std::int64_t grid_rows,
                        std::int64_t grid_cols, std::int64_t scale);

// The view of a run over read window (x, y, width, height) of the padded image, whose outputs are
// those of the whole image except within radius pixels of a side that is not the image's edge.
PrototypeView prototype_view(const float* data, std::int64_t channels, std::int64_t read_x, std::int64_t read_y,
                             std::int64_t read_width, std::int64_t read_height, std::int64_t padded_width,
                             std::int64_t padded_height, std::int64_t scale, std::int64_t radius);

// A box's mask logits at the prototypes' resolution: what a tile keeps of each candidate (a
// sixteenth of its box's pixels), drawn into an InstanceMask only if the box survives NMS.
struct MaskLogits {
  std::int64_t px0 = 0, py0 = 0, px1 = 0, py1 = 0;  // the raster pixels the mask may cover
  std::int64_t row0 = 0, col0 = 0, rows = 0, cols = 0;  // the cells held
  std::int64_t grid_rows = 0, grid_cols = 0, scale = 4;
  std::vector<float> logits;  // rows x cols
};

// The logits of box (raster pixels, axis-aligned, its coefficients set), or nullopt when it reads
// a cell outside the view's sure ones. clip: hold what the view has instead (pixels whose cells
// it lacks are outside), for fixed-size windows that are not exact anyway.
std::optional<MaskLogits> mask_logits(const Detection& box, const PrototypeView& view, std::int64_t raster_width,
                                      std::int64_t raster_height, bool clip = false);
// The mask drawn from its logits: upsampled over the box's pixels (the crop), inside above 0.
InstanceMask draw_mask(const MaskLogits& logits);

// The mask's polygons (holes kept) in raster pixel coordinates: a MultiPolygon; null when empty.
std::unique_ptr<OGRGeometry> mask_polygons(const InstanceMask& mask);

}  // namespace luojia::detail
