// Load-time graph rewrites. Each keeps the graph's results and removes work from every run.
#include "nn/graph.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace luojia::nn::detail {
namespace {

bool is_graph_output(const Graph& g, const std::string& name) {
  for (const auto& o : g.outputs)
    if (o.name == name) return true;
  return false;
}

std::vector<std::size_t> consumers(const Graph& g, const std::string& value) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs)
      if (in == value) {
        out.push_back(i);
        break;
      }
  return out;
}

void rename_uses(Graph& g, const std::string& from, const std::string& to) {
  for (auto& n : g.nodes)
    for (auto& in : n.inputs)
      if (in == from) in = to;
}

const Tensor* constant(const Graph& g, const NodeInfo& n, std::size_t i) {
  if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
  const auto it = g.initializers.find(n.inputs[i]);
  return it == g.initializers.end() ? nullptr : &it->second;
}

std::string fresh_name(const Graph& g, const std::string& base) {
  std::string name = base;
  for (int k = 1; g.initializers.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

// Constant nodes become initializers.
void hoist_constants(Graph& g) {
  std::vector<NodeInfo> kept;
  for (auto& n : g.nodes) {
    if (n.op_type != "Constant" || !n.domain.empty() || n.outputs.size() != 1) {
      kept.push_back(std::move(n));
      continue;
    }
    const Attributes& a = n.attributes;
    Tensor value;
    if (auto t = a.get_tensor("value")) value = *t;
    else if (a.has("value_float")) value = Tensor::scalar(a.get_float("value_float", 0));
    else if (a.has("value_floats")) value = Tensor::from_floats(a.get_floats("value_floats"));
    else if (a.has("value_int")) value = Tensor::from_ints({a.get_int("value_int", 0)}, {});
    else if (a.has("value_ints")) value = Tensor::from_ints(a.get_ints("value_ints"));
    else throw ModelError("Constant without a supported value attribute", ErrorContext{g.path, {}, {}, n.describe()});
    g.initializers[n.outputs[0]] = value;
  }
  g.nodes = std::move(kept);
}

// Identity and Dropout (inference) pass their input through.
// A Pad whose pads are all zero (PyTorch 1.13 exports avg_pool2d as one before AveragePool).
bool pads_nothing(const Graph& g, const NodeInfo& n) {
  if (n.op_type != "Pad" || !n.domain.empty()) return false;
  const Tensor* given = n.opset < 11 ? nullptr : constant(g, n, 1);
  if (n.opset >= 11 && (!given || given->type() != ElementType::Int64)) return false;
  const auto pads = given ? given->to_ints() : n.attributes.get_ints("pads");
  return std::all_of(pads.begin(), pads.end(), [](std::int64_t p) { return p == 0; });
}

void remove_identities(Graph& g) {
  std::vector<NodeInfo> kept;
  for (auto& n : g.nodes) {
    const bool passthrough = n.domain.empty() && (n.op_type == "Identity" || n.op_type == "Dropout" || pads_nothing(g, n)) &&
                             !n.inputs.empty() && !n.outputs.empty() && !is_graph_output(g, n.outputs[0]);
    if (!passthrough) {
      kept.push_back(std::move(n));
      continue;
    }
    if (n.op_type == "Dropout" && n.outputs.size() > 1 && !n.outputs[1].empty() && !consumers(g, n.outputs[1]).empty()) {
      kept.push_back(std::move(n));  // its mask is used: keep the layer
      continue;
    }
    rename_uses(g, n.outputs[0], n.inputs[0]);
  }
  g.nodes = std::move(kept);
}

// Conv -> BatchNormalization with constant parameters: scale the conv's weights and bias.
void fold_batch_norms(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeInfo& conv = g.nodes[i];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    const auto users = consumers(g, conv.outputs[0]);
    if (users.size() != 1 || is_graph_output(g, conv.outputs[0])) continue;
    NodeInfo& bn = g.nodes[users[0]];
    if (bn.op_type != "BatchNormalization" || bn.inputs.size() < 5 || bn.inputs[0] != conv.outputs[0]) continue;
    const Tensor* w = constant(g, conv, 1);
    const Tensor* b = constant(g, conv, 2);
    const Tensor* gamma = constant(g, bn, 1);
    const Tensor* beta = constant(g, bn, 2);
    const Tensor* mean = constant(g, bn, 3);
    const Tensor* var = constant(g, bn, 4);
    if (!w || !gamma || !beta || !mean || !var || (conv.inputs.size() > 2 && !conv.inputs[2].empty() && !b)) continue;
    const std::int64_t cout = w->dim(0);
    if (gamma->size() != cout || beta->size() != cout || mean->size() != cout || var->size() != cout) continue;
    const float eps = bn.attributes.get_float("epsilon", 1e-5f);
    Tensor new_w = w->clone();
    Tensor new_b(Shape{cout});
    const std::int64_t per_out = w->size() / cout;
    for (std::int64_t c = 0; c < cout; ++c) {
      const float s = gamma->data()[c] / std::sqrt(var->data()[c] + eps);
      for (std::int64_t k = 0; k < per_out; ++k) new_w.data()[c * per_out + k] *= s;
      const float bias = b ? b->data()[c] : 0.0f;
      new_b.data()[c] = (bias - mean->data()[c]) * s + beta->data()[c];
    }
    const std::string wname = fresh_name(g, conv.inputs[1] + "_bn");
    const std::string bname = fresh_name(g, conv.name + "_bias_bn");
    g.initializers[wname] = new_w;
    g.initializers[bname] = new_b;
    conv.inputs.resize(3);
    conv.inputs[1] = wname;
    conv.inputs[2] = bname;
    conv.outputs[0] = bn.outputs[0];
    removed.insert(users[0]);
  }
  std::vector<NodeInfo> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

// Conv -> Add(conv, r): the conv adds r to its output while it is in cache (a ResNet block's
// shortcut), and an activation after the Add is then fused as after any Conv. r must be computed
// before the conv in node order (of a bottleneck's conv3 and its downsampling conv, the later one
// takes the other's output) and not be a constant (a bias, which BatchNorm folding handles).
void fuse_residual_adds(Graph& g) {
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs) producer[o] = i;
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeInfo& conv = g.nodes[i];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || conv.inputs.size() < 2 ||
        conv.inputs.size() > 3 || conv.attributes.has("luojia.activation") || is_graph_output(g, conv.outputs[0]))
      continue;
    const auto users = consumers(g, conv.outputs[0]);
    if (users.size() != 1 || removed.count(users[0])) continue;
    const NodeInfo& add = g.nodes[users[0]];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2 || add.outputs.size() != 1 || add.inputs[0] == add.inputs[1])
      continue;
    const std::string& r = add.inputs[0] == conv.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (g.initializers.count(r)) continue;
    const auto from = producer.find(r);
    if (from != producer.end() && (from->second >= i || removed.count(from->second))) continue;
    conv.inputs.resize(4);  // X, W, B ("" when none), the residual
    conv.inputs[3] = r;
    conv.attributes.set("luojia.residual", std::int64_t{1});
    conv.outputs[0] = add.outputs[0];
    producer[add.outputs[0]] = i;
    removed.insert(users[0]);
  }
  std::vector<NodeInfo> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

// SiLU as PyTorch exports it: y = Mul(x, Sigmoid(x)), x read by the two alone and the Sigmoid's
// output by the Mul alone. Returns the Sigmoid's and the Mul's node indices.
std::optional<std::pair<std::size_t, std::size_t>> silu_after(const Graph& g, const std::string& x, const std::vector<std::size_t>& users) {
  if (users.size() != 2) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    const NodeInfo& sig = g.nodes[users[static_cast<std::size_t>(k)]];
    const NodeInfo& mul = g.nodes[users[static_cast<std::size_t>(1 - k)]];
    if (sig.op_type != "Sigmoid" || !sig.domain.empty() || sig.outputs.size() != 1 || mul.op_type != "Mul" || !mul.domain.empty() ||
        mul.inputs.size() != 2 || mul.outputs.size() != 1 || is_graph_output(g, sig.outputs[0]))
      continue;
    const bool pair = (mul.inputs[0] == x && mul.inputs[1] == sig.outputs[0]) || (mul.inputs[1] == x && mul.inputs[0] == sig.outputs[0]);
    if (pair && consumers(g, sig.outputs[0]).size() == 1)
      return std::pair{users[static_cast<std::size_t>(k)], users[static_cast<std::size_t>(1 - k)]};
  }
  return std::nullopt;
}

// Conv -> activation: the conv applies it while its output is still in cache.
void fuse_activations(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeInfo& conv = g.nodes[i];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 ||
        conv.attributes.has("luojia.activation"))
      continue;
    const auto users = consumers(g, conv.outputs[0]);
    if (is_graph_output(g, conv.outputs[0])) continue;
    if (const auto silu = silu_after(g, conv.outputs[0], users)) {
      conv.attributes.set("luojia.activation", std::string("Silu"));
      conv.attributes.set("luojia.activation_params", std::vector<float>{});
      conv.outputs[0] = g.nodes[silu->second].outputs[0];
      removed.insert(silu->first);
      removed.insert(silu->second);
      continue;
    }
    if (users.size() != 1) continue;
    const NodeInfo& act = g.nodes[users[0]];
    if (!act.domain.empty() || act.outputs.size() != 1 || act.inputs.empty() || act.inputs[0] != conv.outputs[0]) continue;
    std::vector<float> params;
    const std::string& op = act.op_type;
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") {
    } else if (op == "LeakyRelu") {
      params = {act.attributes.get_float("alpha", 0.01f)};
    } else if (op == "HardSigmoid") {
      params = {act.attributes.get_float("alpha", 0.2f), act.attributes.get_float("beta", 0.5f)};
    } else if (op == "Clip") {
      float lo = -INFINITY, hi = INFINITY;
      if (act.opset < 11) {
        lo = act.attributes.get_float("min", lo);
        hi = act.attributes.get_float("max", hi);
      } else {
        const Tensor* tmin = constant(g, act, 1);
        const Tensor* tmax = constant(g, act, 2);
        if ((act.inputs.size() > 1 && !act.inputs[1].empty() && !tmin) ||
            (act.inputs.size() > 2 && !act.inputs[2].empty() && !tmax))
          continue;
        if (tmin) lo = tmin->to_floats().at(0);
        if (tmax) hi = tmax->to_floats().at(0);
      }
      params = {lo, hi};
    } else {
      continue;
    }
    conv.attributes.set("luojia.activation", op);
    conv.attributes.set("luojia.activation_params", params);
    conv.outputs[0] = act.outputs[0];
    removed.insert(users[0]);
  }
  std::vector<NodeInfo> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

// Nodes nothing reads and that are no graph output.
void remove_dead_nodes(Graph& g) {
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> used;
    for (const auto& n : g.nodes)
      for (const auto& in : n.inputs) used.insert(in);
    for (const auto& o : g.outputs) used.insert(o.name);
    std::vector<NodeInfo> kept;
    for (auto& n : g.nodes) {
      bool live = false;
      for (const auto& o : n.outputs) live = live || (!o.empty() && used.count(o));
      if (live) kept.push_back(std::move(n));
      else changed = true;
    }
    g.nodes = std::move(kept);
  }
}

}  // namespace

void optimise(Graph& g) {
  hoist_constants(g);
  remove_identities(g);
  fold_batch_norms(g);
  fuse_residual_adds(g);
  fuse_activations(g);
  remove_dead_nodes(g);
}

}  // namespace luojia::nn::detail
