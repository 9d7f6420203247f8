#pragma once
// An instance's mask as runs over a window of the raster: memory follows the object's outline,
// never the raster's size (a SAHI-style merge keeps a full-image mask per object).
#include <luojia/export.hpp>

#include <cstdint>
#include <vector>

namespace luojia {

struct InstanceMask {
  std::int64_t x0 = 0, y0 = 0;         // raster pixel of the window's top-left corner
  std::int64_t width = 0, height = 0;  // the window
  // Row-major run lengths over the window, alternating outside / inside, starting outside (a
  // first run of 0 when the window's first pixel is inside).
  std::vector<std::uint32_t> runs;

  // Pixels inside.
  LUOJIA_API std::int64_t pixels() const;
  // width x height bytes, 1 inside.
  LUOJIA_API std::vector<std::uint8_t> dense() const;
  LUOJIA_API static InstanceMask from_dense(std::int64_t x0, std::int64_t y0, std::int64_t width, std::int64_t height,
                                            const std::uint8_t* inside);
  // COCO's uncompressed RLE counts of the mask in an image_width x image_height image: run
  // lengths in column-major order, alternating outside / inside, starting outside.
  LUOJIA_API std::vector<std::int64_t> coco_counts(std::int64_t image_width, std::int64_t image_height) const;
};

}  // namespace luojia
