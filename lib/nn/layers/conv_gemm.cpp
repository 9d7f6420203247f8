// One instruction set's build of the convolution GEMM: compiled once per ISA (LUOJIA_ISA_NAME,
// with its -m flags) into a dispatched binary, or once with -march=native.
#include "nn/layers/conv_gemm.hpp"
#include "nn/layers/packed_gemm.hpp"
#include "nn/layers/sgemm_kernel.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <vector>

#ifndef LUOJIA_ISA_NAME
#define LUOJIA_ISA_NAME native
#endif
#define LUOJIA_CAT2(a, b) a##b
#define LUOJIA_CAT(a, b) LUOJIA_CAT2(a, b)
#define LUOJIA_STR2(a) #a
#define LUOJIA_STR(a) LUOJIA_STR2(a)

namespace luojia::nn::layers {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using MutableMap = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;

// Eigen's own block-panel kernel, fed by an im2col that writes its packed left-hand side
// directly: the patch matrix is built once, in the order the kernel reads it, instead of being
// written by im2col and copied again by Eigen's packing. The weights are packed once at load.
// Eigen::internal is used here only; checked against Eigen 3.4.0 (Debian 12's libeigen3-dev).
using Index = Eigen::Index;
using Traits = Eigen::internal::gebp_traits<float, float>;
constexpr Index kMr = Traits::mr;
constexpr Index kNr = Traits::nr;
using ResMapper = Eigen::internal::blas_data_mapper<float, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
using RhsMapper = Eigen::internal::const_blas_data_mapper<float, Index, Eigen::ColMajor>;
using Kernel = Eigen::internal::gebp_kernel<float, float, Index, ResMapper, kMr, kNr, false, false>;
using PackRhs = Eigen::internal::gemm_pack_rhs<float, Index, RhsMapper, kNr, Eigen::ColMajor>;

// Depth of one kernel call: the packed weights of a depth block (kKc x channels) stay in L2.
constexpr Index kKc = 256;
// Panels packed per kernel call: 4 x 48 x 256 floats = 192 KiB with AVX-512.
constexpr Index kPanels = 8;


std::vector<float, Eigen::aligned_allocator<float>>& packed_scratch(std::size_t floats) {
  thread_local std::vector<float, Eigen::aligned_allocator<float>> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer;
}

// Writes patch elements [k0, k1) of output pixels [q0, q0 + panels * kWidth) (row-major over the
// output plane; past its end: zeros) as packed panels: per panel, per patch element, kWidth
// pixels (Eigen's kMr for its kernel, sgemm::kNr for luojia's). Patch element outermost, so each
// source row is read in one sweep across the panels.
template <std::int64_t kWidth, std::int64_t kMaxPanels>
void pack_panels(const float* src, const PatchGeometry& g, std::int64_t q0, std::int64_t panels, std::int64_t plane_out,
                 std::int64_t k0, std::int64_t k1, float* block) {
  struct Segment {
    std::int64_t oy, ox, len, offset;  // offset: where in the block the run of pixels goes
  };
  std::array<Segment, kMaxPanels * (kWidth + 1)> segments;  // a panel splits into at most kWidth runs
  std::size_t count = 0;
  const std::int64_t kc = k1 - k0;
  for (std::int64_t p = 0; p < panels; ++p)
    for (std::int64_t j = 0; j < kWidth;) {
      const std::int64_t q = q0 + p * kWidth + j;
      const std::int64_t offset = p * kWidth * kc + j;
      if (q >= plane_out) {
        segments[count++] = {-1, 0, kWidth - j, offset};
        break;
      }
      const std::int64_t oy = q / g.wo, ox = q % g.wo, len = std::min(kWidth - j, g.wo - ox);
      segments[count++] = {oy, ox, len, offset};
      j += len;
    }
  const std::int64_t plane_in = g.h * g.w, taps = g.kh * g.kw, phase_w = g.phase_w();
  const bool phased = g.sw > 1 && g.phases != nullptr;
  // The patch element's channel and tap, stepped rather than divided out per element.
  std::int64_t ci = k0 / taps, ky = (k0 % taps) / g.kw, kx = k0 % g.kw;
  for (std::int64_t kk = k0; kk < k1; ++kk, ++kx) {
    if (kx == g.kw) {
      kx = 0;
      if (++ky == g.kh) {
        ky = 0;
        ++ci;
      }
    }
    const float* plane = src + ci * plane_in;
    const std::int64_t off = kx * g.dw - g.pl;
    // Column ix = (ox + t) sw + off is column ox + t + shift of phase q: one run per segment.
    const std::int64_t q = ((off % g.sw) + g.sw) % g.sw, shift = (off - q) / g.sw;
    const float* phase = phased ? g.phases + (ci * g.sw + q) * g.h * phase_w : nullptr;
    float* out = block + (kk - k0) * kWidth;
    for (std::size_t s = 0; s < count; ++s) {
      const Segment& seg = segments[s];
      float* o = out + seg.offset;
      const std::int64_t iy = seg.oy * g.sh - g.pt + ky * g.dh;
      if (seg.oy < 0 || iy < 0 || iy >= g.h) {
        std::fill(o, o + seg.len, 0.0f);
        continue;
      }
      const float* row = plane + iy * g.w;
      // Columns t whose source ix = (ox + t) * sw + off lies inside the row.
      const std::int64_t first = seg.ox * g.sw + off;
      const std::int64_t lo = first >= 0 ? 0 : std::min(seg.len, (-first + g.sw - 1) / g.sw);
      const std::int64_t hi = std::max(lo, std::min(seg.len, (g.w - first + g.sw - 1) / g.sw));
      for (std::int64_t t = 0; t < lo; ++t) o[t] = 0.0f;
      if (g.sw == 1 || phased) {
        const float* r = g.sw == 1 ? row + first : phase + iy * phase_w + seg.ox + shift;
#pragma omp simd
        for (std::int64_t t = lo; t < hi; ++t) o[t] = r[t];
      } else {
        for (std::int64_t t = lo; t < hi; ++t) o[t] = row[first + t * g.sw];
      }
      for (std::int64_t t = hi; t < seg.len; ++t) o[t] = 0.0f;
    }
  }
}


void pack_weights(const float* w, std::int64_t cout_g, std::int64_t k, float* packed) {
  // Per depth block of kKc patch elements: that block's rows of W^T, packed.
  for (std::int64_t k0 = 0; k0 < k; k0 += kKc)
    PackRhs()(packed + k0 * cout_g, RhsMapper(w + k0, k), std::min<Index>(kKc, k - k0), cout_g);
}

void patch_gemm(const float* src, const PatchGeometry& geo, const float* packed, std::int64_t cout_g, std::int64_t k,
                std::int64_t pan0, std::int64_t pan1, std::int64_t c0, std::int64_t c1, const float* bias, float* dst) {
  const std::int64_t plane_out = geo.ho * geo.wo;
  const std::int64_t q0 = pan0 * kMr, q1 = std::min(plane_out, pan1 * kMr);
  const std::int64_t full = (q1 - q0) / kMr * kMr;  // rows the kernel writes in place
  const std::int64_t rest = q1 - q0 - full;
  for (std::int64_t co = c0; co < c1; ++co)
    std::fill(dst + (co - c0) * plane_out + q0, dst + (co - c0) * plane_out + q1, bias[co - c0]);
  // The last, partial panel is computed whole into a scratch result and its valid rows copied out.
  std::vector<float> tail(rest ? static_cast<std::size_t>(kMr * (c1 - c0)) : 0);
  for (std::int64_t co = c0; rest && co < c1; ++co)
    std::fill(tail.begin() + (co - c0) * kMr, tail.begin() + (co - c0 + 1) * kMr, bias[co - c0]);
  // A few panels per kernel call keep the packed patches (kPanels x kMr x kKc) in L2.
  auto& block = packed_scratch(static_cast<std::size_t>(kPanels * kMr * std::min<Index>(kKc, k)));
  for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
    const std::int64_t kc = std::min<Index>(kKc, k - k0);
    // Column panels of this depth block start c0 * kc floats in (c0 is a multiple of kNr).
    const float* rhs = packed + k0 * cout_g + c0 * kc;
    for (std::int64_t s0 = pan0; s0 < pan1; s0 += kPanels) {
      const std::int64_t s1 = std::min(pan1, s0 + kPanels);
      pack_panels<kMr, kPanels>(src, geo, s0 * kMr, s1 - s0, plane_out, k0, k0 + kc, block.data());
      const std::int64_t r0 = s0 * kMr, rows = std::min(q0 + full, s1 * kMr) - r0;
      if (rows > 0) Kernel()(ResMapper(dst + r0, plane_out), block.data(), rhs, rows, kc, c1 - c0, 1.0f);
      if (rest && s1 == pan1)
        Kernel()(ResMapper(tail.data(), kMr), block.data() + std::max<std::int64_t>(rows, 0) * kc, rhs, kMr, kc, c1 - c0, 1.0f);
    }
  }
  for (std::int64_t co = c0; rest && co < c1; ++co)
    std::copy(tail.begin() + (co - c0) * kMr, tail.begin() + (co - c0) * kMr + rest, dst + (co - c0) * plane_out + q0 + full);
}

// luojia's kernel over im2col panels: the weights (packed once as slivers of sgemm::kMr output
// channels) are the left-hand side, panels of sgemm::kNr output pixels packed from the input the
// right-hand side, so the result is the output planes themselves (NCHW, plane_out apart).
constexpr std::int64_t kBlockPanels = 8;  // 8 x 32 pixels x 256 deep: 256 KiB with AVX-512, in L2
constexpr std::int64_t kBlockPixels = kBlockPanels * sgemm::kNr;

// Where the panels of pixel block jb (kBlockPixels pixels from jb kBlockPixels) and depth block k0
// start in a whole-plane packing (patch_pack): per pixel block all its depth, per depth block its
// panels one after the other.
std::int64_t prepacked_offset(std::int64_t plane_out, std::int64_t k, std::int64_t jb, std::int64_t k0) {
  const std::int64_t j0 = jb * kBlockPixels, panels = (std::min(plane_out, j0 + kBlockPixels) - j0 + sgemm::kNr - 1) / sgemm::kNr;
  return jb * kBlockPixels * k + panels * sgemm::kNr * k0;
}

void patch_pack(const float* src, const PatchGeometry& geo, std::int64_t k, std::int64_t jb, std::int64_t k0, float* all) {
  const std::int64_t plane_out = geo.ho * geo.wo, j0 = jb * kBlockPixels;
  const std::int64_t panels = (std::min(plane_out, j0 + kBlockPixels) - j0 + sgemm::kNr - 1) / sgemm::kNr;
  pack_panels<sgemm::kNr, kBlockPanels>(src, geo, j0, panels, plane_out, k0, std::min(k, k0 + sgemm::kKc),
                                        all + prepacked_offset(plane_out, k, jb, k0));
}

void patch_sgemm(const float* src, const PatchGeometry& geo, const float* packed, std::int64_t cout_g, std::int64_t k, std::int64_t s0,
                 std::int64_t s1, std::int64_t q0, std::int64_t q1, const float* prepacked, bool accumulate, float* dst) {
  using sgemm::kKc;
  constexpr std::int64_t kWidth = sgemm::kNr, kMr = sgemm::kMr;
  const std::int64_t plane_out = geo.ho * geo.wo;
  thread_local std::vector<float> own;
  for (std::int64_t j0 = q0; j0 < q1; j0 += kBlockPixels) {
    const std::int64_t j1 = std::min(q1, j0 + kBlockPixels), panels = (j1 - j0 + kWidth - 1) / kWidth;
    for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
      const std::int64_t kc = std::min(kKc, k - k0);
      const float* block = nullptr;
      if (prepacked != nullptr) {
        block = prepacked + prepacked_offset(plane_out, k, j0 / kBlockPixels, k0);
      } else {
        own.resize(static_cast<std::size_t>(panels * kWidth * kc));
        pack_panels<kWidth, kBlockPanels>(src, geo, j0, panels, plane_out, k0, k0 + kc, own.data());
        block = own.data();
      }
      const auto tile = [&](std::int64_t p, std::int64_t s, const char* prefetch) {
        const std::int64_t first = j0 + p * kWidth, cols = std::min(kWidth, j1 - first);
        const int rows = static_cast<int>(std::min<std::int64_t>(kMr, cout_g - s * kMr));
        sgemm::micro_kernel_rows(rows, packed + (s * k + k0) * kMr, block + p * kWidth * kc, kc, dst + (s - s0) * kMr * plane_out + first,
                                 plane_out, cols, accumulate || k0 > 0, prefetch);
      };
      const std::int64_t s_end = std::min(s1, (cout_g + kMr - 1) / kMr);
      if (panels * kWidth >= (s_end - s0) * kMr) {
        // More pixels than channels: each panel stays in L1 while the weights' slivers pass.
        for (std::int64_t p = 0; p < panels; ++p)
          for (std::int64_t s = s0; s < s_end; ++s) tile(p, s, sgemm::next_sliver(packed, k, k0, s, s_end));
      } else {
        // Deep layers on small planes (ConvNeXt's 7 x 7 x 1536 patches): the weights are the large
        // operand and come from memory once, each sliver used for every panel while in L1, the
        // next one fetched meanwhile.
        for (std::int64_t s = s0; s < s_end; ++s)
          for (std::int64_t p = 0; p < panels; ++p)
            tile(p, s, p == 0 ? sgemm::next_sliver(packed, k, k0, s, s_end) : nullptr);
      }
    }
  }
}

void matmul(const float* a, std::int64_t rows, std::int64_t k, const float* x, std::int64_t ldx, std::int64_t cols, float* y,
            std::int64_t ldy) {
  MutableMap(y, rows, cols, Eigen::OuterStride<>(ldy)).noalias() =
      Eigen::Map<const RowMatrix>(a, rows, k) * ConstMap(x, k, cols, Eigen::OuterStride<>(ldx));
}

}  // namespace

namespace packed {

std::int64_t rows_per_panel() { return kMr; }
std::int64_t cols_per_panel() { return kNr; }
// The kernel's slack past a packed operand's end, rounded so that the next one starts 64-byte
// aligned (SSE's packet loads of packed weights fault when misaligned).
std::int64_t packed_rhs_floats(std::int64_t cols, std::int64_t depth) { return (cols * depth + 64 + 15) / 16 * 16; }

void pack_rhs(const float* b, std::int64_t cols, std::int64_t depth, float* packed) {
  PackRhs()(packed, RhsMapper(b, depth), depth, cols);
}

void gemm(float* res, std::int64_t ld, const float* lhs, std::int64_t lhs_depth, const float* rhs, std::int64_t rhs_depth,
          std::int64_t rows, std::int64_t cols, std::int64_t offset, std::int64_t depth) {
  Kernel()(ResMapper(res, ld), lhs, rhs, rows, depth, cols, 1.0f, lhs_depth, rhs_depth, offset, offset);
}

}  // namespace packed

// The one symbol a build exports.
__attribute__((visibility("default"))) const ConvGemm& LUOJIA_CAT(conv_gemm_, LUOJIA_ISA_NAME)() {
  static const ConvGemm gemm{LUOJIA_STR(LUOJIA_ISA_NAME), kMr, kNr, packed::packed_rhs_floats, pack_weights, patch_gemm, matmul,
                                winograd_packed_floats, winograd_pack_weights, winograd_conv, winograd_block_tiles(),
                                sgemm::kNr, sgemm::packed_floats, sgemm::pack_b, sgemm::gemm,
                                sgemm::kMr, sgemm::packed_a_floats, sgemm::pack_a, sgemm::gemm_packed_a, patch_sgemm,
                                kBlockPixels, sgemm::kKc, patch_pack, sgemm::gemm_pixel_rows, sgemm::gemm_pixel_rows_packed,
                                sgemm::gemm_pixel_rows_into, indirect_gemm};
  return gemm;
}

}  // namespace luojia::nn::layers
