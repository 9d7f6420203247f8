// Receptive field, stride and tileability of a model's outputs, from a plan at a nominal shape.
#include "nn/model_impl.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace luojia::nn {
namespace {

// What one value's elements see of the input image along the spatial axes, as affine bounds:
// element o depends on input pixels [jump * o + low, jump * o + high]. Exact for windows
// (convolution, pooling, padding), tight for resizing and transposed convolution.
struct Reach {
  double jump = 1;
  double low = 0;
  double high = 0;
  double alignment = 1;            // the largest cumulative downsampling met on the way
  std::array<int, 2> axes{2, 3};   // where H and W are in this value's shape (equal: flattened there)
  std::array<std::int64_t, 2> size{0, 0};  // H and W of the input, to recognise them after a reshape
  bool global = false;
  std::string reason;
  // When H and W are flattened into one axis (axes[0] == axes[1]): the grids laid along it, one
  // per detector level once a Concat joins them.
  std::vector<AnchorGrid> grids;

  // Input pixels beyond its own cell an element depends on: element o stands for input pixels
  // [jump*o, jump*o + jump - 1] and reads [jump*o + low, jump*o + high].
  std::int64_t radius() const {
    return static_cast<std::int64_t>(std::ceil(std::max({0.0, -low, high - (jump - 1)}) - 1e-9));
  }

  void make_global(const std::string& why) {
    if (!global) reason = why;
    global = true;
  }
};

int normalise_axis(std::int64_t axis, std::size_t rank) {
  return static_cast<int>(axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis);
}

// Two values over the same anchors: the same levels, cells and strides, whatever each element's
// own receptive radius (a detector's box, class and angle branches may differ in depth).
bool same_cells(const std::vector<AnchorGrid>& a, const std::vector<AnchorGrid>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const AnchorGrid& x, const AnchorGrid& y) {
    return x.first == y.first && x.groups == y.groups && x.height == y.height && x.width == y.width && x.stride == y.stride;
  });
}

// An element combining both sees what either sees: each level's radius is the larger.
void widen(std::vector<AnchorGrid>& into, const std::vector<AnchorGrid>& from) {
  for (std::size_t i = 0; i < into.size() && i < from.size(); ++i) into[i].radius = std::max(into[i].radius, from[i].radius);
}

// An element computed from both sees what either sees.
void join(Reach& into, const Reach& from) {
  into.low = std::min(into.low, from.low);
  into.high = std::max(into.high, from.high);
  into.jump = std::max(into.jump, from.jump);
  into.alignment = std::max(into.alignment, from.alignment);
  if (from.global) into.make_global(from.reason);
}

bool touches_space(const Reach& r, const std::vector<int>& axes) {
  for (int a : axes)
    if (a == r.axes[0] || a == r.axes[1]) return true;
  return false;
}


// What a step's transfer function reads besides the reach it updates: the step, the reach of
// every value before it, and the shapes of its first data input and first output.
struct StepView {
  const detail::Plan& plan;
  const detail::Step& step;
  const std::vector<std::optional<Reach>>& reach;  // by slot
  const Footprint& f;
  const Shape& in_shape;
  const Shape& out_shape;
  const std::string& who;        // the node, for messages
  bool second_data_input = false;

  // The value of a constant input the footprint points at (axes, starts), if the plan knows it.
  std::optional<std::vector<std::int64_t>> constant(int k) const {
    if (k < 0 || static_cast<std::size_t>(k) >= step.inputs.size() || step.inputs[static_cast<std::size_t>(k)] < 0) return std::nullopt;
    const detail::Slot& s = plan.slots[static_cast<std::size_t>(step.inputs[static_cast<std::size_t>(k)])];
    if (s.storage != detail::Storage::Constant) return std::nullopt;
    return s.tensor.to_ints();
  }
};

// The input pixels each model input's elements see: themselves, for an NCHW image.
std::vector<std::optional<Reach>> seed_inputs(const detail::Graph& g, const detail::Plan& plan) {
  std::vector<std::optional<Reach>> reach(plan.slots.size());
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    const detail::Slot& s = plan.slots[i];
    if (s.storage != detail::Storage::Input) continue;
    Reach r;
    if (s.shape.size() != 4) r.make_global("input '" + g.inputs[static_cast<std::size_t>(s.input_index)].name + "' is not NCHW");
    else r.size = {s.shape[2], s.shape[3]};
    reach[i] = r;
  }
  return reach;
}

// A step's data inputs joined into the reach its transfer function starts from.
struct MergedInputs {
  std::optional<Reach> reach;  // none when no input depends on the image
  Shape in_shape;              // of the first input that does
  bool second_data_input = false;
};

// A window (a convolution) reads input 0 through it; other data inputs (a residual fused into
// the convolution) join its output pointwise, after the transfer (join_fused_inputs).
MergedInputs merge_inputs(const detail::Step& step, const detail::Plan& plan, const std::vector<std::optional<Reach>>& reach,
                          const Footprint& f, const NodeInfo& node) {
  MergedInputs m;
  const bool window = f.kind == Footprint::Kind::Window;
  for (std::size_t k = 0; k < (window ? std::min<std::size_t>(1, step.inputs.size()) : step.inputs.size()); ++k) {
    const int id = step.inputs[k];
    if (id < 0 || !reach[static_cast<std::size_t>(id)]) continue;
    const Reach& s = *reach[static_cast<std::size_t>(id)];
    if (!m.reach) {
      m.reach = s;
      m.in_shape = plan.slots[static_cast<std::size_t>(id)].shape;
    } else {
      m.second_data_input = true;
      join(*m.reach, s);
      // (Concatenate checks its own inputs: along the anchor axis, different grids are its point.)
      if (!s.grids.empty() && !m.reach->grids.empty()) {
        if (same_cells(s.grids, m.reach->grids)) widen(m.reach->grids, s.grids);
        else if (f.kind != Footprint::Kind::Concatenate)
          m.reach->make_global(node.describe() + " combines anchors of different grids");
      }
    }
  }
  return m;
}

void through_permute(Reach& r, const StepView& v) {
  std::vector<std::int64_t> perm = v.f.axes;
  if (perm.empty())
    for (std::int64_t d = static_cast<std::int64_t>(v.in_shape.size()) - 1; d >= 0; --d) perm.push_back(d);
  for (int& axis : r.axes) {
    const auto it = std::find(perm.begin(), perm.end(), axis);
    axis = it == perm.end() ? -1 : static_cast<int>(it - perm.begin());
  }
}

// A reshape's input and output shapes, compared axis by axis.
struct ReshapeShapes {
  const Shape& in;
  const Shape& out;
  int in_rank() const { return static_cast<int>(in.size()); }
  int out_rank() const { return static_cast<int>(out.size()); }

  bool same_prefix(int upto) const {
    for (int d = 0; d < upto; ++d)
      if (d >= out_rank() || out[static_cast<std::size_t>(d)] != in[static_cast<std::size_t>(d)]) return false;
    return true;
  }
  // Axes from `from` on are untouched (only axes before them were split or merged), so they
  // reappear at the end of the output: where the first of them lands, or -1.
  int kept_suffix(int from) const {
    const int to = from + out_rank() - in_rank();
    if (from < 0 || to < 0) return -1;
    for (int d = from; d < in_rank(); ++d)
      if (out[static_cast<std::size_t>(d + out_rank() - in_rank())] != in[static_cast<std::size_t>(d)]) return -1;
    return to;
  }
  std::int64_t product(int from, int to) const {
    std::int64_t p = 1;
    for (int d = from; d <= to; ++d) p *= in[static_cast<std::size_t>(d)];
    return p;
  }
  // The first input axis merged with H and W into one output axis: H and W, and perhaps axes just
  // before them (YOLOv5's anchors per cell), become a grid of anchors. -1 when they do not.
  int anchor_merge_start(int h, int w) const {
    if (!(h >= 0 && w == h + 1 && out_rank() <= in_rank() - 1 && kept_suffix(w + 1) >= 0)) return -1;
    const int first = h - (in_rank() - 1 - out_rank());
    return first >= 0 && same_prefix(first) && out[static_cast<std::size_t>(first)] == product(first, w) ? first : -1;
  }
};

// Pointwise as long as H and W survive: kept in place, flattened into one axis (H*W, as
// flatten(2) does), or restored from that flattened axis.
void through_reshape(Reach& r, const StepView& v) {
  const ReshapeShapes s{v.in_shape, v.out_shape};
  const int h = r.axes[0], w = r.axes[1];
  if (h >= 0 && h == w) {
    const auto k = static_cast<std::size_t>(h);
    if (s.out == s.in) {
    } else if (const int moved = s.kept_suffix(h); moved >= 0) {
      r.axes = {moved, moved};
    } else if (r.grids.size() <= 1 && s.same_prefix(h) && s.out.size() > k + 1 && s.out[k] == r.size[0] &&
               s.out[k + 1] == r.size[1]) {
      r.axes = {h, h + 1};
      r.grids.clear();
    } else {
      r.make_global(v.who + " reshapes the spatial axes");
    }
  } else if (const int first = s.anchor_merge_start(h, w); first >= 0) {
    AnchorGrid grid;
    grid.groups = s.product(first, h - 1);
    grid.height = s.in[static_cast<std::size_t>(h)];
    grid.width = s.in[static_cast<std::size_t>(w)];
    grid.stride = std::max<std::int64_t>(1, std::llround(r.jump));
    grid.radius = r.radius();
    r.grids = {grid};
    r.axes = {first, first};
  } else if (const int moved = s.kept_suffix(std::min(h, w)); h >= 0 && w >= 0 && moved >= 0) {
    r.axes = {h + moved - std::min(h, w), w + moved - std::min(h, w)};
  } else if (!(h >= 0 && w >= 0 && s.out.size() == s.in.size() && s.same_prefix(std::max(h, w) + 1))) {
    r.make_global(v.who + " reshapes the spatial axes");
  }
}

// Constant starts on spatial axes shift which input pixels an element sees.
void through_shift(Reach& r, const StepView& v) {
  const Footprint& f = v.f;
  std::optional<std::vector<std::int64_t>> starts = f.starts_input >= 0 ? v.constant(f.starts_input) : f.starts;
  std::optional<std::vector<std::int64_t>> axes = f.axes_input >= 0 ? v.constant(f.axes_input) : std::nullopt;
  if (!axes && !f.axes.empty()) axes = f.axes;
  if (!starts) {
    r.make_global(v.who + " slices at data-dependent positions");
    return;
  }
  if (!axes) {
    axes = std::vector<std::int64_t>{};
    for (std::size_t k = 0; k < starts->size(); ++k) axes->push_back(static_cast<std::int64_t>(k));
  }
  double low = 0, high = 0;
  for (std::size_t k = 0; k < starts->size() && k < axes->size(); ++k) {
    const int axis = normalise_axis((*axes)[k], v.in_shape.size());
    if (axis != r.axes[0] && axis != r.axes[1]) continue;
    std::int64_t start = (*starts)[k];
    const std::int64_t n = v.in_shape[static_cast<std::size_t>(axis)];
    if (start < 0) start += n;
    start = std::clamp<std::int64_t>(start, 0, n);
    low = std::min(low, static_cast<double>(start));
    high = std::max(high, static_cast<double>(start));
  }
  r.low += r.jump * low;
  r.high += r.jump * high;
}

void through_contract(Reach& r, const StepView& v) {
  if (touches_space(r, {static_cast<int>(v.in_shape.size()) - 1}) || v.second_data_input)
    r.make_global(v.who + " multiplies across the spatial axes");
}

void through_concatenate(Reach& r, const StepView& v) {
  const int axis = normalise_axis(v.f.axes.empty() ? 1 : v.f.axes[0], v.in_shape.size());
  if (axis != r.axes[0] && axis != r.axes[1]) {
    // Channels joined (a U-Net skip, a detector's box and class branches): pointwise, as
    // long as every part's elements come from the same cells.
    for (int id : v.step.inputs)
      if (id >= 0 && v.reach[static_cast<std::size_t>(id)] && !same_cells(v.reach[static_cast<std::size_t>(id)]->grids, r.grids))
        r.make_global(v.who + " joins anchors of different grids");
    return;
  }
  if (r.axes[0] != r.axes[1]) {
    r.make_global(v.who + " concatenates along a spatial axis");
    return;
  }
  // Flattened grids joined end to end: each input's grids, offset by what comes before.
  std::vector<AnchorGrid> joined;
  std::int64_t offset = 0;
  for (int id : v.step.inputs) {
    if (id < 0) continue;
    const auto& part = v.reach[static_cast<std::size_t>(id)];
    const Shape& shape = v.plan.slots[static_cast<std::size_t>(id)].shape;
    if (!part || part->global || part->axes[0] != axis || part->axes[1] != axis || part->grids.empty() ||
        static_cast<std::size_t>(axis) >= shape.size()) {
      r.make_global(v.who + " joins values that are not anchor grids along the flattened spatial axis");
      break;
    }
    for (AnchorGrid g : part->grids) {
      g.first += offset;
      joined.push_back(g);
    }
    offset += shape[static_cast<std::size_t>(axis)];
  }
  if (!r.global) r.grids = std::move(joined);
}

void through_combine(Reach& r, const StepView& v) {
  const Footprint& f = v.f;
  std::vector<std::int64_t> listed = f.axes;
  if (const auto from_input = v.constant(f.axes_input)) listed = *from_input;
  std::vector<int> axes;
  if (listed.empty() && f.every_axis_if_empty)
    for (std::size_t d = 0; d < v.in_shape.size(); ++d) axes.push_back(static_cast<int>(d));
  for (auto x : listed) {
    const int axis = normalise_axis(x, v.in_shape.size());
    axes.push_back(axis);
    if (f.through_last_axis)
      for (int d = axis + 1; d < static_cast<int>(v.in_shape.size()); ++d) axes.push_back(d);
  }
  if (touches_space(r, axes)) r.make_global(v.who + " combines values across the spatial axes");
  if (v.out_shape.size() < v.in_shape.size() && !r.global)
    for (int& axis : r.axes)
      axis -= static_cast<int>(std::count_if(axes.begin(), axes.end(), [axis](int x) { return x < axis; }));
}

void through_window(Reach& r, const StepView& v) {
  Footprint f = v.f;
  if (f.pads_input >= 0) {
    // Pads the plan folded: the shift each spatial axis' begin pad makes.
    const auto pads = v.constant(f.pads_input);
    if (!pads || pads->size() < 4 || pads->size() % 2) {
      r.make_global(v.who + " pads by amounts known only at run time");
      return;
    }
    const std::size_t rank = pads->size() / 2;
    for (std::size_t d = 0; d < 2; ++d) f.pad_begin[d] = (*pads)[rank - 2 + d];
  }
  if (!r.grids.empty() && r.axes[0] == r.axes[1]) {
    // Over flattened anchors (DFL's 1x1 convolution is): only a window of one element keeps
    // each anchor its own.
    for (std::size_t d = 0; d < 2; ++d)
      if (f.kernel[d] != 1 || f.stride[d] != 1 || f.pad_begin[d] != 0)
        r.make_global(v.who + " slides a window across the flattened anchors");
    return;
  }
  // o reads inputs o*s - pad + [0, (k-1)d].
  double low = INFINITY, high = -INFINITY, stride = 1;
  for (std::size_t d = 0; d < 2; ++d) {
    const double pad = static_cast<double>(f.pad_begin[d]), span = static_cast<double>((f.kernel[d] - 1) * f.dilation[d]);
    low = std::min(low, -pad);
    high = std::max(high, span - pad);
    stride = std::max(stride, static_cast<double>(f.stride[d]));
  }
  r.low += r.jump * low;
  r.high += r.jump * high;
  r.jump *= stride;
  r.alignment = std::max(r.alignment, r.jump);
}

void through_transposed(Reach& r, const StepView& v) {
  const Footprint& f = v.f;
  // o receives the integer inputs i = (o + pad - [0, (k-1)d]) / s: the bounds themselves
  // (ceil and floor of them are tighter still, and stay within).
  double low = INFINITY, high = -INFINITY, stride = 1;
  for (std::size_t d = 0; d < 2; ++d) {
    const double s_d = static_cast<double>(f.stride[d]), pad = static_cast<double>(f.pad_begin[d]);
    low = std::min(low, (pad - static_cast<double>((f.kernel[d] - 1) * f.dilation[d])) / s_d);
    high = std::max(high, pad / s_d);
    stride = std::max(stride, s_d);
  }
  r.low += r.jump * low;
  r.high += r.jump * high;
  r.jump /= stride;
}

void through_resample(Reach& r, const StepView& v) {
  const Footprint& f = v.f;
  double scale = 1;
  if (r.axes[0] >= 0 && r.axes[1] >= 0 && v.in_shape.size() == v.out_shape.size())
    for (int axis : r.axes) {
      const auto i = static_cast<std::size_t>(axis);
      if (v.in_shape[i] > 0) scale = std::max(scale, static_cast<double>(v.out_shape[i]) / static_cast<double>(v.in_shape[i]));
    }
  // o reads around x = (o + 0.5) / scale - 0.5: one pixel each side for linear, the rounding
  // for nearest. For an integer scale, the taps floor(x) - (reach - 1) .. floor(x) + reach
  // of each phase of o, relative to o / scale (exact: 1.25 pixels looser otherwise).
  const double reach = std::max<double>(1.0, static_cast<double>(f.reach));
  double low = 0.5 / scale - 0.5 - reach, high = 0.5 / scale - 0.5 + reach;
  if (scale == std::round(scale) && scale <= 64) {
    low = INFINITY;
    high = -INFINITY;
    for (double q = 0; q < scale; ++q) {
      const double first = std::floor((q + 0.5) / scale - 0.5);
      low = std::min(low, first - (reach - 1) - q / scale);
      high = std::max(high, first + reach - q / scale);
    }
  }
  r.low += r.jump * low;
  r.high += r.jump * high;
  r.jump /= scale;
  r.alignment = std::max(r.alignment, r.jump);
  if (!f.translation_invariant) r.make_global(v.who + " resizes with align_corners, which depends on the whole extent");
}

void through_upsample(Reach& r, const StepView& v) {
  // Output o copies input floor(o / k), which lies in [o/k - (k-1)/k, o/k].
  const double k = static_cast<double>(std::max(v.f.stride[0], v.f.stride[1]));
  r.jump /= k;
  r.low -= r.jump * (k - 1);
}

// The reach of a step's output from the reach of its (merged) input, by footprint kind.
void transfer(Reach& r, const StepView& v) {
  using K = Footprint::Kind;
  switch (v.f.kind) {
    case K::Undeclared: r.make_global("layer " + v.who + " declares no footprint (its spatial reach is unknown)"); break;
    case K::Pointwise: break;
    case K::Permute: through_permute(r, v); break;
    case K::Reshape: through_reshape(r, v); break;
    case K::Shift: through_shift(r, v); break;
    case K::Contract: through_contract(r, v); break;
    case K::Concatenate: through_concatenate(r, v); break;
    case K::Combine: through_combine(r, v); break;
    case K::Window: through_window(r, v); break;
    case K::Transposed: through_transposed(r, v); break;
    case K::Resample: through_resample(r, v); break;
    case K::Upsample: through_upsample(r, v); break;
    case K::Global: r.make_global(v.f.reason.empty() ? v.who + " combines the whole spatial extent" : v.who + " (" + v.f.reason + ")"); break;
  }
}

// A window's other data inputs (a residual fused into the convolution) join its output pointwise.
void join_fused_inputs(Reach& r, const detail::Step& step, const std::vector<std::optional<Reach>>& reach) {
  for (std::size_t k = 1; k < step.inputs.size(); ++k) {
    const int id = step.inputs[k];
    if (id < 0 || !reach[static_cast<std::size_t>(id)]) continue;
    join(r, *reach[static_cast<std::size_t>(id)]);
  }
}

// Every value's reach, step by step through the plan: none for values that do not depend on the image.
std::vector<std::optional<Reach>> propagate(const detail::Graph& g, const detail::Plan& plan) {
  std::vector<std::optional<Reach>> reach = seed_inputs(g, plan);
  for (const detail::Step& step : plan.steps) {
    const NodeInfo& node = step.layer->node();
    const Footprint f = step.layer->footprint();
    MergedInputs merged = merge_inputs(step, plan, reach, f, node);
    if (!merged.reach) continue;
    Reach r = *merged.reach;
    const Shape& out_shape = plan.slots[static_cast<std::size_t>(step.outputs.at(0))].shape;
    const std::string who = node.describe();
    transfer(r, StepView{plan, step, reach, f, merged.in_shape, out_shape, who, merged.second_data_input});
    if (f.kind == Footprint::Kind::Window) join_fused_inputs(r, step, reach);
    for (int id : step.outputs) reach[static_cast<std::size_t>(id)] = r;
  }
  return reach;
}

// Whether the step writing this output is a Softmax over channels (class probabilities).
bool is_channel_softmax(const detail::Plan& plan, int slot) {
  bool probabilities = false;
  for (const detail::Step& step : plan.steps) {
    if (std::find(step.outputs.begin(), step.outputs.end(), slot) == step.outputs.end()) continue;
    const NodeInfo& node = step.layer->node();
    // Before opset 13 a Softmax over axis 1 flattens C, H and W into one distribution.
    const std::int64_t axis = node.opset >= 13 ? node.attributes.get_int("axis", -1) : 0;
    const auto rank = static_cast<std::int64_t>(plan.slots[static_cast<std::size_t>(slot)].shape.size());
    probabilities = node.op_type == "Softmax" && node.domain.empty() && rank == 4 && (axis == 1 || axis == 1 - rank);
  }
  return probabilities;
}

// Radius, stride, anchors, upscale and alignment of an output that depends on the image.
void describe_reach(OutputAnalysis& o, const Reach& r, const Shape& in) {
  o.tileable = !r.global;
  o.reason = r.reason;
  // Input pixels of output element o: [jump*o + low, jump*o + high]; it stands for
  // [jump*o, jump*o + jump - 1], so the halo is how far the first reaches beyond the second.
  o.radius = r.radius();
  o.stride = std::max<std::int64_t>(1, std::llround(r.jump));
  if (!r.grids.empty() && r.axes[0] == r.axes[1]) {
    o.anchor_axis = r.axes[0];
    o.anchors = r.grids;
    o.radius = o.stride = 0;
    for (const AnchorGrid& grid : r.grids) {
      o.radius = std::max(o.radius, grid.radius);
      o.stride = std::max(o.stride, grid.stride);
    }
  }
  o.upscale = r.jump < 1 ? std::max<std::int64_t>(1, std::llround(1.0 / r.jump)) : 1;
  o.alignment = std::max<std::int64_t>(1, std::llround(std::ceil(r.alignment - 1e-9)));
  // Past a global step the reach no longer follows the spatial axes (attention reshapes them
  // into tokens; a Resize to the input's size then restores them): a map output's stride is
  // what its size says against the input's.
  if (r.global && o.shape.size() == 4 && in.size() == 4 && o.shape[2] > 0 && o.shape[3] > 0) {
    o.anchor_axis = -1;  // tokens flattened from the grid, then restored to a map: no anchors
    o.anchors.clear();
    const double ratio = static_cast<double>(in[2]) / static_cast<double>(o.shape[2]);
    o.stride = ratio >= 1 ? std::max<std::int64_t>(1, std::llround(ratio)) : 1;
    o.upscale = ratio < 1 ? std::max<std::int64_t>(1, std::llround(1.0 / ratio)) : 1;
  }
}

// The inputs the analysis plans with: input_shape for the first, dynamic sizes made concrete.
std::vector<Tensor> nominal_inputs(const detail::Graph& g, const Shape& input_shape) {
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    Shape shape = (i == 0 && !input_shape.empty()) ? input_shape : g.inputs[i].shape;
    for (std::size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0) shape[d] = d >= 2 ? 256 : 1;
    inputs.emplace_back(shape, g.inputs[i].type);
  }
  return inputs;
}

}  // namespace

std::vector<OutputAnalysis> Model::analyse(const Shape& input_shape) const {
  const detail::Graph& g = impl_->graph;
  const std::vector<Tensor> inputs = nominal_inputs(g, input_shape);
  const detail::Plan plan = detail::make_plan(*impl_, inputs);
  const std::vector<std::optional<Reach>> reach = propagate(g, plan);

  std::vector<OutputAnalysis> out;
  for (std::size_t k = 0; k < g.outputs.size(); ++k) {
    const int slot = plan.outputs[k];
    OutputAnalysis o;
    o.name = g.outputs[k].name;
    o.shape = plan.slots[static_cast<std::size_t>(slot)].shape;
    o.probabilities = is_channel_softmax(plan, slot);
    if (const auto& r = reach[static_cast<std::size_t>(slot)]) {
      describe_reach(o, *r, inputs.front().shape());
    } else {
      o.tileable = false;
      o.reason = "does not depend on the input";
    }
    out.push_back(o);
  }
  return out;
}

}  // namespace luojia::nn
