#pragma once
// The block-panel kernel of one instruction-set build (conv_gemm.cpp), for the other kernels
// compiled into the same build (conv_winograd.cpp): they pack their own left-hand panels and
// call it, without seeing Eigen::internal. Declared per build: each ISA's objects are linked
// apart and these symbols made local (lib/CMakeLists.txt).
#include "nn/layers/conv_gemm.hpp"

#include <cstdint>

namespace luojia::nn::layers::packed {

// Rows of a packed left-hand panel, columns of a packed right-hand panel.
std::int64_t rows_per_panel();
std::int64_t cols_per_panel();

// Packs b (cols x depth, row-major: row c is column c of the right-hand side) whole, panel by
// panel: panel j (cols_per_panel() columns) starts at j * cols_per_panel() * depth.
void pack_rhs(const float* b, std::int64_t cols, std::int64_t depth, float* packed);
std::int64_t packed_rhs_floats(std::int64_t cols, std::int64_t depth);

// res (rows x cols, column-major, columns ld apart) += lhs * rhs over depth elements
// [offset, offset + depth) of operands packed with full depths lhs_depth / rhs_depth: lhs in
// panels of rows_per_panel() rows (rows a multiple of it), each panel row-interleaved
// (element k of the panel's row r at k * rows_per_panel() + r); rhs as pack_rhs() packs it.
void gemm(float* res, std::int64_t ld, const float* lhs, std::int64_t lhs_depth, const float* rhs, std::int64_t rhs_depth,
          std::int64_t rows, std::int64_t cols, std::int64_t offset, std::int64_t depth);

}  // namespace luojia::nn::layers::packed

namespace luojia::nn::layers {

// Winograd F(m x m, 3 x 3) of this build (conv_winograd.cpp), m = 2 or 4.
std::int64_t winograd_block_tiles();
std::int64_t winograd_packed_floats(int m, std::int64_t cin, std::int64_t cout);
void winograd_pack_weights(int m, const float* w, std::int64_t cin, std::int64_t cout, float* packed);
void winograd_conv(int m, const float* src, const PatchGeometry& g, std::int64_t cin, const float* packed, std::int64_t cout,
                   std::int64_t t0, std::int64_t t1, std::int64_t c0, std::int64_t c1, const float* bias, const ActivationFn& activation,
                   float* dst);

// The indirect product of this build (conv_indirect.cpp): ConvGemm::indirect_gemm.
void indirect_gemm(const float* packed, std::int64_t rows, std::int64_t k, const float* base, const std::int64_t* offsets, std::int64_t p0,
                   std::int64_t p1, float* c, std::int64_t ldc);

}  // namespace luojia::nn::layers
