#pragma once
// exp and the functions built on it in a form `omp simd` loops vectorise: no calls, no branches.
// std::exp keeps a loop scalar (a libm call per element); this is Cephes' expf, as ncnn and ONNX
// Runtime's MLAS vectorise it: x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r,
// 2^n built in the exponent bits. Relative error about 2e-7; below -87.3 it gives 2^-126 rather
// than 0 or a denormal, above 88.4 e^88.4 rather than infinity.
#include <cstdint>
#include <cstring>

namespace luojia::nn::layers {

#pragma omp declare simd
inline float exp_approx(float in) {
  float x = in < 88.3762626647949f ? in : 88.3762626647949f;
  x = x > -87.3365447504019f ? x : -87.3365447504019f;
  // n = floor(x / ln2 + 1/2), by truncation corrected for negative values (no call to floor).
  const float t = x * 1.44269504088896341f + 0.5f;
  float n = static_cast<float>(static_cast<std::int32_t>(t));
  n -= n > t ? 1.0f : 0.0f;
  // r = x - n ln2, ln2 in two parts so that n ln2 loses nothing.
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return in != in ? in : p * scale;  // NaN stays NaN (the clamps above would make it e^88)
}

#pragma omp declare simd
inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// SiLU (swish): x * sigmoid(x), as PyTorch exports nn.SiLU (Sigmoid, then Mul).
#pragma omp declare simd
inline float silu_approx(float x) { return x / (1.0f + exp_approx(-x)); }

}  // namespace luojia::nn::layers
