#include <luojia/nn/model.hpp>

#include "nn/layers/conv_gemm.hpp"
#include "nn/model_impl.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include <tbb/task_arena.h>

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

namespace {

// The kernel options reach the layers that use them as node attributes, as fused activations do.
void apply_kernel_options(detail::Graph& graph, const LoadOptions& options) {
  const std::string& w = options.winograd;
  if (w != "auto" && w != "off" && w != "f2" && w != "f4") throw UsageError("winograd", "is auto, off, f2 or f4, not '" + w + "'");
  layers::conv_gemm_for(options.isa);  // throws for an instruction set unknown or missing here
  for (auto& node : graph.nodes) {
    const std::string& op = node.op_type;
    // Fused nodes whose products run on the same kernels.
    const bool fused = node.domain == "luojia" && (op == "Attention" || op == "PointwiseDepthwise");
    if (!fused && (!node.domain.empty() || (op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul"))) continue;
    if (!options.isa.empty()) node.attributes.set("luojia.isa", options.isa);
    if (w != "auto" && op == "Conv") node.attributes.set("luojia.winograd", w);
  }
}

}  // namespace

Model Model::load(const std::string& path, const LayerRegistry& registry, const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->graph = detail::load_onnx(path, options);
  detail::optimise(impl->graph);
  apply_kernel_options(impl->graph, options);
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
std::string Model::kernel_isa() const { return std::string(layers::conv_gemm_for(impl_->options.isa).isa); }

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) const {
  Session session(*this);
  return session.run(inputs);
}

// ---- running (plans: plan.cpp) -----------------------------------------------------------------

struct Session::Impl {
  const Model::Impl* model;
  std::unique_ptr<tbb::task_arena> arena_threads;  // SessionOptions::threads > 0
  std::map<std::vector<Shape>, detail::Plan> plans;
  Tensor arena;  // grows to the largest plan's need, then is reused
  const detail::Plan* last = nullptr;
  bool profiling = false;
  std::vector<LayerTime> times;
  std::unordered_map<const Layer*, std::size_t> time_of;  // a node's entry in times
  // The last plan's output tensors, reused (zeroed) when the caller has let go of them: a fresh
  // output per run costs a page fault per 4 KiB once the allocator hands the memory back to the
  // system (measured: 16 MB of Tanh output took 47-60 ms a run instead of 2.5 on this VM). Only
  // the last plan's: kept for every plan, a tiled raster's edge and corner tiles would hold four
  // sets per session that no memory budget counts.
  const detail::Plan* kept_for = nullptr;
  std::vector<Tensor> kept_outputs;
};

Session::Session(const Model& model, const SessionOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->model = model.impl_.get();
  if (options.threads < 0) throw UsageError("threads", "must not be negative");
  if (options.threads > 0) impl_->arena_threads = std::make_unique<tbb::task_arena>(options.threads);
}
Session::Session(Session&&) noexcept = default;
Session::~Session() = default;

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) {
  if (impl_->arena_threads) {
    std::vector<Tensor> results;
    impl_->arena_threads->execute([&] { results = run_here(inputs); });
    return results;
  }
  return run_here(inputs);
}

std::vector<Tensor> Session::run_here(const std::vector<Tensor>& inputs) {
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
  std::vector<Tensor>& kept = self.kept_outputs;
  if (self.kept_for != &plan) {
    kept.clear();
    self.kept_for = &plan;
  }
  kept.resize(plan.slots.size());
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    const detail::Slot& s = plan.slots[i];
    switch (s.storage) {
      case detail::Storage::Constant: case detail::Storage::Owned: tensors[i] = s.tensor; break;
      case detail::Storage::Input: tensors[i] = inputs[static_cast<std::size_t>(s.input_index)]; break;
      case detail::Storage::Arena: tensors[i] = Tensor::view(self.arena.data() + s.offset, s.shape); break;
      case detail::Storage::Output:
        // As a new Tensor would be: zero-filled, and no one else's.
        if (kept[i].sole_owner() && kept[i].shape() == s.shape && kept[i].type() == s.type) {
          std::memset(kept[i].data(), 0, static_cast<std::size_t>(kept[i].size()) * (s.type == ElementType::Int64 ? 8 : 4));
        } else {
          kept[i] = Tensor(s.shape, s.type);
        }
        tensors[i] = kept[i];
        break;
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

std::size_t Session::output_bytes() const noexcept {
  if (!impl_->last) return 0;
  std::size_t bytes = 0;
  for (const detail::Slot& s : impl_->last->slots)
    if (s.storage == detail::Storage::Output)
      bytes += static_cast<std::size_t>(element_count(s.shape)) * (s.type == ElementType::Int64 ? 8 : 4);
  return bytes;
}

std::size_t Session::planned_shapes() const noexcept { return impl_->plans.size(); }

void Session::profile(bool on) {
  impl_->profiling = on;
  impl_->times.clear();
  impl_->time_of.clear();
}

const std::vector<LayerTime>& Session::layer_times() const noexcept { return impl_->times; }

}  // namespace luojia::nn
