#include "nn/layers/depth_space.hpp"

namespace luojia::nn::layers {
namespace {

std::int64_t block_size(const Layer& layer) {
  const std::int64_t b = layer.node().attributes.get_int("blocksize", 0);
  if (b < 1 || b > 64) raise("blocksize " + std::to_string(b) + " is outside 1 to 64 in " + layer.node().describe());
  return b;
}

void require_nchw(const ValueInfo& x, const Layer& layer) {
  if (x.shape.size() != 4) raise(layer.node().describe() + " needs an NCHW input, not " + to_string(x.shape));
  if (x.type != ElementType::Float32) raise(layer.node().describe() + " runs on float tensors");
}

}  // namespace

DepthToSpace::DepthToSpace(const NodeInfo& node) : Layer(node), block_(block_size(*this)) {
  const std::string mode = node.attributes.get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") fail("mode " + mode + " is neither DCR nor CRD");
  column_row_depth_ = mode == "CRD";
}

std::vector<ValueInfo> DepthToSpace::infer(const std::vector<ValueInfo>& in) const {
  require_nchw(in.at(0), *this);
  const Shape& s = in[0].shape;
  if (s[1] % (block_ * block_) != 0)
    fail(std::to_string(s[1]) + " channels do not split into blocks of " + std::to_string(block_) + "x" + std::to_string(block_));
  return {ValueInfo{{s[0], s[1] / (block_ * block_), s[2] * block_, s[3] * block_}, ElementType::Float32, std::nullopt, true}};
}

void DepthToSpace::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const std::int64_t n = x.shape()[0], depth = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const std::int64_t b = block_, c_out = depth / (b * b), plane = h * w;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < c_out; ++c)
      for (std::int64_t by = 0; by < b; ++by)
        for (std::int64_t bx = 0; bx < b; ++bx) {
          // DCR: depth index (by*b + bx)*C + c; CRD: c*b*b + by*b + bx.
          const std::int64_t d = column_row_depth_ ? c * b * b + by * b + bx : (by * b + bx) * c_out + c;
          const float* src = x.data() + (i * depth + d) * plane;
          float* dst = y.data() + (i * c_out + c) * plane * b * b;
          for (std::int64_t yy = 0; yy < h; ++yy) {
            float* row = dst + (yy * b + by) * w * b + bx;
            const float* from = src + yy * w;
            for (std::int64_t xx = 0; xx < w; ++xx) row[xx * b] = from[xx];
          }
        }
}

SpaceToDepth::SpaceToDepth(const NodeInfo& node) : Layer(node), block_(block_size(*this)) {}

std::vector<ValueInfo> SpaceToDepth::infer(const std::vector<ValueInfo>& in) const {
  require_nchw(in.at(0), *this);
  const Shape& s = in[0].shape;
  if (s[2] % block_ != 0 || s[3] % block_ != 0)
    fail(to_string(s) + " is not a whole number of " + std::to_string(block_) + "x" + std::to_string(block_) + " blocks");
  return {ValueInfo{{s[0], s[1] * block_ * block_, s[2] / block_, s[3] / block_}, ElementType::Float32, std::nullopt, true}};
}

void SpaceToDepth::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const std::int64_t n = x.shape()[0], c_in = x.shape()[1], h = x.shape()[2], w = x.shape()[3];
  const std::int64_t b = block_, oh = h / b, ow = w / b;
  // ONNX's SpaceToDepth is DCR's inverse: output depth (by*b + bx)*C + c.
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t by = 0; by < b; ++by)
      for (std::int64_t bx = 0; bx < b; ++bx)
        for (std::int64_t c = 0; c < c_in; ++c) {
          const float* src = x.data() + (i * c_in + c) * h * w;
          float* dst = y.data() + (i * c_in * b * b + (by * b + bx) * c_in + c) * oh * ow;
          for (std::int64_t yy = 0; yy < oh; ++yy)
            for (std::int64_t xx = 0; xx < ow; ++xx) dst[yy * ow + xx] = src[(yy * b + by) * w + xx * b + bx];
        }
}

}  // namespace luojia::nn::layers
