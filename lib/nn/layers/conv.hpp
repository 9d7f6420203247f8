#pragma once
#include "nn/layers/common.hpp"

#include <memory>
#include <mutex>

namespace luojia::nn::layers {

struct ConvGemm;
struct PatchGeometry;

class Conv : public Layer {
public:
  explicit Conv(const NodeInfo& node);
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;
  // For PointwiseDepthwise: this pointwise convolution (1 x 1, stride 1, no padding, one group,
  // no residual) then the depthwise `dw` on its output, x -> y, with no tensor between them.
  void pointwise_into_depthwise(const Conv& dw, const Tensor& x, Tensor& y) const;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  Shape convolved_shape(const Shape& x) const;  // N x Cout x Ho x Wo, before a fused residual
  void convolve(const Tensor& x, const Tensor* residual, const ActivationFn& activation, Tensor& y) const;
  // The paths convolve() chooses between, by shape (conv.cpp says when each pays).
  struct Call;
  void depthwise_interleaved(const Call& c) const;
  void depthwise_direct(const Call& c) const;
  void winograd(const Call& c, int m) const;
  int winograd_for(const PatchGeometry& g, std::int64_t cin) const;  // 0: the direct product
  const float* winograd_weights(int m) const;
  bool small_plane_product(const Call& c) const;  // false: not worth it here, take another path
  void patch_product(const Call& c) const;
  void own_patch_product(const Call& c) const;
  void tap_product(const Call& c) const;
  // A strided convolution's input as its column phases (PatchGeometry::phases); empty at stride 1.
  // Not zeroed first: a phase no tap reads is never written and never read.
  struct ColumnPhases {
    std::unique_ptr<float[]> values;
    bool empty() const { return !values; }
    const float* data() const { return values.get(); }
  };
  static ColumnPhases column_phases(const Call& c);
  // The phase planes of output rows [y0, y0 + rows) (phase_planes()), in a buffer kept for the
  // strips after.
  struct PhasePlanes {
    std::unique_ptr<float[]> values;
    std::size_t capacity = 0;
    std::int64_t hq = 0, wq = 0, per_channel = 0;
  };
  static void phase_planes(const Call& c, std::int64_t y0, std::int64_t rows, PhasePlanes& p);
  void indirect_product(const Call& c) const;
  void pointwise_product(const Call& c) const;
  void strided_pointwise(const Call& c) const;  // 1 x 1 with a stride: the pixels it reads gathered, then pointwise_product
  bool pointwise_pixel_rows(const Call& c) const;  // false: panels of pixels pad less here
  bool windowed_pixel_rows(const Call& c) const;   // the same for a layer with a window
  bool pixel_rows_pad_less(std::int64_t plane, std::int64_t positions) const;
  const float* pixel_rows_weights() const;
  Window2d window_;
  std::int64_t group_ = 1;
  std::int64_t out_channels_ = 0;
  Tensor weights_;  // [Cout, Cin/group, kh, kw]: per group already the GEMM's row-major left operand
  Tensor packed_;   // per group, the weights in Eigen's kernel's packed right-hand-side layout (few output channels)
  // 8+ output channels per group: luojia's kernel, the weights packed per group as its left-hand
  // side on first use (own_packed()): a layer that only ever takes the pixels-as-rows product or a
  // matrix-vector one never holds them.
  bool own_kernel_ = false;
  mutable std::once_flag own_once_;
  mutable Tensor own_packed_;
  const float* own_packed() const;
  // Dilated convolutions: per tap and group, the tap's weights as that left-hand side, packed on
  // first use (tap_packed()): one that Winograd takes on every input never packs them.
  bool by_taps_ = false;
  mutable std::once_flag tap_once_;
  mutable Tensor tap_packed_;
  const float* tap_packed() const;
  const ConvGemm* gemm_ = nullptr;  // the kernels' build (LoadOptions::isa), chosen in prepare
  int winograd_ = 0;  // m of the Winograd F(m x m, 3 x 3) the weights are transformed for; 0: none
  bool winograd_forced_ = false;  // on every input shape, not only where it beats the direct GEMM
  Tensor winograd_packed_;
  mutable std::once_flag winograd_small_once_;  // F(2x2)'s weights beside F(4x4)'s (winograd_weights)
  mutable Tensor winograd_small_packed_;
  // The weights as the right-hand side of pointwise_pixel_rows, packed on its first call (small
  // planes only: most models never need them).
  mutable std::once_flag pixel_rows_once_;
  mutable Tensor pixel_rows_packed_;
  std::vector<float> bias_;
  ActivationFn activation_;
  // Input 3, added before the activation (optimise.cpp fuses a following Add into the conv).
  bool residual_ = false;
};

class ConvTranspose : public Layer {
public:
  explicit ConvTranspose(const NodeInfo& node);
  void prepare(const std::vector<ValueInfo>& inputs) override;
  std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;
  Footprint footprint() const override;

protected:
  void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override;

private:
  std::array<std::int64_t, 2> pads_begin(const Shape& x) const;
  Window2d window_;
  std::int64_t group_ = 1;
  std::int64_t in_channels_ = 0;
  std::int64_t out_channels_ = 0;
  std::vector<std::int64_t> output_padding_;
  std::vector<std::int64_t> output_shape_;
  const ConvGemm* gemm_ = nullptr;  // the kernels' build (LoadOptions::isa), chosen in prepare
  Tensor transposed_;
  std::vector<float> bias_;
  ActivationFn activation_;
};

}  // namespace luojia::nn::layers
