#include "nn/layers/index_ops.hpp"

#include "core/parallel.hpp"

#include <cstring>
#include <numeric>

namespace luojia::nn::layers {
namespace {

// index, negative from the end, checked against size n.
std::int64_t checked_index(const Layer& layer, std::int64_t index, std::int64_t n) {
  const std::int64_t i = index < 0 ? index + n : index;
  if (i < 0 || i >= n)
    raise("index " + std::to_string(index) + " is out of range for size " + std::to_string(n) + " in " + layer.node().describe());
  return i;
}

// A footprint that mixes values along every axis: global on H and W.
Footprint every_axis() {
  Footprint f = Footprint::combine({});
  f.every_axis_if_empty = true;
  return f;
}

}  // namespace

// GatherElements -----------------------------------------------------------------------------------
std::vector<ValueInfo> GatherElements::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2) fail("needs data and indices");
  const Shape& data = in[0].shape;
  const Shape& idx = in[1].shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), data.size(), *this);
  if (idx.size() != data.size()) fail("indices " + to_string(idx) + " and data " + to_string(data) + " differ in rank");
  for (std::size_t d = 0; d < data.size(); ++d)
    if (static_cast<int>(d) != axis && idx[d] > data[d]) fail("indices " + to_string(idx) + " exceed data " + to_string(data));
  return {output_info(idx, in[0].type)};
}
void GatherElements::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& data = in[0];
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), data.shape().size(), *this);
  const auto indices = in[1].to_ints();
  const Shape& is = in[1].shape();
  const auto ds = contiguous_strides(data.shape());
  const std::size_t es = element_size(data);
  const char* src = reinterpret_cast<const char*>(data.data());
  char* dst = reinterpret_cast<char*>(out[0].data());
  std::vector<std::int64_t> at(is.size(), 0);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < is.size(); ++d)
      offset += (static_cast<int>(d) == axis ? checked_index(*this, indices[i], data.dim(axis)) : at[d]) * ds[d];
    std::memcpy(dst + i * es, src + static_cast<std::size_t>(offset) * es, es);
    for (std::size_t d = is.size(); d-- > 0;) {
      if (++at[d] < is[d]) break;
      at[d] = 0;
    }
  }
}
Footprint GatherElements::footprint() const { return Footprint::combine({node().attributes.get_int("axis", 0)}); }

// GatherND -----------------------------------------------------------------------------------------
std::vector<ValueInfo> GatherND::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2) fail("needs data and indices");
  const Shape& data = in[0].shape;
  const Shape& idx = in[1].shape;
  const auto b = static_cast<std::size_t>(node().attributes.get_int("batch_dims", 0));
  if (idx.empty() || b >= idx.size() || b >= data.size()) fail("batch_dims leaves no index axes");
  const auto k = static_cast<std::size_t>(idx.back());
  if (k < 1 || b + k > data.size()) fail("index tuples of " + std::to_string(k) + " values do not fit data " + to_string(data));
  for (std::size_t d = 0; d < b; ++d)
    if (idx[d] != data[d]) fail("batch axes of indices and data differ");
  Shape s(idx.begin(), idx.end() - 1);
  s.insert(s.end(), data.begin() + static_cast<std::ptrdiff_t>(b + k), data.end());
  return {output_info(s, in[0].type)};
}
void GatherND::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& data = in[0];
  const Shape& ds = data.shape();
  const Shape& is = in[1].shape();
  const auto b = static_cast<std::size_t>(node().attributes.get_int("batch_dims", 0));
  const auto k = static_cast<std::size_t>(is.back());
  const auto indices = in[1].to_ints();
  const auto strides = contiguous_strides(ds);
  std::int64_t batches = 1, per_batch = 1;
  for (std::size_t d = 0; d < b; ++d) batches *= is[d];
  for (std::size_t d = b; d + 1 < is.size(); ++d) per_batch *= is[d];
  const std::int64_t slice = b + k < ds.size() ? strides[b + k - 1] : 1;
  const std::size_t es = element_size(data), chunk = static_cast<std::size_t>(slice) * es;
  const char* src = reinterpret_cast<const char*>(data.data());
  char* dst = reinterpret_cast<char*>(out[0].data());
  for (std::int64_t bi = 0; bi < batches; ++bi)
    for (std::int64_t t = 0; t < per_batch; ++t) {
      std::int64_t offset = b > 0 ? bi * strides[b - 1] : 0;
      const std::int64_t* tuple = indices.data() + (bi * per_batch + t) * static_cast<std::int64_t>(k);
      for (std::size_t j = 0; j < k; ++j) offset += checked_index(*this, tuple[j], ds[b + j]) * strides[b + j];
      std::memcpy(dst, src + static_cast<std::size_t>(offset) * es, chunk);
      dst += chunk;
    }
}
Footprint GatherND::footprint() const { return every_axis(); }

// ScatterND ----------------------------------------------------------------------------------------
std::vector<ValueInfo> ScatterND::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 3) fail("needs data, indices and updates");
  const Shape& data = in[0].shape;
  const Shape& idx = in[1].shape;
  if (idx.empty()) fail("indices need at least one axis");
  const auto k = static_cast<std::size_t>(idx.back());
  if (k < 1 || k > data.size()) fail("index tuples of " + std::to_string(k) + " values do not fit data " + to_string(data));
  Shape want(idx.begin(), idx.end() - 1);
  want.insert(want.end(), data.begin() + static_cast<std::ptrdiff_t>(k), data.end());
  if (in[2].shape != want) fail("updates " + to_string(in[2].shape) + " should be " + to_string(want));
  const std::string r = node().attributes.get_string("reduction", "none");
  if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min") fail("unknown reduction '" + r + "'");
  return {output_info(data, in[0].type)};
}
void ScatterND::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& data = in[0];
  const Shape& ds = data.shape();
  const auto k = static_cast<std::size_t>(in[1].shape().back());
  const auto indices = in[1].to_ints();
  const auto strides = contiguous_strides(ds);
  const std::int64_t tuples = static_cast<std::int64_t>(indices.size() / k), slice = strides[k - 1];
  const std::size_t es = element_size(data);
  std::memcpy(out[0].data(), data.data(), static_cast<std::size_t>(data.size()) * es);
  const std::string r = node().attributes.get_string("reduction", "none");
  const bool ints = data.type() == ElementType::Int64;
  const Tensor updates = in[2].type() == data.type() ? in[2] : ints ? Tensor::from_ints(in[2].to_ints(), in[2].shape())
                                                                    : Tensor::from_floats(in[2].to_floats(), in[2].shape());
  for (std::int64_t t = 0; t < tuples; ++t) {
    std::int64_t offset = 0;
    for (std::size_t j = 0; j < k; ++j) offset += checked_index(*this, indices[static_cast<std::size_t>(t) * k + j], ds[j]) * strides[j];
    const auto apply = [&](auto* dst, const auto* src) {
      for (std::int64_t i = 0; i < slice; ++i) {
        auto& y = dst[offset + i];
        const auto u = src[t * slice + i];
        if (r == "none") y = u;
        else if (r == "add") y += u;
        else if (r == "mul") y *= u;
        else if (r == "max") y = std::max(y, u);
        else y = std::min(y, u);
      }
    };
    if (ints) apply(out[0].ints(), updates.ints());
    else apply(out[0].data(), updates.data());
  }
}
Footprint ScatterND::footprint() const { return every_axis(); }

// TopK ---------------------------------------------------------------------------------------------
std::vector<ValueInfo> TopK::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2 || !in[1].value) fail("needs K as a value known before the run");
  const Shape& s = in[0].shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", -1), s.size(), *this);
  const std::int64_t k = in[1].value->to_ints().at(0);
  if (k < 0 || k > s[static_cast<std::size_t>(axis)])
    fail("K = " + std::to_string(k) + " for an axis of " + std::to_string(s[static_cast<std::size_t>(axis)]));
  Shape o = s;
  o[static_cast<std::size_t>(axis)] = k;
  return {output_info(o, in[0].type), output_info(o, ElementType::Int64)};
}
void TopK::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const int axis = normalise_axis(node().attributes.get_int("axis", -1), x.shape().size(), *this);
  const bool largest = node().attributes.get_int("largest", 1) != 0;
  const std::int64_t n = x.dim(axis), k = out[0].dim(axis);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const auto values = x.to_floats();
  const bool ints = x.type() == ElementType::Int64;
  const std::vector<std::int64_t> int_values = ints ? x.to_ints() : std::vector<std::int64_t>{};
  luojia::detail::parallel_for(std::int64_t{0}, outer * inner, [&](std::int64_t line) {
    const std::int64_t o = line / inner, i = line % inner;
    const auto at = [&](std::int64_t j) { return (o * n + j) * inner + i; };
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    // Ties go to the lower index, as ONNX Runtime and PyTorch order them; NaN counts as largest.
    const auto before = [&](std::int64_t a, std::int64_t b) {
      if (ints) {
        const auto u = int_values[static_cast<std::size_t>(at(a))], v = int_values[static_cast<std::size_t>(at(b))];
        if (u != v) return largest ? u > v : u < v;
        return a < b;
      }
      const float u = values[static_cast<std::size_t>(at(a))], v = values[static_cast<std::size_t>(at(b))];
      const bool un = std::isnan(u), vn = std::isnan(v);
      if (un || vn) return un && !vn ? largest : !un && vn ? !largest : a < b;
      if (u != v) return largest ? u > v : u < v;
      return a < b;
    };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    for (std::int64_t j = 0; j < k; ++j) {
      const std::int64_t src = at(order[static_cast<std::size_t>(j)]), dst = (o * k + j) * inner + i;
      if (ints) out[0].ints()[dst] = int_values[static_cast<std::size_t>(src)];
      else out[0].data()[dst] = values[static_cast<std::size_t>(src)];
      out[1].ints()[dst] = order[static_cast<std::size_t>(j)];
    }
  });
}
Footprint TopK::footprint() const { return Footprint::combine({node().attributes.get_int("axis", -1)}); }

// CumSum -------------------------------------------------------------------------------------------
std::vector<ValueInfo> CumSum::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2 || !in[1].value) fail("needs the axis as a value known before the run");
  normalise_axis(in[1].value->to_ints().at(0), in[0].shape.size(), *this);
  return {output_info(in[0].shape, in[0].type)};
}
void CumSum::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const int axis = normalise_axis(in[1].to_ints().at(0), x.shape().size(), *this);
  const bool exclusive = node().attributes.get_int("exclusive", 0) != 0, reverse = node().attributes.get_int("reverse", 0) != 0;
  const std::int64_t n = x.dim(axis);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const auto scan = [&](const auto* src, auto* dst) {
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        std::remove_cvref_t<decltype(*src)> sum{};  // accumulated in the element type, as ONNX Runtime does
        for (std::int64_t s = 0; s < n; ++s) {
          const std::int64_t j = reverse ? n - 1 - s : s, at = (o * n + j) * inner + i;
          if (exclusive) {
            dst[at] = sum;
            sum += src[at];
          } else {
            sum += src[at];
            dst[at] = sum;
          }
        }
      }
  };
  if (x.type() == ElementType::Int64) scan(x.ints(), out[0].ints());
  else scan(x.data(), out[0].data());
}
Footprint CumSum::footprint() const {
  Footprint f = Footprint::combine({});
  f.axes_input = 1;
  f.every_axis_if_empty = true;  // until the axis is known
  return f;
}

// Trilu --------------------------------------------------------------------------------------------
std::vector<ValueInfo> Trilu::infer(const std::vector<ValueInfo>& in) const {
  if (in.at(0).shape.size() < 2) fail("needs an input of rank 2 or more");
  if (has_input(in, 1) && !in[1].value) fail("k must be a value known before the run");
  return {output_info(in[0].shape, in[0].type)};
}
void Trilu::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const std::int64_t k = in.size() > 1 && !in[1].empty() ? in[1].to_ints().at(0) : 0;
  const bool upper = node().attributes.get_int("upper", 1) != 0;
  const std::int64_t rows = x.dim(-2), cols = x.dim(-1), mats = x.size() / std::max<std::int64_t>(rows * cols, 1);
  const std::size_t es = element_size(x);
  std::memset(out[0].data(), 0, static_cast<std::size_t>(x.size()) * es);
  const char* src = reinterpret_cast<const char*>(x.data());
  char* dst = reinterpret_cast<char*>(out[0].data());
  for (std::int64_t m = 0; m < mats; ++m)
    for (std::int64_t r = 0; r < rows; ++r) {
      // Kept: column c with c - r >= k (upper) or c - r <= k (lower).
      const std::int64_t begin = upper ? std::clamp<std::int64_t>(r + k, 0, cols) : 0;
      const std::int64_t end = upper ? cols : std::clamp<std::int64_t>(r + k + 1, 0, cols);
      const std::size_t at = static_cast<std::size_t>((m * rows + r) * cols + begin) * es;
      if (end > begin) std::memcpy(dst + at, src + at, static_cast<std::size_t>(end - begin) * es);
    }
}
Footprint Trilu::footprint() const {
  Footprint f = Footprint::combine({-2, -1});
  return f;
}

// Tile ---------------------------------------------------------------------------------------------
std::vector<ValueInfo> Tile::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 2 || !in[1].value) fail("needs repeats as a value known before the run");
  const auto repeats = in[1].value->to_ints();
  Shape s = in[0].shape;
  if (repeats.size() != s.size()) fail(std::to_string(repeats.size()) + " repeats for rank " + std::to_string(s.size()));
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (repeats[d] < 0) fail("negative repeats");
    s[d] *= repeats[d];
  }
  return {output_info(s, in[0].type)};
}
void Tile::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor& x = in[0];
  const Shape& os = out[0].shape();
  const std::size_t es = element_size(x);
  const auto xs = contiguous_strides(x.shape());
  const char* src = reinterpret_cast<const char*>(x.data());
  char* dst = reinterpret_cast<char*>(out[0].data());
  if (out[0].size() == 0) return;
  if (os.empty()) {
    std::memcpy(dst, src, es);
    return;
  }
  // Row by row of the output's last axis: each is the input's row repeated.
  const std::int64_t cols = os.back(), in_cols = x.shape().back();
  std::vector<std::int64_t> at(os.size(), 0);
  for (std::int64_t o = 0; o < out[0].size(); o += cols) {
    std::int64_t offset = 0;
    for (std::size_t d = 0; d + 1 < os.size(); ++d) offset += (at[d] % x.shape()[d]) * xs[d];
    for (std::int64_t c = 0; c < cols; c += in_cols)
      std::memcpy(dst + static_cast<std::size_t>(o + c) * es, src + static_cast<std::size_t>(offset) * es, static_cast<std::size_t>(in_cols) * es);
    for (std::size_t d = os.size() - 1; d-- > 0;) {
      if (++at[d] < os[d]) break;
      at[d] = 0;
    }
  }
}
Footprint Tile::footprint() const { return every_axis(); }

}  // namespace luojia::nn::layers
