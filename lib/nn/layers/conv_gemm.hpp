#pragma once
// The convolution GEMM (Eigen's block-panel kernel fed by luojia's im2col packing) as one build
// per instruction set, chosen once per process by the CPU: a portable binary runs AVX-512 or
// AVX2 code where the CPU has it (oneDNN, OpenBLAS and ncnn dispatch the same way). Each build
// is lib/nn/layers/conv_gemm.cpp compiled with its -m flags; lib/CMakeLists.txt makes its inner
// symbols local so the builds' Eigen instantiations cannot be mixed by the linker.
#include <cstdint>
#include <string>

namespace luojia::nn::layers {

struct ActivationFn;

// What a product with weights known at load does to each tile of its output while the tile is in
// cache, after the last block of depth: add a bias per column, then an activation (a Linear layer
// and the GELU or ReLU after it, as transformers' MLPs export them). Either may be null.
struct GemmEpilogue {
  const float* bias = nullptr;              // one per column of C
  const ActivationFn* activation = nullptr;  // Activation::None or null: none
};

// The same for a product whose rows are output channels (a pointwise convolution's, weights
// times input planes): a bias per row, then a residual laid out like C (a ResNet block's Add),
// then the activation. Each may be null; bias and residual point at C's first row and column.
struct GemmRowEpilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  const ActivationFn* activation = nullptr;
};

struct PatchGeometry {
  std::int64_t h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl;
  // For a column stride sw > 1, optionally the input split into its sw column phases (column j of
  // phase q is input column j sw + q; Conv::column_phases writes them): the patch packers then copy
  // runs instead of gathering every sw-th value (ResNet's 7 x 7 stem spent twice its product's
  // time packing). Laid out like the input, each channel's plane as sw planes of phase_w columns,
  // and pointing at the same channel as the packers' src.
  const float* phases = nullptr;
  std::int64_t phase_w() const { return (w + sw - 1) / sw; }
};

// How Winograd F(m x m, 3 x 3) numbers its output tiles. A dilated 3 x 3 convolution (DeepLab's
// backbone, dilation 2 and 4) is dh x dw undilated ones: output (a + dh i, b + dw j) sums inputs
// (a - pt + dh (i + ky), b - pl + dw (j + kx)), so each phase (a, b) of the output, every dh-th row
// and dw-th column, is a plain 3 x 3 convolution over the same phase of rows and columns of the
// input. The tiles are numbered phase by phase (row-major over phases), each phase a grid of tiles
// over ceil(ho / dh) x ceil(wo / dw) outputs, row-major; outputs past the plane are not written.
// Undilated, there is one phase: the plane's tiles, row-major.
struct WinogradTiling {
  struct Tile {
    std::int64_t y, x;  // its first output
  };
  std::int64_t m, dh, dw, tiles_y, tiles_x;
  WinogradTiling(std::int64_t tile, const PatchGeometry& g)
      : m(tile), dh(g.dh), dw(g.dw), tiles_y(((g.ho + g.dh - 1) / g.dh + tile - 1) / tile), tiles_x(((g.wo + g.dw - 1) / g.dw + tile - 1) / tile) {}
  std::int64_t count() const { return dh * dw * tiles_y * tiles_x; }
  Tile at(std::int64_t tile) const {
    const std::int64_t per_phase = tiles_y * tiles_x, phase = tile / per_phase, within = tile % per_phase;
    const std::int64_t a = phase / dw, b = phase % dw;
    return {a + dh * m * (within / tiles_x), b + dw * m * (within % tiles_x)};
  }
  // Tile t's column in its phase's grid: a run of tiles along a tile row ends at tiles_x.
  std::int64_t column(std::int64_t tile) const { return tile % (tiles_y * tiles_x) % tiles_x; }
};


struct ConvGemm {
  const char* isa;            // "avx512", "avx2", "sse2", or "native"
  std::int64_t mr, nr;        // output pixels per packed patch panel, output channels per weight panel
  // Floats of one group's packed weights (cout_g x k), and packing them (w: cout_g rows of k).
  std::int64_t (*packed_floats)(std::int64_t cout_g, std::int64_t k);
  void (*pack_weights)(const float* w, std::int64_t cout_g, std::int64_t k, float* packed);
  // Output pixels [pan0 * mr, min(ho * wo, pan1 * mr)) of one group's channels [c0, c1): dst is
  // channel c0's output plane, bias[c] channel c0 + c's bias; src the group's input planes.
  void (*patch_gemm)(const float* src, const PatchGeometry& g, const float* packed, std::int64_t cout_g, std::int64_t k,
                     std::int64_t pan0, std::int64_t pan1, std::int64_t c0, std::int64_t c1, const float* bias, float* dst);
  // y (rows x cols, rows ldy apart) = a (rows x k, row-major, dense) * x (k x cols, rows ldx apart).
  void (*matmul)(const float* a, std::int64_t rows, std::int64_t k, const float* x, std::int64_t ldx, std::int64_t cols, float* y,
                 std::int64_t ldy);
  // Winograd F(m x m, 3 x 3), m = 2 or 4, for 3 x 3 convolutions of stride 1, any dilation: the
  // weights (cout x cin x 3 x 3) transformed and packed once; output tiles of m x m computed by
  // (m + 2)^2 GEMMs on luojia's own kernel (below). winograd_conv writes output tiles [t0, t1)
  // (numbered as WinogradTiling does) of channels [c0, c1) (c0 a multiple of sgemm_mr), bias and activation applied;
  // dst is channel c0's plane, bias[c] channel c0 + c's.
  std::int64_t (*winograd_packed_floats)(int m, std::int64_t cin, std::int64_t cout);
  void (*winograd_pack_weights)(int m, const float* w, std::int64_t cin, std::int64_t cout, float* packed);
  void (*winograd_conv)(int m, const float* src, const PatchGeometry& g, std::int64_t cin, const float* packed, std::int64_t cout,
                        std::int64_t t0, std::int64_t t1, std::int64_t c0, std::int64_t c1, const float* bias,
                        const ActivationFn& activation, float* dst);
  std::int64_t winograd_block_tiles;  // tiles per block of winograd_conv's GEMMs: tasks split at multiples
  // luojia's own GEMM for a right-hand side known at load (sgemm_kernel.hpp): B (k x n, or n x k
  // transposed) packed once into panels of sgemm_nr columns; C (m x n, ldc apart), the columns of
  // panels [p0, p1) only, = A (m x k, lda apart) * B, then the epilogue (null: none) on each tile.
  std::int64_t sgemm_nr;
  std::int64_t (*sgemm_packed_floats)(std::int64_t k, std::int64_t n);
  void (*sgemm_pack_b)(const float* b, std::int64_t k, std::int64_t n, bool transposed, float* packed);
  void (*sgemm)(const float* a, std::int64_t m, std::int64_t k, std::int64_t lda, const float* packed, std::int64_t n, std::int64_t p0,
                std::int64_t p1, float* c, std::int64_t ldc, const GemmEpilogue* epilogue);
  // The same kernel with A (m x k) known at load, packed into slivers of sgemm_mr rows: C's rows
  // of slivers [s0, s1) (c points at row s0 * sgemm_mr), n columns, = A * B (k x n, ldb apart),
  // then the epilogue (null: none; its bias and residual, too, start at row s0 * sgemm_mr).
  std::int64_t sgemm_mr;
  std::int64_t (*sgemm_packed_a_floats)(std::int64_t m, std::int64_t k);
  void (*sgemm_pack_a)(const float* a, std::int64_t m, std::int64_t k, float* packed);
  void (*sgemm_packed_a)(const float* packed, std::int64_t m, std::int64_t k, std::int64_t s0, std::int64_t s1, const float* b,
                         std::int64_t ldb, std::int64_t n, float* c, std::int64_t ldc, const GemmRowEpilogue* epilogue);
  // A convolution on it: one group's weights (cout_g x k) packed by sgemm_pack_a, im2col panels
  // of sgemm_nr output pixels packed from src (the group's input planes) as the kernel reads them.
  // Writes output channels [s0 sgemm_mr, min(cout_g, s1 sgemm_mr)) at output pixels [q0, q1),
  // without bias; dst is channel s0 sgemm_mr's output plane. With `prepacked` (the whole plane's
  // panels, written by patch_pack; q0 then a multiple of patch_block_pixels) it packs nothing.
  // With `accumulate` the products are added to what dst holds (one tap's share of a sum over taps).
  void (*patch_sgemm)(const float* src, const PatchGeometry& g, const float* packed, std::int64_t cout_g, std::int64_t k,
                      std::int64_t s0, std::int64_t s1, std::int64_t q0, std::int64_t q1, const float* prepacked, bool accumulate,
                      float* dst);
  // The whole plane's panels at once, for small planes whose channel blocks would each pack them
  // again: pixel block jb (patch_block_pixels pixels) x depth block k0 (a multiple of
  // patch_block_depth) of a buffer of (ho wo rounded up to sgemm_nr) x k floats.
  std::int64_t patch_block_pixels, patch_block_depth;
  void (*patch_pack)(const float* src, const PatchGeometry& g, std::int64_t k, std::int64_t jb, std::int64_t k0, float* all);
  // A pointwise convolution on a small plane with the pixels as the product's rows (no plane is
  // padded to whole panels of pixels): x (k planes of `plane` pixels), the weights (n x k) packed
  // by sgemm_pack_b transposed; writes output channels [p0 sgemm_nr, min(n, p1 sgemm_nr)) of y
  // (channel c's plane at y + c plane), then the epilogue (null: none; a bias per output channel).
  void (*sgemm_pixel_rows)(const float* x, std::int64_t plane, std::int64_t k, const float* packed, std::int64_t n, std::int64_t p0,
                           std::int64_t p1, float* y, const GemmEpilogue* epilogue);
  // Its product on pixels the caller laid out in slivers of sgemm_mr (a[(s k + kk) sgemm_mr + i]
  // is row kk of pixel s sgemm_mr + i, zero past the plane): the pixels of slivers [s0, s1) only.
  void (*sgemm_pixel_rows_packed)(const float* a, std::int64_t plane, std::int64_t k, const float* packed, std::int64_t n,
                                  std::int64_t p0, std::int64_t p1, std::int64_t s0, std::int64_t s1, float* y,
                                  const GemmEpilogue* epilogue);
  // The same for panels [p0, p1) and `pixels` pixels of k planes (x, ldx apart) in rows of w,
  // each pixel's sgemm_nr channels of panel p to dst + (p - p0) panel_stride + (i / w) row_stride
  // + (i % w) ldd for pixel i, the first `keep` of each row only, after the epilogue. A pixel's
  // slot holds a whole panel (ldd >= sgemm_nr): a partial panel's lanes past n are written too.
  void (*sgemm_pixel_rows_into)(const float* x, std::int64_t ldx, std::int64_t pixels, std::int64_t w, std::int64_t keep, std::int64_t k,
                                const float* packed, std::int64_t n, std::int64_t p0, std::int64_t p1, float* dst, std::int64_t panel_stride,
                                std::int64_t ldd, std::int64_t row_stride, const GemmEpilogue* epilogue);
  // A convolution without im2col (conv_indirect.cpp): C (rows x (p1 - p0), ldc apart) = A (rows x
  // k, packed by sgemm_pack_a) times B, whose row kk at position p is base[offsets[kk] + p]: the
  // input's phase planes (Conv::phase_planes) read in place, positions [p0, p1) of the output's
  // grid of phase-plane rows. Positions past p1 up to the next whole panel are read, not written.
  void (*indirect_gemm)(const float* packed, std::int64_t rows, std::int64_t k, const float* base, const std::int64_t* offsets,
                        std::int64_t p0, std::int64_t p1, float* c, std::int64_t ldc);
};

// The build for this CPU (LUOJIA_ISA=sse2|avx2|avx512 forces one, for tests and benchmarks).
const ConvGemm& conv_gemm();
// The build a model asked for (LoadOptions::isa: "" is conv_gemm()); LUOJIA_ISA still wins.
// Throws UsageError for a name it does not know or an instruction set this CPU lacks.
const ConvGemm& conv_gemm_for(const std::string& isa);

}  // namespace luojia::nn::layers
