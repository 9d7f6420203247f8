#pragma once
// A rectangle of pixels: what is read, computed and written.
#include <cstdint>

namespace luojia {

// A rectangle of pixels. Offsets may be negative and the rectangle may reach past the raster:
// a tile's read window with its halo does at the raster's edges.
struct Window {
  std::int64_t x = 0;
  std::int64_t y = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;

  std::int64_t right() const { return x + width; }
  std::int64_t bottom() const { return y + height; }
  std::int64_t area() const { return width * height; }
  bool empty() const { return width <= 0 || height <= 0; }
  bool contains(const Window& other) const {
    return other.x >= x && other.y >= y && other.right() <= right() && other.bottom() <= bottom();
  }
  friend bool operator==(const Window&, const Window&) = default;
};

inline Window intersection(const Window& a, const Window& b) {
  const std::int64_t x0 = a.x > b.x ? a.x : b.x;
  const std::int64_t y0 = a.y > b.y ? a.y : b.y;
  const std::int64_t x1 = a.right() < b.right() ? a.right() : b.right();
  const std::int64_t y1 = a.bottom() < b.bottom() ? a.bottom() : b.bottom();
  if (x1 <= x0 || y1 <= y0) return {x0, y0, 0, 0};
  return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace luojia
