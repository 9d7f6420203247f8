// Winograd F(m x m, 3 x 3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): per tile of m x m outputs, the (m + 2)^2 input patch d is transformed
// (B^T d B), multiplied element by element with the transformed weights (G g G^T) and summed over
// the input channels - which is (m + 2)^2 GEMMs over a block of tiles, run on luojia's own kernel
// (sgemm_kernel.hpp): the weights of each position packed at load as its left-hand side, slivers
// of output channels; the transformed tiles as its right-hand panels of kNr tiles, so that a 28²
// plane's 49 tiles of F(4x4) cost two panels of 32, where Eigen's 48-row panels made them 96 -
// and transformed back (A^T M A). For m = 4 that is 36
// multiplies per 16 outputs and input channel instead of 144; m = 2 (16 per 4) loses less
// precision. Compiled once per instruction set, like conv_gemm.cpp.
#include "nn/layers/packed_gemm.hpp"
#include "nn/layers/common.hpp"
#include "nn/layers/sgemm_kernel.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace luojia::nn::layers {
namespace {

// The transforms as 1-D passes over vectors of n values (one value per tile of a panel), written
// out so that the compiler sees every coefficient: out[i][r] = sum_k T[i][k] in[k][r]. The 2-D
// transforms are a pass over the rows, then one over the columns.
template <int M>
struct Transform;

template <>
struct Transform<2> {
  static constexpr int kA = 4;
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  // B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
  static void input(const float* const* in, float* const* out, std::int64_t n, float) {
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) {
      const float d0 = in[0][r], d1 = in[1][r], d2 = in[2][r], d3 = in[3][r];
      out[0][r] = d0 - d2;
      out[1][r] = d1 + d2;
      out[2][r] = d2 - d1;
      out[3][r] = d1 - d3;
    }
  }
  // A^T = [1 1 1 0; 0 1 -1 -1], plus bias.
  static void output(const float* const* in, float* const* out, std::int64_t n, float bias) {
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) {
      const float m0 = in[0][r], m1 = in[1][r], m2 = in[2][r], m3 = in[3][r];
      out[0][r] = m0 + m1 + m2 + bias;
      out[1][r] = m1 - m2 - m3 + bias;
    }
  }
};

template <>
struct Transform<4> {
  static constexpr int kA = 6;
  static constexpr double kG[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
  static void input(const float* const* in, float* const* out, std::int64_t n, float) {
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) {
      const float d0 = in[0][r], d1 = in[1][r], d2 = in[2][r], d3 = in[3][r], d4 = in[4][r], d5 = in[5][r];
      const float a = d4 - 4.0f * d2, b = d3 - 4.0f * d1, c = d4 - d2, e = 2.0f * (d3 - d1);
      out[0][r] = 4.0f * d0 - 5.0f * d2 + d4;
      out[1][r] = a + b;
      out[2][r] = a - b;
      out[3][r] = c + e;
      out[4][r] = c - e;
      out[5][r] = 4.0f * d1 - 5.0f * d3 + d5;
    }
  }
  // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1], plus bias.
  static void output(const float* const* in, float* const* out, std::int64_t n, float bias) {
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) {
      const float m0 = in[0][r], m1 = in[1][r], m2 = in[2][r], m3 = in[3][r], m4 = in[4][r], m5 = in[5][r];
      const float sum12 = m1 + m2, dif12 = m1 - m2, sum34 = m3 + m4, dif34 = m3 - m4;
      out[0][r] = m0 + sum12 + sum34 + bias;
      out[1][r] = dif12 + 2.0f * dif34 + bias;
      out[2][r] = sum12 + 4.0f * sum34 + bias;
      out[3][r] = dif12 + 8.0f * dif34 + m5 + bias;
    }
  }
};

// Tiles per GEMM block (rounded up to whole panels) and output channels per pass over it (rounded
// up to whole slivers): one position's transformed block (tiles x input channels) and the
// products (positions x tiles x channels) stay within L2 for the usual widths.
constexpr std::int64_t kBlockTiles = 64;
constexpr std::int64_t kChannelBlock = 32;
constexpr std::int64_t kMaxPanelRows = 64;  // the widest build's panel of tiles (AVX-512: 32)
constexpr std::int64_t kMaxBlockTiles = 128;  // a block's tiles: kBlockTiles rounded up to whole panels
using sgemm::kMr;
using sgemm::kNr;

// Per thread, grown on demand; 64-byte aligned for the kernel's packet loads.
class Scratch {
public:
  float* get(std::size_t floats) {
    if (floats > size_) {
      data_.reset(static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t{64})));
      size_ = floats;
    }
    return data_.get();
  }

private:
  struct Free {
    void operator()(float* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t size_ = 0;
};

template <int M>
void pack_weights(const float* w, std::int64_t cin, std::int64_t cout, float* packed) {
  using T = Transform<M>;
  constexpr int A = T::kA;
  // Per position, cout rows of cin transformed weights: the GEMM's left-hand side. Transformed in
  // double: the weights are rounded once.
  std::vector<float> u(static_cast<std::size_t>(A * A * cout * cin));
  for (std::int64_t co = 0; co < cout; ++co)
    for (std::int64_t ci = 0; ci < cin; ++ci) {
      const float* g = w + (co * cin + ci) * 9;
      double gg[A][3];
      for (int a = 0; a < A; ++a)
        for (int c = 0; c < 3; ++c) gg[a][c] = T::kG[a][0] * g[c] + T::kG[a][1] * g[3 + c] + T::kG[a][2] * g[6 + c];
      for (int a = 0; a < A; ++a)
        for (int b = 0; b < A; ++b)
          u[static_cast<std::size_t>(((a * A + b) * cout + co) * cin + ci)] =
              static_cast<float>(gg[a][0] * T::kG[b][0] + gg[a][1] * T::kG[b][1] + gg[a][2] * T::kG[b][2]);
    }
  const std::int64_t stride = sgemm::packed_a_floats(cout, cin);
  for (int p = 0; p < A * A; ++p) sgemm::pack_a(u.data() + p * cout * cin, cout, cin, packed + p * stride);
}

// A panel's input patches d (element e of tile r at d[e][r]; tiles [live, mr) empty) -> their
// transforms, written as the panel of each position's packed right-hand side.
template <int M>
void transform_patches(float (*d)[kMaxPanelRows], std::int64_t live, std::int64_t mr, float* out, std::int64_t position_stride) {
  using T = Transform<M>;
  constexpr int A = T::kA;
  alignas(64) float t[A * A][kMaxPanelRows];
  for (std::int64_t r = live; r < mr; ++r)
    for (int e = 0; e < A * A; ++e) d[e][r] = 0.0f;
  // Columns: t[i][j] = sum_k B^T[i][k] d[k][j]; rows: out(i, j) = sum_k t[i][k] B^T[j][k].
  const float* in[A];
  float* o[A];
  for (int j = 0; j < A; ++j) {
    for (int k = 0; k < A; ++k) in[k] = d[k * A + j], o[k] = t[k * A + j];
    T::input(in, o, mr, 0.0f);
  }
  for (int i = 0; i < A; ++i) {
    for (int k = 0; k < A; ++k) in[k] = t[i * A + k], o[k] = out + (i * A + k) * position_stride;
    T::input(in, o, mr, 0.0f);
  }
}

// Input patches of one panel of tiles -> their transforms, written as the panel of each
// position's packed right-hand side (element (ci, r) at ci * mr + r). Vectorised across the panel's
// tiles. Element (i, j) of a tile's patch is input (y - pt + dh i, x - pl + dw j), (y, x) the
// tile's first output (WinogradTiling: its phase's rows and columns when dilated).
template <int M>
void transform_inputs(const float* plane, const PatchGeometry& g, const WinogradTiling& tiling, std::int64_t first, std::int64_t count,
                      std::int64_t mr, float* out, std::int64_t position_stride) {
  using T = Transform<M>;
  constexpr int A = T::kA;
  alignas(64) float d[A * A][kMaxPanelRows];
  const std::int64_t dh = g.dh, dw = g.dw;
  // One tile's patch, with zeros outside the plane.
  const auto patch_at_edge = [&](std::int64_t r, std::int64_t y0, std::int64_t x0) {
    for (int i = 0; i < A; ++i)
      for (int j = 0; j < A; ++j) {
        const std::int64_t y = y0 + dh * i, x = x0 + dw * j;
        d[i * A + j][r] = y >= 0 && y < g.h && x >= 0 && x < g.w ? plane[y * g.w + x] : 0.0f;
      }
  };
  // The panel's tiles run by run along tile rows. Inside the plane, element (i, j) of the run's
  // t-th patch is plane[(y0 + dh i) w + x0 + step t + dw j]: a gather of stride step per element,
  // which the compiler vectorises (tile by tile, 36 scalar copies each were half of a small layer's
  // time). count is the tiles left from `first`: past this panel too, or none (a negative count)
  // for a panel past the last tile.
  const std::int64_t live = std::clamp<std::int64_t>(count, 0, mr), step = dw * M;
  for (std::int64_t r = 0; r < live;) {
    const WinogradTiling::Tile tile = tiling.at(first + r);
    const std::int64_t run = std::min(live - r, tiling.tiles_x - tiling.column(first + r));
    const std::int64_t y0 = tile.y - g.pt, x0 = tile.x - g.pl;
    // Tiles [lo, hi) of the run lie inside the plane's columns; all of them when rows are inside.
    // Tile u is inside when x0 + step u >= 0 and x0 + step u + dw (A - 1) <= w - 1.
    std::int64_t lo = run, hi = run;
    if (y0 >= 0 && y0 + dh * (A - 1) < g.h) {
      lo = std::min(run, x0 >= 0 ? std::int64_t{0} : (-x0 + step - 1) / step);
      const std::int64_t room = g.w - 1 - dw * (A - 1) - x0;
      hi = room < 0 ? lo : std::max(lo, std::min(run, room / step + 1));
    }
    for (std::int64_t u = 0; u < lo; ++u) patch_at_edge(r + u, y0, x0 + step * u);
    if (lo < hi)
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j) {
          const float* src = plane + (y0 + dh * i) * g.w + x0 + step * lo + dw * j;  // tile lo's element (i, j)
          float* dst = d[i * A + j] + r + lo;
          for (std::int64_t u = 0; u < hi - lo; ++u) dst[u] = src[step * u];
        }
    for (std::int64_t u = hi; u < run; ++u) patch_at_edge(r + u, y0, x0 + step * u);
    r += run;
  }
  transform_patches<M>(d, live, mr, out, position_stride);
}

// The same for a small plane copied with its padding (PaddedPlane): every patch inside, element
// (i, j) of tile r's at padded[offsets[r] + dh i pw + dw j], one gather per element across the
// panel (a 14² plane's tiles were three quarters edge tiles, copied value by value with bounds
// checks: half of DenseNet's 3x3 layers' time there).
template <int M>
void transform_padded_inputs(const float* padded, std::int64_t pw, std::int64_t dh, std::int64_t dw, const std::int32_t* offsets,
                             std::int64_t count, std::int64_t mr, float* out, std::int64_t position_stride) {
  constexpr int A = Transform<M>::kA;
  alignas(64) float d[A * A][kMaxPanelRows];
  const std::int64_t live = std::clamp<std::int64_t>(count, 0, mr);
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) {
      const float* base = padded + dh * i * pw + dw * j;
      float* dst = d[i * A + j];
      for (std::int64_t r = 0; r < live; ++r) dst[r] = base[offsets[r]];
    }
  transform_patches<M>(d, live, mr, out, position_stride);
}

// One channel's products of one panel of tiles (position p's at in + p * position_stride) ->
// the output tiles, plus bias, through the activation, clipped to the plane.
template <int M>
void transform_outputs(const float* in, std::int64_t position_stride, const PatchGeometry& g, const WinogradTiling& tiling,
                       std::int64_t first, std::int64_t count, std::int64_t mr, float bias, const ActivationFn& activation,
                       float* plane) {
  using T = Transform<M>;
  constexpr int A = T::kA;
  alignas(64) float t[M * A][kMaxPanelRows];
  alignas(64) float y[M * M][kMaxPanelRows];
  const float* p[A];
  float* o[A];
  for (int k = 0; k < A; ++k) {
    for (int l = 0; l < A; ++l) p[l] = in + (l * A + k) * position_stride;
    for (int i = 0; i < M; ++i) o[i] = t[i * A + k];
    T::output(p, o, mr, 0.0f);
  }
  for (int i = 0; i < M; ++i) {
    for (int k = 0; k < A; ++k) p[k] = t[i * A + k];
    for (int j = 0; j < M; ++j) o[j] = y[i * M + j];
    T::output(p, o, mr, bias);
  }
  for (int e = 0; e < M * M; ++e) activation.apply(y[e], count);
  const std::int64_t dh = g.dh, dw = g.dw;
  for (std::int64_t r = 0; r < count; ++r) {
    const WinogradTiling::Tile tile = tiling.at(first + r);
    // Output (i, j) of the tile is (y + dh i, x + dw j): those inside the plane.
    const std::int64_t rows = tile.y >= g.ho ? 0 : std::min<std::int64_t>(M, (g.ho - tile.y + dh - 1) / dh);
    const std::int64_t cols = tile.x >= g.wo ? 0 : std::min<std::int64_t>(M, (g.wo - tile.x + dw - 1) / dw);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) plane[(tile.y + dh * i) * g.wo + tile.x + dw * j] = y[i * M + j][r];
  }
}

// A small plane copied with the padding its tiles read (rows -pt to the last tile's last, columns
// likewise), so that every patch lies inside: where the copy costs less than the edge tiles'
// bounds checks. Up to 32² padded floats: the 7², 14² and 28² planes of classifiers.
struct PaddedPlane {
  static constexpr std::int64_t kMaxFloats = 1024;
  std::int64_t h, w;
  PaddedPlane(const PatchGeometry& g, const WinogradTiling& tiling, int a)
      : h(g.dh * (tiling.m * (tiling.tiles_y - 1) + a)), w(g.dw * (tiling.m * (tiling.tiles_x - 1) + a)) {}
  bool pays() const { return h * w <= kMaxFloats; }
  // Tile (y, x)'s patch starts at offset(tile) of the copy.
  std::int32_t offset(const WinogradTiling::Tile& tile) const { return static_cast<std::int32_t>(tile.y * w + tile.x); }
  void copy(const float* plane, const PatchGeometry& g, float* out) const {
    for (std::int64_t r = 0; r < h; ++r) {
      float* row = out + r * w;
      const std::int64_t y = r - g.pt;
      if (y < 0 || y >= g.h) {
        std::fill(row, row + w, 0.0f);
        continue;
      }
      const std::int64_t left = std::min(g.pl, w), right = std::min(w, g.pl + g.w);
      std::fill(row, row + left, 0.0f);
      std::copy(plane + y * g.w, plane + y * g.w + (right - left), row + left);
      std::fill(row + right, row + w, 0.0f);
    }
  }
};

template <int M>
void conv(const float* src, const PatchGeometry& g, std::int64_t cin, const float* packed, std::int64_t cout, std::int64_t first,
          std::int64_t last, std::int64_t c0, std::int64_t c1, const float* bias, const ActivationFn& activation, float* dst) {
  constexpr int P = Transform<M>::kA * Transform<M>::kA;
  static_assert(kNr <= kMaxPanelRows);
  assert(c0 % kMr == 0);
  // Small planes: a block of only the panels their tiles fill.
  const std::int64_t block = std::min(winograd_block_tiles(), (last - first + kNr - 1) / kNr * kNr);
  const std::int64_t channel_block = (kChannelBlock + kMr - 1) / kMr * kMr;
  const WinogradTiling tiling(M, g);
  const std::int64_t plane_in = g.h * g.w, plane_out = g.ho * g.wo;
  const std::int64_t weights_stride = sgemm::packed_a_floats(cout, cin);
  thread_local Scratch inputs_scratch, products_scratch, padded_scratch;
  float* v = inputs_scratch.get(static_cast<std::size_t>(P * block * cin));
  const PaddedPlane pad(g, tiling, Transform<M>::kA);
  const bool padded = pad.pays();
  float* copy = padded ? padded_scratch.get(static_cast<std::size_t>(pad.h * pad.w)) : nullptr;
  alignas(64) std::int32_t offsets[kMaxBlockTiles];
  static_assert(kBlockTiles + kMaxPanelRows <= kMaxBlockTiles);
  float* products = products_scratch.get(static_cast<std::size_t>(P * block * channel_block));
  for (std::int64_t s = first; s < last; s += block) {
    const std::int64_t n = std::min(block, last - s);
    // Position p's right-hand side: cin x block, panels of kNr tiles, element (ci, r) of panel q at
    // (q * cin + ci) * kNr + r.
    const std::int64_t live_panels = (n + kNr - 1) / kNr;  // the block's last panels may hold no tile
    if (padded) {
      for (std::int64_t r = 0; r < n; ++r) offsets[r] = pad.offset(tiling.at(s + r));
      for (std::int64_t ci = 0; ci < cin; ++ci) {
        pad.copy(src + ci * plane_in, g, copy);
        for (std::int64_t q = 0; q < live_panels; ++q)
          transform_padded_inputs<M>(copy, pad.w, g.dh, g.dw, offsets + q * kNr, n - q * kNr, kNr, v + (q * cin + ci) * kNr, block * cin);
      }
    } else {
      for (std::int64_t q = 0; q < live_panels; ++q)
        for (std::int64_t ci = 0; ci < cin; ++ci)
          transform_inputs<M>(src + ci * plane_in, g, tiling, s + q * kNr, n - q * kNr, kNr, v + (q * cin + ci) * kNr, block * cin);
    }
    for (std::int64_t cc0 = c0; cc0 < c1; cc0 += channel_block) {
      const std::int64_t cols = std::min(channel_block, c1 - cc0), slivers = (cols + kMr - 1) / kMr;
      // Products of position p: channel (row) c - cc0 of the block, tiles as columns, block apart.
      for (int p = 0; p < P; ++p) {
        const float* u = packed + p * weights_stride + cc0 * cin;
        const float* vp = v + p * block * cin;
        float* out = products + p * block * cols;
        // Depth blocks keep a panel of the transformed tiles in L1 while the slivers pass over it.
        for (std::int64_t k0 = 0; k0 < cin; k0 += sgemm::kKc) {
          const std::int64_t kc = std::min(sgemm::kKc, cin - k0);
          for (std::int64_t q = 0; q < live_panels; ++q)
            for (std::int64_t sl = 0; sl < slivers; ++sl) {
              const int rows = static_cast<int>(std::min<std::int64_t>(kMr, cols - sl * kMr));
              sgemm::micro_kernel_rows(rows, u + (sl * cin + k0) * kMr, vp + (q * cin + k0) * kNr, kc, out + sl * kMr * block + q * kNr,
                                       block, kNr, k0 > 0, nullptr);
            }
        }
      }
      for (std::int64_t co = cc0; co < cc0 + cols; ++co)
        for (std::int64_t q = 0; q * kNr < n; ++q)
          transform_outputs<M>(products + (co - cc0) * block + q * kNr, block * cols, g, tiling, s + q * kNr,
                               std::min(kNr, n - q * kNr), kNr, bias[co - c0], activation, dst + (co - c0) * plane_out);
    }
  }
}

}  // namespace

std::int64_t winograd_block_tiles() { return (kBlockTiles + kNr - 1) / kNr * kNr; }

std::int64_t winograd_packed_floats(int m, std::int64_t cin, std::int64_t cout) {
  const std::int64_t a = m + 2;
  return a * a * sgemm::packed_a_floats(cout, cin);
}

void winograd_pack_weights(int m, const float* w, std::int64_t cin, std::int64_t cout, float* packed) {
  if (m == 2) pack_weights<2>(w, cin, cout, packed);
  else pack_weights<4>(w, cin, cout, packed);
}

void winograd_conv(int m, const float* src, const PatchGeometry& g, std::int64_t cin, const float* packed, std::int64_t cout,
                   std::int64_t t0, std::int64_t t1, std::int64_t c0, std::int64_t c1, const float* bias, const ActivationFn& activation,
                   float* dst) {
  if (m == 2) conv<2>(src, g, cin, packed, cout, t0, t1, c0, c1, bias, activation, dst);
  else conv<4>(src, g, cin, packed, cout, t0, t1, c0, c1, bias, activation, dst);
}

}  // namespace luojia::nn::layers
