#include "nn/layers/volume.hpp"

#include "core/parallel.hpp"
#include "nn/layers/conv.hpp"
#include "nn/layers/elementwise.hpp"
#include "nn/layers/pooling.hpp"

#include <Eigen/Core>

namespace luojia::nn::layers {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

bool three_d(const NodeInfo& node) { return node.attributes.get_ints("kernel_shape").size() == 3; }

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// A convolution's bias (input 2) for its output channels, zeros without one.
std::vector<float> bias_of(const Layer& layer, const std::vector<ValueInfo>& in, std::int64_t channels) {
  std::vector<float> bias(static_cast<std::size_t>(channels), 0.0f);
  if (in.size() > 2 && in[2].present) {
    if (!in[2].value) raise("bias must be constant in " + layer.node().describe());
    const auto b = in[2].value->to_floats();
    if (b.size() != bias.size())
      raise("bias has " + std::to_string(b.size()) + " values for " + std::to_string(bias.size()) + " channels in " + layer.node().describe());
    bias = b;
  }
  return bias;
}

// Output positions per im2col chunk: the chunk's columns stay in cache.
constexpr std::int64_t kChunk = 1024;

}  // namespace

std::unique_ptr<Layer> make_conv(const NodeInfo& node) {
  if (three_d(node)) return std::make_unique<Conv3d>(node);
  return std::make_unique<Conv>(node);
}
std::unique_ptr<Layer> make_conv_transpose(const NodeInfo& node) {
  if (three_d(node)) return std::make_unique<ConvTranspose3d>(node);
  return std::make_unique<ConvTranspose>(node);
}
std::unique_ptr<Layer> make_pool(const NodeInfo& node) {
  if (three_d(node)) return std::make_unique<Pool3d>(node);
  return std::make_unique<Pool>(node);
}

// Window3d -----------------------------------------------------------------------------------------
Window3d Window3d::from(const Layer& layer, const Attributes& a) {
  Window3d w;
  const auto ks = a.get_ints("kernel_shape");
  const auto strides = a.get_ints("strides", {1, 1, 1}), dilations = a.get_ints("dilations", {1, 1, 1}),
             pads = a.get_ints("pads", {0, 0, 0, 0, 0, 0});
  if (ks.size() != 3 || strides.size() != 3 || dilations.size() != 3 || pads.size() != 6)
    raise("kernel_shape, strides, dilations and pads must describe 3 spatial axes in " + layer.node().describe());
  for (std::size_t d = 0; d < 3; ++d) {
    w.kernel[d] = ks[d];
    w.stride[d] = strides[d];
    w.dilation[d] = dilations[d];
    w.pad_begin[d] = pads[d];
    w.pad_end[d] = pads[d + 3];
    if (w.kernel[d] < 1 || w.stride[d] < 1 || w.dilation[d] < 1 || w.pad_begin[d] < 0 || w.pad_end[d] < 0)
      raise("kernel, strides and dilations must be positive and pads not negative in " + layer.node().describe());
  }
  w.auto_pad = a.get_string("auto_pad", "NOTSET");
  w.ceil_mode = a.get_int("ceil_mode", 0) != 0;
  return w;
}

std::int64_t Window3d::output_size(int d, std::int64_t n, std::int64_t& pad_begin_out) const {
  const auto i = static_cast<std::size_t>(d);
  return window_output_size(n, kernel[i], stride[i], dilation[i], pad_begin[i], pad_end[i], auto_pad, ceil_mode, pad_begin_out);
}

Footprint Window3d::footprint() const {
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return Footprint::global("SAME padding depends on the input's size");
  return Footprint::window({kernel[1], kernel[2]}, {pad_begin[1], pad_begin[2]}, {stride[1], stride[2]}, {dilation[1], dilation[2]});
}

// Conv3d -------------------------------------------------------------------------------------------
Conv3d::Conv3d(const NodeInfo& node) : Layer(node) {
  window_ = Window3d::from(*this, node.attributes);
  group_ = node.attributes.get_int("group", 1);
  activation_ = ActivationFn::from(node.attributes.get_string("luojia.activation", ""), node.attributes.get_floats("luojia.activation_params"));
  residual_ = node.attributes.get_int("luojia.residual", 0) != 0;
}

void Conv3d::prepare(const std::vector<ValueInfo>& in) {
  weights_ = constant_input(in, 1);
  if (weights_.rank() != 5) fail("weights must be 5-D (3-D convolution), not " + to_string(weights_.shape()));
  for (int d = 0; d < 3; ++d)
    if (weights_.dim(2 + d) != window_.kernel[static_cast<std::size_t>(d)]) fail("kernel_shape does not match the weights");
  if (group_ < 1 || weights_.dim(0) % group_ != 0) fail("group " + std::to_string(group_) + " does not divide the output channels");
  bias_ = bias_of(*this, in, weights_.dim(0));
}

std::vector<ValueInfo> Conv3d::infer(const std::vector<ValueInfo>& in) const {
  const Shape& x = in.at(0).shape;
  if (x.size() != 5) fail("a 3-D convolution needs (N, C, D, H, W) input, not " + to_string(x));
  if (x[1] != weights_.dim(1) * group_) fail("input has " + std::to_string(x[1]) + " channels, the weights expect " + std::to_string(weights_.dim(1) * group_));
  Shape out{x[0], weights_.dim(0), 0, 0, 0};
  for (int d = 0; d < 3; ++d) {
    std::int64_t pb = 0;
    out[static_cast<std::size_t>(2 + d)] = window_.output_size(d, x[static_cast<std::size_t>(2 + d)], pb);
  }
  if (residual_ && in.size() > 3 && in[3].present) out = broadcast(out, in[3].shape);
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

void Conv3d::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const std::int64_t n = x.dim(0), cin = x.dim(1), cout = weights_.dim(0), cin_g = cin / group_, cout_g = cout / group_;
  const std::array<std::int64_t, 3> size{x.dim(2), x.dim(3), x.dim(4)};
  std::array<std::int64_t, 3> o{}, pb{};
  for (int d = 0; d < 3; ++d) o[static_cast<std::size_t>(d)] = window_.output_size(d, size[static_cast<std::size_t>(d)], pb[static_cast<std::size_t>(d)]);
  const std::int64_t positions = o[0] * o[1] * o[2], taps = window_.kernel[0] * window_.kernel[1] * window_.kernel[2], k = cin_g * taps;
  const bool broadcast_residual = residual_ && in.size() > 3 && !in[3].empty() && in[3].shape() != out[0].shape();
  Tensor y = broadcast_residual ? Tensor(Shape{n, cout, o[0], o[1], o[2]}) : out[0];
  const std::int64_t chunks = (positions + kChunk - 1) / kChunk;
  luojia::detail::parallel_for(std::int64_t{0}, n * group_ * chunks, [&](std::int64_t task) {
    const std::int64_t chunk = task % chunks, g = task / chunks % group_, b = task / chunks / group_;
    const std::int64_t p0 = chunk * kChunk, p1 = std::min(positions, p0 + kChunk), cols = p1 - p0;
    // Columns: row (c, tap), column p: the input value that tap of position p reads (0 in padding).
    RowMatrix col(k, cols);
    for (std::int64_t c = 0; c < cin_g; ++c) {
      const float* plane = x.data() + ((b * cin + g * cin_g + c) * size[0]) * size[1] * size[2];
      for (std::int64_t t = 0; t < taps; ++t) {
        const std::int64_t kz = t / (window_.kernel[1] * window_.kernel[2]), ky = t / window_.kernel[2] % window_.kernel[1],
                           kx = t % window_.kernel[2];
        float* row = col.data() + (c * taps + t) * cols;
        for (std::int64_t p = p0; p < p1; ++p) {
          const std::int64_t oz = p / (o[1] * o[2]), oy = p / o[2] % o[1], ox = p % o[2];
          const std::int64_t iz = oz * window_.stride[0] - pb[0] + kz * window_.dilation[0];
          const std::int64_t iy = oy * window_.stride[1] - pb[1] + ky * window_.dilation[1];
          const std::int64_t ix = ox * window_.stride[2] - pb[2] + kx * window_.dilation[2];
          const bool inside = iz >= 0 && iz < size[0] && iy >= 0 && iy < size[1] && ix >= 0 && ix < size[2];
          row[p - p0] = inside ? plane[(iz * size[1] + iy) * size[2] + ix] : 0.0f;
        }
      }
    }
    Eigen::Map<const RowMatrix> w(weights_.data() + g * cout_g * k, cout_g, k);
    RowMatrix r = w * col;
    for (std::int64_t c = 0; c < cout_g; ++c) {
      const std::int64_t channel = g * cout_g + c;
      float* dst = y.data() + (b * cout + channel) * positions + p0;
      const float* residual = residual_ && !broadcast_residual && in.size() > 3 && !in[3].empty()
                                  ? in[3].data() + (b * cout + channel) * positions + p0
                                  : nullptr;
      for (std::int64_t p = 0; p < cols; ++p) dst[p] = r(c, p) + bias_[static_cast<std::size_t>(channel)] + (residual ? residual[p] : 0.0f);
      if (!broadcast_residual) activation_.apply(dst, cols);
    }
  });
  if (broadcast_residual) {
    add_broadcast(y, in[3], out[0]);
    activation_.apply(out[0].data(), out[0].size());
  }
}

// ConvTranspose3d ----------------------------------------------------------------------------------
ConvTranspose3d::ConvTranspose3d(const NodeInfo& node) : Layer(node) {
  window_ = Window3d::from(*this, node.attributes);
  group_ = node.attributes.get_int("group", 1);
  output_padding_ = node.attributes.get_ints("output_padding", {0, 0, 0});
  output_shape_ = node.attributes.get_ints("output_shape");
  if (output_padding_.size() != 3) fail("output_padding must describe 3 spatial axes");
  activation_ = ActivationFn::from(node.attributes.get_string("luojia.activation", ""), node.attributes.get_floats("luojia.activation_params"));
}

void ConvTranspose3d::prepare(const std::vector<ValueInfo>& in) {
  weights_ = constant_input(in, 1);
  if (weights_.rank() != 5) fail("weights must be 5-D (3-D transposed convolution), not " + to_string(weights_.shape()));
  for (int d = 0; d < 3; ++d)
    if (weights_.dim(2 + d) != window_.kernel[static_cast<std::size_t>(d)]) fail("kernel_shape does not match the weights");
  if (group_ < 1 || weights_.dim(0) % group_ != 0) fail("group " + std::to_string(group_) + " does not divide the input channels");
  bias_ = bias_of(*this, in, weights_.dim(1) * group_);
}

std::array<std::int64_t, 3> ConvTranspose3d::pads_begin(const Shape& x) const {
  std::array<std::int64_t, 3> pb = window_.pad_begin;
  for (std::size_t d = 0; d < 3; ++d) {
    const std::int64_t span = (window_.kernel[d] - 1) * window_.dilation[d] + 1;
    const std::int64_t full = (x[2 + d] - 1) * window_.stride[d] + span + output_padding_[d];
    std::int64_t total = -1;
    if (!output_shape_.empty()) total = full - output_shape_.at(output_shape_.size() - 3 + d);
    else if (window_.auto_pad == "SAME_UPPER" || window_.auto_pad == "SAME_LOWER") total = full - x[2 + d] * window_.stride[d];
    if (total >= 0) pb[d] = window_.auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
  }
  return pb;
}

std::vector<ValueInfo> ConvTranspose3d::infer(const std::vector<ValueInfo>& in) const {
  const Shape& x = in.at(0).shape;
  if (x.size() != 5) fail("a 3-D transposed convolution needs (N, C, D, H, W) input, not " + to_string(x));
  if (x[1] != weights_.dim(0)) fail("input has " + std::to_string(x[1]) + " channels, the weights expect " + std::to_string(weights_.dim(0)));
  Shape out{x[0], weights_.dim(1) * group_, 0, 0, 0};
  const auto pb = pads_begin(x);
  for (std::size_t d = 0; d < 3; ++d) {
    const std::int64_t span = (window_.kernel[d] - 1) * window_.dilation[d] + 1;
    const std::int64_t full = (x[2 + d] - 1) * window_.stride[d] + span + output_padding_[d];
    if (!output_shape_.empty()) out[2 + d] = output_shape_.at(output_shape_.size() - 3 + d);
    else if (window_.auto_pad == "SAME_UPPER" || window_.auto_pad == "SAME_LOWER") out[2 + d] = x[2 + d] * window_.stride[d];
    else out[2 + d] = full - pb[d] - window_.pad_end[d];
    if (out[2 + d] < 0) fail("padding leaves a negative size");
  }
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

void ConvTranspose3d::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  Tensor& y = out[0];
  const std::int64_t n = x.dim(0), cin = x.dim(1), cin_g = cin / group_, cout_g = weights_.dim(1), cout = cout_g * group_;
  const std::array<std::int64_t, 3> size{x.dim(2), x.dim(3), x.dim(4)}, o{y.dim(2), y.dim(3), y.dim(4)};
  const auto pb = pads_begin(x.shape());
  const std::int64_t positions = size[0] * size[1] * size[2], out_positions = o[0] * o[1] * o[2];
  const std::int64_t taps = window_.kernel[0] * window_.kernel[1] * window_.kernel[2];
  // Per (sample, output channel): out = sum over input channels and taps of w * x, scattered.
  // Tasks own output channels, so no two write the same element.
  luojia::detail::parallel_for(std::int64_t{0}, n * cout, [&](std::int64_t task) {
    const std::int64_t b = task / cout, oc = task % cout, g = oc / cout_g, ocg = oc % cout_g;
    float* dst = y.data() + (b * cout + oc) * out_positions;
    std::fill(dst, dst + out_positions, bias_[static_cast<std::size_t>(oc)]);
    for (std::int64_t c = 0; c < cin_g; ++c) {
      const std::int64_t ic = g * cin_g + c;
      const float* src = x.data() + (b * cin + ic) * positions;
      const float* w = weights_.data() + (ic * cout_g + ocg) * taps;
      for (std::int64_t t = 0; t < taps; ++t) {
        const float wt = w[t];
        if (wt == 0.0f) continue;
        const std::int64_t kz = t / (window_.kernel[1] * window_.kernel[2]), ky = t / window_.kernel[2] % window_.kernel[1],
                           kx = t % window_.kernel[2];
        for (std::int64_t iz = 0; iz < size[0]; ++iz) {
          const std::int64_t oz = iz * window_.stride[0] - pb[0] + kz * window_.dilation[0];
          if (oz < 0 || oz >= o[0]) continue;
          for (std::int64_t iy = 0; iy < size[1]; ++iy) {
            const std::int64_t oy = iy * window_.stride[1] - pb[1] + ky * window_.dilation[1];
            if (oy < 0 || oy >= o[1]) continue;
            const float* row = src + (iz * size[1] + iy) * size[2];
            float* out_row = dst + (oz * o[1] + oy) * o[2];
            // ox = ix * s - p + kx d inside [0, o2): ix from ceil((p - kx d) / s).
            const std::int64_t first = std::max<std::int64_t>(0, -floor_div(kx * window_.dilation[2] - pb[2], window_.stride[2]));
            for (std::int64_t ix = first; ix < size[2]; ++ix) {
              const std::int64_t ox = ix * window_.stride[2] - pb[2] + kx * window_.dilation[2];
              if (ox < 0) continue;
              if (ox >= o[2]) break;
              out_row[ox] += wt * row[ix];
            }
          }
        }
      }
    }
    activation_.apply(dst, out_positions);
  });
}

Footprint ConvTranspose3d::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Transposed;
  f.kernel = {window_.kernel[1], window_.kernel[2]};
  f.stride = {window_.stride[1], window_.stride[2]};
  f.dilation = {window_.dilation[1], window_.dilation[2]};
  f.pad_begin = {window_.pad_begin[1], window_.pad_begin[2]};
  if (!output_shape_.empty() || (window_.auto_pad != "NOTSET" && window_.auto_pad != "VALID"))
    return Footprint::global("its padding depends on the output size it is given");
  return f;
}

// Pool3d -------------------------------------------------------------------------------------------
Pool3d::Pool3d(const NodeInfo& node) : Layer(node) {
  window_ = Window3d::from(*this, node.attributes);
  max_ = node.op_type == "MaxPool";
  count_include_pad_ = node.attributes.get_int("count_include_pad", 0) != 0;
  if (max_ && node.outputs.size() > 1 && !node.outputs[1].empty()) fail("MaxPool's Indices output is not supported");
}

std::vector<ValueInfo> Pool3d::infer(const std::vector<ValueInfo>& in) const {
  const Shape& x = in.at(0).shape;
  if (x.size() != 5) fail("3-D pooling needs (N, C, D, H, W) input, not " + to_string(x));
  Shape out = x;
  for (int d = 0; d < 3; ++d) {
    std::int64_t pb = 0;
    out[static_cast<std::size_t>(2 + d)] = window_.output_size(d, x[static_cast<std::size_t>(2 + d)], pb);
  }
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

void Pool3d::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const std::array<std::int64_t, 3> size{x.dim(2), x.dim(3), x.dim(4)};
  std::array<std::int64_t, 3> o{}, pb{};
  for (int d = 0; d < 3; ++d) o[static_cast<std::size_t>(d)] = window_.output_size(d, size[static_cast<std::size_t>(d)], pb[static_cast<std::size_t>(d)]);
  const std::int64_t in_plane = size[0] * size[1] * size[2], out_plane = o[0] * o[1] * o[2];
  luojia::detail::parallel_for(std::int64_t{0}, x.dim(0) * x.dim(1), [&](std::int64_t p) {
    const float* src = x.data() + p * in_plane;
    float* dst = out[0].data() + p * out_plane;
    for (std::int64_t oz = 0; oz < o[0]; ++oz)
      for (std::int64_t oy = 0; oy < o[1]; ++oy)
        for (std::int64_t ox = 0; ox < o[2]; ++ox) {
          float best = -INFINITY;
          double sum = 0;
          std::int64_t count = 0, padded = 0;
          for (std::int64_t kz = 0; kz < window_.kernel[0]; ++kz)
            for (std::int64_t ky = 0; ky < window_.kernel[1]; ++ky)
              for (std::int64_t kx = 0; kx < window_.kernel[2]; ++kx) {
                const std::int64_t iz = oz * window_.stride[0] - pb[0] + kz * window_.dilation[0];
                const std::int64_t iy = oy * window_.stride[1] - pb[1] + ky * window_.dilation[1];
                const std::int64_t ix = ox * window_.stride[2] - pb[2] + kx * window_.dilation[2];
                // count_include_pad counts the explicit padding, not the part of a ceil-mode
                // window past it (as PyTorch and ONNX Runtime).
                const bool in_pad = iz >= -pb[0] && iz < size[0] + window_.pad_end[0] && iy >= -pb[1] &&
                                    iy < size[1] + window_.pad_end[1] && ix >= -pb[2] && ix < size[2] + window_.pad_end[2];
                if (iz < 0 || iz >= size[0] || iy < 0 || iy >= size[1] || ix < 0 || ix >= size[2]) {
                  padded += in_pad ? 1 : 0;
                  continue;
                }
                const float v = src[(iz * size[1] + iy) * size[2] + ix];
                best = std::max(best, v);
                sum += v;
                ++count;
              }
          const std::int64_t divisor = count_include_pad_ ? count + padded : count;
          dst[(oz * o[1] + oy) * o[2] + ox] = max_ ? best : (divisor > 0 ? static_cast<float>(sum / static_cast<double>(divisor)) : 0.0f);
        }
  });
}

}  // namespace luojia::nn::layers
