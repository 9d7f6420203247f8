#pragma once
// exp and the functions built on it, sixteen floats at a time, for every ISA the library is
// compiled for. std::exp keeps a loop scalar (a libm call per element), and GCC 12 does not
// vectorise a branch-free scalar exp either (its clamps stay branches: "control flow in loop"), so
// this works on GCC's vector extension types: one AVX-512 register, two AVX2 ones, four SSE2 ones.
// The formula is Cephes' expf, as ncnn and ONNX Runtime's MLAS vectorise it: x = n ln2 + r with
// |r| <= ln2 / 2, a degree-6 polynomial for e^r, 2^n built in the exponent bits. Relative error
// about 2e-7; below -87.3 it gives 2^-126 rather than 0, above 88.4 e^88.4 rather than infinity;
// NaN stays NaN.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace luojia::nn::layers {

// As wide as the ISA's registers: GCC splits wider vector types poorly (AVX2 ran 64-byte vectors
// 8x slower than 32-byte ones).
#if defined(__AVX512F__)
constexpr std::size_t kVectorBytes = 64;
#elif defined(__AVX__)
constexpr std::size_t kVectorBytes = 32;
#else
constexpr std::size_t kVectorBytes = 16;
#endif
using f32x16 = float __attribute__((vector_size(kVectorBytes)));
using i32x16 = std::int32_t __attribute__((vector_size(kVectorBytes)));
constexpr std::int64_t kLanes = kVectorBytes / sizeof(float);

[[gnu::always_inline]] inline f32x16 exp16(f32x16 in) {
  // Clamps that keep NaN (a comparison with NaN is false), which then runs through to the result.
  f32x16 x = in > 88.3762626647949f ? 88.3762626647949f : in;
  x = x < -87.3365447504019f ? -87.3365447504019f : x;
  // Adding 1.5 * 2^23 rounds x / ln2 to an integer n, left in the low mantissa bits.
  const f32x16 k = x * 1.44269504088896341f + 12582912.0f;
  const f32x16 n = k - 12582912.0f;
  // r = x - n ln2, ln2 in two parts so that n ln2 loses nothing.
  const f32x16 r = x - n * 0.693359375f + n * 2.12194440e-4f;
  f32x16 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const i32x16 two_to_n = ((std::bit_cast<i32x16>(k) - 0x4B400000) + 127) << 23;  // 0x4B400000: 1.5 * 2^23's bits
  return p * std::bit_cast<f32x16>(two_to_n);
}

[[gnu::always_inline]] inline f32x16 sigmoid16(f32x16 x) { return 1.0f / (1.0f + exp16(-x)); }

// tanh(x) = 1 - 2 / (e^2x + 1), saturating to +-1 through exp16's 0 and inf. Below |x| = 0.03 the
// difference cancels (relative error near 1e-3 at x = 1e-4), so there it is the Taylor series
// x - x^3/3 + 2x^5/15, whose first omitted term (17x^7/315) is under 2e-13.
[[gnu::always_inline]] inline f32x16 tanh16(f32x16 x) {
  const f32x16 a = x < 0.0f ? -x : x;
  const f32x16 x2 = x * x;
  const f32x16 series = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f)));
  const f32x16 formula = 1.0f - 2.0f / (exp16(2.0f * x) + 1.0f);
  return a < 0.03f ? series : formula;
}

// SiLU (swish): x * sigmoid(x), as PyTorch exports nn.SiLU (Sigmoid, then Mul).
[[gnu::always_inline]] inline f32x16 silu16(f32x16 x) { return x / (1.0f + exp16(-x)); }

// erf as a rational function, x P(x^2) / Q(x^2) of degrees 13 and 8 on [-4, 4] (outside it erf is
// +-1 in float), the interpolant Eigen's generic_fast_erf_float uses: relative error under 4e-7
// over the whole range, no exp, one division. Abramowitz and Stegun's 7.1.26, used before, cost an
// exp as well and lost relative accuracy near 0 (1.7% at x = 1e-5), and ran 2.2x slower.
[[gnu::always_inline]] inline f32x16 erf16(f32x16 in) {
  f32x16 x = in < 4.0f ? in : 4.0f;
  x = x > -4.0f ? x : -4.0f;
  const f32x16 x2 = x * x;
  f32x16 p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  f32x16 q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  f32x16 r = x * p / q;
  r = r > 1.0f ? 1.0f : r;  // the interpolant overshoots 1 by 5e-8 near |x| = 3.9
  r = r < -1.0f ? -1.0f : r;
  return in != in ? in : r;  // the clamps would turn NaN into +-1
}

// GELU as the ONNX Gelu operator (opset 20) and PyTorch define it: x / 2 * (1 + erf(x / sqrt 2)).
[[gnu::always_inline]] inline f32x16 gelu16(f32x16 x) { return 0.5f * x * (1.0f + erf16(x * 0.70710678118654752f)); }

// Its tanh approximation (approximate = "tanh"): x / 2 * (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))),
// with tanh(u) = 1 - 2 / (1 + e^(2u)).
[[gnu::always_inline]] inline f32x16 gelu_tanh16(f32x16 x) {
  const f32x16 u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (2.0f - 2.0f / (1.0f + exp16(2.0f * u)));
}

// x[i] = f(x[i]) for i < n, sixteen at a time. A tail of a row at least a vector long is the
// row's last vector, computed from the values as they were before the loop overwrote its first
// lanes and stored after it; a shorter row goes through a zero-filled vector. (A memcpy of the
// tail's variable length was a libc call per row: a third of the time of activations applied to
// EfficientNet's rows of 56 and 28.)
template <class F>
inline void map16(float* x, std::int64_t n, F f) {
  if (n < kLanes) {
    float tmp[kLanes] = {};
    for (std::int64_t k = 0; k < n; ++k) tmp[k] = x[k];
    f32x16 v;
    std::memcpy(&v, tmp, sizeof v);
    v = f(v);
    std::memcpy(tmp, &v, sizeof v);
    for (std::int64_t k = 0; k < n; ++k) x[k] = tmp[k];
    return;
  }
  f32x16 last;
  std::memcpy(&last, x + n - kLanes, sizeof last);
  last = f(last);
  for (std::int64_t i = 0; i + kLanes <= n; i += kLanes) {
    f32x16 v;
    std::memcpy(&v, x + i, sizeof v);
    v = f(v);
    std::memcpy(x + i, &v, sizeof v);
  }
  std::memcpy(x + n - kLanes, &last, sizeof last);
}

// The common start of a softmax over a contiguous row: dst[i] = exp(src[i] - max) (dst may be
// src). Returns the maximum and the sum of dst: Softmax divides by the sum, LogSoftmax subtracts
// max + log(sum).
inline std::pair<float, float> exp_from_max(const float* src, float* dst, std::int64_t n) {
  // In vectors throughout: the scalar max (std::max's order of NaN handling keeps GCC from
  // vectorising it) was a third of ViT's attention time. A NaN is skipped by the max, as there,
  // and stays NaN through exp.
  f32x16 top16 = f32x16{} - INFINITY;
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    f32x16 v;
    std::memcpy(&v, src + i, sizeof v);
    top16 = v > top16 ? v : top16;
  }
  float top = -INFINITY;
  for (std::int64_t lane = 0; lane < kLanes; ++lane) top = std::max(top, top16[lane]);
  for (std::int64_t k = i; k < n; ++k) top = std::max(top, src[k]);
  f32x16 sum16{};
  for (i = 0; i + kLanes <= n; i += kLanes) {
    f32x16 v;
    std::memcpy(&v, src + i, sizeof v);
    v = exp16(v - top);
    std::memcpy(dst + i, &v, sizeof v);
    sum16 += v;
  }
  float sum = 0.0f;
  for (std::int64_t lane = 0; lane < kLanes; ++lane) sum += sum16[lane];
  if (i < n) {
    f32x16 v{};
    const auto bytes = static_cast<std::size_t>(n - i) * sizeof(float);
    std::memcpy(&v, src + i, bytes);
    v = exp16(v - top);
    std::memcpy(dst + i, &v, bytes);
    for (std::int64_t k = i; k < n; ++k) sum += dst[k];
  }
  return {top, sum};
}


// r[0..kLanes) := its transpose, kLanes x kLanes floats in registers (the unpack / shuffle network
// of an SSE 4 x 4 or an AVX-512 16 x 16 transpose): for each bit B of the lane index, vectors
// 2^B apart exchange the blocks whose row and column bits B differ. log2(kLanes) rounds of
// kLanes two-source shuffles, in place of kLanes^2 element moves.
namespace detail {
template <std::size_t B, std::size_t... J>
[[gnu::always_inline]] inline void exchange_blocks(f32x16& a, f32x16& b, std::index_sequence<J...>) {
  constexpr std::size_t L = sizeof...(J);
  const f32x16 na = __builtin_shufflevector(a, b, ((J & B) != 0 ? L + J - B : J)...);
  const f32x16 nb = __builtin_shufflevector(a, b, ((J & B) != 0 ? L + J : J + B)...);
  a = na;
  b = nb;
}
template <std::size_t B>
[[gnu::always_inline]] inline void transpose_round(f32x16* r) {
  constexpr auto lanes = static_cast<std::size_t>(kLanes);
#pragma GCC unroll 16
  for (std::size_t i = 0; i < lanes; ++i)
    if ((i & B) == 0) exchange_blocks<B>(r[i], r[i + B], std::make_index_sequence<lanes>{});
  if constexpr (B > 1) transpose_round<B / 2>(r);
}
}  // namespace detail

[[gnu::always_inline]] inline void transpose_lanes(f32x16* r) { detail::transpose_round<static_cast<std::size_t>(kLanes) / 2>(r); }

// Rows of kLanes values (row i at rows + i row_stride) into `lanes` planes of `size` values:
// plane l's value i is row i's value l. kLanes x kLanes blocks go through transpose_lanes, the
// last block overlapping the one before (the same values written twice); fewer than kLanes rows
// go value by value.
[[gnu::always_inline]] inline void rows_to_planes(const float* rows, std::int64_t row_stride, std::int64_t size, float* const* planes, std::int64_t lanes) {
  if (size < kLanes) {
    for (std::int64_t i = 0; i < size; ++i)
      for (std::int64_t l = 0; l < lanes; ++l) planes[l][i] = rows[i * row_stride + l];
    return;
  }
  f32x16 r[kLanes];
  for (std::int64_t i0 = 0; i0 < size; i0 += kLanes) {
    const std::int64_t at = std::min(i0, size - kLanes);
    for (std::int64_t i = 0; i < kLanes; ++i) std::memcpy(&r[i], rows + (at + i) * row_stride, sizeof r[i]);
    transpose_lanes(r);
    for (std::int64_t l = 0; l < lanes; ++l) std::memcpy(planes[l] + at, &r[l], sizeof r[l]);
  }
}

}  // namespace luojia::nn::layers
