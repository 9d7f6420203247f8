#pragma once
// The eight symmetries of the square (D4) that test-time augmentation runs a network under:
// applied to C x h x w planes, and to points and boxes, which is how detections found on a
// transformed image are carried back.
#include <cstdint>

namespace luojia::detail {

struct Symmetry {
  bool transpose = false, flip_x = false, flip_y = false;
};
// The first four are the flips (none, x, y, both); all eight are D4.
constexpr Symmetry kD4[] = {{false, false, false}, {false, true, false}, {false, false, true}, {false, true, true},
                            {true, false, false},  {true, true, false},  {true, false, true},  {true, true, true}};

// out = T(in): out(y, x) = in(src), where transpose swaps axes and flips mirror them (after the
// transpose). inverse undoes it.
void apply_symmetry(const float* in, std::int64_t channels, std::int64_t h, std::int64_t w, Symmetry s, bool inverse,
                    float* out);

// A point (continuous pixel coordinates, x right, y down) of T(image), image being w x h, back
// in the image's coordinates.
struct Point {
  double x, y;
};
Point untransform(Point p, Symmetry s, std::int64_t h, std::int64_t w);

// A box (centre, size, rotation clockwise in radians) of T(image) back in the image: its centre
// as a point; a transpose swaps its sides; each mirror (transpose included) negates its angle.
struct Box {
  double cx, cy, width, height, angle;
};
Box untransform(Box b, Symmetry s, std::int64_t h, std::int64_t w);

}  // namespace luojia::detail
