#include <luojia/nn/model.hpp>

#include "nn/model_impl.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <unordered_map>

namespace luojia::nn {


Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

namespace {

ModelMetadata read_metadata(const detail::Graph& g) {
  namespace fs = std::filesystem;
  const fs::path sidecar = fs::path(g.path).replace_extension(".json");
  std::error_code ec;
  if (fs::exists(sidecar, ec)) {
    std::ifstream in(sidecar);
    std::stringstream text;
    text << in.rdbuf();
    ModelMetadata m = parse_model_metadata(text.str(), sidecar.string());
    m.source = "sidecar " + sidecar.string();
    m.properties = g.metadata_props;
    return m;
  }
  return parse_metadata_props(g.metadata_props, g.path);
}

}  // namespace

namespace {

// The node's layer, given the values of its constant inputs once (prepare).
std::unique_ptr<Layer> create_layer(const LayerRegistry& registry, const NodeInfo& node, const detail::Graph& graph) {
  auto layer = registry.create(node);
  std::vector<ValueInfo> inputs;
  for (const auto& name : node.inputs) {
    ValueInfo v;
    v.present = !name.empty();
    if (const auto it = graph.initializers.find(name); it != graph.initializers.end()) {
      v.value = it->second;
      v.shape = it->second.shape();
      v.type = it->second.type();
    }
    inputs.push_back(std::move(v));
  }
  layer->prepare(inputs);
  return layer;
}

}  // namespace

std::vector<OperatorUse> list_operators(const std::string& path, const LayerRegistry& registry, const LoadOptions& options) {
  const detail::Graph g = detail::load_onnx(path, options);
  std::vector<OperatorUse> uses;
  for (const NodeInfo& node : g.nodes) {
    auto it = std::find_if(uses.begin(), uses.end(), [&](const OperatorUse& u) {
      return u.domain == node.domain && u.op_type == node.op_type;
    });
    if (it == uses.end()) {
      OperatorUse use;
      use.domain = node.domain;
      use.op_type = node.op_type;
      use.opset = node.opset;
      use.supported = true;
      uses.push_back(use);
      it = uses.end() - 1;
    }
    ++it->nodes;
    // Constant nodes become initializers at load; every other node needs a layer that takes it.
    if (node.op_type == "Constant" && node.domain.empty()) continue;
    if (!it->supported) continue;
    try {
      (void)registry.create(node);
    } catch (const Error& e) {
      it->supported = false;
      it->problem = e.message();
    }
  }
  return uses;
}

Model Model::load(const std::string& path, const LayerRegistry& registry, const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->graph = detail::load_onnx(path, options);
  detail::optimise(impl->graph);
  impl->metadata = read_metadata(impl->graph);
  for (const auto& node : impl->graph.nodes) {
    try {
      impl->layers.push_back(create_layer(registry, node, impl->graph));
    } catch (const Error& e) {
      if (!e.context().node.empty()) throw;
      e.rethrow_with(ErrorContext{path, {}, {}, node.describe()});
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw ModelError(std::string("malformed node: ") + e.what(), ErrorContext{path, {}, {}, node.describe()});
    }
  }
  return Model(std::move(impl));
}

const std::string& Model::path() const noexcept { return impl_->graph.path; }
const std::vector<TensorSpec>& Model::inputs() const noexcept { return impl_->graph.inputs; }
const std::vector<TensorSpec>& Model::outputs() const noexcept { return impl_->graph.outputs; }
const ModelMetadata& Model::metadata() const noexcept { return impl_->metadata; }
int Model::opset() const noexcept { return impl_->graph.opset; }
std::size_t Model::node_count() const noexcept { return impl_->graph.nodes.size(); }

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) const {
  Session session(*this);
  return session.run(inputs);
}

// ---- planning and running ---------------------------------------------------------------------

struct Session::Impl {
  const Model::Impl* model;
  std::map<std::vector<Shape>, detail::Plan> plans;
  Tensor arena;  // grows to the largest plan's need, then is reused
  const detail::Plan* last = nullptr;
  bool profiling = false;
  std::vector<LayerTime> times;
  std::unordered_map<const Layer*, std::size_t> time_of;  // a node's entry in times
};

namespace detail {

namespace {

std::size_t align_floats(std::size_t n) { return (n + 15) / 16 * 16; }  // 64-byte starts

}  // namespace

Plan make_plan(const Model::Impl& model, const std::vector<Tensor>& inputs) {
  const Graph& g = model.graph;
  const LoadOptions& limits = model.options;
  auto fail = [&g](const std::string& message, const std::string& node = {}) {
    throw ModelError(message, ErrorContext{g.path, {}, {}, node});
  };
  Plan plan;
  std::unordered_map<std::string, int> slot_of;
  auto add_slot = [&](Slot slot) {
    plan.slots.push_back(std::move(slot));
    return static_cast<int>(plan.slots.size()) - 1;
  };
  if (inputs.size() != g.inputs.size())
    fail("the model takes " + std::to_string(g.inputs.size()) + " input(s), not " + std::to_string(inputs.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec& spec = g.inputs[i];
    const Shape& shape = inputs[i].shape();
    bool fits = spec.shape.empty() || spec.shape.size() == shape.size();
    for (std::size_t d = 0; fits && d < spec.shape.size(); ++d) fits = spec.shape[d] < 0 || spec.shape[d] == shape[d];
    if (!fits)
      fail("input '" + spec.name + "' expects shape " + to_string(spec.shape) + " (-1: any), not " + to_string(shape));
    Slot slot;
    slot.shape = shape;
    slot.type = inputs[i].type();
    slot.storage = Storage::Input;
    slot.input_index = static_cast<int>(i);
    slot_of[spec.name] = add_slot(std::move(slot));
  }
  auto slot_for = [&](const std::string& name) -> int {
    if (const auto it = slot_of.find(name); it != slot_of.end()) return it->second;
    const auto init = g.initializers.find(name);
    if (init == g.initializers.end()) fail("value '" + name + "' is not defined");
    Slot slot;
    slot.shape = init->second.shape();
    slot.type = init->second.type();
    slot.storage = Storage::Constant;
    slot.tensor = init->second;
    return slot_of[name] = add_slot(std::move(slot));
  };
  auto is_output = [&](const std::string& name) {
    for (std::size_t k = 0; k < g.outputs.size(); ++k)
      if (g.outputs[k].name == name) return static_cast<int>(k);
    return -1;
  };

  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    const NodeInfo& node = g.nodes[n];
    const Layer& layer = *model.layers[n];
    std::vector<int> in_slots;
    std::vector<ValueInfo> infos;
    bool all_constant = true;
    for (const auto& name : node.inputs) {
      ValueInfo v;
      if (name.empty()) {
        v.present = false;
        in_slots.push_back(-1);
      } else {
        const int id = slot_for(name);
        const detail::Slot& s = plan.slots[static_cast<std::size_t>(id)];
        v.shape = s.shape;
        v.type = s.type;
        if (s.storage == Storage::Constant) v.value = s.tensor;
        else all_constant = false;
        in_slots.push_back(id);
      }
      infos.push_back(std::move(v));
    }
    std::vector<ValueInfo> outs;
    try {
      outs = layer.infer(infos);
    } catch (const Error& e) {
      if (!e.context().node.empty()) throw;
      fail(e.message(), node.describe());
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      // A layer's own checks missed something (a crafted node without inputs, say): still one
      // error naming the node, never a crash.
      fail(std::string("malformed node: ") + e.what(), node.describe());
    }
    if (outs.size() < node.outputs.size())
      fail("shape inference gave " + std::to_string(outs.size()) + " outputs for " +
           std::to_string(node.outputs.size()), node.describe());
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      double elements = 1;
      for (std::int64_t d : outs[k].shape) {
        if (d < 0) fail("shape inference gave a negative dimension: " + to_string(outs[k].shape), node.describe());
        elements *= static_cast<double>(d);
      }
      const double bytes = elements * (outs[k].type == ElementType::Int64 ? 8 : 4);
      if (bytes > static_cast<double>(limits.max_tensor_bytes))
        fail("output " + to_string(outs[k].shape) + " would need " + std::to_string(static_cast<long long>(bytes / 1048576)) +
             " MiB, over the limit of " + std::to_string(limits.max_tensor_bytes >> 20) + " MiB per tensor", node.describe());
    }
    if (all_constant && !node.inputs.empty()) {
      // Folded now, once per input shape: shape arithmetic and anything else on constants.
      std::vector<Tensor> in_t, out_t;
      for (int id : in_slots) in_t.push_back(id < 0 ? Tensor() : plan.slots[static_cast<std::size_t>(id)].tensor);
      for (std::size_t k = 0; k < node.outputs.size(); ++k) out_t.emplace_back(outs[k].shape, outs[k].type);
      layer.forward(in_t, out_t);
      for (std::size_t k = 0; k < node.outputs.size(); ++k) {
        Slot slot;
        slot.shape = outs[k].shape;
        slot.type = outs[k].type;
        slot.storage = Storage::Constant;
        slot.tensor = out_t[k];
        if (!node.outputs[k].empty()) slot_of[node.outputs[k]] = add_slot(std::move(slot));
      }
      continue;
    }
    Step step;
    step.layer = &layer;
    step.inputs = in_slots;
    const int index = static_cast<int>(plan.steps.size());
    for (int id : in_slots)
      if (id >= 0) plan.slots[static_cast<std::size_t>(id)].last = index;
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      Slot slot;
      slot.shape = outs[k].shape;
      slot.type = outs[k].type;
      slot.first = slot.last = index;
      if (outs[k].value) {
        slot.storage = Storage::Constant;
        slot.tensor = *outs[k].value;
      } else if (const int o = is_output(node.outputs[k]); o >= 0) {
        slot.storage = Storage::Output;
        slot.output_index = o;
      } else if (slot.type == ElementType::Int64) {
        slot.storage = Storage::Owned;
        slot.tensor = Tensor(slot.shape, ElementType::Int64);
      } else {
        slot.storage = Storage::Arena;
      }
      const int id = add_slot(std::move(slot));
      if (!node.outputs[k].empty()) slot_of[node.outputs[k]] = id;
      step.outputs.push_back(id);
    }
    plan.steps.push_back(std::move(step));
  }
  for (const auto& o : g.outputs) plan.outputs.push_back(slot_for(o.name));

  // Each slot's own life, before Concat aliasing widens a Concat's to cover its inputs'.
  std::vector<std::pair<int, int>> own_life;
  for (const Slot& slot : plan.slots) own_life.emplace_back(slot.first, slot.last);

  // Concat along channels of a batch of one: inputs computed in the same run get their place in
  // the output, so no copy is made and both never coexist (U-Net skips are the big saving).
  for (const Step& step : plan.steps) {
    const NodeInfo& node = step.layer->node();
    if (node.op_type != "Concat" || !node.domain.empty() || step.outputs.size() != 1) continue;
    Slot& out = plan.slots[static_cast<std::size_t>(step.outputs[0])];
    if (out.storage != Storage::Arena || out.type != ElementType::Float32 || out.shape.size() < 2) continue;
    std::int64_t axis = node.attributes.get_int("axis", 0);
    if (axis < 0) axis += static_cast<std::int64_t>(out.shape.size());
    bool contiguous = axis >= 0 && axis < static_cast<std::int64_t>(out.shape.size());
    for (std::int64_t d = 0; contiguous && d < axis; ++d) contiguous = out.shape[static_cast<std::size_t>(d)] == 1;
    if (!contiguous) continue;
    std::vector<int> ids = step.inputs;
    std::sort(ids.begin(), ids.end());
    bool usable = std::adjacent_find(ids.begin(), ids.end()) == ids.end();
    for (int id : step.inputs) {
      const Slot& in = plan.slots[static_cast<std::size_t>(id < 0 ? 0 : id)];
      usable = usable && id >= 0 && in.storage == Storage::Arena && in.alias_of < 0 && in.type == ElementType::Float32;
    }
    if (!usable) continue;
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

  // Arena offsets. A block is a slot with the slots aliased into it; each of its pieces (the
  // slot itself, each alias at its offset) lives from the step that writes it to the last step
  // that reads it, so a U-Net skip's Concat block is only half occupied until the upsampled half
  // is written, and deeper levels can use that half meanwhile. Greedy by size (TensorFlow Lite's
  // arena planner): largest block first, each at the lowest offset where none of its pieces meets
  // a placed piece alive at the same time. U-Net16 at 768²: 153 MiB with first fit in order of
  // first write and whole-block lives; 108 MiB with this.
  struct Piece {
    std::size_t offset, size;  // within the block, floats
    int first, last;
  };
  const std::function<std::size_t(std::size_t)> offset_in_root = [&](std::size_t i) -> std::size_t {
    const Slot& s = plan.slots[i];
    return s.alias_of < 0 ? 0 : offset_in_root(static_cast<std::size_t>(s.alias_of)) + s.alias_offset;
  };
  const std::function<std::size_t(std::size_t)> root_of = [&](std::size_t i) -> std::size_t {
    const Slot& s = plan.slots[i];
    return s.alias_of < 0 ? i : root_of(static_cast<std::size_t>(s.alias_of));
  };
  std::map<std::size_t, std::vector<Piece>> pieces;  // by root slot
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& slot = plan.slots[i];
    if (slot.storage != Storage::Arena) continue;
    pieces[root_of(i)].push_back({offset_in_root(i), static_cast<std::size_t>(element_count(slot.shape)), own_life[i].first, own_life[i].second});
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
  // Aliases sit at their offset inside their Concat's block (which may itself be an alias).
  for (std::size_t i = 0; i < plan.slots.size(); ++i)
    if (plan.slots[i].storage == Storage::Arena && plan.slots[i].alias_of >= 0)
      plan.slots[i].offset = plan.slots[root_of(i)].offset + offset_in_root(i);
  if (plan.arena_floats * sizeof(float) > limits.max_plan_bytes)
    fail("running this input shape would need " + std::to_string((plan.arena_floats * sizeof(float)) >> 20) +
         " MiB of activations, over the limit of " + std::to_string(limits.max_plan_bytes >> 20) + " MiB");
  return plan;
}

}  // namespace detail

Session::Session(const Model& model) : impl_(std::make_unique<Impl>()) { impl_->model = model.impl_.get(); }
Session::Session(Session&&) noexcept = default;
Session::~Session() = default;

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) {
  Impl& self = *impl_;
  std::vector<Shape> key;
  for (const auto& t : inputs) key.push_back(t.shape());
  auto it = self.plans.find(key);
  if (it == self.plans.end()) it = self.plans.emplace(key, detail::make_plan(*self.model, inputs)).first;
  const detail::Plan& plan = it->second;
  self.last = &plan;
  if (static_cast<std::size_t>(self.arena.size()) < plan.arena_floats) {
    self.arena = Tensor();  // the old arena goes before the new one comes: never both at once
    self.arena = Tensor(Shape{static_cast<std::int64_t>(plan.arena_floats)});
  }

  std::vector<Tensor> results(plan.outputs.size());
  std::vector<Tensor> tensors(plan.slots.size());
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    const detail::Slot& s = plan.slots[i];
    switch (s.storage) {
      case detail::Storage::Constant: case detail::Storage::Owned: tensors[i] = s.tensor; break;
      case detail::Storage::Input: tensors[i] = inputs[static_cast<std::size_t>(s.input_index)]; break;
      case detail::Storage::Arena: tensors[i] = Tensor::view(self.arena.data() + s.offset, s.shape); break;
      case detail::Storage::Output: tensors[i] = Tensor(s.shape, s.type); break;
    }
  }
  std::vector<Tensor> in, out;
  for (const detail::Step& step : plan.steps) {
    in.clear();
    out.clear();
    for (int id : step.inputs) in.push_back(id < 0 ? Tensor() : tensors[static_cast<std::size_t>(id)]);
    for (int id : step.outputs) out.push_back(tensors[static_cast<std::size_t>(id)]);
    if (!self.profiling) {
      step.layer->forward(in, out);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    step.layer->forward(in, out);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto [entry, added] = self.time_of.try_emplace(step.layer, self.times.size());
    if (added) self.times.push_back(LayerTime{step.layer->node().name, step.layer->node().op_type, {}, 0.0, 0});
    LayerTime& time = self.times[entry->second];
    time.output = out.empty() ? Shape{} : out.front().shape();
    time.seconds += seconds;
    ++time.runs;
  }
  for (std::size_t k = 0; k < plan.outputs.size(); ++k) {
    const detail::Slot& s = plan.slots[static_cast<std::size_t>(plan.outputs[k])];
    results[k] = s.storage == detail::Storage::Output ? tensors[static_cast<std::size_t>(plan.outputs[k])]
                                              : tensors[static_cast<std::size_t>(plan.outputs[k])].clone();
  }
  return results;
}

std::size_t Session::peak_bytes() const noexcept {
  return impl_->last ? impl_->last->arena_floats * sizeof(float) : 0;
}

std::size_t Session::planned_shapes() const noexcept { return impl_->plans.size(); }

void Session::profile(bool on) {
  impl_->profiling = on;
  impl_->times.clear();
  impl_->time_of.clear();
}

const std::vector<LayerTime>& Session::layer_times() const noexcept { return impl_->times; }

}  // namespace luojia::nn
