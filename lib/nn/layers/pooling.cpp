// Pooling and reductions.
#include "nn/layers/common.hpp"
#include "core/parallel.hpp"
#include "nn/layers/pooling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace luojia::nn::layers {

namespace {

// The sum of n contiguous floats: vectorised float partial sums of 4096 values, their total in
// double (float alone drifts on 512 x 512 planes).
double sum_of_run(const float* values, std::int64_t n) {
  double total = 0.0;
  for (std::int64_t i0 = 0; i0 < n; i0 += 4096) {
    float chunk = 0.0f;
    const std::int64_t i1 = std::min(n, i0 + 4096);
#pragma omp simd reduction(+ : chunk)
    for (std::int64_t i = i0; i < i1; ++i) chunk += values[i];
    total += chunk;
  }
  return total;
}

// out[ox] = the max (or sum) of in[ox S - pl + kx] over kx < kw, for ox in [x0, x1) (windows
// inside the row): a pass per kx along the output row, with the stride S a constant so that the
// compiler loads and de-interleaves whole vectors. Value by value, ResNet's 3 x 3 stride-2 max pool
// on 64 x 112 x 112 took 0.67 ms, three times ONNX Runtime's.
template <std::int64_t S>
void window_along_row(const float* in, std::int64_t x0, std::int64_t x1, std::int64_t kw, std::int64_t pl, bool max, float* out) {
  const float* q = in - pl;
#pragma omp simd
  for (std::int64_t ox = x0; ox < x1; ++ox) out[ox] = q[ox * S];
  for (std::int64_t kx = 1; kx < kw; ++kx) {
    const float* r = q + kx;
    if (max) {
#pragma omp simd
      for (std::int64_t ox = x0; ox < x1; ++ox) out[ox] = out[ox] < r[ox * S] ? r[ox * S] : out[ox];  // std::max's order
    } else {
#pragma omp simd
      for (std::int64_t ox = x0; ox < x1; ++ox) out[ox] += r[ox * S];
    }
  }
}

}  // namespace

Pool::Pool(const NodeInfo& node) : Layer(node) {
  max_ = node.op_type == "MaxPool";
  window_ = Window2d::from(node.attributes, {0, 0});
  if (window_.kernel[0] == 0) fail("kernel_shape is required");
  count_include_pad_ = node.attributes.get_int("count_include_pad", 0) != 0;
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) fail("MaxPool's Indices output is not supported");
}

std::vector<ValueInfo> Pool::infer(const std::vector<ValueInfo>& in) const {
  const Shape& x = in.at(0).shape;
  if (x.size() != 4) fail("input must be NCHW, not " + to_string(x));
  std::int64_t pad = 0;
  const std::int64_t ho = window_.output_size(0, x[2], pad), wo = window_.output_size(1, x[3], pad);
  if (ho <= 0 || wo <= 0) fail("input " + to_string(x) + " is smaller than the pooling window");
  return {ValueInfo{{x[0], x[1], ho, wo}, ElementType::Float32, std::nullopt, true}};
}

Footprint Pool::footprint() const { return window_.footprint(); }

void Pool::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const std::int64_t h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3);
  std::int64_t pt = 0, pl = 0;
  window_.output_size(0, h, pt);
  window_.output_size(1, w, pl);
  // Plain copies: lambdas below capture them (clang 14 cannot capture structured bindings).
  const std::int64_t kh = window_.kernel[0], kw = window_.kernel[1];
  const std::int64_t sh = window_.stride[0], sw = window_.stride[1];
  const std::int64_t dh = window_.dilation[0], dw = window_.dilation[1];
  // Padding as the spec counts it for count_include_pad: the window clipped to input + pads.
  const std::int64_t hp = h + window_.pad_end[0], wp = w + window_.pad_end[1];
  const bool two_by_two = kh == 2 && kw == 2 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && pt == 0 && pl == 0 &&
                          2 * ho <= h && 2 * wo <= w;
  luojia::detail::parallel_for(std::int64_t{0}, x.dim(0) * x.dim(1), [&](std::int64_t plane) {
    const float* src = x.data() + plane * h * w;
    float* dst = y.data() + plane * ho * wo;
    if (two_by_two) {  // the U-Net case, every window inside the input
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        const float* r0 = src + 2 * oy * w;
        const float* r1 = r0 + w;
        float* out = dst + oy * wo;
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
          out[ox] = max_ ? std::max(std::max(a, b), std::max(c, d)) : (a + b + c + d) * 0.25f;
        }
      }
      return;
    }
    // A rectangle's max or sum is separable: along each input row first (into `rows`, one per input
    // row, wo values), then down the columns of those, vectorised along the output row. Outputs
    // whose window lies inside the input skip the bounds checks; the divisor of an average is the
    // product of the valid (or padded) extents on each axis.
    thread_local std::vector<float> rows;
    rows.resize(static_cast<std::size_t>(h * wo));
    const float empty = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
    // First and one-past-last output x whose whole window lies inside the row.
    const std::int64_t last_start = w - 1 - (kw - 1) * dw + pl;  // the largest ox * sw whose window fits
    const std::int64_t x0 = std::min(wo, (pl + sw - 1) / sw), x1 = last_start < 0 ? x0 : std::max(x0, std::min(wo, last_start / sw + 1));
    for (std::int64_t iy = 0; iy < h; ++iy) {
      const float* in = src + iy * w;
      float* out = rows.data() + iy * wo;
      const auto edge = [&](std::int64_t ox) {
        float acc = empty;
        for (std::int64_t kx = 0; kx < kw; ++kx) {
          const std::int64_t ix = ox * sw - pl + kx * dw;
          if (ix >= 0 && ix < w) acc = max_ ? std::max(acc, in[ix]) : acc + in[ix];
        }
        out[ox] = acc;
      };
      for (std::int64_t ox = 0; ox < x0; ++ox) edge(ox);
      if (dw == 1 && sw == 1) {
        window_along_row<1>(in, x0, x1, kw, pl, max_, out);
      } else if (dw == 1 && sw == 2) {
        window_along_row<2>(in, x0, x1, kw, pl, max_, out);
      } else if (max_) {
        for (std::int64_t ox = x0; ox < x1; ++ox) {
          const float* q = in + ox * sw - pl;
          float acc = q[0];
          for (std::int64_t kx = 1; kx < kw; ++kx) acc = std::max(acc, q[kx * dw]);
          out[ox] = acc;
        }
      } else {
        for (std::int64_t ox = x0; ox < x1; ++ox) {
          const float* q = in + ox * sw - pl;
          float acc = 0.0f;
          for (std::int64_t kx = 0; kx < kw; ++kx) acc += q[kx * dw];
          out[ox] = acc;
        }
      }
      for (std::int64_t ox = x1; ox < wo; ++ox) edge(ox);
    }
    // Valid and padded window extents along x, per output column (for averages).
    std::vector<float> divisor_x(max_ ? 0 : static_cast<std::size_t>(wo));
    for (std::int64_t ox = 0; ox < static_cast<std::int64_t>(divisor_x.size()); ++ox) {
      std::int64_t count = 0, padded = 0;
      for (std::int64_t kx = 0; kx < kw; ++kx) {
        const std::int64_t ix = ox * sw - pl + kx * dw;
        count += ix >= 0 && ix < w;
        padded += ix >= -pl && ix < wp;
      }
      divisor_x[static_cast<std::size_t>(ox)] = static_cast<float>(count_include_pad_ ? padded : count);
    }
    for (std::int64_t oy = 0; oy < ho; ++oy) {
      float* out = dst + oy * wo;
      std::fill(out, out + wo, empty);
      std::int64_t count = 0, padded = 0;
      for (std::int64_t ky = 0; ky < kh; ++ky) {
        const std::int64_t iy = oy * sh - pt + ky * dh;
        padded += iy >= -pt && iy < hp;
        if (iy < 0 || iy >= h) continue;
        ++count;
        const float* r = rows.data() + iy * wo;
        if (max_) {
#pragma omp simd
          for (std::int64_t ox = 0; ox < wo; ++ox) out[ox] = std::max(out[ox], r[ox]);
        } else {
#pragma omp simd
          for (std::int64_t ox = 0; ox < wo; ++ox) out[ox] += r[ox];
        }
      }
      if (max_) continue;
      const float dy = static_cast<float>(count_include_pad_ ? padded : count);
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        const float d = dy * divisor_x[static_cast<std::size_t>(ox)];
        out[ox] = d > 0 ? out[ox] / d : 0.0f;  // a window on padding alone: 0, as the spec's empty sum
      }
    }
  });
}

GlobalPool::GlobalPool(const NodeInfo& node) : Layer(node) { max_ = node.op_type == "GlobalMaxPool"; }

std::vector<ValueInfo> GlobalPool::infer(const std::vector<ValueInfo>& in) const {
  Shape s = in.at(0).shape;
  if (s.size() < 3) fail("input must have spatial axes");
  for (std::size_t d = 2; d < s.size(); ++d) s[d] = 1;
  return {ValueInfo{s, ElementType::Float32, std::nullopt, true}};
}

Footprint GlobalPool::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Global;
  return f;
}

void GlobalPool::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  const std::int64_t planes = x.dim(0) * x.dim(1), n = x.size() / std::max<std::int64_t>(planes, 1);
  // One plane a task, vectorised along it: the max in float, the mean as float lanes summed in
  // chunks of 4096 whose partial sums add up in double (float alone drifts on 512 x 512 planes).
  luojia::detail::parallel_for(std::int64_t{0}, planes, [&](std::int64_t p) {
    const float* src = x.data() + p * n;
    if (max_) {
      float top = -INFINITY;
#pragma omp simd reduction(max : top)
      for (std::int64_t i = 0; i < n; ++i) top = std::max(top, src[i]);
      outputs[0].data()[p] = top;
      return;
    }
    outputs[0].data()[p] = static_cast<float>(sum_of_run(src, n) / static_cast<double>(n));
  });
}

Reduce::Reduce(const NodeInfo& node) : Layer(node) {
  const std::string& op = node.op_type;
  kind_ = op == "ReduceMean" ? Kind::Mean : op == "ReduceSum" ? Kind::Sum : op == "ReduceMax" ? Kind::Max : Kind::Min;
  keepdims_ = node.attributes.get_int("keepdims", 1) != 0;
}

std::vector<int> Reduce::axes(const std::vector<ValueInfo>& in) const {
  std::vector<std::int64_t> listed = node().attributes.get_ints("axes");
  if (has_input(in, 1)) listed = constant_input(in, 1).to_ints();
  const std::size_t rank = in.at(0).shape.size();
  std::vector<int> out;
  // Opset 18: no axes reduce all of them, or none when noop_with_empty_axes says so.
  if (listed.empty() && node().attributes.get_int("noop_with_empty_axes", 0) == 0)
    for (std::size_t d = 0; d < rank; ++d) out.push_back(static_cast<int>(d));
  for (auto a : listed) out.push_back(normalise_axis(a, rank, *this));
  return out;
}

std::vector<ValueInfo> Reduce::infer(const std::vector<ValueInfo>& in) const {
  const auto ax = axes(in);
  Shape s;
  for (std::size_t d = 0; d < in.at(0).shape.size(); ++d) {
    const bool reduced = std::find(ax.begin(), ax.end(), static_cast<int>(d)) != ax.end();
    if (!reduced) s.push_back(in[0].shape[d]);
    else if (keepdims_) s.push_back(1);
  }
  return {ValueInfo{s, ElementType::Float32, std::nullopt, true}};
}

// Float32, the reduced axes one block (axes of 1 aside): outer x len x inner, each output the
// reduction of len values inner apart, summed as they lie in memory over the threads. The general
// walk below took 0.7 ms for ShuffleNetV2's mean over a 1024 x 7 x 7 map (an element-by-element
// index walk over a converted copy); this takes a few microseconds.
bool Reduce::reduce_block(const Tensor& x, const std::vector<int>& ax, Tensor& y) const {
  const Shape& s = x.shape();
  if (x.type() != ElementType::Float32 || x.size() == 0) return false;
  std::vector<bool> reduced(s.size(), false);
  for (int a : ax) reduced[static_cast<std::size_t>(a)] = true;
  int first = -1, last = -1;
  for (std::size_t d = 0; d < s.size(); ++d)
    if (reduced[d] && s[d] > 1) {
      if (first < 0) first = static_cast<int>(d);
      last = static_cast<int>(d);
    }
  std::int64_t outer = 1, len = 1, inner = 1;
  for (std::size_t d = 0; d < s.size(); ++d) {
    const auto at = static_cast<int>(d);
    if (first >= 0 && at > first && at < last && !reduced[d] && s[d] > 1) return false;  // a kept axis inside the block
    if (first < 0 || at < first) outer *= s[d];
    else if (at <= last) len *= reduced[d] ? s[d] : 1;
    else inner *= s[d];
  }
  const float* src = x.data();
  float* dst = y.data();
  const Kind kind = kind_;
  luojia::detail::parallel_for(std::int64_t{0}, outer, [&](std::int64_t o) {
    const float* in = src + o * len * inner;
    float* out = dst + o * inner;
    if (kind == Kind::Max || kind == Kind::Min) {
      for (std::int64_t i = 0; i < inner; ++i) out[i] = kind == Kind::Max ? -INFINITY : INFINITY;
      for (std::int64_t r = 0; r < len; ++r) {
        const float* row = in + r * inner;
        if (kind == Kind::Max) {
#pragma omp simd
          for (std::int64_t i = 0; i < inner; ++i) out[i] = row[i] > out[i] ? row[i] : out[i];
        } else {
#pragma omp simd
          for (std::int64_t i = 0; i < inner; ++i) out[i] = row[i] < out[i] ? row[i] : out[i];
        }
      }
      return;
    }
    const double scale = kind == Kind::Mean ? 1.0 / static_cast<double>(len) : 1.0;
    if (inner == 1) {  // one contiguous run
      out[0] = static_cast<float>(sum_of_run(in, len) * scale);
      return;
    }
    thread_local std::vector<double> sums;
    sums.assign(static_cast<std::size_t>(inner), 0.0);
    for (std::int64_t r = 0; r < len; ++r) {
      const float* row = in + r * inner;
      double* acc = sums.data();
#pragma omp simd
      for (std::int64_t i = 0; i < inner; ++i) acc[i] += row[i];
    }
    for (std::int64_t i = 0; i < inner; ++i) out[i] = static_cast<float>(sums[static_cast<std::size_t>(i)] * scale);
  });
  return true;
}

void Reduce::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  std::vector<ValueInfo> infos{ValueInfo{x.shape(), x.type(), std::nullopt, true}};
  if (inputs.size() > 1 && !inputs[1].empty()) infos.push_back(ValueInfo{inputs[1].shape(), inputs[1].type(), inputs[1], true});
  const auto ax = axes(infos);
  if (reduce_block(x, ax, outputs[0])) return;
  const Shape& s = x.shape();
  Shape kept(s);
  for (int a : ax) kept[static_cast<std::size_t>(a)] = 1;
  const auto out_strides = broadcast_strides(kept, s);
  std::vector<double> acc(static_cast<std::size_t>(element_count(kept)), kind_ == Kind::Max ? -INFINITY : kind_ == Kind::Min ? INFINITY : 0.0);
  const auto xs = x.to_floats();
  std::vector<std::int64_t> index(s.size(), 0);
  for (std::int64_t i = 0; i < x.size(); ++i) {
    std::int64_t o = 0;
    for (std::size_t d = 0; d < s.size(); ++d) o += index[d] * out_strides[d];
    double& a = acc[static_cast<std::size_t>(o)];
    const double v = xs[static_cast<std::size_t>(i)];
    a = kind_ == Kind::Max ? std::max(a, v) : kind_ == Kind::Min ? std::min(a, v) : a + v;
    for (std::size_t d = s.size(); d-- > 0;) {
      if (++index[d] < s[d]) break;
      index[d] = 0;
    }
  }
  const double n = static_cast<double>(x.size()) / static_cast<double>(acc.size());
  for (std::size_t i = 0; i < acc.size(); ++i)
    outputs[0].data()[i] = static_cast<float>(kind_ == Kind::Mean ? acc[i] / n : acc[i]);
}

Footprint Reduce::footprint() const {
  Footprint f = Footprint::combine(node().attributes.get_ints("axes"));
  f.every_axis_if_empty = true;
  f.axes_input = 1;  // opset 18 (ReduceSum: 13) moved axes to an input
  return f;
}

}  // namespace luojia::nn::layers
