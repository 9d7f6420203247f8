#include "nn/layers/shape_ops.hpp"

#include "core/parallel.hpp"

#include <cstring>
#include <numeric>

namespace luojia::nn::layers {

namespace {

const char* bytes(const Tensor& t) { return reinterpret_cast<const char*>(t.data()); }
char* bytes(Tensor& t) { return reinterpret_cast<char*>(t.data()); }

// The values of a layer whose output views its input (Layer::output_views_input): nothing to copy
// when the planner gave the output the input's memory.
void copy_unless_viewed(const Tensor& in, Tensor& out) {
  if (bytes(out) == bytes(in)) return;
  std::memcpy(bytes(out), bytes(in), static_cast<std::size_t>(in.size()) * element_size(in));
}

// Axes given as an attribute (older opsets) or as input `index` (newer ones).
std::vector<std::int64_t> axes_of(const Layer& layer, const std::vector<ValueInfo>& in, std::size_t index) {
  if (index < in.size() && in[index].present) {
    if (!in[index].value) raise("axes must be constant in " + layer.node().describe());
    return in[index].value->to_ints();
  }
  return layer.node().attributes.get_ints("axes");
}

}  // namespace

// Shape --------------------------------------------------------------------------------------------
std::vector<ValueInfo> ShapeOf::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  auto r = static_cast<std::int64_t>(s.size());
  std::int64_t start = node().attributes.get_int("start", 0), end = node().attributes.get_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, start, r);
  std::vector<std::int64_t> dims(s.begin() + start, s.begin() + end);
  ValueInfo v = output_info({static_cast<std::int64_t>(dims.size())}, ElementType::Int64);
  v.value = Tensor::from_ints(dims, {static_cast<std::int64_t>(dims.size())});
  return {v};
}
void ShapeOf::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const auto v = infer(infos_of(inputs));
  std::copy(v[0].value->ints(), v[0].value->ints() + v[0].value->size(), outputs[0].ints());
}

std::vector<ValueInfo> Size::infer(const std::vector<ValueInfo>& in) const {
  ValueInfo v = output_info({}, ElementType::Int64);
  v.value = Tensor::from_ints({element_count(in.at(0).shape)}, {});
  return {v};
}
void Size::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  outputs[0].ints()[0] = inputs[0].size();
}

// Gather -------------------------------------------------------------------------------------------
std::vector<ValueInfo> Gather::infer(const std::vector<ValueInfo>& in) const {
  const Shape& data = in.at(0).shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), data.size(), *this);
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), in.at(1).shape.begin(), in.at(1).shape.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  return {output_info(out, in[0].type)};
}
void Gather::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& data = inputs[0];
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), data.shape().size(), *this);
  const auto indices = inputs[1].to_ints();
  const std::int64_t n = data.dim(axis);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= data.dim(d);
  for (int d = axis + 1; d < data.rank(); ++d) inner *= data.dim(d);
  const std::size_t es = element_size(data), chunk = static_cast<std::size_t>(inner) * es;
  char* dst = bytes(outputs[0]);
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t index : indices) {
      const std::int64_t i = index < 0 ? index + n : index;
      if (i < 0 || i >= n) fail("index " + std::to_string(index) + " is out of range for size " + std::to_string(n));
      std::memcpy(dst, bytes(data) + static_cast<std::size_t>(o * n + i) * chunk, chunk);
      dst += chunk;
    }
}

// Unsqueeze / Squeeze ------------------------------------------------------------------------------
std::vector<ValueInfo> Unsqueeze::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  const auto axes = axes_of(*this, in, 1);
  const std::size_t rank = s.size() + axes.size();
  std::vector<bool> inserted(rank, false);
  for (auto a : axes) inserted[static_cast<std::size_t>(normalise_axis(a, rank, *this))] = true;
  Shape out;
  for (std::size_t d = 0, k = 0; d < rank; ++d) out.push_back(inserted[d] ? 1 : s.at(k++));
  return {output_info(out, in[0].type)};
}
void Unsqueeze::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  copy_unless_viewed(inputs[0], outputs[0]);
}

std::vector<ValueInfo> Squeeze::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  auto axes = axes_of(*this, in, 1);
  std::vector<bool> drop(s.size(), false);
  if (axes.empty())
    for (std::size_t d = 0; d < s.size(); ++d) drop[d] = s[d] == 1;
  for (auto a : axes) {
    const int d = normalise_axis(a, s.size(), *this);
    if (s[static_cast<std::size_t>(d)] != 1) fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(s[static_cast<std::size_t>(d)]));
    drop[static_cast<std::size_t>(d)] = true;
  }
  Shape out;
  for (std::size_t d = 0; d < s.size(); ++d)
    if (!drop[d]) out.push_back(s[d]);
  return {output_info(out, in[0].type)};
}
void Squeeze::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  copy_unless_viewed(inputs[0], outputs[0]);
}

// Concat -------------------------------------------------------------------------------------------
std::vector<ValueInfo> Concat::infer(const std::vector<ValueInfo>& in) const {
  if (in.empty()) fail("needs inputs");
  Shape out = in[0].shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), out.size(), *this);
  bool any_float = false;
  for (const auto& v : in) any_float = any_float || v.type == ElementType::Float32;
  out[static_cast<std::size_t>(axis)] = 0;
  for (const auto& v : in) {
    if (v.shape.size() != out.size()) fail("inputs have different ranks");
    for (std::size_t d = 0; d < out.size(); ++d)
      if (static_cast<int>(d) != axis && v.shape[d] != out[d])
        fail("input shapes " + to_string(in[0].shape) + " and " + to_string(v.shape) + " differ outside the axis");
    out[static_cast<std::size_t>(axis)] += v.shape[static_cast<std::size_t>(axis)];
  }
  return {output_info(out, any_float ? ElementType::Float32 : ElementType::Int64)};
}
void Concat::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  Tensor& y = outputs[0];
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), y.shape().size(), *this);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= y.dim(d);
  for (int d = axis + 1; d < y.rank(); ++d) inner *= y.dim(d);
  const std::size_t es = element_size(y);
  // The copies as pieces of at most 64 KiB, over the threads (DenseNet's concatenations of up to
  // 32 inputs took 2 ms of 60 on one thread, and longer on two).
  struct Piece {
    char* dst;
    const char* src;
    std::size_t size;
  };
  constexpr std::size_t kPiece = std::size_t{1} << 16;
  std::vector<Piece> pieces;
  std::vector<Tensor> converted;  // inputs of another element type, as the output's
  converted.reserve(inputs.size());
  std::int64_t offset = 0;
  for (const Tensor& x0 : inputs) {
    if (x0.type() != y.type())
      converted.push_back(y.type() == ElementType::Float32 ? Tensor::from_floats(x0.to_floats(), x0.shape())
                                                           : Tensor::from_ints(x0.to_ints(), x0.shape()));
    const Tensor& x = x0.type() == y.type() ? x0 : converted.back();
    const std::int64_t len = x.rank() ? x.dim(axis) : 1;
    const std::size_t chunk = static_cast<std::size_t>(len * inner) * es;
    for (std::int64_t o = 0; o < outer; ++o) {
      char* dst = bytes(y) + static_cast<std::size_t>((o * y.dim(axis) + offset) * inner) * es;
      const char* src = bytes(x) + static_cast<std::size_t>(o) * chunk;
      if (dst == src) continue;  // the planner placed the input there
      for (std::size_t at = 0; at < chunk; at += kPiece) pieces.push_back({dst + at, src + at, std::min(kPiece, chunk - at)});
    }
    offset += len;
  }
  const auto copy = [&](std::int64_t i) {
    const Piece& p = pieces[static_cast<std::size_t>(i)];
    std::memcpy(p.dst, p.src, p.size);
  };
  const auto count = static_cast<std::int64_t>(pieces.size());
  if (count < 4) {
    for (std::int64_t i = 0; i < count; ++i) copy(i);
    return;
  }
  luojia::detail::parallel_for(std::int64_t{0}, count, copy);
}

// Slice --------------------------------------------------------------------------------------------
namespace {
struct SliceSpec {
  std::vector<std::int64_t> start, step;
  Shape out;
};
SliceSpec slice_spec(const Layer& layer, const std::vector<ValueInfo>& in) {
  const Shape& s = in.at(0).shape;
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (layer.node().opset < 10) {
    starts = layer.node().attributes.get_ints("starts");
    ends = layer.node().attributes.get_ints("ends");
    axes = layer.node().attributes.get_ints("axes");
  } else {
    auto need = [&](std::size_t i) {
      if (!in.at(i).value) raise("Slice bounds must be constant in " + layer.node().describe());
      return in[i].value->to_ints();
    };
    starts = need(1);
    ends = need(2);
    if (in.size() > 3 && in[3].present) axes = need(3);
    if (in.size() > 4 && in[4].present) steps = need(4);
  }
  if (axes.empty())
    for (std::size_t d = 0; d < starts.size(); ++d) axes.push_back(static_cast<std::int64_t>(d));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    raise("Slice's starts, ends, axes and steps differ in length in " + layer.node().describe());
  SliceSpec spec;
  spec.start.assign(s.size(), 0);
  spec.step.assign(s.size(), 1);
  spec.out = s;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const int d = normalise_axis(axes[k], s.size(), layer);
    const std::int64_t n = s[static_cast<std::size_t>(d)], step = steps[k];
    if (step == 0) raise("Slice step 0 in " + layer.node().describe());
    std::int64_t b = starts[k], e = ends[k];
    if (b < 0) b += n;
    if (e < 0) e += n;
    if (step > 0) {
      b = std::clamp<std::int64_t>(b, 0, n);
      e = std::clamp<std::int64_t>(e, 0, n);
    } else {
      b = std::clamp<std::int64_t>(b, -1, n - 1);
      e = std::clamp<std::int64_t>(e, -1, n - 1);
    }
    const std::int64_t len = step > 0 ? std::max<std::int64_t>(0, (e - b + step - 1) / step)
                                      : std::max<std::int64_t>(0, (b - e + (-step) - 1) / (-step));
    spec.start[static_cast<std::size_t>(d)] = b;
    spec.step[static_cast<std::size_t>(d)] = step;
    spec.out[static_cast<std::size_t>(d)] = len;
  }
  return spec;
}
}  // namespace

std::vector<ValueInfo> Slice::infer(const std::vector<ValueInfo>& in) const {
  return {output_info(slice_spec(*this, in).out, in.at(0).type)};
}
void Slice::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const SliceSpec spec = slice_spec(*this, infos_of(inputs));
  const Tensor& x = inputs[0];
  const auto strides = contiguous_strides(x.shape());
  const std::size_t es = element_size(x);
  const std::int64_t total = element_count(spec.out);
  if (total == 0) return;
  // Copied in runs: the innermost axes taken whole, and the first axis outside them with step 1
  // (a channel slice of an NCHW map is one run per image).
  std::size_t first = spec.out.size();
  std::int64_t run = 1;
  while (first > 0) {
    const std::size_t d = first - 1;
    const bool whole = spec.start[d] == 0 && spec.step[d] == 1 && spec.out[d] == x.shape()[d];
    if (!whole && spec.step[d] != 1) break;
    run *= spec.out[d];
    --first;
    if (!whole) break;
  }
  std::vector<std::int64_t> index(first, 0);
  for (std::int64_t o = 0; o < total; o += run) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < spec.out.size(); ++d) src += spec.start[d] * strides[d];
    for (std::size_t d = 0; d < first; ++d) src += index[d] * spec.step[d] * strides[d];
    std::memcpy(bytes(outputs[0]) + static_cast<std::size_t>(o) * es, bytes(x) + static_cast<std::size_t>(src) * es,
                static_cast<std::size_t>(run) * es);
    for (std::size_t d = first; d-- > 0;) {
      if (++index[d] < spec.out[d]) break;
      index[d] = 0;
    }
  }
}

// Cast ---------------------------------------------------------------------------------------------
std::vector<ValueInfo> Cast::infer(const std::vector<ValueInfo>& in) const {
  const std::int64_t to = node().attributes.get_int("to", 1);
  // ONNX's FLOAT, FLOAT16, DOUBLE, BFLOAT16 are floats here; integers and bool are int64.
  const bool is_float = to == 1 || to == 10 || to == 11 || to == 16;
  return {output_info(in.at(0).shape, is_float ? ElementType::Float32 : ElementType::Int64)};
}
void Cast::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const std::int64_t to = node().attributes.get_int("to", 1);
  Tensor& y = outputs[0];
  if (y.type() == ElementType::Float32) {
    const auto v = inputs[0].to_floats();
    std::copy(v.begin(), v.end(), y.data());
  } else {
    const auto v = inputs[0].to_ints();
    for (std::size_t i = 0; i < v.size(); ++i) y.ints()[i] = to == 9 ? (v[i] != 0) : v[i];
    if (inputs[0].type() == ElementType::Float32 && to == 9)
      for (std::int64_t i = 0; i < y.size(); ++i) y.ints()[i] = inputs[0].data()[i] != 0.0f;
  }
}

// Reshape / Flatten --------------------------------------------------------------------------------
std::vector<ValueInfo> Reshape::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  const auto target = constant_input(in, 1).to_ints();
  const bool allow_zero = node().attributes.get_int("allowzero", 0) != 0;
  Shape out;
  int infer_at = -1;
  std::int64_t known = 1;
  for (std::size_t d = 0; d < target.size(); ++d) {
    std::int64_t v = target[d];
    if (v == 0 && !allow_zero) {
      if (d >= s.size()) fail("0 in the target shape copies a dimension the input does not have");
      v = s[d];
    }
    if (v == -1) {
      if (infer_at >= 0) fail("more than one -1 in the target shape");
      infer_at = static_cast<int>(d);
      out.push_back(1);
      continue;
    }
    if (v < 0) fail("negative dimension in the target shape");
    if (__builtin_mul_overflow(known, v, &known)) fail("target shape " + to_string(Shape(target)) + " is too large");
    out.push_back(v);
  }
  const std::int64_t total = element_count(s);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) fail("cannot reshape " + to_string(s) + " to " + to_string(Shape(target)));
    out[static_cast<std::size_t>(infer_at)] = total / known;
  }
  if (element_count(out) != total) fail("cannot reshape " + to_string(s) + " to " + to_string(Shape(target)));
  return {output_info(out, in[0].type)};
}
void Reshape::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  copy_unless_viewed(inputs[0], outputs[0]);
}

std::vector<ValueInfo> Flatten::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  std::int64_t axis = node().attributes.get_int("axis", 1);
  if (axis < 0) axis += static_cast<std::int64_t>(s.size());
  if (axis < 0 || axis > static_cast<std::int64_t>(s.size())) fail("axis out of range");
  std::int64_t a = 1, b = 1;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(s.size()); ++d) (d < axis ? a : b) *= s[static_cast<std::size_t>(d)];
  return {output_info({a, b}, in[0].type)};
}
void Flatten::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  copy_unless_viewed(inputs[0], outputs[0]);
}

// ConstantOfShape / Expand / Range -----------------------------------------------------------------
std::vector<ValueInfo> ConstantOfShape::infer(const std::vector<ValueInfo>& in) const {
  const auto dims = constant_input(in, 0).to_ints();
  const auto value = node().attributes.get_tensor("value");
  return {output_info(Shape(dims.begin(), dims.end()), value ? value->type() : ElementType::Float32)};
}
void ConstantOfShape::do_forward(std::span<const Tensor>, std::span<Tensor> outputs) const {
  const auto value = node().attributes.get_tensor("value");
  Tensor& y = outputs[0];
  if (y.type() == ElementType::Int64) std::fill(y.ints(), y.ints() + y.size(), value ? value->to_ints().at(0) : 0);
  else std::fill(y.data(), y.data() + y.size(), value ? value->to_floats().at(0) : 0.0f);
}

std::vector<ValueInfo> Expand::infer(const std::vector<ValueInfo>& in) const {
  const auto dims = constant_input(in, 1).to_ints();
  return {output_info(broadcast(in.at(0).shape, Shape(dims.begin(), dims.end())), in[0].type)};
}
void Expand::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  Tensor& y = outputs[0];
  const Tensor& x = inputs[0];
  const auto strides = broadcast_strides(x.shape(), y.shape());
  const std::size_t es = element_size(x);
  std::vector<std::int64_t> index(y.shape().size(), 0);
  for (std::int64_t o = 0; o < y.size(); ++o) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < index.size(); ++d) src += index[d] * strides[d];
    std::memcpy(bytes(y) + static_cast<std::size_t>(o) * es, bytes(x) + static_cast<std::size_t>(src) * es, es);
    for (std::size_t d = index.size(); d-- > 0;) {
      if (++index[d] < y.shape()[d]) break;
      index[d] = 0;
    }
  }
}

std::vector<ValueInfo> Range::infer(const std::vector<ValueInfo>& in) const {
  const double start = constant_input(in, 0).to_floats().at(0), limit = constant_input(in, 1).to_floats().at(0),
               delta = constant_input(in, 2).to_floats().at(0);
  if (delta == 0) fail("delta is zero");
  const auto n = static_cast<std::int64_t>(std::max(0.0, std::ceil((limit - start) / delta)));
  return {output_info({n}, in[0].type)};
}
void Range::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  Tensor& y = outputs[0];
  const double start = inputs[0].to_floats().at(0), delta = inputs[2].to_floats().at(0);
  for (std::int64_t i = 0; i < y.size(); ++i) {
    if (y.type() == ElementType::Int64) y.ints()[i] = inputs[0].to_ints().at(0) + i * inputs[2].to_ints().at(0);
    else y.data()[i] = static_cast<float>(start + static_cast<double>(i) * delta);
  }
}

// Transpose ----------------------------------------------------------------------------------------
namespace {
// perm, or the reversal when absent; each axis exactly once (a crafted perm could repeat one).
std::vector<std::int64_t> permutation(const Layer& layer, std::size_t rank) {
  auto perm = layer.node().attributes.get_ints("perm");
  if (perm.empty())
    for (std::size_t d = rank; d-- > 0;) perm.push_back(static_cast<std::int64_t>(d));
  if (perm.size() != rank) raise("perm does not match the rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (auto& p : perm) {
    p = normalise_axis(p, rank, layer);
    if (seen[static_cast<std::size_t>(p)]) raise("perm names axis " + std::to_string(p) + " twice");
    seen[static_cast<std::size_t>(p)] = true;
  }
  return perm;
}
}  // namespace

namespace {

using f32x8 = float __attribute__((vector_size(32)));

// r[0..7] := its transpose: the unpack / shuffle / 128-bit-lane exchange sequence of an AVX 8 x 8
// transpose, written with GCC's vector shuffles so that every build compiles it.
[[gnu::always_inline]] inline void transpose8(f32x8 r[8]) {
  f32x8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)
    for (int j = 0; j < 2; ++j) {
      u[i + j] = __builtin_shufflevector(t[i + j], t[i + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + j + 2] = __builtin_shufflevector(t[i + j], t[i + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  // u[0..3]: rows 0-3's columns {0,4}, {2,6}, {1,5}, {3,7} interleaved; u[4..7] likewise rows 4-7.
  const int order[4] = {0, 2, 1, 3};
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shufflevector(u[order[i]], u[order[i] + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[i + 4] = __builtin_shufflevector(u[order[i]], u[order[i] + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// The output's last axis reads the input with a stride and another output axis reads it
// contiguously (K^T in attention, NCHW <-> NHWC around ConvNeXt's blocks): the copy is a 2-D
// transpose per index of the other axes, done 8 x 8 in registers (eight vector loads, 24
// shuffles, eight vector stores) instead of one scalar load and store per element (ConvNeXt-T's
// permutes took 3 ms of 60 that way). Returns false when no output axis reads the input
// contiguously.
bool transpose_blocks(const float* x, const Shape& out, const std::vector<std::int64_t>& strides, float* y) {
  const std::size_t last = out.size() - 1;
  std::size_t along = last;  // the output axis that walks the input with stride 1
  for (std::size_t d = 0; d < last; ++d)
    if (strides[d] == 1) along = d;
  if (along == last || out[along] < 8 || out[last] < 8) return false;
  std::vector<std::int64_t> out_strides(out.size(), 1);
  for (std::size_t d = last; d-- > 0;) out_strides[d] = out_strides[d + 1] * out[d + 1];
  const std::int64_t a_len = out[along], b_len = out[last], b_stride = strides[last], a_out = out_strides[along];
  const std::int64_t outer = element_count(out) / (a_len * b_len);
  // Tasks of whole 8-row bands of the along axis, about 16K elements each.
  const std::int64_t bands = (a_len + 7) / 8, per_task = std::max<std::int64_t>(1, 16384 / (8 * b_len));
  const std::int64_t tasks_per_outer = (bands + per_task - 1) / per_task;
  luojia::detail::parallel_for(std::int64_t{0}, outer * tasks_per_outer, [&](std::int64_t task) {
    std::int64_t rest = task / tasks_per_outer, from = 0, to = 0;
    for (std::size_t d = last; d-- > 0;) {
      if (d == along) continue;
      const std::int64_t i = rest % out[d];
      rest /= out[d];
      from += i * strides[d];
      to += i * out_strides[d];
    }
    const std::int64_t band0 = task % tasks_per_outer * per_task, band1 = std::min(bands, band0 + per_task);
    for (std::int64_t band = band0; band < band1; ++band) {
      const std::int64_t a0 = band * 8;
      if (a0 + 8 > a_len) {  // the last, partial band: element by element
        for (std::int64_t a = a0; a < a_len; ++a)
          for (std::int64_t b = 0; b < b_len; ++b) y[to + a * a_out + b] = x[from + a + b * b_stride];
        continue;
      }
      std::int64_t b0 = 0;
      for (; b0 + 8 <= b_len; b0 += 8) {
        f32x8 r[8];
        for (int i = 0; i < 8; ++i) std::memcpy(&r[i], x + from + a0 + (b0 + i) * b_stride, sizeof r[i]);
        transpose8(r);
        for (int i = 0; i < 8; ++i) std::memcpy(y + to + (a0 + i) * a_out + b0, &r[i], sizeof r[i]);
      }
      for (std::int64_t a = a0; a < a0 + 8; ++a)
        for (std::int64_t b = b0; b < b_len; ++b) y[to + a * a_out + b] = x[from + a + b * b_stride];
    }
  });
  return true;
}

}  // namespace

std::vector<ValueInfo> Transpose::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  Shape out;
  for (auto p : permutation(*this, s.size())) out.push_back(s[static_cast<std::size_t>(p)]);
  return {output_info(out, in[0].type)};
}
void Transpose::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const auto perm = permutation(*this, x.shape().size());
  const auto in_strides = contiguous_strides(x.shape());
  // Output axes with their input strides; neighbours that stay neighbours in the input merge into
  // one axis (a (3, 64, 3, 49, 32) window shuffle is a 3-D transpose), 1-sized axes drop out.
  Shape out;
  std::vector<std::int64_t> strides;
  for (std::size_t d = 0; d < perm.size(); ++d) {
    const std::int64_t n = y.shape()[d], stride = in_strides[static_cast<std::size_t>(perm[d])];
    if (n == 1) continue;
    if (!out.empty() && strides.back() == stride * n) {
      out.back() *= n;
      strides.back() = stride;
      continue;
    }
    out.push_back(n);
    strides.push_back(stride);
  }
  const std::size_t es = element_size(x);
  if (out.empty()) {
    std::memcpy(bytes(y), bytes(x), static_cast<std::size_t>(y.size()) * es);
    return;
  }
  const std::int64_t inner = out.back(), inner_stride = strides.back(), rows = y.size() / std::max<std::int64_t>(inner, 1);
  if (es == 4 && inner_stride != 1 && transpose_blocks(x.data(), out, strides, y.data())) return;
  // Rows of the output's last axis, in chunks over the threads; each chunk finds its first row's
  // source by unravelling its index.
  const std::int64_t per_task = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(inner, 1));
  luojia::detail::parallel_for(std::int64_t{0}, rows, per_task, [&](std::int64_t r0) {
    const std::int64_t r1 = std::min(rows, r0 + per_task);
    std::vector<std::int64_t> index(out.size(), 0);
    for (std::int64_t rest = r0, d = static_cast<std::int64_t>(out.size()) - 2; d >= 0; --d) {
      index[static_cast<std::size_t>(d)] = rest % out[static_cast<std::size_t>(d)];
      rest /= out[static_cast<std::size_t>(d)];
    }
    for (std::int64_t r = r0; r < r1; ++r) {
      std::int64_t src = 0;
      for (std::size_t d = 0; d + 1 < index.size(); ++d) src += index[d] * strides[d];
      const std::int64_t o = r * inner;
      if (es == 4) {
        const float* from = x.data() + src;
        float* to = y.data() + o;
        if (inner_stride == 1) std::memcpy(to, from, static_cast<std::size_t>(inner) * 4);
        else
          for (std::int64_t k = 0; k < inner; ++k) to[k] = from[k * inner_stride];
      } else {
        for (std::int64_t k = 0; k < inner; ++k) y.ints()[o + k] = x.ints()[src + k * inner_stride];
      }
      for (std::size_t d = index.size() - 1; d-- > 0;) {
        if (++index[d] < out[d]) break;
        index[d] = 0;
      }
    }
  });
}

// Split --------------------------------------------------------------------------------------------
std::vector<ValueInfo> Split::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), s.size(), *this);
  std::vector<std::int64_t> sizes = node().attributes.get_ints("split");
  if (has_input(in, 1)) sizes = constant_input(in, 1).to_ints();
  const auto parts = static_cast<std::int64_t>(node().outputs.size());
  if (sizes.empty()) {
    const std::int64_t n = s[static_cast<std::size_t>(axis)];
    for (std::int64_t k = 0; k < parts; ++k) sizes.push_back((n + parts - 1) / parts);
    sizes.back() = n - (parts - 1) * sizes.front();
  }
  std::vector<ValueInfo> out;
  for (auto len : sizes) {
    Shape o = s;
    o[static_cast<std::size_t>(axis)] = len;
    out.push_back(output_info(o, in[0].type));
  }
  return out;
}
void Split::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), x.shape().size(), *this);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const std::size_t es = element_size(x);
  std::int64_t offset = 0;
  for (Tensor& y : outputs) {
    const std::int64_t len = y.dim(axis);
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(bytes(y) + static_cast<std::size_t>(o * len * inner) * es,
                  bytes(x) + static_cast<std::size_t>((o * x.dim(axis) + offset) * inner) * es,
                  static_cast<std::size_t>(len * inner) * es);
    offset += len;
  }
}

namespace {

Footprint reshaping() {
  Footprint f;
  f.kind = Footprint::Kind::Reshape;
  return f;
}

}  // namespace

Footprint Gather::footprint() const { return Footprint::combine({node().attributes.get_int("axis", 0)}); }
Footprint Split::footprint() const { return Footprint::combine({node().attributes.get_int("axis", 0)}); }
Footprint Concat::footprint() const {
  Footprint f = Footprint::combine({node().attributes.get_int("axis", 1)});
  f.kind = Footprint::Kind::Concatenate;
  return f;
}
Footprint Unsqueeze::footprint() const { return reshaping(); }
Footprint Squeeze::footprint() const { return reshaping(); }
Footprint Reshape::footprint() const { return reshaping(); }
Footprint Flatten::footprint() const { return reshaping(); }

Footprint Transpose::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Permute;
  f.axes = node().attributes.get_ints("perm");
  return f;
}

Footprint Slice::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Shift;
  f.starts_input = 1;
  f.axes_input = 3;
  return f;
}

}  // namespace luojia::nn::layers
