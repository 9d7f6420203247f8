#include "nn/layers/common.hpp"
#include "nn/layers/vector_math.hpp"

namespace luojia::nn::layers {

std::vector<ValueInfo> infos_of(std::span<const Tensor> inputs) {
  std::vector<ValueInfo> v;
  for (const auto& t : inputs)
    v.push_back(ValueInfo{t.shape(), t.type(), t.empty() ? std::nullopt : std::optional<Tensor>(t), !t.empty()});
  return v;
}

std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

Shape broadcast(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      raise("shapes " + to_string(a) + " and " + to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<std::int64_t> strides(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const std::size_t i = shape.size() - 1 - k;
    const std::size_t o = out.size() - 1 - k;
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

Window2d Window2d::from(const Attributes& a, std::array<std::int64_t, 2> kernel) {
  Window2d w;
  const auto ks = a.get_ints("kernel_shape");
  if (ks.size() == 2) kernel = {ks[0], ks[1]};
  else if (!ks.empty()) raise("only 2-D kernels are supported, not kernel_shape of rank " + std::to_string(ks.size()));
  w.kernel = kernel;
  const auto strides = a.get_ints("strides", {1, 1});
  const auto dilations = a.get_ints("dilations", {1, 1});
  const auto pads = a.get_ints("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    raise("strides, dilations and pads must describe 2 spatial axes");
  for (int d = 0; d < 2; ++d) {
    w.stride[static_cast<std::size_t>(d)] = strides[static_cast<std::size_t>(d)];
    w.dilation[static_cast<std::size_t>(d)] = dilations[static_cast<std::size_t>(d)];
    w.pad_begin[static_cast<std::size_t>(d)] = pads[static_cast<std::size_t>(d)];
    w.pad_end[static_cast<std::size_t>(d)] = pads[static_cast<std::size_t>(d) + 2];
    if (w.stride[static_cast<std::size_t>(d)] < 1 || w.dilation[static_cast<std::size_t>(d)] < 1 ||
        w.kernel[static_cast<std::size_t>(d)] < 0 || w.pad_begin[static_cast<std::size_t>(d)] < 0 ||
        w.pad_end[static_cast<std::size_t>(d)] < 0)
      raise("kernel, strides and dilations must be positive and pads not negative");
  }
  w.ceil_mode = a.get_int("ceil_mode", 0) != 0;
  w.auto_pad = a.get_string("auto_pad", "NOTSET");
  return w;
}

std::int64_t window_output_size(std::int64_t n, std::int64_t kernel, std::int64_t stride, std::int64_t dilation, std::int64_t pad_begin,
                                std::int64_t pad_end, const std::string& auto_pad, bool ceil_mode, std::int64_t& pad_begin_out) {
  const std::int64_t span = (kernel - 1) * dilation + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const std::int64_t out = (n + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * stride + span - n);
    pad_begin_out = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    return out;
  }
  const std::int64_t pb = auto_pad == "VALID" ? 0 : pad_begin;
  const std::int64_t pe = auto_pad == "VALID" ? 0 : pad_end;
  pad_begin_out = pb;
  const std::int64_t room = n + pb + pe - span;
  if (room < 0) return 0;
  std::int64_t out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
  // With ceil_mode the last window must start inside the input or its begin padding.
  if (ceil_mode && (out - 1) * stride >= n + pb) --out;
  return out;
}

std::int64_t Window2d::output_size(int d, std::int64_t n, std::int64_t& pad_begin_out) const {
  const auto i = static_cast<std::size_t>(d);
  return window_output_size(n, kernel[i], stride[i], dilation[i], pad_begin[i], pad_end[i], auto_pad, ceil_mode, pad_begin_out);
}

Footprint Window2d::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Window;
  f.kernel = kernel;
  f.stride = stride;
  f.dilation = dilation;
  f.pad_begin = pad_begin;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")
    for (std::size_t d = 0; d < 2; ++d) f.pad_begin[d] = ((kernel[d] - 1) * dilation[d] + 1) / 2;
  return f;
}

ActivationFn ActivationFn::from(const std::string& op, const std::vector<float>& p) {
  ActivationFn f;
  auto param = [&p](std::size_t i, float fallback) { return i < p.size() ? p[i] : fallback; };
  if (op.empty()) f.kind = Activation::None;
  else if (op == "Relu") f.kind = Activation::Relu;
  else if (op == "LeakyRelu") { f.kind = Activation::LeakyRelu; f.p0 = param(0, 0.01f); }
  else if (op == "Clip") { f.kind = Activation::Clip; f.p0 = param(0, -INFINITY); f.p1 = param(1, INFINITY); }
  else if (op == "Sigmoid") f.kind = Activation::Sigmoid;
  else if (op == "Tanh") f.kind = Activation::Tanh;
  else if (op == "HardSigmoid") { f.kind = Activation::HardSigmoid; f.p0 = param(0, 0.2f); f.p1 = param(1, 0.5f); }
  else if (op == "HardSwish") f.kind = Activation::HardSwish;
  else if (op == "Silu") f.kind = Activation::Silu;  // luojia's: Sigmoid and Mul fused (optimise.cpp)
  else if (op == "Gelu") f.kind = Activation::Gelu;
  else if (op == "GeluTanh") f.kind = Activation::GeluTanh;  // Gelu with approximate = "tanh"
  else raise("unknown fused activation " + op);
  return f;
}

void ActivationFn::apply(float* x, std::int64_t n) const {
  if (kind == Activation::None) return;
  with_vector_activation(*this, [&](auto g) { map16(x, n, g); });
}

}  // namespace luojia::nn::layers
