#include "nn/layers/grid_sample.hpp"

#include "core/parallel.hpp"

namespace luojia::nn::layers {
namespace {

// PyTorch's reflect_coordinates: x reflected into [low2 / 2, high2 / 2].
double reflect(double x, double low2, double high2) {
  if (low2 == high2) return 0;
  const double low = low2 / 2, span = (high2 - low2) / 2;
  x = std::fabs(x - low);
  const double extra = std::fmod(x, span);
  const auto flips = static_cast<std::int64_t>(std::floor(x / span));
  return flips % 2 == 0 ? extra + low : span - extra + low;
}

}  // namespace

GridSample::GridSample(const NodeInfo& node) : Layer(node) {
  const std::string mode = node.attributes.get_string("mode", node.opset >= 20 ? "linear" : "bilinear");
  if (mode == "bilinear" || mode == "linear") mode_ = Mode::Linear;
  else if (mode == "nearest") mode_ = Mode::Nearest;
  else if (mode == "bicubic" || mode == "cubic") mode_ = Mode::Cubic;
  else fail("unknown mode '" + mode + "'");
  const std::string padding = node.attributes.get_string("padding_mode", "zeros");
  if (padding == "zeros") padding_ = Padding::Zeros;
  else if (padding == "border") padding_ = Padding::Border;
  else if (padding == "reflection") padding_ = Padding::Reflection;
  else fail("unknown padding_mode '" + padding + "'");
  align_corners_ = node.attributes.get_int("align_corners", 0) != 0;
}

std::vector<ValueInfo> GridSample::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2) fail("needs X and grid");
  const Shape& x = in[0].shape;
  const Shape& g = in[1].shape;
  if (x.size() != 4) fail("samples 2 spatial axes (N, C, H, W), not " + to_string(x));
  if (g.size() != 4 || g[0] != x[0] || g[3] != 2) fail("grid " + to_string(g) + " should be (N, H_out, W_out, 2) for X " + to_string(x));
  return {ValueInfo{{x[0], x[1], g[1], g[2]}, ElementType::Float32, std::nullopt, true}};
}

void GridSample::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const auto grid = in[1].to_floats();
  const std::int64_t batch = x.dim(0), channels = x.dim(1), h = x.dim(2), w = x.dim(3);
  const std::int64_t ho = out[0].dim(2), wo = out[0].dim(3);
  const auto unnormalise = [&](double c, std::int64_t size) {
    return align_corners_ ? (c + 1) / 2 * static_cast<double>(size - 1) : ((c + 1) * static_cast<double>(size) - 1) / 2;
  };
  // The padding applied to a coordinate (bilinear, nearest) or to a tap (bicubic).
  const auto pad = [&](double c, std::int64_t size) {
    const double last = static_cast<double>(size - 1);
    if (padding_ == Padding::Border) return std::clamp(c, 0.0, last);
    if (padding_ == Padding::Reflection) {
      c = align_corners_ ? reflect(c, 0, 2 * last) : reflect(c, -1, 2 * static_cast<double>(size) - 1);
      return std::clamp(c, 0.0, last);
    }
    return c;
  };
  const auto value = [&](const float* plane, std::int64_t yy, std::int64_t xx) -> double {
    return yy >= 0 && yy < h && xx >= 0 && xx < w ? plane[yy * w + xx] : 0.0;
  };
  const auto cubic = [](double t, double* c) {
    constexpr double A = -0.75;
    const auto near = [&](double s) { return ((A + 2) * s - (A + 3)) * s * s + 1; };
    const auto far = [&](double s) { return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A; };
    c[0] = far(t + 1);
    c[1] = near(t);
    c[2] = near(1 - t);
    c[3] = far(2 - t);
  };
  luojia::detail::parallel_for(std::int64_t{0}, batch * ho, [&](std::int64_t row) {
    const std::int64_t n = row / ho, oy = row % ho;
    for (std::int64_t ox = 0; ox < wo; ++ox) {
      const std::size_t g = static_cast<std::size_t>(((n * ho + oy) * wo + ox) * 2);
      double ix = unnormalise(grid[g], w), iy = unnormalise(grid[g + 1], h);
      for (std::int64_t c = 0; c < channels; ++c) {
        const float* plane = x.data() + (n * channels + c) * h * w;
        double v = 0;
        if (mode_ == Mode::Cubic) {
          const double fx = std::floor(ix), fy = std::floor(iy);
          double cx[4], cy[4];
          cubic(ix - fx, cx);
          cubic(iy - fy, cy);
          for (int j = 0; j < 4; ++j) {
            const double ty = pad(fy - 1 + j, h);
            for (int i = 0; i < 4; ++i) {
              const double tx = pad(fx - 1 + i, w);
              v += cy[j] * cx[i] * value(plane, static_cast<std::int64_t>(ty), static_cast<std::int64_t>(tx));
            }
          }
        } else {
          const double px = pad(ix, w), py = pad(iy, h);
          if (mode_ == Mode::Nearest) {
            v = value(plane, static_cast<std::int64_t>(std::nearbyint(py)), static_cast<std::int64_t>(std::nearbyint(px)));
          } else {
            const double fx = std::floor(px), fy = std::floor(py), tx = px - fx, ty = py - fy;
            const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
            v = (1 - ty) * ((1 - tx) * value(plane, y0, x0) + tx * value(plane, y0, x0 + 1)) +
                ty * ((1 - tx) * value(plane, y0 + 1, x0) + tx * value(plane, y0 + 1, x0 + 1));
          }
        }
        out[0].data()[((n * channels + c) * ho + oy) * wo + ox] = static_cast<float>(v);
      }
    }
  });
}

Footprint GridSample::footprint() const {
  return Footprint::global("GridSample reads X where its grid points, a grid computed at run time");
}

}  // namespace luojia::nn::layers
