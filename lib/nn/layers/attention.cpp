#include "nn/layers/attention.hpp"

#include "core/parallel.hpp"
#include "nn/layers/vector_math.hpp"

#include <vector>

namespace luojia::nn::layers {
namespace {

// Scores in flight per task: query rows x keys, about 256 KB (L2), 16 rows at least.
constexpr std::int64_t kScoresPerBlock = 65536;

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

}  // namespace

void Attention::prepare(const std::vector<ValueInfo>&) { gemm_ = &conv_gemm_for(node().attributes.get_string("luojia.isa", "")); }

std::vector<ValueInfo> Attention::infer(const std::vector<ValueInfo>& in) const {
  if (in.size() < 3) fail("needs Q, K^T and V");
  const Shape &q = in[0].shape, &kt = in[1].shape, &v = in[2].shape;
  if (q.size() < 2 || kt.size() < 2 || v.size() < 2) fail("Q, K^T and V need two axes or more");
  if (q.back() != kt[kt.size() - 2]) fail("Q " + to_string(q) + " and K^T " + to_string(kt) + " differ in depth");
  if (kt.back() != v[v.size() - 2]) fail("K^T " + to_string(kt) + " and V " + to_string(v) + " differ in tokens");
  Shape out = broadcast(broadcast(batch_of(q), batch_of(kt)), batch_of(v));
  Shape scores = out;
  scores.push_back(q[q.size() - 2]);
  scores.push_back(kt.back());
  if (in.size() > 3 && in[3].present && broadcast(scores, in[3].shape) != scores)
    fail("the bias " + to_string(in[3].shape) + " does not broadcast to the scores " + to_string(scores));
  out.push_back(q[q.size() - 2]);
  out.push_back(v.back());
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

void Attention::do_forward(std::span<const Tensor> in, std::span<Tensor> out) const {
  const Tensor &q = in[0], &kt = in[1], &v = in[2];
  const bool has_bias = in.size() > 3 && !in[3].empty();
  const float scale = node().attributes.get_float("scale", 1.0f);
  const std::int64_t nq = q.dim(-2), depth = q.dim(-1), nk = kt.dim(-1), dv = v.dim(-1);
  const Shape batch = batch_of(out[0].shape());
  Shape scores = batch;
  scores.push_back(nq);
  scores.push_back(nk);
  const auto sq = broadcast_strides(batch_of(q.shape()), batch), sk = broadcast_strides(batch_of(kt.shape()), batch),
             sv = broadcast_strides(batch_of(v.shape()), batch);
  const auto sb = has_bias ? broadcast_strides(in[3].shape(), scores) : std::vector<std::int64_t>(scores.size(), 0);
  const std::int64_t block = std::clamp<std::int64_t>(kScoresPerBlock / std::max<std::int64_t>(nk, 1), 16, std::max<std::int64_t>(nq, 16));
  const std::int64_t count = element_count(batch), blocks = (nq + block - 1) / block;
  luojia::detail::parallel_for(std::int64_t{0}, count * blocks, [&](std::int64_t task) {
    const std::int64_t b = task / blocks, r0 = task % blocks * block, rows = std::min(block, nq - r0);
    std::int64_t iq = 0, ik = 0, iv = 0, ib = 0, rest = b;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t i = rest % batch[d];
      rest /= batch[d];
      iq += i * sq[d];
      ik += i * sk[d];
      iv += i * sv[d];
      ib += i * sb[d];
    }
    // Both products on the ISA build's GEMM kernel, K^T and V packed per task (a sliver of the
    // products' work when a block has 16 rows or more). The scale is folded into K^T's packed
    // copy: a pass over depth x keys, not over every score.
    const ConvGemm& gemm = *gemm_;
    thread_local std::vector<float> packed_k, packed_v, s;
    packed_k.resize(static_cast<std::size_t>(gemm.sgemm_packed_floats(depth, nk)));
    packed_v.resize(static_cast<std::size_t>(gemm.sgemm_packed_floats(nk, dv)));
    s.resize(static_cast<std::size_t>(rows * nk));
    gemm.sgemm_pack_b(kt.data() + ik * depth * nk, depth, nk, false, packed_k.data());
    if (scale != 1.0f)
      for (float& x : packed_k) x *= scale;
    gemm.sgemm_pack_b(v.data() + iv * nk * dv, nk, dv, false, packed_v.data());
    const auto panels = [&](std::int64_t n) { return (n + gemm.sgemm_nr - 1) / gemm.sgemm_nr; };
    gemm.sgemm(q.data() + (iq * nq + r0) * depth, rows, depth, depth, packed_k.data(), nk, 0, panels(nk), s.data(), nk, nullptr);
    const std::int64_t bias_row = sb[scores.size() - 2], bias_col = sb[scores.size() - 1];
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = s.data() + r * nk;
      if (has_bias) {
        const float* bias = in[3].data() + ib + (r0 + r) * bias_row;
        if (bias_col == 1) {
#pragma omp simd
          for (std::int64_t j = 0; j < nk; ++j) row[j] += bias[j];
        } else {
          for (std::int64_t j = 0; j < nk; ++j) row[j] += bias[j * bias_col];
        }
      }
      const float inv = 1.0f / exp_from_max(row, row, nk).second;
#pragma omp simd
      for (std::int64_t j = 0; j < nk; ++j) row[j] *= inv;
    }
    gemm.sgemm(s.data(), rows, nk, nk, packed_v.data(), dv, 0, panels(dv), out[0].data() + (b * nq + r0) * dv, dv, nullptr);
  });
}

Footprint Attention::footprint() const {
  Footprint f;
  f.kind = Footprint::Kind::Contract;
  return f;
}

}  // namespace luojia::nn::layers
