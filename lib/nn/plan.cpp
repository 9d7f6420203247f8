// Plans: shapes inferred and constants folded node by node, then where each value lives (the
// caller's tensors, a tensor of its own, or an offset in one arena shared by liveness).
#include "nn/model_impl.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

namespace luojia::nn {

namespace detail {

namespace {

std::size_t align_floats(std::size_t n) { return (n + 15) / 16 * 16; }  // 64-byte starts

// The plan while it is built, with the slot of each value name seen so far: the inputs, then
// initializers as they are first read, then the nodes' outputs.
struct PlanBuilder {
  const Graph& g;
  const LoadOptions& limits;
  Plan plan;
  std::unordered_map<std::string, int> slot_of;

  [[noreturn]] void fail(const std::string& message, const std::string& node = {}) const {
    throw ModelError(message, ErrorContext{g.path, {}, {}, node});
  }
  int add_slot(Slot slot) {
    plan.slots.push_back(std::move(slot));
    return static_cast<int>(plan.slots.size()) - 1;
  }
  // The slot of a value, an initializer getting its constant slot when first read.
  int slot_for(const std::string& name) {
    if (const auto it = slot_of.find(name); it != slot_of.end()) return it->second;
    const auto init = g.initializers.find(name);
    if (init == g.initializers.end()) fail("value '" + name + "' is not defined");
    Slot slot;
    slot.shape = init->second.shape();
    slot.type = init->second.type();
    slot.storage = Storage::Constant;
    slot.tensor = init->second;
    return slot_of[name] = add_slot(std::move(slot));
  }
  // Which graph output the value is, or -1.
  int output_index(const std::string& name) const {
    for (std::size_t k = 0; k < g.outputs.size(); ++k)
      if (g.outputs[k].name == name) return static_cast<int>(k);
    return -1;
  }
};

void add_input_slots(PlanBuilder& b, const std::vector<Tensor>& inputs) {
  const Graph& g = b.g;
  if (inputs.size() != g.inputs.size())
    b.fail("the model takes " + std::to_string(g.inputs.size()) + " input(s), not " + std::to_string(inputs.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = g.inputs[i];
    const Shape& shape = inputs[i].shape();
    bool fits = spec.shape.empty() || spec.shape.size() == shape.size();
    for (std::size_t d = 0; fits && d < spec.shape.size(); ++d) fits = spec.shape[d] < 0 || spec.shape[d] == shape[d];
    if (!fits)
      b.fail("input '" + spec.name + "' expects shape " + to_string(spec.shape) + " (-1: any), not " + to_string(shape));
    Slot slot;
    slot.shape = shape;
    slot.type = inputs[i].type();
    slot.storage = Storage::Input;
    slot.input_index = static_cast<int>(i);
    b.slot_of[spec.name] = b.add_slot(std::move(slot));
  }
}

// A node's inputs as slots (-1 for omitted ones) and its outputs as shape inference gives them.
struct InferredNode {
  std::vector<int> in_slots;
  std::vector<ValueInfo> outs;
  bool all_constant = true;  // every present input known before the run
};

InferredNode infer_node(PlanBuilder& b, const Layer& layer, const NodeInfo& node) {
  InferredNode r;
  std::vector<ValueInfo> infos;
  for (const auto& name : node.inputs) {
    ValueInfo v;
    if (name.empty()) {
      v.present = false;
      r.in_slots.push_back(-1);
    } else {
      const int id = b.slot_for(name);
      const Slot& s = b.plan.slots[static_cast<std::size_t>(id)];
      v.shape = s.shape;
      v.type = s.type;
      if (s.storage == Storage::Constant) v.value = s.tensor;
      else r.all_constant = false;
      r.in_slots.push_back(id);
    }
    infos.push_back(std::move(v));
  }
  try {
    r.outs = layer.infer(infos);
  } catch (const Error& e) {
    if (!e.context().node.empty()) throw;
    b.fail(e.message(), node.describe());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // A layer's own checks missed something (a crafted node without inputs, say): still one
    // error naming the node, never a crash.
    b.fail(std::string("malformed node: ") + e.what(), node.describe());
  }
  if (r.outs.size() < node.outputs.size())
    b.fail("shape inference gave " + std::to_string(r.outs.size()) + " outputs for " +
           std::to_string(node.outputs.size()), node.describe());
  return r;
}

// Every output's size against the limit per tensor, before anything is allocated for it.
void check_output_sizes(const PlanBuilder& b, const NodeInfo& node, const std::vector<ValueInfo>& outs) {
  for (std::size_t k = 0; k < node.outputs.size(); ++k) {
    double elements = 1;
    for (std::int64_t d : outs[k].shape) {
      if (d < 0) b.fail("shape inference gave a negative dimension: " + to_string(outs[k].shape), node.describe());
      elements *= static_cast<double>(d);
    }
    const double bytes = elements * (outs[k].type == ElementType::Int64 ? 8 : 4);
    if (bytes > static_cast<double>(b.limits.max_tensor_bytes))
      b.fail("output " + to_string(outs[k].shape) + " would need " + std::to_string(static_cast<long long>(bytes / 1048576)) +
             " MiB, over the limit of " + std::to_string(b.limits.max_tensor_bytes >> 20) + " MiB per tensor", node.describe());
  }
}

// Folded now, once per input shape: shape arithmetic and anything else on constants.
void fold_constant_node(PlanBuilder& b, const Layer& layer, const NodeInfo& node, const InferredNode& n) {
  std::vector<Tensor> in_t, out_t;
  for (int id : n.in_slots) in_t.push_back(id < 0 ? Tensor() : b.plan.slots[static_cast<std::size_t>(id)].tensor);
  for (std::size_t k = 0; k < node.outputs.size(); ++k) out_t.emplace_back(n.outs[k].shape, n.outs[k].type);
  layer.forward(in_t, out_t);
  for (std::size_t k = 0; k < node.outputs.size(); ++k) {
    Slot slot;
    slot.shape = n.outs[k].shape;
    slot.type = n.outs[k].type;
    slot.storage = Storage::Constant;
    slot.tensor = out_t[k];
    if (!node.outputs[k].empty()) b.slot_of[node.outputs[k]] = b.add_slot(std::move(slot));
  }
}

// Where a step's output lives: its value when inference knew it, the caller's tensor for a graph
// output, a tensor of its own for integers (the arena holds floats), else the arena.
void choose_storage(Slot& slot, const ValueInfo& out, int output_index) {
  if (out.value) {
    slot.storage = Storage::Constant;
    slot.tensor = *out.value;
  } else if (output_index >= 0) {
    slot.storage = Storage::Output;
    slot.output_index = output_index;
  } else if (slot.type == ElementType::Int64) {
    slot.storage = Storage::Owned;
    slot.tensor = Tensor(slot.shape, ElementType::Int64);
  } else {
    slot.storage = Storage::Arena;
  }
}

// A node that runs: a step, with its inputs' lives extended to it and a slot for each output.
void add_step(PlanBuilder& b, const Layer& layer, const NodeInfo& node, const InferredNode& n) {
  Plan& plan = b.plan;
  Step step;
  step.layer = &layer;
  step.inputs = n.in_slots;
  const int index = static_cast<int>(plan.steps.size());
  for (int id : n.in_slots)
    if (id >= 0) plan.slots[static_cast<std::size_t>(id)].last = index;
  for (std::size_t k = 0; k < node.outputs.size(); ++k) {
    Slot slot;
    slot.shape = n.outs[k].shape;
    slot.type = n.outs[k].type;
    slot.first = slot.last = index;
    choose_storage(slot, n.outs[k], b.output_index(node.outputs[k]));
    const int id = b.add_slot(std::move(slot));
    if (!node.outputs[k].empty()) b.slot_of[node.outputs[k]] = id;
    step.outputs.push_back(id);
  }
  plan.steps.push_back(std::move(step));
}

// Shape inference node by node: nodes on constants are folded, the others become steps.
void infer_and_fold(PlanBuilder& b, const Model::Impl& model) {
  for (std::size_t n = 0; n < b.g.nodes.size(); ++n) {
    const NodeInfo& node = b.g.nodes[n];
    const Layer& layer = *model.layers[n];
    const InferredNode inferred = infer_node(b, layer, node);
    check_output_sizes(b, node, inferred.outs);
    if (inferred.all_constant && !node.inputs.empty()) fold_constant_node(b, layer, node, inferred);
    else add_step(b, layer, node, inferred);
  }
  for (const auto& o : b.g.outputs) b.plan.outputs.push_back(b.slot_for(o.name));
}

// Whether the step's inputs can be written straight into their places in its output: the layer
// joins them in place along an axis before which the output has only axes of 1 (so each input is
// one contiguous run of it), and every input is a float arena slot of its own, read once here.
bool can_join_in_place(const Plan& plan, const Step& step) {
  const std::optional<std::int64_t> join_axis = step.layer->in_place_join_axis();
  if (!join_axis || step.outputs.size() != 1) return false;
  const Slot& out = plan.slots[static_cast<std::size_t>(step.outputs[0])];
  if (out.storage != Storage::Arena || out.type != ElementType::Float32 || out.shape.size() < 2) return false;
  std::int64_t axis = *join_axis;
  if (axis < 0) axis += static_cast<std::int64_t>(out.shape.size());
  bool contiguous = axis >= 0 && axis < static_cast<std::int64_t>(out.shape.size());
  for (std::int64_t d = 0; contiguous && d < axis; ++d) contiguous = out.shape[static_cast<std::size_t>(d)] == 1;
  if (!contiguous) return false;
  std::vector<int> ids = step.inputs;
  std::sort(ids.begin(), ids.end());
  bool usable = std::adjacent_find(ids.begin(), ids.end()) == ids.end();
  for (int id : step.inputs) {
    const Slot& in = plan.slots[static_cast<std::size_t>(id < 0 ? 0 : id)];
    usable = usable && id >= 0 && in.storage == Storage::Arena && in.alias_of < 0 && in.type == ElementType::Float32;
  }
  return usable;
}

// Concat along channels of a batch of one: inputs computed in the same run get their place in
// the output, so no copy is made and both never coexist (U-Net skips are the big saving). The
// output's life widens to cover its inputs'.
void alias_joined_inputs(Plan& plan) {
  for (const Step& step : plan.steps) {
    if (!can_join_in_place(plan, step)) continue;
    Slot& out = plan.slots[static_cast<std::size_t>(step.outputs[0])];
    std::size_t offset = 0;
    const int out_id = step.outputs[0];
    for (int id : step.inputs) {
      Slot& in = plan.slots[static_cast<std::size_t>(id)];
      in.alias_of = out_id;
      in.alias_offset = offset;
      offset += static_cast<std::size_t>(element_count(in.shape));
      out.first = std::min(out.first, in.first);
      out.last = std::max(out.last, in.last);
    }
  }
}

// Reshape, Flatten, Squeeze and Unsqueeze (Layer::output_views_input): the output takes the
// input's memory, an alias at offset 0, instead of a copy; the block then lives as long as either
// (ShuffleNet's channel shuffles, transformers' token reshapes). Not an output already placed in a
// Concat's block (it has its place there).
void alias_views(Plan& plan) {
  for (const Step& step : plan.steps) {
    if (!step.layer->output_views_input() || step.outputs.size() != 1 || step.inputs.empty() || step.inputs[0] < 0) continue;
    const int in_id = step.inputs[0], out_id = step.outputs[0];
    Slot& out = plan.slots[static_cast<std::size_t>(out_id)];
    const Slot& in = plan.slots[static_cast<std::size_t>(in_id)];
    if (out.storage != Storage::Arena || in.storage != Storage::Arena || out.type != ElementType::Float32 ||
        in.type != ElementType::Float32 || out.alias_of >= 0 || element_count(out.shape) != element_count(in.shape))
      continue;
    out.alias_of = in_id;
    out.alias_offset = 0;
  }
}

// One slot's part of a block of the arena: where in the block, and from the step that writes it
// to the last step that reads it.
struct Piece {
  std::size_t offset, size;  // within the block, floats
  int first, last;
};

// The slot a slot is aliased into, through aliases of aliases, and its offset there.
std::size_t root_of(const Plan& plan, std::size_t i) {
  const Slot& s = plan.slots[i];
  return s.alias_of < 0 ? i : root_of(plan, static_cast<std::size_t>(s.alias_of));
}
std::size_t offset_in_root(const Plan& plan, std::size_t i) {
  const Slot& s = plan.slots[i];
  return s.alias_of < 0 ? 0 : offset_in_root(plan, static_cast<std::size_t>(s.alias_of)) + s.alias_offset;
}

// Arena offsets. A block is a slot with the slots aliased into it; each of its pieces (the
// slot itself, each alias at its offset) lives from the step that writes it to the last step
// that reads it (own_life: before aliasing widened the block's), so a U-Net skip's Concat block
// is only half occupied until the upsampled half is written, and deeper levels can use that half
// meanwhile. Greedy by size (TensorFlow Lite's arena planner): largest block first, each at the
// lowest offset where none of its pieces meets a placed piece alive at the same time. U-Net16 at
// 768²: 153 MiB with first fit in order of first write and whole-block lives; 108 MiB with this.
void place_in_arena(Plan& plan, const std::vector<std::pair<int, int>>& own_life) {
  std::map<std::size_t, std::vector<Piece>> pieces;  // by root slot
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& slot = plan.slots[i];
    if (slot.storage != Storage::Arena) continue;
    pieces[root_of(plan, i)].push_back({offset_in_root(plan, i), static_cast<std::size_t>(element_count(slot.shape)), own_life[i].first, own_life[i].second});
  }
  struct Block {
    std::size_t root, size;
  };
  std::vector<Block> order;
  for (const auto& [root, list] : pieces) order.push_back({root, align_floats(static_cast<std::size_t>(element_count(plan.slots[root].shape)))});
  std::stable_sort(order.begin(), order.end(), [&](const Block& a, const Block& b) {
    return a.size != b.size ? a.size > b.size : plan.slots[a.root].first < plan.slots[b.root].first;
  });
  const auto same_time = [](const Piece& p, const Piece& q) { return !(p.last < q.first || q.last < p.first); };
  const auto meet = [&](const Piece& p, std::size_t at_p, const Piece& q, std::size_t at_q) {
    return same_time(p, q) && at_p + p.offset < at_q + q.offset + q.size && at_q + q.offset < at_p + p.offset + p.size;
  };
  std::vector<std::pair<const std::vector<Piece>*, std::size_t>> placed;  // a block's pieces, its offset
  for (const Block& block : order) {
    const auto& mine = pieces[block.root];
    // Candidate offsets: 0 and just past each placed piece alive at the same time as one of mine.
    std::vector<std::size_t> candidates{0};
    for (const auto& [theirs, at] : placed)
      for (const Piece& q : *theirs)
        for (const Piece& p : mine)
          if (same_time(p, q) && at + q.offset + q.size >= p.offset) candidates.push_back(at + q.offset + q.size - p.offset);
    std::sort(candidates.begin(), candidates.end());
    std::size_t offset = 0;
    for (std::size_t c : candidates) {
      bool clear = true;
      for (const auto& [theirs, at] : placed)
        for (const Piece& q : *theirs)
          for (const Piece& p : mine) clear = clear && !meet(p, c, q, at);
      if (clear) {
        offset = c;
        break;
      }
    }
    plan.slots[block.root].offset = offset;
    placed.emplace_back(&mine, offset);
    plan.arena_floats = std::max(plan.arena_floats, offset + block.size);
  }
  // Aliases sit at their offset inside their block (a Concat's, or a view's input's).
  for (std::size_t i = 0; i < plan.slots.size(); ++i)
    if (plan.slots[i].storage == Storage::Arena && plan.slots[i].alias_of >= 0)
      plan.slots[i].offset = plan.slots[root_of(plan, i)].offset + offset_in_root(plan, i);
}

}  // namespace

Plan make_plan(const Model::Impl& model, const std::vector<Tensor>& inputs) {
  PlanBuilder b{model.graph, model.options, {}, {}};
  add_input_slots(b, inputs);
  infer_and_fold(b, model);
  Plan& plan = b.plan;

  // Each slot's own life, before aliasing widens a joining step's output to cover its inputs'.
  std::vector<std::pair<int, int>> own_life;
  for (const Slot& slot : plan.slots) own_life.emplace_back(slot.first, slot.last);
  alias_joined_inputs(plan);
  alias_views(plan);
  place_in_arena(plan, own_life);

  if (plan.arena_floats * sizeof(float) > b.limits.max_plan_bytes)
    b.fail("running this input shape would need " + std::to_string((plan.arena_floats * sizeof(float)) >> 20) +
           " MiB of activations, over the limit of " + std::to_string(b.limits.max_plan_bytes >> 20) + " MiB");
  return std::move(b.plan);
}

}  // namespace detail
}  // namespace luojia::nn
