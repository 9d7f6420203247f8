// Resize (opset 11+) and Upsample: nearest and linear over the last two axes, with every
// coordinate_transformation_mode PyTorch exports.
#include "nn/layers/common.hpp"
#include "core/parallel.hpp"
#include "nn/layers/resize.hpp"
#include "nn/saturate.hpp"


namespace luojia::nn::layers {

Resize::Resize(const NodeInfo& node) : Layer(node) {
  const Attributes& a = node.attributes;
  upsample_ = node.op_type == "Upsample";
  mode_ = a.get_string("mode", "nearest");
  if (mode_ == "bilinear") mode_ = "linear";
  if (mode_ == "bicubic") mode_ = "cubic";
  if (mode_ != "nearest" && mode_ != "linear" && mode_ != "cubic") fail("mode '" + mode_ + "' is not supported (nearest, linear, cubic)");
  cubic_a_ = a.get_float("cubic_coeff_a", -0.75f);
  exclude_outside_ = a.get_int("exclude_outside", 0) != 0;
  transform_ = upsample_ ? "asymmetric" : a.get_string("coordinate_transformation_mode", "half_pixel");
  if (transform_ != "half_pixel" && transform_ != "pytorch_half_pixel" && transform_ != "align_corners" &&
      transform_ != "asymmetric")
    fail("coordinate_transformation_mode '" + transform_ + "' is not supported");
  nearest_ = upsample_ ? "floor" : a.get_string("nearest_mode", "round_prefer_floor");
  // Opset 18's additions: axes (scales and sizes for these axes only), the aspect ratio policy,
  // antialiasing (refused when it would change a result: downscaling, in geometry()).
  axes_ = a.get_ints("axes");
  antialias_ = a.get_int("antialias", 0) != 0;
  const std::string policy = a.get_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch") fail("keep_aspect_ratio_policy '" + policy + "' is not supported (stretch)");
}

// Output sizes and the scales the coordinate transform uses.
void Resize::geometry(const std::vector<ValueInfo>& in, Shape& out, std::vector<double>& scales) const {
  const Shape& x = in.at(0).shape;
  out = x;
  scales.assign(x.size(), 1.0);
  const std::size_t scales_input = upsample_ ? 1 : 2;
  const bool have_sizes = !upsample_ && has_input(in, 3) && element_count(in[3].shape) > 0;
  const bool have_scales = has_input(in, scales_input) && element_count(in[scales_input].shape) > 0;
  // Values given for axes_ only, spread over every axis (the others keep size and scale 1).
  const auto spread = [&](auto values, auto fill) {
    if (axes_.empty()) return values;
    if (values.size() != axes_.size()) fail(std::to_string(values.size()) + " values for " + std::to_string(axes_.size()) + " axes");
    decltype(values) full(x.size(), fill);
    for (std::size_t k = 0; k < axes_.size(); ++k) full[static_cast<std::size_t>(normalise_axis(axes_[k], x.size(), *this))] = values[k];
    return full;
  };
  if (have_sizes) {
    std::vector<std::int64_t> sizes = constant_input(in, 3).to_ints();
    if (!axes_.empty()) {
      std::vector<std::int64_t> full(x.begin(), x.end());
      if (sizes.size() != axes_.size()) fail(std::to_string(sizes.size()) + " sizes for " + std::to_string(axes_.size()) + " axes");
      for (std::size_t k = 0; k < axes_.size(); ++k) full[static_cast<std::size_t>(normalise_axis(axes_[k], x.size(), *this))] = sizes[k];
      sizes = full;
    }
    if (sizes.size() != x.size()) fail("sizes has " + std::to_string(sizes.size()) + " values for rank " + std::to_string(x.size()));
    for (std::size_t d = 0; d < x.size(); ++d) {
      out[d] = sizes[d];
      scales[d] = x[d] > 0 ? static_cast<double>(sizes[d]) / static_cast<double>(x[d]) : 1.0;
    }
  } else if (have_scales) {
    const auto s = spread(constant_input(in, scales_input).to_floats(), 1.0f);
    if (s.size() != x.size()) fail("scales has " + std::to_string(s.size()) + " values for rank " + std::to_string(x.size()));
    for (std::size_t d = 0; d < x.size(); ++d) {
      if (!(s[d] > 0.0f)) fail("scales must be positive");
      scales[d] = s[d];
      out[d] = nn::detail::saturate_int64(std::floor(static_cast<double>(x[d]) * static_cast<double>(s[d])));
    }
  } else if (upsample_ && node().attributes.has("scales")) {
    const auto s = node().attributes.get_floats("scales");
    for (std::size_t d = 0; d < x.size() && d < s.size(); ++d) {
      scales[d] = s[d];
      out[d] = nn::detail::saturate_int64(std::floor(static_cast<double>(x[d]) * static_cast<double>(s[d])));
    }
  } else {
    fail("neither scales nor sizes is given");
  }
  // The last two axes, and a volume's depth (N, C, D, H, W: trilinear, as for a cost volume).
  for (std::size_t d = 0; d + 2 < x.size(); ++d)
    if (out[d] != x[d] && !(x.size() == 5 && d == 2)) fail("only the last two axes (three of a 5-D volume) can be resized");
  for (std::size_t d = 0; d < x.size(); ++d)
    if (antialias_ && mode_ != "nearest" && out[d] < x[d])
      fail("antialiased downscaling is not supported; export without antialias (F.interpolate(..., antialias=False))");
}

std::vector<ValueInfo> Resize::infer(const std::vector<ValueInfo>& in) const {
  if (in.at(0).shape.size() < 2) fail("input needs two spatial axes");
  Shape out;
  std::vector<double> scales;
  geometry(in, out, scales);
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

Footprint Resize::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Resample;
  f.reach = mode_ == "cubic" ? 2 : mode_ == "linear" ? 1 : 0;
  f.translation_invariant = transform_ != "align_corners";
  return f;
}

double Resize::source(std::int64_t out_index, double scale, std::int64_t out_len, std::int64_t in_len) const {
  const double x = static_cast<double>(out_index);
  if (transform_ == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (transform_ == "pytorch_half_pixel") return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (transform_ == "align_corners") return out_len == 1 ? 0.0 : x * static_cast<double>(in_len - 1) / static_cast<double>(out_len - 1);
  return x / scale;  // asymmetric
}

std::int64_t Resize::nearest(double x, std::int64_t in_len) const {
  double r;
  if (nearest_ == "floor") r = std::floor(x);
  else if (nearest_ == "ceil") r = std::ceil(x);
  else if (nearest_ == "round_prefer_ceil") r = std::floor(x + 0.5);
  else r = (x - std::floor(x) == 0.5) ? std::floor(x) : std::round(x);  // round_prefer_floor
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(r), 0, in_len - 1);
}

void Resize::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const std::vector<ValueInfo> infos = infos_of(inputs);
  Shape out_shape;
  std::vector<double> scales;
  geometry(infos, out_shape, scales);
  Tensor& y = outputs[0];
  const std::size_t r = out_shape.size();
  const bool linear = mode_ == "linear";
  const std::int64_t h = inputs[0].shape()[r - 2], w = inputs[0].shape()[r - 1], ho = out_shape[r - 2], wo = out_shape[r - 1];
  // Per output row and column: source indices and weights, computed once.
  std::vector<std::int64_t> y0(static_cast<std::size_t>(ho)), y1(y0.size()), x0(static_cast<std::size_t>(wo)), x1(x0.size());
  std::vector<float> fy(y0.size()), fx(x0.size());
  auto axis = [&](std::int64_t n_out, std::int64_t n_in, double scale, std::vector<std::int64_t>& i0,
                  std::vector<std::int64_t>& i1, std::vector<float>& f) {
    for (std::int64_t o = 0; o < n_out; ++o) {
      const double s = source(o, scale, n_out, n_in);
      const auto k = static_cast<std::size_t>(o);
      if (!linear) {
        i0[k] = i1[k] = nearest(s, n_in);
        f[k] = 0.0f;
        continue;
      }
      const double c = std::clamp(s, 0.0, static_cast<double>(n_in - 1));
      const auto lo = nn::detail::saturate_int64(std::floor(c));
      i0[k] = lo;
      i1[k] = std::min(lo + 1, n_in - 1);
      f[k] = static_cast<float>(c - static_cast<double>(lo));
    }
  };
  // A volume's depth first, into a tensor the 2-D pass below then reads.
  const Tensor x = [&] {
    const Tensor& in = inputs[0];
    if (r != 5 || out_shape[2] == in.dim(2)) return in;
    if (mode_ == "cubic") fail("cubic resizing of a volume's depth is not supported");
    const std::int64_t d = in.dim(2), dout = out_shape[2], slice = h * w, volumes = in.dim(0) * in.dim(1);
    std::vector<std::int64_t> z0(static_cast<std::size_t>(dout)), z1(z0.size());
    std::vector<float> fz(z0.size());
    axis(dout, d, scales[2], z0, z1, fz);
    Tensor deep(Shape{in.dim(0), in.dim(1), dout, h, w});
    luojia::detail::parallel_for(std::int64_t{0}, volumes * dout, [&](std::int64_t task) {
      const std::int64_t v = task / dout, oz = task % dout;
      const auto k = static_cast<std::size_t>(oz);
      const float* a = in.data() + (v * d + z0[k]) * slice;
      const float* b = in.data() + (v * d + z1[k]) * slice;
      float* dst = deep.data() + (v * dout + oz) * slice;
      for (std::int64_t i = 0; i < slice; ++i) dst[i] = a[i] + (b[i] - a[i]) * fz[k];
    });
    return deep;
  }();
  const std::int64_t planes = x.size() / (h * w);
  if (mode_ == "cubic") return cubic(x, h, w, ho, wo, scales[r - 2], scales[r - 1], y);
  axis(ho, h, scales[r - 2], y0, y1, fy);
  axis(wo, w, scales[r - 1], x0, x1, fx);
  luojia::detail::parallel_for(std::int64_t{0}, planes, [&](std::int64_t p) {
    const float* src = x.data() + p * h * w;
    float* dst = y.data() + p * ho * wo;
    if (!linear) {
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        const float* r0 = src + y0[static_cast<std::size_t>(oy)] * w;
        float* out = dst + oy * wo;
        for (std::int64_t ox = 0; ox < wo; ++ox) out[ox] = r0[x0[static_cast<std::size_t>(ox)]];
      }
      return;
    }
    // Each source row is interpolated along x once, then output rows blend two of those.
    thread_local std::vector<float> across;
    across.resize(static_cast<std::size_t>(h * wo));
    for (std::int64_t iy = 0; iy < h; ++iy) {
      const float* r = src + iy * w;
      float* a = across.data() + iy * wo;
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        const auto kx = static_cast<std::size_t>(ox);
        a[ox] = r[x0[kx]] + (r[x1[kx]] - r[x0[kx]]) * fx[kx];
      }
    }
    for (std::int64_t oy = 0; oy < ho; ++oy) {
      const auto ky = static_cast<std::size_t>(oy);
      const float* top = across.data() + y0[ky] * wo;
      const float* bottom = across.data() + y1[ky] * wo;
      const float wy = fy[ky];
      float* out = dst + oy * wo;
#pragma omp simd
      for (std::int64_t ox = 0; ox < wo; ++ox) out[ox] = top[ox] + (bottom[ox] - top[ox]) * wy;
    }
  });
}

// Bicubic as the ONNX spec and PyTorch's bicubic upsampling compute it: four taps per axis at
// floor(x) - 1 .. floor(x) + 2, Keys' kernel with a = cubic_coeff_a, taps past the edge clamped to
// it, or (exclude_outside) dropped and the others' weights renormalised; separable, x then y.
void Resize::cubic(const Tensor& x, std::int64_t h, std::int64_t w, std::int64_t ho, std::int64_t wo, double scale_y, double scale_x,
                   Tensor& y) const {
  struct Taps {
    std::array<std::int64_t, 4> at{};
    std::array<float, 4> weight{};
  };
  const double a = cubic_a_;
  const auto near = [a](double t) { return ((a + 2) * t - (a + 3)) * t * t + 1; };
  const auto far = [a](double t) { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a; };
  const auto taps_of = [&](std::int64_t n_out, std::int64_t n_in, double scale) {
    std::vector<Taps> taps(static_cast<std::size_t>(n_out));
    for (std::int64_t o = 0; o < n_out; ++o) {
      const double s = source(o, scale, n_out, n_in), f = std::floor(s), t = s - f;
      const double weights[4] = {far(t + 1), near(t), near(1 - t), far(2 - t)};
      Taps& k = taps[static_cast<std::size_t>(o)];
      double sum = 0;
      for (int j = 0; j < 4; ++j) {
        const auto i = static_cast<std::int64_t>(f) - 1 + j;
        const bool outside = i < 0 || i >= n_in;
        k.at[static_cast<std::size_t>(j)] = std::clamp<std::int64_t>(i, 0, n_in - 1);
        const double wj = exclude_outside_ && outside ? 0.0 : weights[j];
        k.weight[static_cast<std::size_t>(j)] = static_cast<float>(wj);
        sum += wj;
      }
      if (exclude_outside_ && sum != 0)
        for (float& wj : k.weight) wj = static_cast<float>(wj / sum);
    }
    return taps;
  };
  const auto ty = taps_of(ho, h, scale_y), tx = taps_of(wo, w, scale_x);
  const std::int64_t planes = x.size() / (h * w);
  luojia::detail::parallel_for(std::int64_t{0}, planes, [&](std::int64_t p) {
    const float* src = x.data() + p * h * w;
    float* dst = y.data() + p * ho * wo;
    thread_local std::vector<float> across;
    across.resize(static_cast<std::size_t>(h * wo));
    for (std::int64_t iy = 0; iy < h; ++iy) {
      const float* row = src + iy * w;
      float* out = across.data() + iy * wo;
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        const Taps& k = tx[static_cast<std::size_t>(ox)];
        out[ox] = k.weight[0] * row[k.at[0]] + k.weight[1] * row[k.at[1]] + k.weight[2] * row[k.at[2]] + k.weight[3] * row[k.at[3]];
      }
    }
    for (std::int64_t oy = 0; oy < ho; ++oy) {
      const Taps& k = ty[static_cast<std::size_t>(oy)];
      const float* r0 = across.data() + k.at[0] * wo;
      const float* r1 = across.data() + k.at[1] * wo;
      const float* r2 = across.data() + k.at[2] * wo;
      const float* r3 = across.data() + k.at[3] * wo;
      float* out = dst + oy * wo;
#pragma omp simd
      for (std::int64_t ox = 0; ox < wo; ++ox)
        out[ox] = k.weight[0] * r0[ox] + k.weight[1] * r1[ox] + k.weight[2] * r2[ox] + k.weight[3] * r3[ox];
    }
  });
}

}  // namespace luojia::nn::layers
