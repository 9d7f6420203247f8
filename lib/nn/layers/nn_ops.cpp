#include "nn/layers/nn_ops.hpp"
#include "nn/layers/conv_gemm.hpp"
#include "nn/layers/vector_math.hpp"
#include "core/parallel.hpp"
#include "nn/saturate.hpp"

#include <Eigen/Core>

#include <cstring>

namespace luojia::nn::layers {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using Strided = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;
using ConstStrided = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

// y (rows x n) = a (rows x k, row-major) * b (k x n row-major, or n x k when b_transposed), in
// blocks of rows (of columns when there are few rows, a classifier's head) spread over the
// threads: Eigen's product runs on one thread inside the library.
void parallel_product(const float* a, std::int64_t rows, std::int64_t k, const float* b, bool b_transposed, std::int64_t n, float* y) {
  const auto block = [&](std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
    const ConstStrided am(a + r0 * k, r1 - r0, k, Eigen::OuterStride<>(k));
    Strided ym(y + r0 * n + c0, r1 - r0, c1 - c0, Eigen::OuterStride<>(n));
    if (b_transposed) ym.noalias() = am * ConstStrided(b + c0 * k, c1 - c0, k, Eigen::OuterStride<>(k)).transpose();
    else ym.noalias() = am * ConstStrided(b + c0, k, c1 - c0, Eigen::OuterStride<>(n));
  };
  const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(k) * static_cast<double>(n);
  const auto threads = static_cast<std::int64_t>(luojia::detail::max_threads());
  // A few rows stream B from memory, a few flops per float: split from 64 Ki of B's values
  // (MobileNetV3's 960 x 1280 head, 2.5 Mflop, ran on one thread of two).
  const bool small = rows < 4 ? k * n < (std::int64_t{1} << 16) : flops < 4e6;
  if (small || threads < 2) return block(0, rows, 0, n);
  const std::int64_t parts = 2 * threads;
  if (rows >= 16 * parts || rows >= n) {
    const std::int64_t chunk = std::max<std::int64_t>(8, (rows + parts - 1) / parts);
    luojia::detail::parallel_for(std::int64_t{0}, rows, chunk, [&](std::int64_t r0) { block(r0, std::min(rows, r0 + chunk), 0, n); });
  } else {
    const std::int64_t chunk = std::max<std::int64_t>(16, (n + parts - 1) / parts + 15) / 16 * 16;
    luojia::detail::parallel_for(std::int64_t{0}, n, chunk, [&](std::int64_t c0) { block(0, rows, c0, std::min(n, c0 + chunk)); });
  }
}

}  // namespace

void apply_epilogue(float* y, std::int64_t rows, std::int64_t n, const GemmEpilogue& epilogue) {
  for (std::int64_t i = 0; i < rows; ++i) {
    float* row = y + i * n;
    if (epilogue.bias != nullptr) {
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) row[j] += epilogue.bias[j];
    }
    if (epilogue.activation != nullptr) epilogue.activation->apply(row, n);
  }
}

void PackedRhs::pack(const Tensor& b, bool b_transposed, const ConvGemm& kernels) {
  original = b;
  transposed = b_transposed;
  k = transposed ? b.dim(1) : b.dim(0);
  n = transposed ? b.dim(0) : b.dim(1);
  gemm = &kernels;
  floats = Tensor(Shape{std::max<std::int64_t>(1, kernels.sgemm_packed_floats(k, n))});
  kernels.sgemm_pack_b(b.data(), k, n, transposed, floats.data());
}

void PackedRhs::multiply(const float* a, std::int64_t rows, float* y, const GemmEpilogue* epilogue) const {
  // A few rows would fill most of the kernel's slivers with padding: a matrix-vector product
  // streaming B as given is faster (MobileNetV3's 1024 x 1000 head: 0.44 ms packed).
  if (rows < 4) {
    parallel_product(a, rows, k, original.data(), transposed, n, y);
    if (epilogue != nullptr) apply_epilogue(y, rows, n, *epilogue);
    return;
  }
  const ConvGemm& gemm = *this->gemm;
  const std::int64_t panels = (n + gemm.sgemm_nr - 1) / gemm.sgemm_nr;
  const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(k) * static_cast<double>(n);
  const auto threads = static_cast<std::int64_t>(luojia::detail::max_threads());
  if (flops < 4e6 || threads < 2) return gemm.sgemm(a, rows, k, k, floats.data(), n, 0, panels, y, n, epilogue);
  // Columns (whole panels) split evenly when there are enough of them: every task packs all of A,
  // which is cheap next to the product; else rows, in multiples of a sliver.
  if (panels >= 4 * threads) {
    const std::int64_t chunk = (panels + threads - 1) / threads;
    luojia::detail::parallel_for(std::int64_t{0}, panels, chunk, [&](std::int64_t p0) {
      gemm.sgemm(a, rows, k, k, floats.data(), n, p0, std::min(panels, p0 + chunk), y, n, epilogue);
    });
  } else {
    const std::int64_t chunk = std::max<std::int64_t>(16, (rows + 2 * threads - 1) / (2 * threads));
    luojia::detail::parallel_for(std::int64_t{0}, rows, chunk, [&](std::int64_t r0) {
      gemm.sgemm(a + r0 * k, std::min(rows, r0 + chunk) - r0, k, k, floats.data(), n, 0, panels, y + r0 * n, n, epilogue);
    });
  }
}

// BatchNormalization -------------------------------------------------------------------------------
void BatchNorm::prepare(const std::vector<ValueInfo>& in) {
  const auto gamma = constant_input(in, 1).to_floats(), beta = constant_input(in, 2).to_floats(),
             mean = constant_input(in, 3).to_floats(), var = constant_input(in, 4).to_floats();
  const float eps = node().attributes.get_float("epsilon", 1e-5f);
  activation_ = ActivationFn::from(node().attributes.get_string("luojia.activation", ""), node().attributes.get_floats("luojia.activation_params"));
  for (std::size_t c = 0; c < gamma.size(); ++c) {
    scale_.push_back(gamma[c] / std::sqrt(var.at(c) + eps));
    shift_.push_back(beta.at(c) - mean.at(c) * scale_.back());
  }
}
std::vector<ValueInfo> BatchNorm::infer(const std::vector<ValueInfo>& in) const {
  const Shape& s = in.at(0).shape;
  if (s.size() < 2 || s[1] != static_cast<std::int64_t>(scale_.size())) fail("input channels do not match the parameters");
  return {ValueInfo{s, ElementType::Float32, std::nullopt, true}};
}
void BatchNorm::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  const std::int64_t c = x.dim(1), plane = x.size() / (x.dim(0) * c);
  luojia::detail::parallel_for(std::int64_t{0}, x.dim(0) * c, [&](std::int64_t p) {
    const float s = scale_[static_cast<std::size_t>(p % c)], b = shift_[static_cast<std::size_t>(p % c)];
    const float* src = x.data() + p * plane;
    float* dst = outputs[0].data() + p * plane;
    for (std::int64_t i = 0; i < plane; ++i) dst[i] = src[i] * s + b;
    activation_.apply(dst, plane);
  });
}

// Softmax ------------------------------------------------------------------------------------------
std::vector<ValueInfo> Softmax::infer(const std::vector<ValueInfo>& in) const {
  return {ValueInfo{in.at(0).shape, ElementType::Float32, std::nullopt, true}};
}
void Softmax::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  const bool log = node().op_type == "LogSoftmax";
  const bool legacy = node().opset < 13;  // coerced to 2-D at axis
  const int axis = normalise_axis(node().attributes.get_int("axis", legacy ? 1 : -1), x.shape().size(), *this);
  std::int64_t outer = 1, len = 1, inner = 1;
  for (int d = 0; d < x.rank(); ++d) {
    if (d < axis) outer *= x.dim(d);
    else if (d == axis || legacy) len *= x.dim(d);
    else inner *= x.dim(d);
  }
  if (inner == 1) {
    // Along contiguous values: one row at a time, vectorised along it.
    luojia::detail::parallel_for(std::int64_t{0}, outer, [&](std::int64_t o) {
      const float* src = x.data() + o * len;
      float* dst = outputs[0].data() + o * len;
      // (No structured binding: clang's OpenMP simd loops cannot capture one.)
      const std::pair<float, float> top_sum = exp_from_max(src, dst, len);
      const float scale = 1.0f / top_sum.second, shift = top_sum.first + std::log(top_sum.second);
#pragma omp simd
      for (std::int64_t k = 0; k < len; ++k) dst[k] = log ? src[k] - shift : dst[k] * scale;
    });
    return;
  }
  // Across rows (the channel axis of an NCHW map): a block of columns at a time, vectorised
  // along the contiguous columns, each row of the block read once per pass.
  constexpr std::int64_t kColumns = 256;
  const std::int64_t blocks = (inner + kColumns - 1) / kColumns;
  luojia::detail::parallel_for(std::int64_t{0}, outer * blocks, [&](std::int64_t t) {
    const std::int64_t o = t / blocks, i0 = t % blocks * kColumns, n = std::min(kColumns, inner - i0);
    const float* src = x.data() + o * len * inner + i0;
    float* dst = outputs[0].data() + o * len * inner + i0;
    float m[kColumns], sum[kColumns];
    std::fill(m, m + n, -INFINITY);
    std::fill(sum, sum + n, 0.0f);
    for (std::int64_t k = 0; k < len; ++k)
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) m[i] = std::max(m[i], src[k * inner + i]);
    for (std::int64_t k = 0; k < len; ++k) {
      float* row = dst + k * inner;
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) row[i] = src[k * inner + i] - m[i];
      map16(row, n, exp16);
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) sum[i] += row[i];
    }
    for (std::int64_t i = 0; i < n; ++i) {
      m[i] += std::log(sum[i]);  // LogSoftmax: src - (m + log(sum))
      sum[i] = 1.0f / sum[i];
    }
    for (std::int64_t k = 0; k < len; ++k)
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) dst[k * inner + i] = log ? src[k * inner + i] - m[i] : dst[k * inner + i] * sum[i];
  });
}

// ArgMax -------------------------------------------------------------------------------------------
std::vector<ValueInfo> ArgMax::infer(const std::vector<ValueInfo>& in) const {
  Shape s = in.at(0).shape;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), s.size(), *this);
  if (node().attributes.get_int("keepdims", 1)) s[static_cast<std::size_t>(axis)] = 1;
  else s.erase(s.begin() + axis);
  return {ValueInfo{s, ElementType::Int64, std::nullopt, true}};
}
void ArgMax::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  const bool max = node().op_type == "ArgMax";
  const bool last = node().attributes.get_int("select_last_index", 0) != 0;
  const int axis = normalise_axis(node().attributes.get_int("axis", 0), x.shape().size(), *this);
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const std::int64_t len = x.dim(axis);
  const auto values = x.to_floats();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      std::int64_t best = 0;
      float best_v = values[static_cast<std::size_t>(o * len * inner + i)];
      for (std::int64_t k = 1; k < len; ++k) {
        const float v = values[static_cast<std::size_t>((o * len + k) * inner + i)];
        const bool better = max ? (last ? v >= best_v : v > best_v) : (last ? v <= best_v : v < best_v);
        if (better) {
          best = k;
          best_v = v;
        }
      }
      outputs[0].ints()[o * inner + i] = best;
    }
}

// Gemm ---------------------------------------------------------------------------------------------
std::vector<ValueInfo> Gemm::infer(const std::vector<ValueInfo>& in) const {
  const Shape& a = in.at(0).shape;
  const Shape& b = in.at(1).shape;
  if (a.size() != 2 || b.size() != 2) fail("Gemm needs 2-D inputs, not " + to_string(a) + " and " + to_string(b));
  const bool ta = node().attributes.get_int("transA", 0) != 0, tb = node().attributes.get_int("transB", 0) != 0;
  const std::int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1], k2 = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (k != k2) fail("inner dimensions " + std::to_string(k) + " and " + std::to_string(k2) + " differ");
  if (has_input(in, 2)) broadcast(in[2].shape, {m, n});
  return {ValueInfo{{m, n}, ElementType::Float32, std::nullopt, true}};
}
Footprint Gemm::footprint() const { return Footprint::global("a dense layer sees the whole extent"); }
void Gemm::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  Tensor& y = outputs[0];
  const float alpha = node().attributes.get_float("alpha", 1.0f), beta = node().attributes.get_float("beta", 1.0f);
  const bool ta = node().attributes.get_int("transA", 0) != 0, tb = node().attributes.get_int("transB", 0) != 0;
  Eigen::Map<const RowMatrix> am(a.data(), a.dim(0), a.dim(1)), bm(b.data(), b.dim(0), b.dim(1));
  Eigen::Map<RowMatrix> ym(y.data(), y.dim(0), y.dim(1));
  // A Linear layer's bias (C of n, or 1 x n) and the activation after it, in the kernel's epilogue.
  const bool has_c = inputs.size() > 2 && !inputs[2].empty();
  const bool row_bias = has_c && inputs[2].rank() >= 1 && inputs[2].size() == y.dim(1) && inputs[2].shape().back() == y.dim(1);
  if (!ta && !packed_.empty() && alpha == 1.0f && beta == 1.0f && (!has_c || row_bias)) {
    const GemmEpilogue epilogue{has_c ? inputs[2].data() : nullptr, &activation_};
    packed_.multiply(a.data(), a.dim(0), y.data(), &epilogue);
    return;
  }
  if (ta && tb) ym.noalias() = alpha * (am.transpose() * bm.transpose());
  else if (ta) ym.noalias() = alpha * (am.transpose() * bm);
  else {
    // A Linear layer's export: the common case, over the threads.
    if (!packed_.empty()) packed_.multiply(a.data(), a.dim(0), y.data());
    else parallel_product(a.data(), a.dim(0), a.dim(1), b.data(), tb, y.dim(1), y.data());
    if (alpha != 1.0f) ym *= alpha;
  }
  if (inputs.size() > 2 && !inputs[2].empty()) {
    const Tensor& c = inputs[2];
    const auto strides = broadcast_strides(c.shape(), y.shape());
    for (std::int64_t i = 0; i < y.dim(0); ++i)
      for (std::int64_t j = 0; j < y.dim(1); ++j) ym(i, j) += beta * c.data()[i * strides[0] + j * strides[1]];
  }
  activation_.apply(y.data(), y.size());
}

void Gemm::prepare(const std::vector<ValueInfo>& in) {
  activation_ = ActivationFn::from(node().attributes.get_string("luojia.activation", ""), node().attributes.get_floats("luojia.activation_params"));
  if (in.size() < 2 || !in[1].value || in[1].value->rank() != 2 || in[1].value->type() != ElementType::Float32) return;
  if (node().attributes.get_int("transA", 0) != 0) return;
  packed_.pack(*in[1].value, node().attributes.get_int("transB", 0) != 0, conv_gemm_for(node().attributes.get_string("luojia.isa", "")));
}

// MatMul -------------------------------------------------------------------------------------------
void MatMul::prepare(const std::vector<ValueInfo>& in) {
  activation_ = ActivationFn::from(node().attributes.get_string("luojia.activation", ""), node().attributes.get_floats("luojia.activation_params"));
  if (in.size() < 2 || !in[1].value || in[1].value->rank() != 2 || in[1].value->type() != ElementType::Float32) return;
  packed_.pack(*in[1].value, false, conv_gemm_for(node().attributes.get_string("luojia.isa", "")));
}

std::vector<ValueInfo> MatMul::infer(const std::vector<ValueInfo>& in) const {
  Shape a = in.at(0).shape, b = in.at(1).shape;
  if (a.empty() || b.empty()) fail("MatMul of scalars");
  const bool va = a.size() == 1, vb = b.size() == 1;
  if (va) a.insert(a.begin(), 1);
  if (vb) b.push_back(1);
  if (a.back() != b[b.size() - 2]) fail("inner dimensions of " + to_string(in[0].shape) + " and " + to_string(in[1].shape) + " differ");
  Shape batch = broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!va) batch.push_back(a[a.size() - 2]);
  if (!vb) batch.push_back(b.back());
  // luojia's third input, a bias per output column fused at load (optimise.cpp).
  if (in.size() > 2 && in[2].present && (in[2].shape.size() != 1 || in[2].shape[0] != b.back()))
    fail("the fused bias " + to_string(in[2].shape) + " is not one value per output column (" + std::to_string(b.back()) + ")");
  return {ValueInfo{batch, ElementType::Float32, std::nullopt, true}};
}
void MatMul::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  Shape a = inputs[0].shape(), b = inputs[1].shape();
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const std::int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  const Shape batch = broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  const auto sa = broadcast_strides(a_batch, batch), sb = broadcast_strides(b_batch, batch);
  const std::int64_t count = element_count(batch);
  const GemmEpilogue epilogue{inputs.size() > 2 && !inputs[2].empty() ? inputs[2].data() : nullptr, &activation_};
  const bool has_epilogue = epilogue.bias != nullptr || activation_.kind != Activation::None;
  const auto finish = [&] {
    if (has_epilogue) apply_epilogue(outputs[0].data(), outputs[0].size() / std::max<std::int64_t>(n, 1), n, epilogue);
  };
  // B shared by every batch (a Linear layer on tokens, (..., M, K) x (K, N)) and A not broadcast:
  // one product of all A's rows, not one per batch (ViT's 197 tokens as 197 products of one row).
  const bool b_shared = std::all_of(sb.begin(), sb.end(), [](std::int64_t v) { return v == 0; });
  if (b_shared && element_count(a_batch) == count) {
    if (!packed_.empty() && packed_.k == k && packed_.n == n) {
      packed_.multiply(inputs[0].data(), count * m, outputs[0].data(), has_epilogue ? &epilogue : nullptr);
      return;
    }
    parallel_product(inputs[0].data(), count * m, k, inputs[1].data(), false, n, outputs[0].data());
    return finish();
  }
  if (count == 1) {
    parallel_product(inputs[0].data(), m, k, inputs[1].data(), false, n, outputs[0].data());
    return finish();
  }
  luojia::detail::parallel_for(std::int64_t{0}, count, [&](std::int64_t i) {
    std::int64_t ia = 0, ib = 0, rest = i;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t idx = rest % batch[d];
      rest /= batch[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    Eigen::Map<const RowMatrix> am(inputs[0].data() + ia * m * k, m, k), bm(inputs[1].data() + ib * k * n, k, n);
    Eigen::Map<RowMatrix>(outputs[0].data() + i * m * n, m, n).noalias() = am * bm;
  });
  finish();
}

// Pad ----------------------------------------------------------------------------------------------
std::vector<std::int64_t> Pad::pads(const std::vector<ValueInfo>& in) const {
  const std::size_t rank = in.at(0).shape.size();
  std::vector<std::int64_t> p = node().opset < 11 ? node().attributes.get_ints("pads") : constant_input(in, 1).to_ints();
  if (has_input(in, 3) && node().opset >= 18) {
    const auto axes = constant_input(in, 3).to_ints();
    std::vector<std::int64_t> full(2 * rank, 0);
    for (std::size_t k = 0; k < axes.size(); ++k) {
      const auto d = static_cast<std::size_t>(normalise_axis(axes[k], rank, *this));
      full[d] = p.at(k);
      full[d + rank] = p.at(k + axes.size());
    }
    p = full;
  }
  if (p.size() != 2 * rank) fail("pads has " + std::to_string(p.size()) + " values for rank " + std::to_string(rank));
  return p;
}
std::vector<ValueInfo> Pad::infer(const std::vector<ValueInfo>& in) const {
  const std::string mode = node().attributes.get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    fail("mode '" + mode + "' is not a Pad mode (constant, reflect, edge, wrap)");
  const auto p = pads(in);
  Shape s = in.at(0).shape;
  for (std::size_t d = 0; d < s.size(); ++d) {
    s[d] += p[d] + p[d + s.size()];
    if (s[d] < 0) fail("padding leaves a negative size");
  }
  return {ValueInfo{s, in[0].type, std::nullopt, true}};
}
void Pad::prepare(const std::vector<ValueInfo>& in) {
  const bool known = node().opset < 11 || (in.size() > 1 && in[1].value);
  if (!known || !in.at(0).shape.empty()) return;
  const auto p = node().opset < 11 ? node().attributes.get_ints("pads") : in[1].value->to_ints();
  pads_known_ = true;
  const std::size_t rank = p.size() / 2;
  if (rank >= 2)
    for (std::size_t d = 0; d < 2; ++d) spatial_begin_[d] = p[rank - 2 + d];
}

Footprint Pad::footprint() const {
  // Inside the image, padding only shifts it: output o is input o - begin pad, whatever the mode
  // (reflected, replicated or constant values appear only beyond the image's edges, where tiles of
  // a network read the same clipped extent as the whole image does). A one-pixel window offset by
  // the begin pad on each spatial axis.
  Footprint f;
  f.kind = Footprint::Kind::Window;
  f.kernel = {1, 1};
  f.pad_begin = spatial_begin_;
  // Pads not known at load (shape arithmetic, folded when the model is planned): the analysis
  // reads them from the plan. (Before, such a Pad counted as pointwise: a pad-and-slice shift, as
  // F.pad exports and stereo networks' cost volumes make, got no halo, and tiles differed.)
  if (!pads_known_ && node().opset >= 11) f.pads_input = 1;
  return f;
}

void Pad::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const auto infos = infos_of(inputs);
  const auto p = pads(infos);
  const std::string mode = node().attributes.get_string("mode", "constant");
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const Shape& in_shape = x.shape();
  const Shape& out_shape = y.shape();
  const std::size_t rank = in_shape.size();
  float value = node().opset < 11 ? node().attributes.get_float("value", 0.0f) : 0.0f;
  if (node().opset >= 11 && inputs.size() > 2 && !inputs[2].empty()) value = inputs[2].to_floats().at(0);
  enum class Mode { Constant, Reflect, Edge, Wrap };
  const Mode how = mode == "reflect" ? Mode::Reflect : mode == "edge" ? Mode::Edge : mode == "wrap" ? Mode::Wrap : Mode::Constant;
  // Where output index o of an axis of n inputs, padded by `before`, reads; -1: the constant.
  const auto source = [how](std::int64_t o, std::int64_t before, std::int64_t n) -> std::int64_t {
    std::int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    if (how == Mode::Constant || n == 0) return -1;
    if (how == Mode::Edge || n == 1) return std::clamp<std::int64_t>(i, 0, n - 1);
    if (how == Mode::Wrap) return ((i % n) + n) % n;  // opset 19
    const std::int64_t period = 2 * (n - 1);
    while (i < 0 || i >= n) i = i < 0 ? -i : period - i;
    return i;
  };
  if (y.size() == 0) return;
  if (rank == 0) {
    if (y.type() == ElementType::Int64) y.ints()[0] = x.ints()[0];
    else y.data()[0] = x.data()[0];
    return;
  }
  // Row by row along the last axis: the row it comes from (or the constant), then its middle copied
  // and its ends mapped.
  std::vector<std::int64_t> in_strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * in_shape[d];
  const std::int64_t out_w = out_shape[rank - 1], in_w = in_shape[rank - 1], before = p[rank - 1];
  std::vector<std::int64_t> columns(static_cast<std::size_t>(out_w));
  for (std::int64_t o = 0; o < out_w; ++o) columns[static_cast<std::size_t>(o)] = source(o, before, in_w);
  const std::int64_t rows = y.size() / out_w;
  const bool ints = y.type() == ElementType::Int64;
  const std::int64_t int_value = ints ? nn::detail::saturate_int64(value) : 0;
  std::vector<std::int64_t> index(rank - 1, 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t src = 0;
    bool outside = false;
    for (std::size_t d = 0; d + 1 < rank && !outside; ++d) {
      const std::int64_t i = source(index[d], p[d], in_shape[d]);
      outside = i < 0;
      src += i * in_strides[d];
    }
    if (ints) {
      std::int64_t* out = y.ints() + r * out_w;
      const std::int64_t* in = x.ints() + src;
      for (std::int64_t o = 0; o < out_w; ++o) {
        const std::int64_t c = columns[static_cast<std::size_t>(o)];
        out[o] = outside || c < 0 ? int_value : in[c];
      }
    } else {
      float* out = y.data() + r * out_w;
      const float* in = x.data() + src;
      if (outside) {
        std::fill(out, out + out_w, value);
      } else {
        // The middle, [before, before + in_w) clipped to the row, is a straight copy.
        const std::int64_t m0 = std::clamp<std::int64_t>(before, 0, out_w), m1 = std::clamp<std::int64_t>(before + in_w, m0, out_w);
        for (std::int64_t o = 0; o < m0; ++o) {
          const std::int64_t c = columns[static_cast<std::size_t>(o)];
          out[o] = c < 0 ? value : in[c];
        }
        std::copy(in + (m0 - before), in + (m1 - before), out + m0);
        for (std::int64_t o = m1; o < out_w; ++o) {
          const std::int64_t c = columns[static_cast<std::size_t>(o)];
          out[o] = c < 0 ? value : in[c];
        }
      }
    }
    for (std::size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
}

Footprint Softmax::footprint() const {
  // Before opset 13 the input is coerced to 2-D at axis (default 1): every axis from there on.
  const bool coerced = node().opset < 13;
  Footprint f = Footprint::combine({node().attributes.get_int("axis", coerced ? 1 : -1)});
  f.through_last_axis = coerced;
  return f;
}

Footprint ArgMax::footprint() const { return Footprint::combine({node().attributes.get_int("axis", 0)}); }

Footprint MatMul::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Contract;
  return f;
}

}  // namespace luojia::nn::layers
