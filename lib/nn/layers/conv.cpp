// Conv and ConvTranspose on the dispatched GEMM (conv_gemm.hpp): 1x1 convolutions are a GEMM
// on the input itself, 3x3 ones of stride 1 Winograd F(4x4) where it pays (conv_winograd.cpp),
// others go through im2col packed straight into the kernel's panels, depthwise ones run direct.
// Bias and a fused activation are applied to each chunk while it is hot. Chunks run in parallel
// on the caller's TBB arena.
#include "nn/layers/common.hpp"
#include "core/parallel.hpp"
#include "nn/layers/conv.hpp"
#include "nn/layers/conv_gemm.hpp"
#include "nn/layers/elementwise.hpp"
#include "nn/layers/vector_math.hpp"

#include <tbb/task_arena.h>

#include <array>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace luojia::nn::layers {
namespace {

// Output pixels per GEMM chunk: im2col of K x kChunk floats stays within L2 for usual K.
constexpr std::int64_t kChunk = 1024;
// Grouped convolutions of up to this many output channels per group take the indirect product.
constexpr std::int64_t kIndirectChannels = 64;

// Output-pixel panels per parallel task: a few kernel calls each, and tasks enough for every thread.
constexpr std::int64_t kPanelsPerTask = 24;

// Deep, small layers have few pixel tasks: their output channels are split too, so every thread
// of the arena gets work - in halves while tasks fall short of `want` and a block keeps 32
// channels, each block a whole number of `multiple` channels (kernel column panels start at
// multiples of nr), the units spread evenly: 128 channels in 4 blocks of slivers of 14 were 42,
// 42, 42 and 2, which left one of two threads 84 channels and the other 44.
struct ChannelSplit {
  std::int64_t blocks, multiple;
  // Block cb's channels [first, last) of `channels`.
  std::pair<std::int64_t, std::int64_t> range(std::int64_t cb, std::int64_t channels) const {
    const std::int64_t units = (channels + multiple - 1) / multiple;
    return {std::min(channels, cb * units / blocks * multiple), std::min(channels, (cb + 1) * units / blocks * multiple)};
  }
};
ChannelSplit split_channels(std::int64_t pixel_tasks, std::int64_t channels, std::int64_t want, std::int64_t multiple) {
  std::int64_t blocks = 1;
  while (pixel_tasks * blocks < want && channels / (blocks * 2) >= 32) blocks *= 2;
  return {blocks, multiple};
}

// One task of a convolution's parallel loop over batch x group x chunk of pixels x block of
// output channels (the fastest): its batch b, group g, chunk, and the group's channels [c0, c1)
// (empty past the last block).
struct ConvTask {
  std::int64_t b, g, chunk, c0, c1;
  static ConvTask of(std::int64_t t, std::int64_t groups, std::int64_t chunks, const ChannelSplit& split, std::int64_t cout_g) {
    const std::int64_t cb = t % split.blocks, rest = t / split.blocks;
    const auto [c0, c1] = split.range(cb, cout_g);
    return {rest / chunks / groups, rest / chunks % groups, rest % chunks, c0, c1};
  }
};

// Interleaves `lanes` planes of h x w floats into vectors of kLanes (pixel (y, x): one float of
// each plane, zero past lanes), kLanes pixels at a time through a register transpose, and hands
// each pixel's vector to put(y, x, vector). A plane of fewer than kLanes pixels goes element by
// element; otherwise the last group overlaps the one before, so no read passes a plane's end.
template <class Put>
void interleave_planes(const float* const* planes, std::int64_t lanes, std::int64_t h, std::int64_t w, Put put) {
  const std::int64_t size = h * w;
  if (size < kLanes) {
    for (std::int64_t i = 0; i < size; ++i) {
      f32x16 v{};
      for (std::int64_t l = 0; l < lanes; ++l) v[l] = planes[l][i];
      put(i / w, i % w, v);
    }
    return;
  }
  f32x16 r[kLanes];
  for (std::int64_t i0 = 0; i0 < size; i0 += kLanes) {
    const std::int64_t at = std::min(i0, size - kLanes);
    for (std::int64_t l = 0; l < kLanes; ++l) {
      if (l < lanes) std::memcpy(&r[l], planes[l] + at, sizeof r[l]);
      else r[l] = f32x16{};
    }
    transpose_lanes(r);
    std::int64_t y = at / w, x = at % w;  // one division per group, not per pixel
    for (std::int64_t p = 0; p < kLanes; ++p) {
      put(y, x, r[p]);
      if (++x == w) x = 0, ++y;
    }
  }
}

// out[j] = in[j step] for j < count. Steps 1 and 2 (every strided layer of ResNets and MobileNets)
// as constants, so the compiler copies and de-interleaves whole vectors: the general loop's scalar
// copies were 8% of a 3x3 stride-2 layer's time (128 channels, 56² in).
void copy_strided(const float* in, std::int64_t count, std::int64_t step, float* out) {
  if (step == 1) {
#pragma omp simd
    for (std::int64_t j = 0; j < count; ++j) out[j] = in[j];
  } else if (step == 2) {
#pragma omp simd
    for (std::int64_t j = 0; j < count; ++j) out[j] = in[2 * j];
  } else {
    for (std::int64_t j = 0; j < count; ++j) out[j] = in[j * step];
  }
}

// Writes channels [c0, c1) of planes (h x w each) as their column phases (PatchGeometry::phases),
// the phases some tap reads only (needed[q]; a 1 x 1 stride-2 convolution reads one of two).
void input_phases(const float* planes, std::int64_t c0, std::int64_t c1, std::int64_t h, std::int64_t w, std::int64_t sw,
                  const std::vector<bool>& needed, float* phases) {
  const std::int64_t phase_w = (w + sw - 1) / sw;
  for (std::int64_t c = c0; c < c1; ++c)
    for (std::int64_t q = 0; q < sw; ++q)
      for (std::int64_t iy = 0; iy < h && needed[static_cast<std::size_t>(q)]; ++iy) {
        const float* in = planes + (c * h + iy) * w + q;
        float* out = phases + ((c * sw + q) * h + iy) * phase_w;
        copy_strided(in, (w - q + sw - 1) / sw, sw, out);
      }
}

// What a 3 x 3, stride-1 convolution costs on an output plane, in multiply-adds, directly
// (winograd_cost with m = 0) or by Winograd F(m x m, 3 x 3):
// - Winograd: (m + 2)^2 per tile and channel pair, the tiles rounded up to whole kernel panels of
//   mr tiles (a small plane computes mostly empty tiles), plus the transforms, about 16 per input
//   and 12 per output channel and pixel at their lower rate;
// - direct: 9 per pixel and channel pair, plus the im2col packing, each packed value about one
//   vector multiply-add's time (16 multiply-adds) and shared by the output channels: with 32 of
//   them (DenseNet's 3x3 layers) packing is a third of the product.
// Checked on an AVX2 EPYC against 29 single 3x3 convolutions (4 to 256 channels, planes 8² to
// 256²): the predicted time ratio is within a factor of 2 of the measured one (the transforms cost
// more than modelled at 32 to 64 channels), and it picked the faster kernel, or one within 10%, in
// all but a 0.05 ms case. On an AVX-512 EPYC (Zen 4), 24 shapes (32 to 512 channels, 7² to 56²):
// F(2x2) beats F(4x4) on 7² and 14², and direct on 7² unless both widths are 512.
// Dilated, the direct product (tap_product) skips the taps that read only padding, so it is
// counted by the taps that read the plane; the Winograd tiles are those of the phases
// (WinogradTiling), which waste most on a dilation near the plane's size (ASPP's 24 and 36 on a
// 64² map: its phases are 2 or 3 outputs wide, a tile 4).
double winograd_cost(int m, std::int64_t cin, std::int64_t cout, const PatchGeometry& g, std::int64_t mr) {
  const auto channels = static_cast<double>(cin * cout);
  if (m == 0) {
    // The outputs that tap k (0, 1, 2) of a dilated axis reads the plane for.
    const auto reading = [](std::int64_t out, std::int64_t in, std::int64_t pad, std::int64_t dilation) {
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < 3; ++k) {
        const std::int64_t offset = k * dilation - pad;  // output y reads input y + offset
        sum += std::max<std::int64_t>(0, std::min(out, in - offset) - std::max<std::int64_t>(0, -offset));
      }
      return static_cast<double>(sum);
    };
    const double taps =
        g.dh == 1 && g.dw == 1 ? 9.0 * static_cast<double>(g.ho * g.wo) : reading(g.ho, g.h, g.pt, g.dh) * reading(g.wo, g.w, g.pl, g.dw);
    constexpr double kPackedValue = 16.0;
    return taps * (channels + kPackedValue * static_cast<double>(cin));
  }
  const double a = m + 2;
  const std::int64_t tiles = WinogradTiling(m, g).count();
  const double computed = static_cast<double>((tiles + mr - 1) / mr * mr);
  return computed * a * a * channels +
         static_cast<double>(tiles) * m * m * (16.0 * static_cast<double>(cin) + 12.0 * static_cast<double>(cout));
}

// Which Winograd tile a 3x3, stride-1 convolution is prepared for (0: none), and whether it is
// forced (LoadOptions::winograd, overridden by LUOJIA_WINOGRAD=off|f2|f4: then on every shape). By default
// F(4x4) wherever it pays on a large plane; measured here it beat F(2x2) at every width from 8
// channels, except on planes of 8² and less, where either costs little. F(2x2) is the more
// accurate (1.3e-7 against 1.9e-6 of the terms' magnitude in tests/test_nn_ops.cpp).
std::pair<int, bool> winograd_tile(std::int64_t cin, std::int64_t cout, std::int64_t mr, const std::string& asked) {
  const char* env = std::getenv("LUOJIA_WINOGRAD");
  const std::string mode = env && *env ? env : asked;
  if (mode == "off") return {0, true};
  if (mode == "f2") return {2, true};
  if (mode == "f4") return {4, true};
  if (!mode.empty() && mode != "auto") throw Error("LUOJIA_WINOGRAD=" + mode + ": not off, f2, f4 or auto");
  // Fewer than 8 input channels are a GEMM depth too shallow for the kernel to run at speed (4 -> 16
  // at 512²: F(4x4) 14.6 ms against 10.1 direct, though the model says it pays).
  const PatchGeometry large{258, 258, 256, 256, 3, 3, 1, 1, 1, 1, 0, 0};
  return {cin >= 8 && winograd_cost(4, cin, cout, large, mr) < winograd_cost(0, cin, cout, large, mr) ? 4 : 0, false};
}

}  // namespace

Conv::Conv(const NodeInfo& node) : Layer(node) {
  window_ = Window2d::from(node.attributes, {0, 0});
  group_ = node.attributes.get_int("group", 1);
  activation_ = ActivationFn::from(node.attributes.get_string("luojia.activation", ""),
                                   node.attributes.get_floats("luojia.activation_params"));
  residual_ = node.attributes.get_int("luojia.residual", 0) != 0;
}

void Conv::prepare(const std::vector<ValueInfo>& inputs) {
  const Tensor& w = constant_input(inputs, 1);
  if (w.rank() != 4) fail("weights must be 4-D (2-D convolution), not " + to_string(w.shape()));
  weights_ = w;
  out_channels_ = w.dim(0);
  if (group_ < 1 || out_channels_ % group_ != 0) fail("group " + std::to_string(group_) + " does not divide the output channels");
  if (window_.kernel[0] == 0) window_.kernel = {w.dim(2), w.dim(3)};
  if (window_.kernel[0] != w.dim(2) || window_.kernel[1] != w.dim(3)) fail("kernel_shape does not match the weights");
  const std::int64_t cout_g = out_channels_ / group_, k = w.size() / out_channels_;
  // Dilated too: Winograd runs on the output's phases (WinogradTiling).
  const bool three_by_three = window_.kernel == std::array<std::int64_t, 2>{3, 3} && window_.stride == std::array<std::int64_t, 2>{1, 1};
  gemm_ = &conv_gemm_for(node().attributes.get_string("luojia.isa", ""));
  if (three_by_three && group_ == 1)
    std::tie(winograd_, winograd_forced_) = winograd_tile(w.dim(1), out_channels_, gemm_->sgemm_nr, node().attributes.get_string("luojia.winograd", ""));
  if (winograd_) {
    const ConvGemm& gemm = *gemm_;
    winograd_packed_ = Tensor(Shape{gemm.winograd_packed_floats(winograd_, w.dim(1), out_channels_)});
    gemm.winograd_pack_weights(winograd_, w.data(), w.dim(1), out_channels_, winograd_packed_.data());
  }
  // A 1 x 1, stride 1 convolution without padding takes the pointwise path on every input (the
  // output plane is the input's); only that path's weight layout is packed for it.
  constexpr std::array<std::int64_t, 2> one{1, 1}, none{0, 0};
  const bool always_pointwise = window_.kernel == one && window_.stride == one &&
                                (window_.auto_pad != "NOTSET" || (window_.pad_begin == none && window_.pad_end == none));
  // Eight output channels or more per group: luojia's own GEMM kernel with the weights as its
  // packed left-hand side (slivers of sgemm_mr channels), for the pointwise and the patch products.
  // Fewer would leave most of a sliver empty: Eigen's kernel, four channels to a panel, instead.
  const bool depthwise = w.dim(1) == 1 && cout_g == 1;
  if (!depthwise && !always_pointwise && cout_g < 8) {
    const ConvGemm& gemm = *gemm_;
    packed_ = Tensor(Shape{group_, gemm.packed_floats(cout_g, k)});
    for (std::int64_t g = 0; g < group_; ++g) gemm.pack_weights(w.data() + g * cout_g * k, cout_g, k, packed_.data() + g * gemm.packed_floats(cout_g, k));
  }
  // A dilated convolution is a sum over its taps instead (tap_product): each tap's weights (cout_g
  // x cin_g) packed apart, so that taps reading only padding over a block of pixels are skipped.
  const std::int64_t taps = window_.kernel[0] * window_.kernel[1];
  by_taps_ = !depthwise && cout_g >= 8 && taps > 1 && (window_.dilation[0] > 1 || window_.dilation[1] > 1);
  own_kernel_ = !by_taps_ && !depthwise && cout_g >= 8;
  bias_.assign(static_cast<std::size_t>(out_channels_), 0.0f);
  if (has_input(inputs, 2)) {
    const Tensor& b = constant_input(inputs, 2);
    if (b.size() != out_channels_) fail("bias has " + std::to_string(b.size()) + " values for " + std::to_string(out_channels_) + " channels");
    std::copy(b.data(), b.data() + out_channels_, bias_.begin());
  }
}

const float* Conv::tap_packed() const {
  std::call_once(tap_once_, [this] {
    const std::int64_t taps = window_.kernel[0] * window_.kernel[1], cin_g = weights_.dim(1), cout_g = out_channels_ / group_;
    const float* w = weights_.data();
    const ConvGemm& gemm = *gemm_;
    const std::int64_t per_tap = gemm.sgemm_packed_a_floats(cout_g, cin_g);
    tap_packed_ = Tensor(Shape{taps * group_ * per_tap});
    std::vector<float> tap_weights(static_cast<std::size_t>(cout_g * cin_g));
    for (std::int64_t t = 0; t < taps; ++t)
      for (std::int64_t g = 0; g < group_; ++g) {
        for (std::int64_t co = 0; co < cout_g; ++co)
          for (std::int64_t ci = 0; ci < cin_g; ++ci)
            tap_weights[static_cast<std::size_t>(co * cin_g + ci)] = w[((g * cout_g + co) * cin_g + ci) * taps + t];
        gemm.sgemm_pack_a(tap_weights.data(), cout_g, cin_g, tap_packed_.data() + (t * group_ + g) * per_tap);
      }
  });
  return tap_packed_.data();
}

const float* Conv::own_packed() const {
  std::call_once(own_once_, [this] {
    const ConvGemm& gemm = *gemm_;
    const std::int64_t cout_g = out_channels_ / group_, k = weights_.size() / out_channels_;
    const std::int64_t per_group = gemm.sgemm_packed_a_floats(cout_g, k);
    own_packed_ = Tensor(Shape{std::max<std::int64_t>(1, group_ * per_group)});
    for (std::int64_t g = 0; g < group_; ++g)
      gemm.sgemm_pack_a(weights_.data() + g * cout_g * k, cout_g, k, own_packed_.data() + g * per_group);
  });
  return own_packed_.data();
}

Shape Conv::convolved_shape(const Shape& x) const {
  if (x.size() != 4) fail("input must be NCHW, not " + to_string(x));
  if (x[1] != weights_.dim(1) * group_)
    fail("input has " + std::to_string(x[1]) + " channels, the weights expect " + std::to_string(weights_.dim(1) * group_));
  std::int64_t pad = 0;
  const std::int64_t ho = window_.output_size(0, x[2], pad), wo = window_.output_size(1, x[3], pad);
  if (ho <= 0 || wo <= 0) fail("input " + to_string(x) + " is smaller than the kernel");
  return {x[0], out_channels_, ho, wo};
}

std::vector<ValueInfo> Conv::infer(const std::vector<ValueInfo>& in) const {
  Shape y = convolved_shape(in.at(0).shape);
  // With a fused residual the output is the Add's: both broadcast to it.
  if (residual_) y = broadcast(y, in.at(3).shape);
  return {ValueInfo{y, ElementType::Float32, std::nullopt, true}};
}

Footprint Conv::footprint() const { return window_.footprint(); }

void Conv::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  // A fused residual of the output's shape is added in each path's epilogue, before the
  // activation. One that broadcasts (rare: a pooled context added to a map, or a map added to a
  // 1 x 1 convolution of a pooled context) is added afterwards, the convolution going to a
  // temporary when the output is larger than it.
  const Tensor* residual = residual_ ? &inputs[3] : nullptr;
  const Shape convolved = residual ? convolved_shape(x.shape()) : y.shape();
  if (residual && (residual->shape() != y.shape() || convolved != y.shape())) {
    Tensor own;
    if (convolved != y.shape()) own = Tensor(convolved);
    Tensor& c = convolved == y.shape() ? y : own;
    convolve(x, nullptr, ActivationFn{}, c);
    add_broadcast(c, *residual, y);
    activation_.apply(y.data(), y.size());
    return;
  }
  convolve(x, residual, activation_, y);
}

// One convolution's shapes and its epilogue, shared by the paths below.
struct Conv::Call {
  const Tensor& x;
  const Tensor* residual;
  const ActivationFn& activation;
  Tensor& y;
  std::int64_t n, cin, h, w, ho, wo, pt, pl, kh, kw, sh, sw, dh, dw, cin_g, cout_g, k, plane_in, plane_out;

  // Every path's epilogue on count outputs at out (in y): the residual, then the activation.
  void finish(float* out, std::int64_t count) const {
    if (residual) {
      const float* r = residual->data() + (out - y.data());
#pragma omp simd
      for (std::int64_t i = 0; i < count; ++i) out[i] += r[i];
    }
    activation.apply(out, count);
  }
  // The same for a product that left the bias out.
  void finish_with_bias(float* out, std::int64_t count, float bias) const {
#pragma omp simd
    for (std::int64_t i = 0; i < count; ++i) out[i] += bias;
    finish(out, count);
  }
};

// The convolution of x into y, plus residual (y's shape) when given, then activation: the shapes
// choose one path.
void Conv::convolve(const Tensor& x, const Tensor* residual, const ActivationFn& activation, Tensor& y) const {
  const std::int64_t n = x.dim(0), cin = x.dim(1), h = x.dim(2), w = x.dim(3);
  const std::int64_t ho = y.dim(2), wo = y.dim(3);
  std::int64_t pt = 0, pl = 0;
  window_.output_size(0, h, pt);
  window_.output_size(1, w, pl);
  const std::int64_t kh = window_.kernel[0], kw = window_.kernel[1];
  const std::int64_t sh = window_.stride[0], sw = window_.stride[1];
  const std::int64_t dh = window_.dilation[0], dw = window_.dilation[1];
  const std::int64_t cin_g = cin / group_, cout_g = out_channels_ / group_;
  const Call c{x, residual, activation, y, n, cin, h, w, ho, wo, pt, pl, kh, kw, sh, sw, dh, dw, cin_g, cout_g,
               cin_g * kh * kw, h * w, ho * wo};
  // Depthwise: the interleaved kernel except for 3 x 3 windows at stride 1 on planes 32 wide or
  // more, where the direct kernel's register shifts won (3 x 3 of 64 channels on 112 x 112: 0.40
  // against 0.45 ms; 7 x 7 of 96 on 56 x 56: 0.60 against 0.34, 3 x 3 stride 2 of 64 from 112 x 112:
  // 0.27 against 0.21).
  if (cin_g == 1 && cout_g == 1 && (wo < 32 || sw > 1 || kw > 3)) return depthwise_interleaved(c);
  if (cin_g == 1 && cout_g == 1) return depthwise_direct(c);
  const bool pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && ho == h && wo == w;
  if (kh == 1 && kw == 1 && !pointwise && pt == 0 && pl == 0 && (ho - 1) * sh < h && (wo - 1) * sw < w) return strided_pointwise(c);
  if (const int m = winograd_for(PatchGeometry{h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl}, cin)) return winograd(c, m);
  // Grouped, few channels per group: im2col would copy each value once per tap for few outputs.
  // Dense layers with a window, too (3 x 3 stride 2, 5 x 5, 7 x 7 stems, 3 x 3 off Winograd): the
  // patch product's packing cost them 8-30% over the indirect product's one copy of the input (best
  // of 200, one thread: ResNet's 7 x 7 stem 2.72 -> 2.45 ms, 3 x 3 stride 2 of 128 channels on
  // 28 x 28 1.36 -> 1.23, 5 x 5 of 64 on 56 x 56 7.21 -> 6.02, 3 x 3 of 512 on 7 x 7 2.96 -> 2.66).
  // (Taps that read only padding, as on 1 x 1 maps, are left out by small_plane_product first.)
  const bool windowed = kh > 1 || kw > 1;
  if (!pointwise && small_plane_product(c)) return;
  if (!pointwise && windowed && windowed_pixel_rows(c)) return;
  if (!pointwise && ((group_ > 1 && cout_g <= kIndirectChannels) || (group_ == 1 && own_kernel_ && windowed))) return indirect_product(c);
  if (!pointwise && by_taps_) return tap_product(c);
  if (!pointwise && own_kernel_) return own_patch_product(c);
  if (!pointwise) return patch_product(c);
  pointwise_product(c);
}

namespace {

// v's data with room for n elements: grown only, since a resize up zero-fills the new part, which
// the callers below overwrite anyway (bands of different heights took turns growing a task's
// buffers: 7% of MobileNetV3-S's first fused expansion).
template <class T>
T* room(std::vector<T>& v, std::int64_t n) {
  if (v.size() < static_cast<std::size_t>(n)) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

constexpr std::int64_t kInterleavedPixels = 8;  // outputs computed together, each tap's weights loaded once for them

// The interleaved depthwise kernel's padded input: hp rows of `row` pixels (every output reads
// its taps there without a bound check, a last group of kInterleavedPixels outputs running past
// wo included), the input at (pt, pl).
struct InterleavedRows {
  std::int64_t hp, wp, row;
  InterleavedRows(std::int64_t ho, std::int64_t wo, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                  std::int64_t dh, std::int64_t dw)
      : hp((ho - 1) * sh + (kh - 1) * dh + 1), wp((wo - 1) * sw + (kw - 1) * dw + 1), row(wp + kInterleavedPixels * sw) {}
};

// Zeros where no input pixel lands in those rows (pixel (py, px) at padded[(py row + px) step]):
// the padding rows, and each row's columns left and right of the input (h x w).
void zero_padding(f32x16* padded, std::int64_t step, const InterleavedRows& g, std::int64_t h, std::int64_t w, std::int64_t pt,
                  std::int64_t pl) {
  for (std::int64_t py = 0; py < g.hp; ++py) {
    f32x16* prow = padded + py * g.row * step;
    const bool input_row = py >= pt && py - pt < h;
    const std::int64_t left = input_row ? std::min(pl, g.row) : g.row, right = input_row ? std::min({g.row, pl + w, g.wp}) : g.row;
    for (std::int64_t px = 0; px < left * step; ++px) prow[px] = f32x16{};
    for (std::int64_t px = right * step; px < g.row * step; ++px) prow[px] = f32x16{};
  }
}

// Its arithmetic: outputs (ho x wo vectors, a vector of lanes per pixel) from the padded rows, the
// activation on the registers. A pixel may hold `step` vectors of lanes (a pointwise product's
// panel of channels); kVectors adjacent ones from `padded` on are computed in one pass, each loaded
// line used whole: a pass per vector read every line twice (a 24 -> 144, 3 x 3 block on 56 x 56
// spent 0.17 ms in it instead of 0.1). taps[(v kh + ky) kw + kx] holds vector v's weights, bias[v]
// its biases; outputs[v ho wo + i] its results.
template <int kVectors, int kWidth>
void depthwise_interleaved_rows(const f32x16* padded, std::int64_t step, const InterleavedRows& g, const f32x16* taps, const f32x16* bias, std::int64_t ho,
                                std::int64_t wo, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw, std::int64_t dh,
                                std::int64_t dw, const ActivationFn& activation, f32x16* outputs) {
  const std::int64_t pixel = sw * step, row = g.row * step, column = dw * step, taps_per_vector = kh * kw;
  with_vector_activation(activation, [&](auto activate) {
    for (std::int64_t oy = 0; oy < ho; ++oy) {
      for (std::int64_t ox0 = 0; ox0 < wo; ox0 += kInterleavedPixels) {
        f32x16 acc[kVectors][kInterleavedPixels];
        for (int v = 0; v < kVectors; ++v)
#pragma GCC unroll 8
          for (std::int64_t j = 0; j < kInterleavedPixels; ++j) acc[v][j] = bias[v];
        for (std::int64_t ky = 0; ky < kh; ++ky) {
          if constexpr (kWidth > 0) {
            // Stride and dilation 1 along the row, kWidth taps: a row of taps reads the group's
            // pixels and the kWidth - 1 after them, each loaded once into registers (a load per tap
            // and pixel was one per multiply-add, and the loads, not the arithmetic, set the pace).
            constexpr std::int64_t kRun = kInterleavedPixels + kWidth - 1;
            const f32x16* in = padded + (oy * sh + ky * dh) * row + ox0 * step;
            const f32x16* tap = taps + ky * kWidth;
            for (int v = 0; v < kVectors; ++v) {
              f32x16 run[kRun];
#pragma GCC unroll 14
              for (std::int64_t i = 0; i < kRun; ++i) run[i] = in[i * step + v];
#pragma GCC unroll 7
              for (std::int64_t kx = 0; kx < kWidth; ++kx) {
                const f32x16 weight = tap[v * taps_per_vector + kx];
#pragma GCC unroll 8
                for (std::int64_t j = 0; j < kInterleavedPixels; ++j) acc[v][j] += weight * run[j + kx];
              }
            }
          } else {
            const f32x16* in = padded + (oy * sh + ky * dh) * row + ox0 * pixel;
            const f32x16* tap = taps + ky * kw;
            for (std::int64_t kx = 0; kx < kw; ++kx) {
              const f32x16* at = in + kx * column;
#pragma GCC unroll 2
              for (int v = 0; v < kVectors; ++v) {
                const f32x16 weight = tap[v * taps_per_vector + kx];
#pragma GCC unroll 8
                for (std::int64_t j = 0; j < kInterleavedPixels; ++j) acc[v][j] += weight * at[j * pixel + v];
              }
            }
          }
        }
        const std::int64_t count = std::min(kInterleavedPixels, wo - ox0);
        for (int v = 0; v < kVectors; ++v)
          for (std::int64_t j = 0; j < count; ++j) outputs[v * ho * wo + oy * wo + ox0 + j] = activate(acc[v][j]);
      }
    }
  });
}

// depthwise_interleaved_rows with the row of taps' width as a constant where stride and dilation
// along the row are 1 and it is 3, 5 or 7.
template <int kVectors>
void depthwise_interleaved_rows(const f32x16* padded, std::int64_t step, const InterleavedRows& g, const f32x16* taps, const f32x16* bias,
                                std::int64_t ho, std::int64_t wo, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                                std::int64_t dh, std::int64_t dw, const ActivationFn& activation, f32x16* outputs) {
  const bool along = sw == 1 && dw == 1;
  if (along && kw == 3) return depthwise_interleaved_rows<kVectors, 3>(padded, step, g, taps, bias, ho, wo, kh, kw, sh, sw, dh, dw, activation, outputs);
  if (along && kw == 5) return depthwise_interleaved_rows<kVectors, 5>(padded, step, g, taps, bias, ho, wo, kh, kw, sh, sw, dh, dw, activation, outputs);
  if (along && kw == 7) return depthwise_interleaved_rows<kVectors, 7>(padded, step, g, taps, bias, ho, wo, kh, kw, sh, sw, dh, dw, activation, outputs);
  depthwise_interleaved_rows<kVectors, 0>(padded, step, g, taps, bias, ho, wo, kh, kw, sh, sw, dh, dw, activation, outputs);
}

}  // namespace

// Depthwise on narrow planes (EfficientNet's 14 x 14 and 7 x 7, ConvNeXt's 7 x 7 kernels up to
// 56 x 56): along a row there is too little to vectorise, so kLanes channels are interleaved into
// one zero-padded buffer and every tap is one vector multiply-add across them, as ncnn's packed
// layouts and ONNX Runtime's NCHWc do. Eight output pixels are computed together, each tap's
// weights loaded once for them: with one pixel at a time its taps formed one chain of dependent
// multiply-adds, and the FMA latency, not the arithmetic, set the speed (ConvNeXt-T's 7 x 7
// layers ran at 15-17 GMAC/s).
void Conv::depthwise_interleaved(const Call& c) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, h = c.h, w = c.w, ho = c.ho, wo = c.wo, pt = c.pt, pl = c.pl, kh = c.kh, kw = c.kw;
  const std::int64_t sh = c.sh, plane_in = c.plane_in, plane_out = c.plane_out, reach = (kh - 1) * c.dh + 1;
  const float* wdata = weights_.data();
  const auto finish = [&c](float* out, std::int64_t count) { c.finish(out, count); };
  const std::int64_t blocks = (out_channels_ + kLanes - 1) / kLanes;
  // Bands of output rows, each interleaving only the input rows it reads: a task's padded rows
  // fit 128 Ki floats (a 112 x 112 plane was 0.8 MB), and a block of channels alone is not left to
  // one thread (MobileNetV3-S's 16 channels on 112 x 112 are one block).
  constexpr std::int64_t kBudget = std::int64_t{1} << 17;
  const std::int64_t row_floats = InterleavedRows(1, wo, kh, kw, sh, c.sw, c.dh, c.dw).row * kLanes;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  std::int64_t band = std::clamp<std::int64_t>((std::max<std::int64_t>(reach, kBudget / row_floats) - reach) / sh + 1, 1, ho);
  if (n * blocks * ((ho + band - 1) / band) < want)
    band = std::min(band, std::max<std::int64_t>(1, ho / std::max<std::int64_t>(1, (want + n * blocks - 1) / (n * blocks))));
  const std::int64_t bands = (ho + band - 1) / band;
  luojia::detail::parallel_for(std::int64_t{0}, n * blocks * bands, [&](std::int64_t t) {
    const std::int64_t b = t / (blocks * bands), c0 = t / bands % blocks * kLanes, lanes = std::min(kLanes, out_channels_ - c0);
    const std::int64_t oy0 = t % bands * band, oy1 = std::min(ho, oy0 + band), rows = oy1 - oy0;
    const InterleavedRows g(rows, wo, kh, kw, sh, c.sw, c.dh, c.dw);
    // The input rows [r0, r1) the band reads, inside the plane; padded row top holds row r0.
    const std::int64_t r0 = std::clamp<std::int64_t>(oy0 * sh - pt, 0, h), r1 = std::clamp<std::int64_t>((oy1 - 1) * sh - pt + reach, r0, h);
    const std::int64_t top = pt + r0 - oy0 * sh;
    thread_local std::vector<f32x16> padded, taps, outputs;
    // Zeros where no input pixel lands (the interleaving below writes the others).
    room(padded, g.hp * g.row);
    zero_padding(padded.data(), 1, g, r1 - r0, w, top, pl);
    taps.assign(static_cast<std::size_t>(kh * kw), f32x16{});
    room(outputs, rows * wo);
    f32x16 bias{};
    const float* planes[kLanes] = {};
    for (std::int64_t l = 0; l < lanes; ++l) {
      planes[l] = x.data() + (b * out_channels_ + c0 + l) * plane_in + r0 * w;
      for (std::int64_t k = 0; k < kh * kw; ++k) taps[static_cast<std::size_t>(k)][l] = wdata[(c0 + l) * kh * kw + k];
      bias[l] = bias_[static_cast<std::size_t>(c0 + l)];
    }
    // The lanes' planes interleaved kLanes pixels at a time, through a register transpose.
    // (Captured by value: by reference, the compiler reloaded each bound from memory for every
    // pixel, in case the vector store had changed it.)
    f32x16* const origin = padded.data() + top * g.row + pl;
    const std::int64_t rows_read = g.hp - top, columns_read = g.wp - pl, row_stride = g.row;
    if (r1 > r0)
      interleave_planes(planes, lanes, r1 - r0, w, [origin, rows_read, columns_read, row_stride](std::int64_t iy, std::int64_t ix, const f32x16& v) {
        if (iy < rows_read && ix < columns_read) origin[iy * row_stride + ix] = v;
      });
    // The activation on the registers, unless a residual (planes) is added first.
    depthwise_interleaved_rows<1>(padded.data(), 1, g, taps.data(), &bias, rows, wo, kh, kw, sh, c.sw, c.dh, c.dw,
                                  c.residual ? ActivationFn{} : c.activation, outputs.data());
    float* out_planes[kLanes] = {};
    for (std::int64_t l = 0; l < lanes; ++l) out_planes[l] = y.data() + (b * out_channels_ + c0 + l) * plane_out + oy0 * wo;
    // Back into planes: pixel i's kLanes values are one vector.
    rows_to_planes(reinterpret_cast<const float*>(outputs.data()), kLanes, rows * wo, out_planes, lanes);
    if (c.residual)
      for (std::int64_t l = 0; l < lanes; ++l) finish(out_planes[l], rows * wo);
  });
}

// This pointwise convolution then the depthwise `dw` on its output, x -> y, without the tensor
// between them. Each task takes a panel of sgemm_nr channels and a band of output rows: the
// pointwise product runs on the input rows the band reads, pixels as its rows, and its tiles of
// a pixel's channels land straight in the interleaved depthwise kernel's padded rows, vectors of
// channels as that kernel reads them (two per pixel: a panel is two vectors wide). Run apart,
// the expansion went to memory and back, and a depthwise layer either re-laid its input out
// (interleaved) or shifted values within rows (depthwise_direct, below a third of the FMA peak).
// Bands overlap by the rows the window reads twice, whose pointwise rows are computed again.
void Conv::pointwise_into_depthwise(const Conv& dw, const Tensor& x, Tensor& y) const {
  const std::int64_t n = x.dim(0), k = x.dim(1), h = x.dim(2), w = x.dim(3), m = out_channels_, plane_in = h * w;
  const std::int64_t ho = y.dim(2), wo = y.dim(3), plane_out = ho * wo;
  std::int64_t pt = 0, pl = 0;
  dw.window_.output_size(0, h, pt);
  dw.window_.output_size(1, w, pl);
  const std::int64_t kh = dw.window_.kernel[0], kw = dw.window_.kernel[1], sh = dw.window_.stride[0], sw = dw.window_.stride[1];
  const std::int64_t dh = dw.window_.dilation[0], ddw = dw.window_.dilation[1];
  const ConvGemm& gemm = *gemm_;
  const std::int64_t nr = gemm.sgemm_nr, step = nr / kLanes;  // vectors of a panel's channels per pixel
  const float* weights = pixel_rows_weights();
  const std::int64_t panels = (m + nr - 1) / nr, reach = (kh - 1) * dh + 1;
  // A task's padded rows fit 128 Ki floats, half of L2: bands of output rows on large planes (a
  // tenth of the rows or less computed twice on planes up to 256 wide), groups of panels on small
  // ones, which then pack their input pixels once (a panel per task packed them 36 times on
  // EfficientNet's 7 x 7 layers of 1152 channels, 10% of their time). Smaller while tasks are
  // too few for the arena's threads.
  constexpr std::int64_t kBudget = std::int64_t{1} << 17;
  const std::int64_t row_floats = InterleavedRows(1, wo, kh, kw, sh, sw, dh, ddw).row * nr;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  std::int64_t band = std::clamp<std::int64_t>((std::max<std::int64_t>(reach, kBudget / row_floats) - reach) / sh + 1, 1, ho);
  std::int64_t group = 1;
  if (band == ho) {
    group = std::clamp<std::int64_t>(kBudget / (InterleavedRows(ho, wo, kh, kw, sh, sw, dh, ddw).hp * row_floats), 1, panels);
    group = std::min(group, std::max<std::int64_t>(1, n * panels / want));
  }
  const std::int64_t groups = (panels + group - 1) / group;
  if (n * groups * ((ho + band - 1) / band) < want)
    band = std::max<std::int64_t>(1, ho / std::max<std::int64_t>(1, (want + n * groups - 1) / (n * groups)));
  const std::int64_t bands = (ho + band - 1) / band;
  const float* dw_weights = dw.weights_.data();
  luojia::detail::parallel_for(std::int64_t{0}, n * groups * bands, [&](std::int64_t t) {
    const std::int64_t b = t / (groups * bands), p0 = t / bands % groups * group, p1 = std::min(panels, p0 + group);
    const std::int64_t oy0 = t % bands * band, oy1 = std::min(ho, oy0 + band);
    const InterleavedRows g(oy1 - oy0, wo, kh, kw, sh, sw, dh, ddw);
    // The input rows the band's outputs read, inside the plane; padded row py holds input row
    // r0 + py - top.
    const std::int64_t r0 = std::clamp<std::int64_t>(oy0 * sh - pt, 0, h), r1 = std::clamp<std::int64_t>((oy1 - 1) * sh - pt + reach, r0, h);
    const std::int64_t top = pt + r0 - oy0 * sh, pixels = std::clamp<std::int64_t>(g.wp - pl, 0, w);
    const std::int64_t panel_vectors = g.hp * g.row * step;
    // Not held across a parallel_for: everything below runs in this task.
    thread_local std::vector<f32x16> padded, taps, outputs;
    room(padded, (p1 - p0) * panel_vectors);
    for (std::int64_t p = p0; p < p1; ++p) zero_padding(padded.data() + (p - p0) * panel_vectors, step, g, r1 - r0, pixels, top, pl);
    const GemmEpilogue epilogue{bias_.data(), &activation_};
    if (r1 > r0 && pixels > 0)
      gemm.sgemm_pixel_rows_into(x.data() + b * k * plane_in + r0 * w, plane_in, (r1 - r0) * w, w, pixels, k, weights, m, p0, p1,
                                 reinterpret_cast<float*>(padded.data() + (top * g.row + pl) * step), panel_vectors * kLanes, nr,
                                 g.row * nr, &epilogue);
    // The depthwise kernel on each panel's channels, two vectors at a time (a panel is two with the
    // library's own ISA, more when the dispatched kernels are wider than its baseline).
    constexpr int kPair = 2;
    room(outputs, kPair * (oy1 - oy0) * wo);
    taps.resize(static_cast<std::size_t>(kPair * kh * kw));
    for (std::int64_t p = p0; p < p1; ++p)
      for (std::int64_t v0 = 0; v0 < step && p * nr + v0 * kLanes < m; v0 += kPair) {
        std::fill(taps.begin(), taps.end(), f32x16{});
        f32x16 bias[kPair] = {};
        for (std::int64_t v = 0; v < kPair; ++v)
          for (std::int64_t l = 0; l < kLanes && p * nr + (v0 + v) * kLanes + l < m; ++l) {
            const std::int64_t ch = p * nr + (v0 + v) * kLanes + l;
            for (std::int64_t tap = 0; tap < kh * kw; ++tap) taps[static_cast<std::size_t>(v * kh * kw + tap)][l] = dw_weights[ch * kh * kw + tap];
            bias[v][l] = dw.bias_[static_cast<std::size_t>(ch)];
          }
        depthwise_interleaved_rows<kPair>(padded.data() + (p - p0) * panel_vectors + v0, step, g, taps.data(), bias, oy1 - oy0, wo, kh, kw, sh,
                                          sw, dh, ddw, dw.activation_, outputs.data());
        for (std::int64_t v = 0; v < kPair; ++v) {
          const std::int64_t c0 = p * nr + (v0 + v) * kLanes, lanes = std::min(kLanes, m - c0);
          if (lanes <= 0) break;
          float* out_planes[kLanes] = {};
          for (std::int64_t l = 0; l < lanes; ++l) out_planes[l] = y.data() + (b * m + c0 + l) * plane_out + oy0 * wo;
          rows_to_planes(reinterpret_cast<const float*>(outputs.data() + v * (oy1 - oy0) * wo), kLanes, (oy1 - oy0) * wo, out_planes, lanes);
        }
      }
  });
}

namespace {

// Lanes S .. S + kLanes - 1 of a followed by b (one valignd with AVX-512).
template <std::size_t S, std::size_t... I>
[[gnu::always_inline]] inline f32x16 shifted_by(f32x16 a, f32x16 b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, (S + I)...);
}
template <std::size_t S>
[[gnu::always_inline]] inline f32x16 shifted(f32x16 a, f32x16 b) {
  if constexpr (S == 0) return a;
  else return shifted_by<S>(a, b, std::make_index_sequence<static_cast<std::size_t>(kLanes)>{});
}

// acc[v] += (the run's values from position v kLanes + S) * weight, for v < kVectors (S may
// pass a vector: SSE2's four lanes against a 7-wide row).
template <std::size_t S, std::int64_t kVectors>
[[gnu::always_inline]] inline void accumulate_shifted(f32x16* acc, const f32x16* run, float weight) {
  constexpr std::int64_t kSkip = static_cast<std::int64_t>(S) / kLanes;
  constexpr std::size_t kShift = S % static_cast<std::size_t>(kLanes);
#pragma GCC unroll 4
  for (std::int64_t v = 0; v < kVectors; ++v) acc[v] += shifted<kShift>(run[v + kSkip], run[v + kSkip + 1]) * weight;
}

// dst[0..n) = src[0..n) and dst[0..n) = 0 a vector at a time, the last vector overlapping the one
// before: short rows without a libc call each (the row-by-row padding of EfficientNet's depthwise
// layers spent a third of its time in memmove and memset).
void copy_row(float* dst, const float* src, std::int64_t n) {
  if (n < kLanes) {
    for (std::int64_t k = 0; k < n; ++k) dst[k] = src[k];
    return;
  }
  f32x16 v;
  for (std::int64_t k = 0; k + kLanes <= n; k += kLanes) {
    std::memcpy(&v, src + k, sizeof v);
    std::memcpy(dst + k, &v, sizeof v);
  }
  std::memcpy(&v, src + n - kLanes, sizeof v);
  std::memcpy(dst + n - kLanes, &v, sizeof v);
}
void zero_row(float* dst, std::int64_t n) {
  if (n < kLanes) {
    for (std::int64_t k = 0; k < n; ++k) dst[k] = 0.0f;
    return;
  }
  const f32x16 zero{};
  for (std::int64_t k = 0; k + kLanes <= n; k += kLanes) std::memcpy(dst + k, &zero, sizeof zero);
  std::memcpy(dst + n - kLanes, &zero, sizeof zero);
}

}  // namespace

// Depthwise 3 x 3 windows at stride 1 along the row, on planes of 32 columns or more (MobileNet's
// and EfficientNet's 112 and 56; Conv::convolve sends every other depthwise layer to the
// interleaved kernel): each channel's plane is copied once, zero-padded, and every output vector
// accumulates its taps in registers along a band of the output row, a row of taps loaded once and
// each tap's values shifted out of it. The interleaved kernel re-lays 16 planes out per call, which
// cost more than it saved here (3 x 3 of 64 channels on 112 x 112: 0.45 against 0.40 ms), and the
// row kernel this replaces read and wrote the output row once per tap.
void Conv::depthwise_direct(const Call& c) const {
  constexpr std::int64_t kBand = 4;  // output vectors per band: four independent chains of taps
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, h = c.h, w = c.w, ho = c.ho, wo = c.wo, pt = c.pt, pl = c.pl, kh = c.kh, kw = c.kw, sh = c.sh;
  const std::int64_t dh = c.dh, dw = c.dw, plane_in = c.plane_in, plane_out = c.plane_out;
  assert(c.sw == 1);  // Conv::convolve sends other strides to the interleaved kernel
  const float* wdata = weights_.data();
  // Padded rows: every row an output row reads; columns: every one an output reads, plus the slack
  // a last band's full vectors read (their values past wo are not stored).
  const std::int64_t hp = (ho - 1) * sh + (kh - 1) * dh + 1, wp = wo + (kw - 1) * dw;
  const std::int64_t padded_w = wp + (kBand + 2) * kLanes;  // + 2: the shifted runs' last vectors
  // Where each tap of output (0, 0) reads in the padded plane.
  std::vector<std::int64_t> tap_offsets(static_cast<std::size_t>(kh * kw));
  for (std::int64_t ky = 0; ky < kh; ++ky)
    for (std::int64_t kx = 0; kx < kw; ++kx) tap_offsets[static_cast<std::size_t>(ky * kw + kx)] = ky * dh * padded_w + kx * dw;
  luojia::detail::parallel_for(std::int64_t{0}, n * out_channels_, [&](std::int64_t nc) {
    const std::int64_t ch = nc % out_channels_;
    const float* src = x.data() + nc * plane_in;
    float* dst = y.data() + nc * plane_out;
    const float* kernel = wdata + ch * kh * kw;
    const float bias = bias_[static_cast<std::size_t>(ch)];
    // Zero-initialised when it grows; afterwards a row's slack past the positions outputs read
    // holds leftovers (input values, too), read only by lanes past the row's end, not kept.
    thread_local std::vector<float> padded;
    room(padded, hp * padded_w);
    // Padded column j is input column j - pl; only the padding is zeroed. Columns [p0, p1) hold
    // input; outputs read columns below wp.
    const std::int64_t p0 = std::min(wp, pl), p1 = std::max(p0, std::min(w + pl, wp));
    for (std::int64_t r = 0; r < hp; ++r) {
      float* row = padded.data() + r * padded_w;
      const std::int64_t iy = r - pt;
      if (iy < 0 || iy >= h) {
        zero_row(row, wp);
        continue;
      }
      zero_row(row, p0);
      copy_row(row + p0, src + iy * w + p0 - pl, p1 - p0);
      zero_row(row + p1, wp - p1);
    }
    // Bands of `vectors` output vectors (up to kBand), as many as the row needs: a row of 28 takes
    // two, not four with half of them past its end.
    const auto rows = [&](auto vectors, auto width) {
      constexpr std::int64_t kVectors = decltype(vectors)::value, kWidth = decltype(width)::value;
      for (std::int64_t oy = 0; oy < ho; ++oy) {
        float* out = dst + oy * wo;
        for (std::int64_t ox0 = 0; ox0 < wo; ox0 += kVectors * kLanes) {
          f32x16 acc[kVectors];
#pragma GCC unroll 4
          for (std::int64_t v = 0; v < kVectors; ++v) acc[v] = f32x16{} + bias;
          const float* origin = padded.data() + oy * sh * padded_w + ox0;
          if constexpr (kWidth > 0) {
            // Stride and dilation 1 along the row: a row of taps reads one run of the padded row,
            // loaded once as kRun vectors, each tap's values shifted out of them in registers (an
            // unaligned load per tap and vector was the layer's bottleneck).
            constexpr std::int64_t kRun = kVectors + (kWidth - 1) / kLanes + 1;
            static_assert(kRun <= kBand + 2, "the padded rows' slack");
            for (std::int64_t ky = 0; ky < kh; ++ky) {
              const float* in = origin + tap_offsets[static_cast<std::size_t>(ky * kWidth)];
              const float* weights = kernel + ky * kWidth;
              f32x16 run[kRun];
#pragma GCC unroll 6
              for (std::int64_t v = 0; v < kRun; ++v) std::memcpy(&run[v], in + v * kLanes, sizeof run[v]);
              [&]<std::size_t... X>(std::index_sequence<X...>) {
                (accumulate_shifted<X, kVectors>(acc, run, weights[X]), ...);
              }(std::make_index_sequence<static_cast<std::size_t>(kWidth)>{});
            }
          } else {
            for (std::int64_t t = 0; t < kh * kw; ++t) {
              const float* in = origin + tap_offsets[static_cast<std::size_t>(t)];
              const float weight = kernel[t];
#pragma GCC unroll 4
              for (std::int64_t v = 0; v < kVectors; ++v) {
                f32x16 value;
                std::memcpy(&value, in + v * kLanes, sizeof value);
                acc[v] += value * weight;
              }
            }
          }
          // Whole vectors, even past the row's end: those values land on later rows of this
          // plane, which are written after. Only the plane's last band goes value by value.
          if (oy * wo + ox0 + kVectors * kLanes <= plane_out) {
            std::memcpy(out + ox0, acc, sizeof acc);
          } else {
            const std::int64_t count = std::min(kVectors * kLanes, wo - ox0);
            float values[kVectors * kLanes];
            std::memcpy(values, acc, sizeof values);
            for (std::int64_t k = 0; k < count; ++k) out[ox0 + k] = values[k];
          }
        }
      }
    };
    const auto with_width = [&](auto vectors) {
      if (dw == 1 && kw == 3) rows(vectors, std::integral_constant<std::int64_t, 3>{});
      else rows(vectors, std::integral_constant<std::int64_t, 0>{});
    };
    const std::int64_t needed = (wo + kLanes - 1) / kLanes;
    if (needed <= 1) with_width(std::integral_constant<std::int64_t, 1>{});
    else if (needed <= 2) with_width(std::integral_constant<std::int64_t, 2>{});
    else if (needed <= 3) with_width(std::integral_constant<std::int64_t, 3>{});
    else with_width(std::integral_constant<std::int64_t, kBand>{});
    c.finish(dst, plane_out);  // the plane at once: its rows are short
  });
}

// The Winograd tile for this output plane: the prepared one when forced; by default the cheapest
// of F(4x4), F(2x2) and the direct product (winograd_cost), 0 for direct.
int Conv::winograd_for(const PatchGeometry& g, std::int64_t cin) const {
  if (!winograd_ || winograd_forced_) return winograd_;
  const std::int64_t mr = gemm_->sgemm_nr;
  int best = 0;
  double cost = winograd_cost(0, cin, out_channels_, g, mr);
  for (const int m : {4, 2}) {
    const double here = winograd_cost(m, cin, out_channels_, g, mr);
    if (here < cost) best = m, cost = here;
  }
  return best;
}

// The weights transformed for F(m x m): the prepared tile's, or F(2x2)'s beside F(4x4)'s, packed
// on the first plane small enough to take it (7² and 14²), so that layers which never see one
// keep one copy.
const float* Conv::winograd_weights(int m) const {
  if (m == winograd_) return winograd_packed_.data();
  std::call_once(winograd_small_once_, [this] {
    const ConvGemm& gemm = *gemm_;
    const std::int64_t cin = weights_.dim(1);
    winograd_small_packed_ = Tensor(Shape{gemm.winograd_packed_floats(2, cin, out_channels_)});
    gemm.winograd_pack_weights(2, weights_.data(), cin, out_channels_, winograd_small_packed_.data());
  });
  return winograd_small_packed_.data();
}

// Winograd F(m x m, 3 x 3), in tasks of whole GEMM blocks of tiles and channel blocks.
void Conv::winograd(const Call& c, int m) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const Tensor* residual = c.residual;
  const ActivationFn& activation = c.activation;
  const std::int64_t n = c.n, cin = c.cin, h = c.h, w = c.w, ho = c.ho, wo = c.wo, pt = c.pt, pl = c.pl, kh = c.kh;
  const std::int64_t kw = c.kw, sh = c.sh, sw = c.sw, dh = c.dh, dw = c.dw, plane_in = c.plane_in, plane_out = c.plane_out;
  const auto finish = [&c](float* out, std::int64_t count) { c.finish(out, count); };
  const ConvGemm& gemm = *gemm_;
  const std::int64_t sliver = gemm.sgemm_mr;  // channel blocks start at whole slivers of the packed weights
  const std::int64_t threads = tbb::this_task_arena::max_concurrency(), want = 4 * threads;
  const PatchGeometry geo{h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl};
  const std::int64_t tiles = WinogradTiling(m, geo).count();
  const float* packed = winograd_weights(m);  // packed here on first use, not inside a task
  // Tasks of whole GEMM blocks of tiles (the kernel pads a partial block with empty tiles); of
  // single panels of tiles where the blocks are fewer than the threads (DenseNet's 28² planes: 49
  // tiles, one block, were one task).
  std::int64_t block = gemm.winograd_block_tiles;
  if (n * ((tiles + block - 1) / block) < threads) block = gemm.sgemm_nr;
  const std::int64_t blocks = (tiles + block - 1) / block;
  // Every channel block transforms its tiles' inputs again, so channels are split only when the
  // tasks of tiles are still fewer than the threads: into whole slivers, the last block taking
  // what is left (32 channels in slivers of 14: 14 and 18, where blocks of 28 left the second
  // thread 4).
  const std::int64_t slivers = (out_channels_ + sliver - 1) / sliver;
  std::int64_t channel_blocks = 1;
  while (n * blocks * channel_blocks < threads && channel_blocks * 2 <= slivers) channel_blocks *= 2;
  const std::int64_t block_cols = slivers / channel_blocks * sliver;
  const std::int64_t per_task = std::max<std::int64_t>(1, n * blocks * channel_blocks / want);
  const std::int64_t ranges = (blocks + per_task - 1) / per_task;
  luojia::detail::parallel_for(std::int64_t{0}, n * ranges * channel_blocks, [&](std::int64_t t) {
    const std::int64_t cb = t % channel_blocks, range = (t / channel_blocks) % ranges, b = t / channel_blocks / ranges;
    const std::int64_t c0 = cb * block_cols, c1 = cb + 1 == channel_blocks ? out_channels_ : c0 + block_cols;
    const std::int64_t t0 = range * per_task * block, t1 = std::min(tiles, t0 + per_task * block);
    if (c0 >= c1 || t0 >= t1) return;
    gemm.winograd_conv(m, x.data() + b * cin * plane_in, geo, cin, packed, out_channels_, t0, t1,
                       c0, c1, bias_.data() + c0, residual ? ActivationFn{} : activation, y.data() + (b * out_channels_ + c0) * plane_out);
  });
  // The output transform applies the activation; with a residual it comes after, in one more pass.
  if (residual)
    luojia::detail::parallel_for(std::int64_t{0}, n * out_channels_, [&](std::int64_t plane) { finish(y.data() + plane * plane_out, plane_out); });
}

// The input as its phase planes (ConvGemm::indirect_gemm), for output rows [y0, y0 + rows): per
// channel, sh x sw planes of hq x wq values, plane (qy, qx) holding the padded input's rows
// (y0 + i) sh + qy and columns j sw + qx; hq and wq are the rows' and the output's columns plus the
// taps' reach, so that output (y0 + y, x) reads plane (ky dh mod sh, kx dw mod sw) at
// (y + ky dh / sh, x + kx dw / sw). Zeros past the last plane: the last panel of positions reads up
// to a panel past its end.
void Conv::phase_planes(const Call& c, std::int64_t y0, std::int64_t rows, PhasePlanes& p) {
  p.hq = rows + (c.kh - 1) * c.dh / c.sh;
  p.wq = c.wo + (c.kw - 1) * c.dw / c.sw;
  p.per_channel = c.sh * c.sw * p.hq * p.wq;
  const std::int64_t channels = c.n * c.cin, slack = p.wq + 2 * 64;  // past the last plane: a row and two panels (64 >= any nr)
  const std::size_t total = static_cast<std::size_t>(channels * p.per_channel + slack);
  if (total > p.capacity) {
    p.values = std::make_unique_for_overwrite<float[]>(total);
    p.capacity = total;
  }
  float* values = p.values.get();
  std::fill(values + channels * p.per_channel, values + total, 0.0f);
  // Per column phase, the columns j whose input column ix = j sw + qx - pl lies inside: [j0, j1).
  std::vector<std::int64_t> j0(static_cast<std::size_t>(c.sw)), j1(static_cast<std::size_t>(c.sw));
  for (std::int64_t qx = 0; qx < c.sw; ++qx) {
    const std::int64_t lo = std::min(p.wq, std::max<std::int64_t>(0, (c.pl - qx + c.sw - 1) / c.sw));
    const std::int64_t last = c.w - 1 - qx + c.pl;  // sw j <= last (none when negative)
    j0[static_cast<std::size_t>(qx)] = lo;
    j1[static_cast<std::size_t>(qx)] = last < 0 ? lo : std::max(lo, std::min(p.wq, last / c.sw + 1));
  }
  luojia::detail::parallel_for(std::int64_t{0}, channels, [&](std::int64_t ch) {
    const float* in = c.x.data() + ch * c.plane_in;
    for (std::int64_t qy = 0; qy < c.sh; ++qy)
      for (std::int64_t qx = 0; qx < c.sw; ++qx) {
        const std::int64_t lo = j0[static_cast<std::size_t>(qx)], hi = j1[static_cast<std::size_t>(qx)];
        for (std::int64_t i = 0; i < p.hq; ++i) {
          float* row = values + ch * p.per_channel + ((qy * c.sw + qx) * p.hq + i) * p.wq;
          const std::int64_t iy = (y0 + i) * c.sh + qy - c.pt;
          if (iy < 0 || iy >= c.h || lo == hi) {
            std::fill(row, row + p.wq, 0.0f);
            continue;
          }
          const float* first = in + iy * c.w + lo * c.sw + qx - c.pl;
          for (std::int64_t j = 0; j < lo; ++j) row[j] = 0.0f;
          copy_strided(first, hi - lo, c.sw, row + lo);
          for (std::int64_t j = hi; j < p.wq; ++j) row[j] = 0.0f;
        }
      }
  });
}

// The indirect product on the phase planes (grouped convolutions with few output channels per
// group, as ResNeXt's and RegNet's, and dense ones with a window): tasks over groups, panels of
// output positions and blocks of output channels, each writing the valid positions of its tile
// into the output planes, then the epilogue. Large planes go in strips of output rows, so that the
// planes stay bounded (about 1 MB, scratch outside the session's arena) and are read while in
// cache.
void Conv::indirect_product(const Call& c) const {
  const ConvGemm& gemm = *gemm_;
  const std::int64_t reach = (c.kh - 1) * c.dh / c.sh, wq = c.wo + (c.kw - 1) * c.dw / c.sw;
  const std::int64_t per_row = c.n * c.cin * c.sh * c.sw * wq;  // phase-plane floats per output row
  const std::int64_t strip = std::clamp<std::int64_t>((std::int64_t{1} << 18) / std::max<std::int64_t>(1, per_row) - reach, 1, c.ho);
  const std::int64_t cout_g = c.cout_g, k = c.k;
  const float* packed = own_packed();  // packed here on first use, not inside a task
  const std::int64_t per_group = gemm.sgemm_packed_a_floats(cout_g, k);
  const std::int64_t nr = gemm.sgemm_nr, mr = gemm.sgemm_mr;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  PhasePlanes planes;
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(k));
  for (std::int64_t y0 = 0; y0 < c.ho; y0 += strip) {
    const std::int64_t rows = std::min(strip, c.ho - y0);
    phase_planes(c, y0, rows, planes);
    const std::int64_t hq = planes.hq, plane = hq * wq;
    for (std::int64_t ci = 0; ci < c.cin_g; ++ci)
      for (std::int64_t ky = 0; ky < c.kh; ++ky)
        for (std::int64_t kx = 0; kx < c.kw; ++kx) {
          const std::int64_t phase = (ky * c.dh % c.sh) * c.sw + kx * c.dw % c.sw;
          offsets[static_cast<std::size_t>((ci * c.kh + ky) * c.kw + kx)] =
              ci * planes.per_channel + phase * plane + ky * c.dh / c.sh * wq + kx * c.dw / c.sw;
        }
    const std::int64_t positions = rows * wq, panels = (positions + nr - 1) / nr;
    // Chunks of panels: tasks enough for the threads, at most 8 panels (the tile stays in L2).
    const std::int64_t per_chunk = std::clamp<std::int64_t>(panels * c.n * group_ / want, 1, 8);
    const std::int64_t chunks = (panels + per_chunk - 1) / per_chunk;
    // Where chunks and groups are still fewer tasks than wanted (a dense layer on a small plane),
    // the output channels split too, in whole slivers.
    const std::int64_t slivers = (cout_g + mr - 1) / mr;
    std::int64_t channel_blocks = 1;
    while (c.n * group_ * chunks * channel_blocks < want && channel_blocks * 2 <= slivers) channel_blocks *= 2;
    const std::int64_t per_block = (slivers + channel_blocks - 1) / channel_blocks;
    luojia::detail::parallel_for(std::int64_t{0}, c.n * group_ * chunks * channel_blocks, [&](std::int64_t t) {
      const std::int64_t cb = t % channel_blocks, chunk = t / channel_blocks % chunks, g = t / channel_blocks / chunks % group_;
      const std::int64_t b = t / channel_blocks / chunks / group_;
      const std::int64_t c0 = cb * per_block * mr, c1 = std::min(cout_g, c0 + per_block * mr);
      if (c0 >= c1) return;
      const std::int64_t p0 = chunk * per_chunk * nr, p1 = std::min(positions, p0 + per_chunk * nr), ldc = per_chunk * nr;
      thread_local std::vector<float> tile;
      tile.resize(static_cast<std::size_t>((c1 - c0) * ldc));
      const float* base = planes.values.get() + (b * c.cin + g * c.cin_g) * planes.per_channel;
      gemm.indirect_gemm(packed + g * per_group + c0 * k, c1 - c0, k, base, offsets.data(), p0, p1, tile.data(), ldc);
      // The tile's valid positions are one run of each output plane (whole rows between partial
      // ones): copied with the bias row by row, then the epilogue on the run at once.
      const std::int64_t y_first = p0 / wq, y_last = (p1 - 1) / wq;
      const std::int64_t start = (y0 + y_first) * c.wo + std::min(c.wo, p0 - y_first * wq);
      const std::int64_t end = (y0 + y_last) * c.wo + std::min(c.wo, p1 - y_last * wq);
      for (std::int64_t co = 0; co < c1 - c0; ++co) {
        const std::int64_t channel = g * cout_g + c0 + co;
        const float bias = bias_[static_cast<std::size_t>(channel)];
        float* out = c.y.data() + (b * out_channels_ + channel) * c.plane_out;
        for (std::int64_t y = y_first; y <= y_last; ++y) {
          const std::int64_t x0 = std::max<std::int64_t>(0, p0 - y * wq), x1 = std::min(c.wo, p1 - y * wq);
          const float* src = tile.data() + co * ldc + (y * wq - p0);
          float* dst = out + (y0 + y) * c.wo;
#pragma omp simd
          for (std::int64_t x = x0; x < x1; ++x) dst[x] = src[x] + bias;
        }
        if (start < end) c.finish(out + start, end - start);
      }
    });
  }
}

bool Conv::small_plane_product(const Call& c) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, cin = c.cin, h = c.h, w = c.w, ho = c.ho, wo = c.wo, pt = c.pt, pl = c.pl, kh = c.kh;
  const std::int64_t kw = c.kw, sh = c.sh, sw = c.sw, dh = c.dh, dw = c.dw, plane_in = c.plane_in;
  const std::int64_t plane_out = c.plane_out;
  const float* wdata = weights_.data();
  const auto finish_with_bias = [&c](float* out, std::int64_t count, float bias) { c.finish_with_bias(out, count, bias); };
  const ConvGemm& gemm = *gemm_;
  const std::int64_t kMr = gemm.mr;
  // Small planes (ResNet's 7 x 7 and 14 x 14): the patch GEMM computes whole panels of kMr pixels,
  // so 49 pixels cost two panels of 48. With the output channels as the rows of the product and
  // the pixels as its columns (kernels of a few columns) nothing is wasted: im2col once, then
  // W (channels x k) times the patch matrix (k x pixels), the channels split over threads. (Grouped
  // convolutions stay on the patch GEMM, which spreads their groups over threads.)
  // The same product leaves out taps that read only padding for every output: DeepLab's ASPP
  // branch of dilation 36 on a 32 x 32 map is its centre tap alone.
  std::vector<std::int64_t> live_taps;
  for (std::int64_t ky = 0; ky < kh; ++ky)
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const auto reaches = [](std::int64_t out, std::int64_t stride, std::int64_t offset, std::int64_t in) {
        // Some o in [0, out) with 0 <= o * stride + offset < in.
        const std::int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        return first < out && first * stride + offset < in;
      };
      if (reaches(ho, sh, ky * dh - pt, h) && reaches(wo, sw, kx * dw - pl, w)) live_taps.push_back(ky * kw + kx);
    }
  const std::int64_t taps = kh * kw, live = static_cast<std::int64_t>(live_taps.size()), k_live = cin * live;
  const std::int64_t rounded = (plane_out + kMr - 1) / kMr * kMr;
  // luojia's kernel has no panels of pixels to waste (its panels of sgemm_nr pixels fill the
  // plane's rows in turn): with it, only dead taps send a convolution here.
  const bool wasteful = !own_kernel_ && !by_taps_ && rounded * 10 > plane_out * 11;
  if (!(group_ == 1 && (live < taps || wasteful) && k_live * plane_out <= (std::int64_t{1} << 22))) return false;
  std::vector<float> patches(static_cast<std::size_t>(k_live * plane_out));
  std::vector<float> pruned;  // the weights of the live taps, when some are not
  if (live < taps) {
    pruned.resize(static_cast<std::size_t>(out_channels_ * k_live));
    for (std::int64_t co = 0; co < out_channels_; ++co)
      for (std::int64_t ci = 0; ci < cin; ++ci)
        for (std::int64_t t = 0; t < live; ++t)
          pruned[static_cast<std::size_t>((co * cin + ci) * live + t)] = wdata[(co * cin + ci) * taps + live_taps[static_cast<std::size_t>(t)]];
  }
  const float* weights = live < taps ? pruned.data() : wdata;
  // One channel block per thread: each block's product packs the whole patch matrix again.
  const ChannelSplit split = split_channels(n, out_channels_, tbb::this_task_arena::max_concurrency(), 1);
  const std::int64_t rows_per_task = std::max<std::int64_t>(1, 16384 / plane_out);
  for (std::int64_t b = 0; b < n; ++b) {
    const float* src = x.data() + b * cin * plane_in;
    luojia::detail::parallel_for(std::int64_t{0}, k_live, rows_per_task, [&](std::int64_t k0) {
      for (std::int64_t kk = k0; kk < std::min(k_live, k0 + rows_per_task); ++kk) {
        const std::int64_t ci = kk / live, tap = live_taps[static_cast<std::size_t>(kk % live)], ky = tap / kw, kx = tap % kw;
        float* out = patches.data() + kk * plane_out;
        for (std::int64_t oy = 0; oy < ho; ++oy) {
          const std::int64_t iy = oy * sh - pt + ky * dh;
          for (std::int64_t ox = 0; ox < wo; ++ox) {
            const std::int64_t ix = ox * sw - pl + kx * dw;
            out[oy * wo + ox] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src[(ci * h + iy) * w + ix] : 0.0f;
          }
        }
      }
    });
    luojia::detail::parallel_for(std::int64_t{0}, split.blocks, [&](std::int64_t cb) {
      const auto [c0, c1] = split.range(cb, out_channels_);
      if (c0 >= c1) return;
      float* dst = y.data() + (b * out_channels_ + c0) * plane_out;
      gemm.matmul(weights + c0 * k_live, c1 - c0, k_live, patches.data(), plane_out, plane_out, dst, plane_out);
      for (std::int64_t co = c0; co < c1; ++co) finish_with_bias(dst + (co - c0) * plane_out, plane_out, bias_[static_cast<std::size_t>(co)]);
    });
  }
  return true;
}

// The patch GEMM: panels of output pixels packed from the input as the kernel reads them (im2col
// without the matrix), channel blocks over threads.
void Conv::patch_product(const Call& c) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, cin = c.cin, h = c.h, w = c.w, ho = c.ho, wo = c.wo, pt = c.pt, pl = c.pl, kh = c.kh;
  const std::int64_t kw = c.kw, sh = c.sh, sw = c.sw, dh = c.dh, dw = c.dw, cin_g = c.cin_g, cout_g = c.cout_g, k = c.k;
  const std::int64_t plane_in = c.plane_in, plane_out = c.plane_out;
  const auto finish = [&c](float* out, std::int64_t count) { c.finish(out, count); };
  const ConvGemm& gemm = *gemm_;
  const std::int64_t kMr = gemm.mr, kNr = gemm.nr;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  const PatchGeometry geo{h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl};
  const ColumnPhases phases = column_phases(c);
  const std::int64_t panels = (plane_out + kMr - 1) / kMr;
  const std::int64_t per_chunk = kPanelsPerTask;
  const std::int64_t chunks = (panels + per_chunk - 1) / per_chunk;
  const ChannelSplit split = split_channels(n * group_ * chunks, cout_g, want, kNr);
  const std::int64_t channel_blocks = split.blocks;
  const std::int64_t stride_packed = gemm.packed_floats(cout_g, k);
  luojia::detail::parallel_for(std::int64_t{0}, n * group_ * chunks * channel_blocks, [&](std::int64_t t) {
    const auto [b, g, chunk, c0, c1] = ConvTask::of(t, group_, chunks, split, cout_g);
    if (c0 >= c1) return;
    const std::int64_t pan0 = chunk * per_chunk, pan1 = std::min(panels, pan0 + per_chunk);
    const float* src = x.data() + (b * cin + g * cin_g) * plane_in;
    float* dst = y.data() + (b * out_channels_ + g * cout_g + c0) * plane_out;
    PatchGeometry here = geo;
    if (!phases.empty()) here.phases = phases.data() + (b * cin + g * cin_g) * h * sw * geo.phase_w();
    gemm.patch_gemm(src, here, packed_.data() + g * stride_packed, cout_g, k, pan0, pan1, c0, c1, bias_.data() + g * cout_g + c0, dst);
    const std::int64_t q0 = pan0 * kMr, q1 = std::min(plane_out, pan1 * kMr);
    for (std::int64_t co = c0; co < c1; ++co) finish(dst + (co - c0) * plane_out + q0, q1 - q0);
  });
}

// A strided convolution's input as its column phases (PatchGeometry::phases), for the patch
// packers; empty when the stride is 1. The input's size in floats, written over the threads.
Conv::ColumnPhases Conv::column_phases(const Call& c) {
  if (c.sw == 1) return {};
  const std::int64_t planes = c.n * c.cin, phase_w = (c.w + c.sw - 1) / c.sw;
  ColumnPhases phases{std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(planes * c.sw * c.h * phase_w))};
  std::vector<bool> needed(static_cast<std::size_t>(c.sw), false);
  for (std::int64_t kx = 0; kx < c.kw; ++kx) needed[static_cast<std::size_t>((((kx * c.dw - c.pl) % c.sw) + c.sw) % c.sw)] = true;
  luojia::detail::parallel_for(std::int64_t{0}, planes, std::int64_t{8}, [&](std::int64_t p0) {
    input_phases(c.x.data(), p0, std::min(planes, p0 + 8), c.h, c.w, c.sw, needed, phases.values.get());
  });
  return phases;
}

namespace {

// Whether tap (ky, kx) reads an input pixel for any of output pixels [q0, q1) (row-major).
bool tap_reads_input(const PatchGeometry& g, std::int64_t ky, std::int64_t kx, std::int64_t q0, std::int64_t q1) {
  for (std::int64_t oy = q0 / g.wo; oy <= (q1 - 1) / g.wo; ++oy) {
    const std::int64_t iy = oy * g.sh - g.pt + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    const std::int64_t ox0 = oy == q0 / g.wo ? q0 % g.wo : 0, ox1 = oy == (q1 - 1) / g.wo ? (q1 - 1) % g.wo : g.wo - 1;
    // Columns ix = ox sw + off for ox in [ox0, ox1]: the first at or past column 0.
    const std::int64_t off = kx * g.dw - g.pl, first = ox0 * g.sw + off;
    const std::int64_t skip = first >= 0 ? 0 : (-first + g.sw - 1) / g.sw;
    if (ox0 + skip <= ox1 && first + skip * g.sw < g.w) return true;
  }
  return false;
}

}  // namespace

// A dilated convolution as the sum over its taps of 1 x 1 products on shifted input (ASPP's
// dilations of 12 to 36 on a 64 x 64 map, dilated ResNet backbones): each tap is skipped on the
// blocks of pixels where it reads only padding. On DeepLab's ASPP at 512² the dilation-36 branch
// reads padding in 58% of its products, which the im2col product computed as zeros.
void Conv::tap_product(const Call& c) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, cin = c.cin, cin_g = c.cin_g, cout_g = c.cout_g, plane_in = c.plane_in, plane_out = c.plane_out;
  const ConvGemm& gemm = *gemm_;
  const std::int64_t mr = gemm.sgemm_mr, panel = gemm.sgemm_nr, per_tap = gemm.sgemm_packed_a_floats(cout_g, cin_g);
  const PatchGeometry geo{c.h, c.w, c.ho, c.wo, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl};
  const float* packed = tap_packed();  // packed here on first use, not inside a task
  const ColumnPhases phases = column_phases(c);
  // Blocks of whole rows, about 256 pixels (the weights stream once per block, as in the im2col
  // product); half rows where a column of taps reads only padding over one half of every row
  // (ASPP's dilation 36 on 64 columns: the outer columns, on either half).
  bool half_rows = false;
  if (c.wo >= 2 * panel)
    for (std::int64_t kx = 0; kx < c.kw; ++kx) {
      const std::int64_t off = kx * c.dw - c.pl, middle = c.wo / 2;
      half_rows = half_rows || (middle - 1) * c.sw + off < 0 || middle * c.sw + off >= c.w;
    }
  const std::int64_t per_chunk = half_rows ? c.wo / 2 / panel * panel : std::min(kChunk, std::max<std::int64_t>(1, 256 / c.wo) * c.wo);
  const std::int64_t chunks = (plane_out + per_chunk - 1) / per_chunk;
  const std::int64_t want = 2 * tbb::this_task_arena::max_concurrency();
  const ChannelSplit split = split_channels(n * group_ * chunks, cout_g, want, mr);
  const std::int64_t channel_blocks = split.blocks;
  luojia::detail::parallel_for(std::int64_t{0}, n * group_ * chunks * channel_blocks, [&](std::int64_t t) {
    const auto [b, g, chunk, c0, c1] = ConvTask::of(t, group_, chunks, split, cout_g);
    if (c0 >= c1) return;
    const std::int64_t q0 = chunk * per_chunk, q1 = std::min(plane_out, q0 + per_chunk);
    const float* src = x.data() + (b * cin + g * cin_g) * plane_in;
    float* dst = y.data() + (b * out_channels_ + g * cout_g + c0) * plane_out;
    bool written = false;
    for (std::int64_t ky = 0; ky < c.kh; ++ky)
      for (std::int64_t kx = 0; kx < c.kw; ++kx) {
        if (!tap_reads_input(geo, ky, kx, q0, q1)) continue;
        // The tap as a 1 x 1 convolution: the same grid, the padding shifted by the tap's offset.
        PatchGeometry tap{c.h, c.w, c.ho, c.wo, 1, 1, c.sh, c.sw, 1, 1, c.pt - ky * c.dh, c.pl - kx * c.dw};
        if (!phases.empty()) tap.phases = phases.data() + (b * cin + g * cin_g) * c.h * c.sw * geo.phase_w();
        const float* weights = packed + ((ky * c.kw + kx) * group_ + g) * per_tap;
        gemm.patch_sgemm(src, tap, weights, cout_g, cin_g, c0 / mr, (c1 + mr - 1) / mr, q0, q1, nullptr, written, dst);
        written = true;
      }
    for (std::int64_t co = 0; co < c1 - c0; ++co) {
      float* out = dst + co * plane_out + q0;
      if (!written) std::fill(out, out + (q1 - q0), 0.0f);
      c.finish_with_bias(out, q1 - q0, bias_[static_cast<std::size_t>(g * cout_g + c0 + co)]);
    }
  });
}

// The patch product on luojia's kernel: the weights (output channels) are the rows of the product,
// im2col panels of pixels its columns, so the result is the output planes; tasks over channel
// blocks of whole slivers and chunks of pixels.
void Conv::own_patch_product(const Call& c) const {
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, cin = c.cin, cin_g = c.cin_g, cout_g = c.cout_g, k = c.k, plane_in = c.plane_in, plane_out = c.plane_out;
  const auto finish_with_bias = [&c](float* out, std::int64_t count, float bias) { c.finish_with_bias(out, count, bias); };
  const ConvGemm& gemm = *gemm_;
  const std::int64_t mr = gemm.sgemm_mr, per_group = gemm.sgemm_packed_a_floats(cout_g, k);
  PatchGeometry geo{c.h, c.w, c.ho, c.wo, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl};
  const ColumnPhases phases = column_phases(c);
  // Every channel block packs its pixels' patches again, so the pixels are split first: chunks of
  // whole panels, enough of them for the threads, at most kChunk pixels.
  const std::int64_t threads = tbb::this_task_arena::max_concurrency(), want = 2 * threads, panel = gemm.sgemm_nr;
  const std::int64_t spread = (plane_out * n * group_ + want - 1) / want;
  const std::int64_t per_chunk = std::clamp((spread + panel - 1) / panel * panel, 2 * panel, kChunk);
  std::int64_t chunks = (plane_out + per_chunk - 1) / per_chunk;
  // Small planes (ResNet's 14 x 14 and 7 x 7) have fewer chunks than threads, so their channels are
  // split: the plane's panels are then packed once, over the threads, for every channel block
  // (each block packed them again before: half the time of a 3 x 3 layer on 7 x 7 x 512).
  // Only where splitting the channels alone gives the threads as much work as the chunks would:
  // with many threads and few channels, the chunks are the parallelism.
  const std::int64_t rounded = (plane_out + panel - 1) / panel * panel;
  const bool shared = n * group_ == 1 && chunks < want && rounded * k <= (std::int64_t{1} << 21) &&
                      split_channels(1, cout_g, threads, mr).blocks >= std::min(threads, chunks);
  std::vector<float> prepacked;
  if (shared) {
    chunks = 1;
    prepacked.resize(static_cast<std::size_t>(rounded * k));
    const std::int64_t pixel_blocks = (plane_out + gemm.patch_block_pixels - 1) / gemm.patch_block_pixels;
    const std::int64_t depth = gemm.patch_block_depth, depth_blocks = (k + depth - 1) / depth;
    PatchGeometry here = geo;  // one batch, one group: the phases start at its first channel
    if (!phases.empty()) here.phases = phases.data();
    luojia::detail::parallel_for(std::int64_t{0}, pixel_blocks * depth_blocks, [&](std::int64_t t) {
      gemm.patch_pack(x.data(), here, k, t / depth_blocks, t % depth_blocks * depth, prepacked.data());
    });
  }
  const ChannelSplit split = split_channels(n * group_ * chunks, cout_g, shared ? threads : want, mr);
  const float* packed = own_packed();  // packed here on first use, not inside a task
  const std::int64_t channel_blocks = split.blocks;
  luojia::detail::parallel_for(std::int64_t{0}, n * group_ * chunks * channel_blocks, [&](std::int64_t t) {
    const auto [b, g, chunk, c0, c1] = ConvTask::of(t, group_, chunks, split, cout_g);
    if (c0 >= c1) return;
    const std::int64_t q0 = shared ? 0 : chunk * per_chunk, q1 = shared ? plane_out : std::min(plane_out, q0 + per_chunk);
    const float* src = x.data() + (b * cin + g * cin_g) * plane_in;
    float* dst = y.data() + (b * out_channels_ + g * cout_g + c0) * plane_out;
    PatchGeometry here = geo;
    if (!phases.empty()) here.phases = phases.data() + (b * cin + g * cin_g) * c.h * c.sw * geo.phase_w();
    gemm.patch_sgemm(src, here, packed + g * per_group, cout_g, k, c0 / mr, (c1 + mr - 1) / mr, q0, q1,
                     shared ? prepacked.data() : nullptr, false, dst);
    for (std::int64_t co = 0; co < c1 - c0; ++co)
      finish_with_bias(dst + co * plane_out + q0, q1 - q0, bias_[static_cast<std::size_t>(g * cout_g + c0 + co)]);
  });
}

// A strided 1 x 1 convolution that reads no padding (ResNet's downsampling shortcuts): the pixels
// it reads, every sh-th row's every sw-th, gathered into planes of the output's size, are the input
// of a pointwise product. The patch product copied them into its panels, then multiplied
// unpacked (512 -> 1024 channels from 28 x 28: 2.23 ms; 256 -> 512 from 56 x 56: 2.08).
// The gathered planes, a quarter of the input at stride 2, live for the call.
void Conv::strided_pointwise(const Call& c) const {
  const std::int64_t planes = c.n * c.cin, plane = c.ho * c.wo;
  const auto gathered = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(planes * plane));
  const Tensor sub = Tensor::view(gathered.get(), Shape{c.n, c.cin, c.ho, c.wo});
  luojia::detail::parallel_for(std::int64_t{0}, planes, [&](std::int64_t p) {
    const float* in = c.x.data() + p * c.plane_in;
    float* out = gathered.get() + p * plane;
    for (std::int64_t oy = 0; oy < c.ho; ++oy)
      for (std::int64_t ox = 0; ox < c.wo; ++ox) out[oy * c.wo + ox] = in[oy * c.sh * c.w + ox * c.sw];
  });
  pointwise_product(Call{sub, c.residual, c.activation, c.y, c.n, c.cin, c.ho, c.wo, c.ho, c.wo, 0, 0, 1, 1, 1, 1, 1, 1, c.cin_g,
                         c.cout_g, c.cin_g, plane, plane});
}

// 1 x 1, stride 1, unpadded: the input planes are the GEMM's right-hand side as they are.
// A pointwise convolution of one group on a small plane with the pixels as the product's rows
// (sgemm_pixel_rows), where that pads less than panels of pixels: ResNet's and MobileNet's 7 x 7
// planes are 49 pixels, 3.5 slivers of 14 but two panels of 32, and 672 or 160 channels are whole
// panels of 32. The input's planes are packed whole per task, so only planes whose packing stays
// in L2 (under 256 K floats) go this way.
// Whether slivers of sgemm_mr pixels times panels of sgemm_nr output channels pad at least a tenth
// less than the other way round, slivers of output channels times panels of `positions` (the
// plane's pixels, or the indirect product's grid): the pixels-as-rows results go through a buffer
// and a transpose into planes, which the other product does not need (16 -> 96 channels on
// 112 x 112, 2% less padding: 0.74 ms this way, 0.62 ms by panels; 40 -> 120 on 28 x 28: 0.11,
// 0.09 ms).
bool Conv::pixel_rows_pad_less(std::int64_t plane, std::int64_t positions) const {
  const std::int64_t mr = gemm_->sgemm_mr, nr = gemm_->sgemm_nr;
  const auto round_up = [](std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; };
  return round_up(plane, mr) * round_up(out_channels_, nr) * 10 < round_up(positions, nr) * round_up(out_channels_, mr) * 9;
}

bool Conv::pointwise_pixel_rows(const Call& c) const {
  const ConvGemm& gemm = *gemm_;
  const std::int64_t plane = c.plane_out, k = c.k, nr = gemm.sgemm_nr;
  if (group_ != 1 || !own_kernel_ || plane * k > (std::int64_t{1} << 18) || !pixel_rows_pad_less(plane, plane)) return false;
  const float* weights = pixel_rows_weights();
  const std::int64_t panels = (out_channels_ + nr - 1) / nr;
  const std::int64_t blocks = std::min<std::int64_t>(panels, tbb::this_task_arena::max_concurrency());
  const std::int64_t per_block = (panels + blocks - 1) / blocks;
  luojia::detail::parallel_for(std::int64_t{0}, c.n * blocks, [&](std::int64_t t) {
    const std::int64_t b = t / blocks, p0 = t % blocks * per_block, p1 = std::min(panels, p0 + per_block);
    if (p0 >= p1) return;
    float* y = c.y.data() + b * out_channels_ * plane;
    // Bias and activation on the kernel's tiles while in cache; a residual (planes) afterwards.
    const GemmEpilogue epilogue{bias_.data(), c.residual ? nullptr : &c.activation};
    gemm.sgemm_pixel_rows(c.x.data() + b * c.cin * c.plane_in, plane, k, weights, out_channels_, p0, p1, y, &epilogue);
    if (c.residual)
      for (std::int64_t co = p0 * nr; co < std::min(out_channels_, p1 * nr); ++co) c.finish(y + co * plane, plane);
  });
  return true;
}

// The weights (out_channels x k) as the pixels-as-rows product's right-hand side, packed on first use.
const float* Conv::pixel_rows_weights() const {
  std::call_once(pixel_rows_once_, [&] {
    const ConvGemm& gemm = *gemm_;
    const std::int64_t k = weights_.size() / out_channels_;
    pixel_rows_packed_ = Tensor(Shape{gemm.sgemm_packed_floats(k, out_channels_)});
    gemm.sgemm_pack_b(weights_.data(), k, out_channels_, true, pixel_rows_packed_.data());
  });
  return pixel_rows_packed_.data();
}

// A dense convolution with a window on a small plane, pixels as the product's rows (as
// pointwise_pixel_rows): the patches are gathered once straight into slivers of sgemm_mr pixels,
// then tasks take panels of output channels and blocks of slivers. Where the indirect product pads
// each output row by the taps' reach and then to whole panels of 32 positions, slivers of 14 pad
// the plane alone: a 7 x 7 plane is 63 positions in two panels there, 49 pixels in 4 slivers of 14
// here, and DenseNet's 32 output channels one panel, not three slivers of 14.
bool Conv::windowed_pixel_rows(const Call& c) const {
  const ConvGemm& gemm = *gemm_;
  const std::int64_t plane = c.plane_out, k = c.k, mr = gemm.sgemm_mr, nr = gemm.sgemm_nr;
  const std::int64_t positions = c.ho * (c.wo + (c.kw - 1) * c.dw / c.sw);  // the indirect product's
  const std::int64_t s_count = (plane + mr - 1) / mr;
  if (group_ != 1 || !own_kernel_ || s_count * mr * k > (std::int64_t{1} << 18) || !pixel_rows_pad_less(plane, positions))
    return false;
  const float* weights = pixel_rows_weights();
  // (Not thread_local: a thread waiting below may run another tile's tasks, this layer's too.)
  const auto slivers = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(s_count * mr * k));
  float* a = slivers.get();
  const std::int64_t panels = (out_channels_ + nr - 1) / nr;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  const std::int64_t sliver_blocks = std::clamp<std::int64_t>((want + panels - 1) / panels, 1, s_count);
  const std::int64_t per_block = (s_count + sliver_blocks - 1) / sliver_blocks;
  for (std::int64_t b = 0; b < c.n; ++b) {
    const float* x = c.x.data() + b * c.cin * c.plane_in;
    // a[(s k + kk) mr + i]: tap kk = (ci kh + ky) kw + kx of pixel s mr + i, zero where it reads
    // padding or lies past the plane; a sliver's pixels in runs along output rows.
    luojia::detail::parallel_for(std::int64_t{0}, s_count, [&](std::int64_t s) {
      float* dst = a + s * k * mr;
      std::fill(dst, dst + k * mr, 0.0f);
      for (std::int64_t i0 = 0; i0 < mr && s * mr + i0 < plane;) {
        const std::int64_t p = s * mr + i0, oy = p / c.wo, ox0 = p % c.wo;
        const std::int64_t run = std::min({mr - i0, c.wo - ox0, plane - p});
        for (std::int64_t ci = 0; ci < c.cin; ++ci)
          for (std::int64_t ky = 0; ky < c.kh; ++ky) {
            const std::int64_t iy = oy * c.sh - c.pt + ky * c.dh;
            if (iy < 0 || iy >= c.h) continue;
            const float* row = x + ci * c.plane_in + iy * c.w;
            for (std::int64_t kx = 0; kx < c.kw; ++kx) {
              float* out = dst + ((ci * c.kh + ky) * c.kw + kx) * mr + i0;
              const std::int64_t ix0 = ox0 * c.sw - c.pl + kx * c.dw;
              for (std::int64_t j = 0; j < run; ++j) {
                const std::int64_t ix = ix0 + j * c.sw;
                if (ix >= 0 && ix < c.w) out[j] = row[ix];
              }
            }
          }
        i0 += run;
      }
    });
    float* y = c.y.data() + b * out_channels_ * plane;
    luojia::detail::parallel_for(std::int64_t{0}, panels * sliver_blocks, [&](std::int64_t t) {
      const std::int64_t p = t / sliver_blocks, s0 = t % sliver_blocks * per_block, s1 = std::min(s_count, s0 + per_block);
      if (s0 >= s1) return;
      // Bias and activation on the kernel's tiles; a residual (planes) afterwards.
      const GemmEpilogue epilogue{bias_.data(), c.residual ? nullptr : &c.activation};
      gemm.sgemm_pixel_rows_packed(a, plane, k, weights, out_channels_, p, p + 1, s0, s1, y, &epilogue);
      if (c.residual) {
        const std::int64_t first = s0 * mr, last = std::min(plane, s1 * mr);
        for (std::int64_t co = p * nr; co < std::min(out_channels_, (p + 1) * nr); ++co) c.finish(y + co * plane + first, last - first);
      }
    });
  }
  return true;
}

void Conv::pointwise_product(const Call& c) const {
  if (pointwise_pixel_rows(c)) return;
  const Tensor& x = c.x;
  Tensor& y = c.y;
  const std::int64_t n = c.n, cin = c.cin, ho = c.ho, wo = c.wo, cin_g = c.cin_g, cout_g = c.cout_g, k = c.k;
  const std::int64_t plane_in = c.plane_in, plane_out = c.plane_out;
  const float* wdata = weights_.data();
  const auto finish_with_bias = [&c](float* out, std::int64_t count, float bias) { c.finish_with_bias(out, count, bias); };
  const ConvGemm& gemm = *gemm_;
  const std::int64_t want = 4 * tbb::this_task_arena::max_concurrency();
  // Chunks of at most kChunk pixels, of rows spread evenly: 56 rows in chunks of 18 were 18, 18,
  // 18 and 2, which two threads shared as 36 and 20.
  const std::int64_t chunks = (ho + std::max<std::int64_t>(1, kChunk / wo) - 1) / std::max<std::int64_t>(1, kChunk / wo);
  const std::int64_t rows_per_chunk = (ho + chunks - 1) / chunks;
  // (In the patch path above each channel block redoes the chunk's packing, which is cheap next to
  // the GEMM when channels are many.)
  // A plane of a few pixels (squeeze-and-excitation's 1 x 1) would use one of the own kernel's
  // sgemm_nr columns per pixel: Eigen's product, a matrix-vector one for a single pixel, reads each
  // weight once instead (MobileNetV3-L's sixteen went from 1.13 to 0.54 ms).
  const bool own_kernel = own_kernel_ && plane_out * 4 >= gemm.sgemm_nr;
  const std::int64_t mr = gemm.sgemm_mr, per_group = own_kernel ? gemm.sgemm_packed_a_floats(cout_g, k) : 0;
  // Channel blocks of whole slivers for the own kernel.
  const ChannelSplit split = split_channels(n * group_ * chunks, cout_g, want, own_kernel ? mr : 1);
  const float* packed = own_kernel ? own_packed() : nullptr;  // packed here on first use, not inside a task
  const std::int64_t channel_blocks = split.blocks;
  const std::int64_t tasks = n * group_ * chunks * channel_blocks;
  luojia::detail::parallel_for(std::int64_t{0}, tasks, [&](std::int64_t t) {
    const auto [b, g, chunk, c0, c1] = ConvTask::of(t, group_, chunks, split, cout_g);
    const std::int64_t y0 = chunk * rows_per_chunk, y1 = std::min(ho, y0 + rows_per_chunk);
    const std::int64_t cols = (y1 - y0) * wo;
    if (c0 >= c1) return;
    const float* src = x.data() + (b * cin + g * cin_g) * plane_in;
    float* dst = y.data() + (b * out_channels_ + g * cout_g + c0) * plane_out + y0 * wo;
    if (own_kernel) {
      // Bias, residual and activation on the kernel's tiles while they are in cache (a pass of
      // its own over the chunk afterwards was 15% of a 16 -> 64 layer on 112 x 112).
      const GemmRowEpilogue epilogue{bias_.data() + g * cout_g + c0,
                                     c.residual != nullptr ? c.residual->data() + (dst - y.data()) : nullptr, &c.activation};
      gemm.sgemm_packed_a(packed + g * per_group, cout_g, k, c0 / mr, (c1 + mr - 1) / mr, src + y0 * wo, plane_in, cols, dst,
                          plane_out, &epilogue);
      return;
    }
    gemm.matmul(wdata + (g * cout_g + c0) * k, c1 - c0, k, src + y0 * wo, plane_in, cols, dst, plane_out);
    for (std::int64_t co = 0; co < c1 - c0; ++co) finish_with_bias(dst + co * plane_out, cols, bias_[static_cast<std::size_t>(g * cout_g + c0 + co)]);
  });
}

ConvTranspose::ConvTranspose(const NodeInfo& node) : Layer(node) {
  window_ = Window2d::from(node.attributes, {0, 0});
  group_ = node.attributes.get_int("group", 1);
  output_padding_ = node.attributes.get_ints("output_padding", {0, 0});
  output_shape_ = node.attributes.get_ints("output_shape");
  if (output_padding_.size() != 2) fail("output_padding must describe 2 spatial axes");
  if (window_.auto_pad != "NOTSET" && window_.auto_pad != "VALID") fail("auto_pad " + window_.auto_pad + " is not supported for ConvTranspose");
}

void ConvTranspose::prepare(const std::vector<ValueInfo>& inputs) {
  gemm_ = &conv_gemm_for(node().attributes.get_string("luojia.isa", ""));
  const Tensor& w = constant_input(inputs, 1);
  if (w.rank() != 4) fail("weights must be 4-D, not " + to_string(w.shape()));
  const std::int64_t cin = w.dim(0), cout_g = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  if (group_ < 1 || cin % group_ != 0) fail("group does not divide the input channels");
  in_channels_ = cin;
  out_channels_ = cout_g * group_;
  if (window_.kernel[0] == 0) window_.kernel = {kh, kw};
  // Per group, (cout_g * kh * kw) x cin_g: the transposed weights, so a GEMM with the input
  // gives every output contribution, scattered into place by col2im.
  const std::int64_t cin_g = cin / group_;
  transposed_ = Tensor(Shape{group_, cout_g * kh * kw, cin_g});
  for (std::int64_t g = 0; g < group_; ++g)
    for (std::int64_t ci = 0; ci < cin_g; ++ci)
      for (std::int64_t r = 0; r < cout_g * kh * kw; ++r)
        transposed_.data()[(g * cout_g * kh * kw + r) * cin_g + ci] = w.data()[(g * cin_g + ci) * cout_g * kh * kw + r];
  bias_.assign(static_cast<std::size_t>(out_channels_), 0.0f);
  if (has_input(inputs, 2)) {
    const Tensor& b = constant_input(inputs, 2);
    if (b.size() != out_channels_) fail("bias does not match the output channels");
    std::copy(b.data(), b.data() + out_channels_, bias_.begin());
  }
}

std::array<std::int64_t, 2> ConvTranspose::pads_begin(const Shape& x) const {
  std::array<std::int64_t, 2> pb = window_.pad_begin;
  if (!output_shape_.empty()) {
    for (std::size_t d = 0; d < 2; ++d) {
      const std::int64_t full = window_.stride[d] * (x[d + 2] - 1) + output_padding_[d] + (window_.kernel[d] - 1) * window_.dilation[d] + 1;
      const std::int64_t total = full - output_shape_[output_shape_.size() - 2 + d];
      pb[d] = total / 2;  // SAME_UPPER convention of the spec
    }
  }
  return pb;
}

std::vector<ValueInfo> ConvTranspose::infer(const std::vector<ValueInfo>& in) const {
  const Shape& x = in.at(0).shape;
  if (x.size() != 4 || x[1] != in_channels_) fail("input " + to_string(x) + " does not match the weights");
  Shape y{x[0], out_channels_, 0, 0};
  for (std::size_t d = 0; d < 2; ++d) {
    if (!output_shape_.empty()) {
      y[d + 2] = output_shape_[output_shape_.size() - 2 + d];
      continue;
    }
    y[d + 2] = window_.stride[d] * (x[d + 2] - 1) + output_padding_[d] + (window_.kernel[d] - 1) * window_.dilation[d] + 1 -
               window_.pad_begin[d] - window_.pad_end[d];
    if (y[d + 2] <= 0) fail("output would be empty");
  }
  return {ValueInfo{y, ElementType::Float32, std::nullopt, true}};
}

Footprint ConvTranspose::footprint() const {
  Footprint f = window_.footprint();
  f.kind = Footprint::Kind::Transposed;
  return f;
}

void ConvTranspose::do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const Tensor& x = inputs[0];
  Tensor& y = outputs[0];
  const std::int64_t n = x.dim(0), h = x.dim(2), w = x.dim(3), ho = y.dim(2), wo = y.dim(3);
  const std::int64_t kh = window_.kernel[0], kw = window_.kernel[1];
  const std::int64_t sh = window_.stride[0], sw = window_.stride[1], dh = window_.dilation[0], dw = window_.dilation[1];
  const auto pb = pads_begin(x.shape());
  const std::int64_t cin_g = in_channels_ / group_, cout_g = out_channels_ / group_;
  const std::int64_t rows = cout_g * kh * kw;
  const std::int64_t plane_in = h * w, plane_out = ho * wo;
  const std::int64_t rows_per_chunk = std::max<std::int64_t>(1, kChunk / w);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t g = 0; g < group_; ++g) {
      float* dst = y.data() + (b * out_channels_ + g * cout_g) * plane_out;
      for (std::int64_t co = 0; co < cout_g; ++co)
        std::fill(dst + co * plane_out, dst + (co + 1) * plane_out, bias_[static_cast<std::size_t>(g * cout_g + co)]);
      const float* src = x.data() + (b * in_channels_ + g * cin_g) * plane_in;
      const float* wt = transposed_.data() + g * rows * cin_g;
      const ConvGemm& gemm = *gemm_;
      for (std::int64_t y0 = 0; y0 < h; y0 += rows_per_chunk) {
        const std::int64_t y1 = std::min(h, y0 + rows_per_chunk), cols = (y1 - y0) * w;
        std::vector<float> col(static_cast<std::size_t>(rows * cols));
        // The GEMM split by rows of the result, then col2im split by output channel: no two
        // tasks write the same output pixel.
        luojia::detail::parallel_for(std::int64_t{0}, rows, std::int64_t{16}, [&](std::int64_t r0) {
          const std::int64_t r1 = std::min(rows, r0 + 16);
          gemm.matmul(wt + r0 * cin_g, r1 - r0, cin_g, src + y0 * w, plane_in, cols, col.data() + r0 * cols, cols);
        });
        luojia::detail::parallel_for(std::int64_t{0}, cout_g, [&](std::int64_t co) {
          float* out = dst + co * plane_out;
          for (std::int64_t ky = 0; ky < kh; ++ky)
            for (std::int64_t kx = 0; kx < kw; ++kx) {
              const float* c = col.data() + ((co * kh + ky) * kw + kx) * cols;
              for (std::int64_t iy = y0; iy < y1; ++iy) {
                const std::int64_t oy = iy * sh - pb[0] + ky * dh;
                if (oy < 0 || oy >= ho) continue;
                for (std::int64_t ix = 0; ix < w; ++ix) {
                  const std::int64_t ox = ix * sw - pb[1] + kx * dw;
                  if (ox >= 0 && ox < wo) out[oy * wo + ox] += c[(iy - y0) * w + ix];
                }
              }
            }
        });
      }
      for (std::int64_t co = 0; co < cout_g; ++co) activation_.apply(dst + co * plane_out, plane_out);
    }
}

}  // namespace luojia::nn::layers
