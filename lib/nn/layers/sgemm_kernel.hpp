#pragma once
// luojia's own single-precision GEMM for products whose right-hand side is known at load (the
// weights of MatMul and Gemm: every Linear layer of a transformer): B packed once into panels of
// NR columns; A packed per block into slivers of MR rows; an MR x NR register-blocked kernel with
// fused multiply-adds, as ONNX Runtime's MLAS and BLIS block it. Included by conv_gemm.cpp only,
// so it is compiled once per ISA object: 14 x 32 on AVX-512 (28 accumulators of 32 registers),
// 6 x 16 on AVX2 and 6 x 8 on SSE2 (12 of 16).
#include "nn/layers/common.hpp"
#include "nn/layers/conv_gemm.hpp"
#include "nn/layers/vector_math.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace luojia::nn::layers::sgemm {

constexpr std::int64_t kNr = 2 * kLanes;
constexpr int kMr = kLanes == 16 ? 14 : 6;
constexpr std::int64_t kKc = 256;          // depth of a block: a B panel's block (kKc x kNr) stays in L1
constexpr std::int64_t kMc = 16 * kMr;     // rows of a block: A's packed block (kMc x kKc) stays in L2

inline std::int64_t panels(std::int64_t n) { return (n + kNr - 1) / kNr; }
inline std::int64_t packed_floats(std::int64_t k, std::int64_t n) { return panels(n) * k * kNr; }

// packed[(p k + kk) kNr + j] = B[kk][p kNr + j] (0 past n); b is k x n row-major, or n x k when
// transposed (a Gemm's transB, PyTorch's Linear weight).
inline void pack_b(const float* b, std::int64_t k, std::int64_t n, bool transposed, float* packed) {
  for (std::int64_t p = 0; p < panels(n); ++p)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      float* dst = packed + (p * k + kk) * kNr;
      for (std::int64_t j = 0; j < kNr; ++j) {
        const std::int64_t col = p * kNr + j;
        dst[j] = col < n ? (transposed ? b[col * k + kk] : b[kk * n + col]) : 0.0f;
      }
    }
}

// C[kRows x cols] (ldc apart) = or += the sliver (kc x kMr, its first kRows rows used) times the
// panel block (kc x kNr). The row count is a template argument so that a remainder sliver (ViT's
// 197 tokens are 14 slivers and 1 row) costs its rows, not a whole sliver's. When `prefetch` is
// given, one cache line of it per step is fetched into L1: the caller points it at the B block it
// will need next, which otherwise arrives from memory while the first sliver waits on it (a
// transformer's weights are read once per run: ViT-B/16's 340 MB did not stay in any cache).
// The panel block's rows are ldb apart: kNr when packed, a matrix's own row stride when its panel
// is read in place. When `finish` is given and the tile is whole (cols == kNr), finish(i, v0, v1)
// turns row i's two vectors into the layer's outputs before they are stored: the epilogue on the
// registers, where a pass of its own reloaded the tile (6.7% of a chain of 1 x 1 layers of depth
// 64). NoFinish: no epilogue in the kernel (the caller's own pass, or none).
struct NoFinish {
  [[gnu::always_inline]] void operator()(int, f32x16&, f32x16&) const {}
};
template <int kRows, class Finish = NoFinish>
[[gnu::always_inline]] inline void micro_kernel(const float* ap, const float* bp, std::int64_t kc, float* c, std::int64_t ldc,
                                                std::int64_t cols, bool accumulate, const char* prefetch, std::int64_t ldb = kNr,
                                                const Finish* finish = nullptr) {
  f32x16 acc0[kRows], acc1[kRows];
#pragma GCC unroll 14
  for (int i = 0; i < kRows; ++i) acc0[i] = acc1[i] = f32x16{};
  const auto step = [&](std::int64_t kk) __attribute__((always_inline)) {
    f32x16 b0, b1;
    std::memcpy(&b0, bp + kk * ldb, sizeof b0);
    std::memcpy(&b1, bp + kk * ldb + kLanes, sizeof b1);
    const float* a = ap + kk * kMr;
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      // Vector times scalar: one broadcast (an embedded {1to16} on AVX-512), not 0 + a[i] first.
      acc0[i] += b0 * a[i];
      acc1[i] += b1 * a[i];
    }
  };
  if (prefetch != nullptr) {
    for (std::int64_t kk = 0; kk < kc; ++kk) {
      __builtin_prefetch(prefetch + kk * 64, 0, 3);
      step(kk);
    }
  } else {
    for (std::int64_t kk = 0; kk < kc; ++kk) step(kk);
  }
  if (cols == kNr) {
#pragma GCC unroll 14
    for (int i = 0; i < kRows; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        f32x16 c0, c1;
        std::memcpy(&c0, row, sizeof c0);
        std::memcpy(&c1, row + kLanes, sizeof c1);
        acc0[i] += c0;
        acc1[i] += c1;
      }
      if (finish != nullptr) (*finish)(i, acc0[i], acc1[i]);
      std::memcpy(row, &acc0[i], sizeof acc0[i]);
      std::memcpy(row + kLanes, &acc1[i], sizeof acc1[i]);
    }
    return;
  }
  for (int i = 0; i < kRows; ++i) {
    float tmp[kNr];
    std::memcpy(tmp, &acc0[i], sizeof acc0[i]);
    std::memcpy(tmp + kLanes, &acc1[i], sizeof acc1[i]);
    float* row = c + i * ldc;
    for (std::int64_t j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + tmp[j] : tmp[j];
  }
}

// micro_kernel for 1 to kMr rows.
template <int kRows = kMr, class Finish = NoFinish>
inline void micro_kernel_rows(int rows, const float* ap, const float* bp, std::int64_t kc, float* c, std::int64_t ldc,
                              std::int64_t cols, bool accumulate, const char* prefetch, std::int64_t ldb = kNr,
                              const Finish* finish = nullptr) {
  if constexpr (kRows > 1) {
    if (rows < kRows) return micro_kernel_rows<kRows - 1, Finish>(rows, ap, bp, kc, c, ldc, cols, accumulate, prefetch, ldb, finish);
  }
  micro_kernel<kRows, Finish>(ap, bp, kc, c, ldc, cols, accumulate, prefetch, ldb, finish);
}

// The next sliver of a packed A at depth k0 (null after the last), to prefetch while the kernel
// runs on this one: with many output channels (DeepLab's 2048) the slivers of one depth block
// outgrow L2 and each would otherwise arrive from L3 while the kernel waits on it.
inline const char* next_sliver(const float* packed, std::int64_t k, std::int64_t k0, std::int64_t s, std::int64_t s_end) {
  return s + 1 < s_end ? reinterpret_cast<const char*>(packed + ((s + 1) * k + k0) * kMr) : nullptr;
}

// Where the caller prefetches while computing sliver s against a B block of kc x kNr: the slivers
// that come first fetch the next block, a line per step, the others nothing.
inline const char* prefetch_slice(const float* next_block, std::int64_t kc, std::int64_t s) {
  const std::int64_t block_bytes = kc * kNr * static_cast<std::int64_t>(sizeof(float)), offset = s * kc * 64;
  return next_block != nullptr && offset < block_bytes ? reinterpret_cast<const char*>(next_block) + offset : nullptr;
}

// The epilogue on C's tile (rows x cols, ldc apart; bias at the tile's first column), vectorised
// in this ISA's build (ActivationFn::apply is compiled for the library's baseline).
template <class F>
[[gnu::always_inline]] inline void finish_tile(float* c, std::int64_t ldc, int rows, std::int64_t cols, const float* bias, F f) {
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    std::int64_t j = 0;
    for (; j + kLanes <= cols; j += kLanes) {  // fixed-size copies: plain vector loads and stores
      f32x16 v, b{};
      std::memcpy(&v, row + j, sizeof v);
      if (bias != nullptr) std::memcpy(&b, bias + j, sizeof b);
      v = f(v + b);
      std::memcpy(row + j, &v, sizeof v);
    }
    if (j < cols) {
      const auto bytes = static_cast<std::size_t>(cols - j) * sizeof(float);
      f32x16 v{}, b{};
      std::memcpy(&v, row + j, bytes);
      if (bias != nullptr) std::memcpy(&b, bias + j, bytes);
      v = f(v + b);
      std::memcpy(row + j, &v, bytes);
    }
  }
}

inline void finish_tile(float* c, std::int64_t ldc, int rows, std::int64_t cols, const GemmEpilogue& e) {
  with_vector_activation(e.activation != nullptr ? *e.activation : ActivationFn{},
                         [&](auto g) { finish_tile(c, ldc, rows, cols, e.bias, g); });
}

// C (m x n, ldc apart), columns of panels [p0, p1) only, = A (m x k, lda apart) * B (packed).
inline void gemm(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, const float* packed, std::int64_t n,
                 std::int64_t p0, std::int64_t p1, float* c, std::int64_t ldc, const GemmEpilogue* epilogue) {
  thread_local std::vector<float> block;
  const bool finish = epilogue != nullptr && (epilogue->bias != nullptr ||
                                              (epilogue->activation != nullptr && epilogue->activation->kind != Activation::None));
  if (k == 0) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = p0 * kNr; j < std::min(n, p1 * kNr); ++j) c[i * ldc + j] = 0.0f;
    if (finish)
      for (std::int64_t p = p0; p < p1; ++p)
        finish_tile(c + p * kNr, ldc, static_cast<int>(m), std::min(kNr, n - p * kNr),
                    GemmEpilogue{epilogue->bias != nullptr ? epilogue->bias + p * kNr : nullptr, epilogue->activation});
    return;
  }
  for (std::int64_t i0 = 0; i0 < m; i0 += kMc) {
    const std::int64_t mc = std::min(kMc, m - i0), slivers = (mc + kMr - 1) / kMr;
    for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
      const std::int64_t kc = std::min(kKc, k - k0);
      block.resize(static_cast<std::size_t>(slivers * kc * kMr));
      // A's block, sliver by sliver, k-major inside: block[(s kc + kk) kMr + i].
      for (std::int64_t s = 0; s < slivers; ++s) {
        float* dst = block.data() + s * kc * kMr;
        for (int i = 0; i < kMr; ++i) {
          const std::int64_t row = i0 + s * kMr + i;
          if (row >= i0 + mc) {
            for (std::int64_t kk = 0; kk < kc; ++kk) dst[kk * kMr + i] = 0.0f;
            continue;
          }
          const float* src = a + row * lda + k0;
          for (std::int64_t kk = 0; kk < kc; ++kk) dst[kk * kMr + i] = src[kk];
        }
      }
      for (std::int64_t p = p0; p < p1; ++p) {
        const std::int64_t cols = std::min(kNr, n - p * kNr);
        const float* bp = packed + (p * k + k0) * kNr;
        // The block after this one: the next panel's, or the first panel's of the next depth.
        const bool last_panel = p + 1 == p1;
        const float* next = !last_panel ? bp + k * kNr : k0 + kc < k ? packed + (p0 * k + k0 + kc) * kNr : nullptr;
        const std::int64_t next_kc = !last_panel ? kc : std::min(kKc, k - k0 - kc);
        for (std::int64_t s = 0; s < slivers; ++s) {
          const int rows = static_cast<int>(std::min<std::int64_t>(kMr, mc - s * kMr));
          float* tile = c + (i0 + s * kMr) * ldc + p * kNr;
          micro_kernel_rows(rows, block.data() + s * kc * kMr, bp, kc, tile, ldc, cols, k0 > 0, prefetch_slice(next, next_kc, s));
          if (finish && k0 + kc == k)
            finish_tile(tile, ldc, rows, cols, GemmEpilogue{epilogue->bias != nullptr ? epilogue->bias + p * kNr : nullptr, epilogue->activation});
        }
      }
    }
  }
}

// The other way round, for a left-hand side known at load (a pointwise convolution's weights,
// output channels x input channels): A packed once into slivers of kMr rows over the whole depth,
// B (the input planes, k rows ldb apart) packed per call into panels.
inline std::int64_t slivers(std::int64_t m) { return (m + kMr - 1) / kMr; }
inline std::int64_t packed_a_floats(std::int64_t m, std::int64_t k) { return slivers(m) * k * kMr; }

// packed[(s k + kk) kMr + i] = A[s kMr + i][kk] (0 past m); a is m x k row-major.
inline void pack_a(const float* a, std::int64_t m, std::int64_t k, float* packed) {
  for (std::int64_t s = 0; s < slivers(m); ++s)
    for (std::int64_t kk = 0; kk < k; ++kk)
      for (int i = 0; i < kMr; ++i) {
        const std::int64_t row = s * kMr + i;
        packed[(s * k + kk) * kMr + i] = row < m ? a[row * k + kk] : 0.0f;
      }
}

// The row epilogue on C's tile (rows x cols, ldc apart; bias at the tile's first row, residual
// laid out like the tile): f(c + bias + residual), in that order, as Conv's separate pass did it.
template <class F>
[[gnu::always_inline]] inline void finish_tile_rows(float* c, std::int64_t ldc, int rows, std::int64_t cols, const float* bias,
                                                    const float* residual, F f) {
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    const float* add = residual != nullptr ? residual + i * ldc : nullptr;
    const f32x16 b = f32x16{} + (bias != nullptr ? bias[i] : 0.0f);
    std::int64_t j = 0;
    for (; j + kLanes <= cols; j += kLanes) {
      f32x16 v, r{};
      std::memcpy(&v, row + j, sizeof v);
      if (add != nullptr) std::memcpy(&r, add + j, sizeof r);
      v = f(v + b + r);
      std::memcpy(row + j, &v, sizeof v);
    }
    if (j < cols) {
      const auto bytes = static_cast<std::size_t>(cols - j) * sizeof(float);
      f32x16 v{}, r{};
      std::memcpy(&v, row + j, bytes);
      if (add != nullptr) std::memcpy(&r, add + j, bytes);
      v = f(v + b + r);
      std::memcpy(row + j, &v, bytes);
    }
  }
}

// gemm_packed_a below, with its epilogue's activation as f. B's whole panels are read in place: a
// panel's row at one depth is kNr contiguous floats of B's row, and the kernel's loads of the next
// rows, ldb apart, come from L2 fast enough. Packing them first cost a pass over B that the
// product then read back (256 -> 128 channels on 56 x 56: 2.02 ms packed, 1.92 in place; 512 ->
// 256 on 28 x 28: 2.02, 1.88; 256 -> 128 on 32 x 32: 0.77, 0.65). The last, partial panel is
// copied into a zero-padded one, so that no load runs past B's rows. A sliver of A takes the block's
// panels one after the other: it stays in L1, and C is written as kMr runs along its rows, not a
// tile in each of m rows per panel.
template <class F>
inline void gemm_packed_a_with(const float* packed, std::int64_t m, std::int64_t k, std::int64_t s0, std::int64_t s1, const float* b,
                               std::int64_t ldb, std::int64_t n, float* c, std::int64_t ldc, const GemmRowEpilogue* epilogue, F f) {
  constexpr std::int64_t kNc = 16 * kNr;  // columns per block: C's tiles stay in L2 across the blocks of depth
  thread_local std::vector<float> partial;
  const std::int64_t s_end = std::min(s1, slivers(m));
  for (std::int64_t j0 = 0; j0 < n; j0 += kNc) {
    const std::int64_t nc = std::min(kNc, n - j0), panels_here = (nc + kNr - 1) / kNr;
    for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
      const std::int64_t kc = std::min(kKc, k - k0);
      const std::int64_t last_cols = nc - (panels_here - 1) * kNr;
      if (last_cols < kNr) {
        const float* bp = b + k0 * ldb + j0 + (panels_here - 1) * kNr;
        partial.resize(static_cast<std::size_t>(kc * kNr));
        for (std::int64_t kk = 0; kk < kc; ++kk) {
          std::memcpy(partial.data() + kk * kNr, bp + kk * ldb, sizeof(float) * static_cast<std::size_t>(last_cols));
          std::fill(partial.data() + kk * kNr + last_cols, partial.data() + (kk + 1) * kNr, 0.0f);
        }
      }
      for (std::int64_t s = s0; s < s_end; ++s) {
        for (std::int64_t p = 0; p < panels_here; ++p) {
          const std::int64_t cols = std::min(kNr, nc - p * kNr);
          const float* bp = cols < kNr ? partial.data() : b + k0 * ldb + j0 + p * kNr;
          const std::int64_t stride = cols < kNr ? kNr : ldb;
          const int rows = static_cast<int>(std::min<std::int64_t>(kMr, m - s * kMr));
          const std::int64_t offset = (s * kMr - s0 * kMr) * ldc + j0 + p * kNr;
          const char* ahead = p + 1 == panels_here ? next_sliver(packed, k, k0, s, s_end) : nullptr;
          const float* bias = epilogue != nullptr && epilogue->bias != nullptr ? epilogue->bias + (s - s0) * kMr : nullptr;
          const float* residual = epilogue != nullptr && epilogue->residual != nullptr ? epilogue->residual + offset : nullptr;
          if (epilogue != nullptr && k0 + kc == k && cols == kNr) {
            const auto finish = [bias, residual, ldc, f](int i, f32x16& v0, f32x16& v1) __attribute__((always_inline)) {
              const float b = bias != nullptr ? bias[i] : 0.0f;
              f32x16 r0{}, r1{};
              if (residual != nullptr) {
                std::memcpy(&r0, residual + i * ldc, sizeof r0);
                std::memcpy(&r1, residual + i * ldc + kLanes, sizeof r1);
              }
              v0 = f(v0 + b + r0);
              v1 = f(v1 + b + r1);
            };
            micro_kernel_rows(rows, packed + (s * k + k0) * kMr, bp, kc, c + offset, ldc, cols, k0 > 0, ahead, stride, &finish);
            continue;
          }
          micro_kernel_rows(rows, packed + (s * k + k0) * kMr, bp, kc, c + offset, ldc, cols, k0 > 0, ahead, stride);
          if (epilogue != nullptr && k0 + kc == k) finish_tile_rows(c + offset, ldc, rows, cols, bias, residual, f);
        }
      }
    }
  }
}

// C (rows [s0 kMr, min(m, s1 kMr)) of A, n columns, ldc apart) = A (packed) * B (k x n, ldb apart),
// then the epilogue (null: none) on each tile after its last block of depth, while it is in cache.
inline void gemm_packed_a(const float* packed, std::int64_t m, std::int64_t k, std::int64_t s0, std::int64_t s1, const float* b,
                          std::int64_t ldb, std::int64_t n, float* c, std::int64_t ldc, const GemmRowEpilogue* epilogue) {
  with_vector_activation(epilogue != nullptr && epilogue->activation != nullptr ? *epilogue->activation : ActivationFn{},
                         [&](auto f) { gemm_packed_a_with(packed, m, k, s0, s1, b, ldb, n, c, ldc, epilogue, f); });
}

// The epilogue of a pixels-as-rows tile on the kernel's registers (micro_kernel's `finish`): panel
// p's column biases, zero past n (a partial panel's extra lanes hold f(0)), then the activation f.
template <class F>
struct PanelFinish {
  f32x16 b0{}, b1{};
  F f;
  PanelFinish(const float* bias, std::int64_t p, std::int64_t n, F activation) : f(activation) {
    float lanes[kNr] = {};
    if (bias != nullptr)
      for (std::int64_t j = 0; j < std::min(kNr, n - p * kNr); ++j) lanes[j] = bias[p * kNr + j];
    std::memcpy(&b0, lanes, sizeof b0);
    std::memcpy(&b1, lanes + kLanes, sizeof b1);
  }
  [[gnu::always_inline]] void operator()(int, f32x16& v0, f32x16& v1) const {
    v0 = f(v0 + b0);
    v1 = f(v1 + b1);
  }
};

// The product of gemm_pixel_rows (below) on pixels already in slivers (a[(s k + kk) kMr + i],
// k-major: the sliver layout pack_a writes, with the pixels as the rows), for the pixels of slivers
// [s0, s1) only: other tasks may take the other slivers of the same panels. The epilogue is
// applied to the kernel's registers before they land in the panel's buffer (a pass of its own
// reloaded it).
template <class F>
inline void gemm_pixel_rows_packed_with(const float* a, std::int64_t plane, std::int64_t k, const float* packed, std::int64_t n,
                                        std::int64_t p0, std::int64_t p1, std::int64_t s0, std::int64_t s1, float* y, const float* bias,
                                        F f) {
  const std::int64_t first = s0 * kMr, pixels = std::min(plane, s1 * kMr) - first;
  if (pixels <= 0) return;
  thread_local std::vector<float> buffer;
  const auto needed = static_cast<std::size_t>((s1 - s0) * kMr * kNr);
  if (buffer.size() < needed) buffer.resize(needed);  // grown only: a resize up zero-fills the difference
  float* tile = buffer.data();  // one panel's results, row i = pixel first + i, kNr columns
  for (std::int64_t p = p0; p < p1; ++p) {
    const std::int64_t cols = std::min(kNr, n - p * kNr);
    const PanelFinish<F> finish(bias, p, n, f);
    for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
      const std::int64_t kc = std::min(kKc, k - k0);
      const float* bp = packed + (p * k + k0) * kNr;
      for (std::int64_t s = s0; s < s1; ++s) {
        const int rows = static_cast<int>(std::min<std::int64_t>(kMr, plane - s * kMr));
        micro_kernel_rows(rows, a + (s * k + k0) * kMr, bp, kc, tile + (s - s0) * kMr * kNr, kNr, kNr, k0 > 0, nullptr, kNr,
                          k0 + kc == k ? &finish : nullptr);
      }
    }
    // Back into planes, kLanes channels (columns of the panel's rows) at a time.
    for (std::int64_t j0 = 0; j0 < cols; j0 += kLanes) {
      const std::int64_t channels = std::min(kLanes, cols - j0);
      float* planes[kLanes];
      for (std::int64_t j = 0; j < channels; ++j) planes[j] = y + (p * kNr + j0 + j) * plane + first;
      rows_to_planes(tile + j0, kNr, pixels, planes, channels);
    }
  }
}

inline void gemm_pixel_rows_packed(const float* a, std::int64_t plane, std::int64_t k, const float* packed, std::int64_t n,
                                   std::int64_t p0, std::int64_t p1, std::int64_t s0, std::int64_t s1, float* y,
                                   const GemmEpilogue* epilogue) {
  with_vector_activation(epilogue != nullptr && epilogue->activation != nullptr ? *epilogue->activation : ActivationFn{}, [&](auto f) {
    gemm_pixel_rows_packed_with(a, plane, k, packed, n, p0, p1, s0, s1, y, epilogue != nullptr ? epilogue->bias : nullptr, f);
  });
}

// The first `pixels` pixels of k planes (x, ldx apart) as slivers of kMr, k-major: a[(s k + kk) kMr
// + i] = x[kk ldx + s kMr + i], zero past the last pixel. (Fixed-size copies: with a run-time count
// each row was a libc memcpy and memset call, 3% of MobileNetV3's time.)
inline void pack_pixel_slivers(const float* x, std::int64_t ldx, std::int64_t pixels, std::int64_t k, float* a) {
  for (std::int64_t s = 0; s < slivers(pixels); ++s) {
    const std::int64_t rows = std::min<std::int64_t>(kMr, pixels - s * kMr);
    for (std::int64_t kk = 0; kk < k; ++kk) {
      float* to = a + (s * k + kk) * kMr;
      const float* from = x + kk * ldx + s * kMr;
      if (rows == kMr) {
        std::memcpy(to, from, sizeof(float) * kMr);
      } else {
#pragma GCC unroll 16
        for (int i = 0; i < kMr; ++i) to[i] = i < rows ? from[i] : 0.0f;
      }
    }
  }
}

// Panels [p0, p1) (output channels [p kNr, min(n, (p + 1) kNr)) each) of the pixels-as-rows
// product for `pixels` pixels of k input planes (x, ldx apart) that are rows of w pixels, each
// pixel's row of a panel's channels to dst + (p - p0) panel_stride + (i / w) row_stride + (i % w)
// ldd for pixel i, only for the first `keep` pixels of each row, after the epilogue. A pixel's slot
// holds a whole panel (ldd >= kNr): a last, partial panel's channels past n are written too (the
// activation of zero), so that every store is two whole vectors. The pixel-major tile kept as it
// is, a vector of channels per pixel, for a kernel that reads channels interleaved (the depthwise
// half of Conv::pointwise_into_depthwise). The pixels are packed into slivers here as
// gemm_pixel_rows packs a plane, across rows: a 7 x 7 plane is 4 slivers, not 7 half-empty ones.
// The epilogue is applied to the kernel's registers (a pass of its own over each tile was 19% of
// a 16 -> 72 expansion on 56 x 56).
template <class F>
inline void gemm_pixel_rows_into_with(const float* x, std::int64_t ldx, std::int64_t pixels, std::int64_t w, std::int64_t keep, std::int64_t k,
                                      const float* packed, std::int64_t n, std::int64_t p0, std::int64_t p1, float* dst,
                                      std::int64_t panel_stride, std::int64_t ldd, std::int64_t row_stride, const float* bias, F f) {
  thread_local std::vector<float> buffer;
  const std::int64_t s_count = slivers(pixels);
  const auto needed = static_cast<std::size_t>(s_count * kMr * k + kMr * kNr);
  if (buffer.size() < needed) buffer.resize(needed);  // grown only: a resize to a larger size zero-fills the difference
  float* a = buffer.data();
  float* tile = a + s_count * kMr * k;  // a sliver's results when they cross a row's end
  pack_pixel_slivers(x, ldx, pixels, k, a);
  for (std::int64_t p = p0; p < p1; ++p) {
    const PanelFinish<F> finish(bias, p, n, f);
    float* panel = dst + (p - p0) * panel_stride;
    for (std::int64_t s = 0; s < s_count; ++s) {
      const int rows = static_cast<int>(std::min<std::int64_t>(kMr, pixels - s * kMr));
      const std::int64_t first = s * kMr, row = first / w, column = first % w;
      // Straight to the destination when the sliver lies within a row's kept pixels.
      const bool direct = column + rows <= keep;
      float* c = direct ? panel + row * row_stride + column * ldd : tile;
      const std::int64_t ldc = direct ? ldd : kNr;
      for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
        const std::int64_t kc = std::min(kKc, k - k0);
        micro_kernel_rows(rows, a + (s * k + k0) * kMr, packed + (p * k + k0) * kNr, kc, c, ldc, kNr, k0 > 0, nullptr, kNr,
                          k0 + kc == k ? &finish : nullptr);
      }
      if (direct) continue;
      for (int i = 0; i < rows; ++i) {
        const std::int64_t at = first + i, col = at % w;
        if (col < keep) std::memcpy(panel + at / w * row_stride + col * ldd, tile + i * kNr, sizeof(float) * kNr);
      }
    }
  }
}

inline void gemm_pixel_rows_into(const float* x, std::int64_t ldx, std::int64_t pixels, std::int64_t w, std::int64_t keep, std::int64_t k,
                                 const float* packed, std::int64_t n, std::int64_t p0, std::int64_t p1, float* dst, std::int64_t panel_stride,
                                 std::int64_t ldd, std::int64_t row_stride, const GemmEpilogue* epilogue) {
  with_vector_activation(epilogue != nullptr && epilogue->activation != nullptr ? *epilogue->activation : ActivationFn{}, [&](auto f) {
    gemm_pixel_rows_into_with(x, ldx, pixels, w, keep, k, packed, n, p0, p1, dst, panel_stride, ldd, row_stride,
                              epilogue != nullptr ? epilogue->bias : nullptr, f);
  });
}

// A pointwise convolution on a small plane, with its pixels as the product's rows: slivers of kMr
// pixels cut a 7 x 7 plane's 49 into 3.5 slivers where panels of kNr pixels made it 64 columns
// (ONNX Runtime's NCHWc kernels, too, take pixels as rows). x holds k input planes of `plane`
// pixels; packed is the weights (n output channels x k) as pack_b packs them transposed; writes
// output channels [p0 kNr, min(n, p1 kNr)) of y (channel c's plane at y + c plane), through a
// buffer of each panel's results transposed back into planes (rows_to_planes). The epilogue (null:
// none; its bias one per output channel) is applied to the buffer first, while it is in cache.
inline void gemm_pixel_rows(const float* x, std::int64_t plane, std::int64_t k, const float* packed, std::int64_t n, std::int64_t p0,
                            std::int64_t p1, float* y, const GemmEpilogue* epilogue) {
  thread_local std::vector<float> buffer;
  const std::int64_t s_count = slivers(plane);
  const auto needed = static_cast<std::size_t>(s_count * kMr * k);
  if (buffer.size() < needed) buffer.resize(needed);  // grown only: pack_pixel_slivers writes every value
  float* a = buffer.data();
  pack_pixel_slivers(x, plane, plane, k, a);
  gemm_pixel_rows_packed(a, plane, k, packed, n, p0, p1, 0, s_count, y, epilogue);
}

}  // namespace luojia::nn::layers::sgemm
