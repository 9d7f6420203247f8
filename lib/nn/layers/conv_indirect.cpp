// The convolution product without im2col (XNNPACK's indirect convolution, without its pointer
// buffer): the input is laid out once as phase planes, one per channel and stride phase, padded,
// so that for a fixed tap every output position reads the phase plane at the position plus a
// constant. The kernel's right-hand panel row kk is then base + offsets[kk], read in place, where
// the patch products copy each value once per tap into packed panels. That copy cost about as
// much as the multiply-adds where each value feeds few output channels: ResNeXt's 32 groups of 4
// to 32 channels spent 60% of their time packing. Compiled once per instruction set, like
// conv_gemm.cpp.
#include "nn/layers/packed_gemm.hpp"
#include "nn/layers/sgemm_kernel.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace luojia::nn::layers {
namespace {

using sgemm::kMr;
using sgemm::kNr;

// C (kRows x cols, ldc apart) = the sliver (k x kMr, its first kRows rows used) times the panel
// whose row kk is b + offsets[kk] (kNr floats).
template <int kRows>
[[gnu::always_inline]] inline void kernel(const float* ap, const float* b, const std::int64_t* offsets, std::int64_t k, float* c,
                                          std::int64_t ldc, std::int64_t cols) {
  f32x16 acc0[kRows], acc1[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) acc0[i] = acc1[i] = f32x16{};
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const float* row = b + offsets[kk];
    f32x16 b0, b1;
    std::memcpy(&b0, row, sizeof b0);
    std::memcpy(&b1, row + kLanes, sizeof b1);
    const float* a = ap + kk * kMr;
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      acc0[i] += b0 * a[i];
      acc1[i] += b1 * a[i];
    }
  }
  if (cols == kNr) {
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      std::memcpy(c + i * ldc, &acc0[i], sizeof acc0[i]);
      std::memcpy(c + i * ldc + kLanes, &acc1[i], sizeof acc1[i]);
    }
    return;
  }
  for (int i = 0; i < kRows; ++i) {
    float tmp[kNr];
    std::memcpy(tmp, &acc0[i], sizeof acc0[i]);
    std::memcpy(tmp + kLanes, &acc1[i], sizeof acc1[i]);
    std::memcpy(c + i * ldc, tmp, static_cast<std::size_t>(cols) * sizeof(float));
  }
}

template <int kRows = kMr>
inline void kernel_rows(int rows, const float* ap, const float* b, const std::int64_t* offsets, std::int64_t k, float* c, std::int64_t ldc,
                        std::int64_t cols) {
  if constexpr (kRows > 1) {
    if (rows < kRows) return kernel_rows<kRows - 1>(rows, ap, b, offsets, k, c, ldc, cols);
  }
  kernel<kRows>(ap, b, offsets, k, c, ldc, cols);
}

}  // namespace

void indirect_gemm(const float* packed, std::int64_t rows, std::int64_t k, const float* base, const std::int64_t* offsets, std::int64_t p0,
                   std::int64_t p1, float* c, std::int64_t ldc) {
  const std::int64_t slivers = (rows + kMr - 1) / kMr;
  // Each panel's rows stay in L1 while the slivers pass over them (a group's panel is a few
  // channels' worth of rows: the weights are the larger operand only past 64 channels).
  for (std::int64_t p = p0; p < p1; p += kNr) {
    const std::int64_t cols = std::min(kNr, p1 - p);
    for (std::int64_t s = 0; s < slivers; ++s)
      kernel_rows(static_cast<int>(std::min<std::int64_t>(kMr, rows - s * kMr)), packed + s * k * kMr, base + p, offsets, k,
                  c + s * kMr * ldc + (p - p0), ldc, cols);
  }
}

}  // namespace luojia::nn::layers
