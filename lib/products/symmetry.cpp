#include "products/symmetry.hpp"

#include <utility>

namespace luojia::detail {

void apply_symmetry(const float* in, std::int64_t channels, std::int64_t h, std::int64_t w, Symmetry s, bool inverse,
                    float* out) {
  // Output dims: transposed when s.transpose (the inverse maps back to h x w).
  const std::int64_t oh = (s.transpose && !inverse) ? w : h, ow = (s.transpose && !inverse) ? h : w;
  // For the inverse, in has the transformed dims.
  const std::int64_t ih = inverse && s.transpose ? w : h, iw = inverse && s.transpose ? h : w;
  for (std::int64_t c = 0; c < channels; ++c) {
    const float* src = in + c * ih * iw;
    float* dst = out + c * oh * ow;
    for (std::int64_t y = 0; y < oh; ++y)
      for (std::int64_t x = 0; x < ow; ++x) {
        std::int64_t sy, sx;
        if (!inverse) {
          // forward: flips act on the output coordinates of the transposed image
          const std::int64_t fy = s.flip_y ? oh - 1 - y : y, fx = s.flip_x ? ow - 1 - x : x;
          sy = s.transpose ? fx : fy;
          sx = s.transpose ? fy : fx;
        } else {
          // inverse: out(y, x) is the pixel that the forward map sent (y, x) to
          const std::int64_t ty = s.transpose ? x : y, tx = s.transpose ? y : x;
          sy = s.flip_y ? ih - 1 - ty : ty;
          sx = s.flip_x ? iw - 1 - tx : tx;
        }
        dst[y * ow + x] = src[sy * iw + sx];
      }
  }
}

Point untransform(Point p, Symmetry s, std::int64_t h, std::int64_t w) {
  // T(image) is ow x oh; the pixel (x, y) of it is image(sy, sx) as apply_symmetry reads it, so
  // in continuous coordinates a mirror of n pixels maps x to n - x.
  const double ow = static_cast<double>(s.transpose ? h : w), oh = static_cast<double>(s.transpose ? w : h);
  const double fx = s.flip_x ? ow - p.x : p.x, fy = s.flip_y ? oh - p.y : p.y;
  return s.transpose ? Point{fy, fx} : Point{fx, fy};
}

Box untransform(Box b, Symmetry s, std::int64_t h, std::int64_t w) {
  const Point c = untransform(Point{b.cx, b.cy}, s, h, w);
  const int mirrors = int{s.transpose} + int{s.flip_x} + int{s.flip_y};
  if (s.transpose) std::swap(b.width, b.height);
  return Box{c.x, c.y, b.width, b.height, mirrors % 2 ? -b.angle : b.angle};
}

}  // namespace luojia::detail
