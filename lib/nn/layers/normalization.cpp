#include "nn/layers/normalization.hpp"

#include "core/parallel.hpp"

namespace luojia::nn::layers {
namespace {

// Mean and 1 / sqrt(variance + epsilon) of n values, two passes (the one-pass sum of squares
// loses the variance of values far from 0 in float), accumulated in double.
std::pair<float, float> moments(const float* x, std::int64_t n, float epsilon) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
  double squares = 0;
#pragma omp simd reduction(+ : squares)
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    squares += d * d;
  }
  const double variance = n > 0 ? squares / static_cast<double>(n) : 0.0;
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(variance + static_cast<double>(epsilon)))};
}

// Values of a per-element parameter (Scale, B) over the normalised block of the given shape:
// its own values when it has the block's size, else broadcast to it (ONNX's unidirectional
// broadcasting); empty for a missing input.
std::vector<float> over_block(const Layer& layer, std::span<const Tensor> in, std::size_t index, const Shape& block) {
  if (index >= in.size() || in[index].empty()) return {};
  const Tensor& p = in[index];
  const std::int64_t n = element_count(block);
  if (p.size() == n) return p.to_floats();
  if (p.rank() > static_cast<int>(block.size()) || broadcast(p.shape(), block) != block)
    raise(std::string("parameter of shape ") + to_string(p.shape()) + " does not broadcast to the normalised axes " + to_string(block) +
          " in " + layer.node().describe());
  const auto strides = broadcast_strides(p.shape(), block);
  const auto values = p.to_floats();
  std::vector<float> out(static_cast<std::size_t>(n));
  std::vector<std::int64_t> index_of(block.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t at = 0;
    for (std::size_t d = 0; d < block.size(); ++d) at += index_of[d] * strides[d];
    out[static_cast<std::size_t>(i)] = values[static_cast<std::size_t>(at)];
    for (std::size_t d = block.size(); d-- > 0;) {
      if (++index_of[d] < block[d]) break;
      index_of[d] = 0;
    }
  }
  return out;
}

// y: each sample's channels in `groups` consecutive groups, each group normalised over its
// channels and spatial axes together, then channel c scaled and shifted by scale and bias, given
// per channel or (GroupNormalization at opset 18) per group.
void normalise_groups(const Tensor& x, std::int64_t groups, const std::vector<float>& scale, const std::vector<float>& bias, float epsilon,
                      Tensor& y) {
  const std::int64_t channels = x.dim(1), per_group = channels / groups, plane = x.size() / std::max<std::int64_t>(x.dim(0) * channels, 1);
  const bool per_channel = static_cast<std::int64_t>(scale.size()) == channels;
  luojia::detail::parallel_for(std::int64_t{0}, x.dim(0) * groups, [&](std::int64_t g) {
    const std::int64_t n = per_group * plane;
    const float* src = x.data() + g * n;
    float* dst = y.data() + g * n;
    const std::pair<float, float> stats = moments(src, n, epsilon);
    const float mean = stats.first, inv = stats.second;
    for (std::int64_t c = 0; c < per_group; ++c) {
      const auto p = static_cast<std::size_t>(per_channel ? (g % groups) * per_group + c : g % groups);
      const float a = inv * scale[p], b = bias[p] - mean * a;
      const float* s = src + c * plane;
      float* d = dst + c * plane;
#pragma omp simd
      for (std::int64_t i = 0; i < plane; ++i) d[i] = s[i] * a + b;
    }
  });
}

}  // namespace

// LayerNormalization -------------------------------------------------------------------------------
std::vector<ValueInfo> LayerNorm::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2 || !in[0].present || !in[1].present) fail("needs X and Scale");
  const Shape& s = in[0].shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", -1), s.size(), *this);
  if (in[0].type != ElementType::Float32) fail("needs float input");
  Shape reduced = s;
  for (std::size_t d = static_cast<std::size_t>(axis); d < s.size(); ++d) reduced[d] = 1;
  std::vector<ValueInfo> out{ValueInfo{s, ElementType::Float32, std::nullopt, true}};
  for (std::size_t k = 1; k < node().outputs.size(); ++k) out.push_back(ValueInfo{reduced, ElementType::Float32, std::nullopt, true});
  return out;
}

void LayerNorm::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const auto axis = static_cast<std::size_t>(normalise_axis(node().attributes.get_int("axis", -1), x.shape().size(), *this));
  const float epsilon = node().attributes.get_float("epsilon", 1e-5f);
  const Shape block(x.shape().begin() + static_cast<std::ptrdiff_t>(axis), x.shape().end());
  const std::int64_t n = element_count(block), rows = n > 0 ? x.size() / n : 0;
  const auto scale = over_block(*this, in, 1, block), bias = over_block(*this, in, 2, block);
  float* mean_out = out.size() > 1 && !out[1].empty() ? out[1].data() : nullptr;
  float* inv_out = out.size() > 2 && !out[2].empty() ? out[2].data() : nullptr;
  const std::int64_t per_task = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1));
  luojia::detail::parallel_for(std::int64_t{0}, rows, per_task, [&](std::int64_t r0) {
    for (std::int64_t r = r0; r < std::min(rows, r0 + per_task); ++r) {
      const float* src = x.data() + r * n;
      float* dst = out[0].data() + r * n;
      // Plain names, not a structured binding: clang does not let OpenMP's simd loops capture one.
      const std::pair<float, float> stats = moments(src, n, epsilon);
      const float mean = stats.first, inv = stats.second;
      if (mean_out) mean_out[r] = mean;
      if (inv_out) inv_out[r] = inv;
      const float* g = scale.data();
      if (bias.empty()) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) dst[i] = (src[i] - mean) * inv * g[i];
      } else {
        const float* b = bias.data();
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) dst[i] = (src[i] - mean) * inv * g[i] + b[i];
      }
    }
  });
}

Footprint LayerNorm::footprint() const {
  Footprint f = Footprint::combine({node().attributes.get_int("axis", -1)});
  f.through_last_axis = true;
  return f;
}

// InstanceNormalization ----------------------------------------------------------------------------
std::vector<ValueInfo> InstanceNorm::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 3 || !in[0].present || !in[1].present || !in[2].present) fail("needs input, scale and B");
  const Shape& s = in[0].shape;
  if (s.size() < 3) fail("needs an input of rank 3 or more (N, C, spatial...), not " + to_string(s));
  if (element_count(in[1].shape) != s[1] || element_count(in[2].shape) != s[1])
    fail("scale and B need " + std::to_string(s[1]) + " values, one per channel");
  return {ValueInfo{s, ElementType::Float32, std::nullopt, true}};
}

void InstanceNorm::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  // Groups of one channel each.
  normalise_groups(in[0], in[0].dim(1), in[1].to_floats(), in[2].to_floats(), node().attributes.get_float("epsilon", 1e-5f), out[0]);
}

Footprint InstanceNorm::footprint() const {
  Footprint f = Footprint::combine({2});
  f.through_last_axis = true;
  return f;
}

// GroupNormalization -------------------------------------------------------------------------------
std::vector<ValueInfo> GroupNorm::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 3 || !in[0].present || !in[1].present || !in[2].present) fail("needs X, scale and bias");
  const Shape& s = in[0].shape;
  const std::int64_t groups = node().attributes.get_int("num_groups", 0);
  if (s.size() < 3) fail("needs an input of rank 3 or more (N, C, spatial...), not " + to_string(s));
  if (groups < 1 || s[1] % groups != 0)
    fail("num_groups " + std::to_string(groups) + " does not divide " + std::to_string(s[1]) + " channels");
  for (int k = 1; k <= 2; ++k) {
    const std::int64_t count = element_count(in[static_cast<std::size_t>(k)].shape);
    if (count != groups && count != s[1]) fail("scale and bias need one value per group or per channel");
  }
  return {ValueInfo{s, ElementType::Float32, std::nullopt, true}};
}

void GroupNorm::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  normalise_groups(in[0], node().attributes.get_int("num_groups", 1), in[1].to_floats(), in[2].to_floats(),
                   node().attributes.get_float("epsilon", 1e-5f), out[0]);
}

Footprint GroupNorm::footprint() const {
  Footprint f = Footprint::combine({1});
  f.through_last_axis = true;
  return f;
}

}  // namespace luojia::nn::layers
