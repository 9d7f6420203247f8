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

// Drops the nodes at these indices, keeping the others' order.
void erase_nodes(Graph& g, const std::set<std::size_t>& removed) {
  std::vector<NodeInfo> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
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
  erase_nodes(g, removed);
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
  erase_nodes(g, removed);
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

// The fused form of an activation node: its name for ActivationFn::from and its parameters, or
// nothing when it is not one the kernels apply.
std::optional<std::pair<std::string, std::vector<float>>> fusable_activation(const Graph& g, const NodeInfo& act) {
  const std::string& op = act.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return std::pair{op, std::vector<float>{}};
  if (op == "LeakyRelu") return std::pair{op, std::vector<float>{act.attributes.get_float("alpha", 0.01f)}};
  if (op == "HardSigmoid")
    return std::pair{op, std::vector<float>{act.attributes.get_float("alpha", 0.2f), act.attributes.get_float("beta", 0.5f)}};
  if (op == "Gelu") {
    const std::string approximate = act.attributes.get_string("approximate", "none");
    if (approximate == "none") return std::pair{std::string("Gelu"), std::vector<float>{}};
    if (approximate == "tanh") return std::pair{std::string("GeluTanh"), std::vector<float>{}};
    return std::nullopt;  // the layer reports the bad attribute
  }
  if (op == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    if (act.opset < 11) {
      lo = act.attributes.get_float("min", lo);
      hi = act.attributes.get_float("max", hi);
    } else {
      const Tensor* tmin = constant(g, act, 1);
      const Tensor* tmax = constant(g, act, 2);
      if ((act.inputs.size() > 1 && !act.inputs[1].empty() && !tmin) || (act.inputs.size() > 2 && !act.inputs[2].empty() && !tmax))
        return std::nullopt;
      if (tmin) lo = tmin->to_floats().at(0);
      if (tmax) hi = tmax->to_floats().at(0);
    }
    return std::pair{op, std::vector<float>{lo, hi}};
  }
  return std::nullopt;
}

// A Linear layer as exported, MatMul(x, W) then Add(., b) with W a 2-D weight and b one value per
// output column: the bias becomes the MatMul's third input, added in the GEMM's epilogue while
// each tile of the output is in cache, instead of one more pass over the output.
void fuse_linear_biases(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeInfo& matmul = g.nodes[i];
    if (matmul.op_type != "MatMul" || !matmul.domain.empty() || matmul.inputs.size() != 2 || matmul.outputs.size() != 1 ||
        is_graph_output(g, matmul.outputs[0]))
      continue;
    const auto weight = g.initializers.find(matmul.inputs[1]);
    if (weight == g.initializers.end() || weight->second.rank() != 2 || weight->second.type() != ElementType::Float32) continue;
    const auto users = consumers(g, matmul.outputs[0]);
    if (users.size() != 1 || removed.count(users[0])) continue;
    const NodeInfo& add = g.nodes[users[0]];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2 || add.outputs.size() != 1 || add.inputs[0] == add.inputs[1])
      continue;
    const std::string& b = add.inputs[0] == matmul.outputs[0] ? add.inputs[1] : add.inputs[0];
    const auto bias = g.initializers.find(b);
    if (bias == g.initializers.end() || bias->second.rank() != 1 || bias->second.dim(0) != weight->second.dim(1) ||
        bias->second.type() != ElementType::Float32)
      continue;
    matmul.inputs.push_back(b);
    matmul.outputs[0] = add.outputs[0];
    removed.insert(users[0]);
  }
  erase_nodes(g, removed);
}

// Conv, MatMul or Gemm -> activation: the product applies it while its output is still in cache.
// So does a BatchNormalization left standing (DenseNet's on each concatenation, then ReLU: one
// pass over the features instead of two).
void fuse_activations(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    NodeInfo& node = g.nodes[i];
    const std::string& type = node.op_type;
    if ((type != "Conv" && type != "MatMul" && type != "Gemm" && type != "BatchNormalization") || !node.domain.empty() || node.outputs.size() != 1 ||
        node.attributes.has("luojia.activation"))
      continue;
    const auto users = consumers(g, node.outputs[0]);
    if (is_graph_output(g, node.outputs[0])) continue;
    if (const auto silu = silu_after(g, node.outputs[0], users)) {
      node.attributes.set("luojia.activation", std::string("Silu"));
      node.attributes.set("luojia.activation_params", std::vector<float>{});
      node.outputs[0] = g.nodes[silu->second].outputs[0];
      removed.insert(silu->first);
      removed.insert(silu->second);
      continue;
    }
    if (users.size() != 1) continue;
    const NodeInfo& act = g.nodes[users[0]];
    if (!act.domain.empty() || act.outputs.size() != 1 || act.inputs.empty() || act.inputs[0] != node.outputs[0]) continue;
    const auto fused = fusable_activation(g, act);
    if (!fused) continue;
    node.attributes.set("luojia.activation", fused->first);
    node.attributes.set("luojia.activation_params", fused->second);
    node.outputs[0] = act.outputs[0];
    removed.insert(users[0]);
  }
  erase_nodes(g, removed);
}

// The node that writes value, if a node does.
std::optional<std::size_t> producer(const Graph& g, const std::string& value) {
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& o : g.nodes[i].outputs)
      if (o == value) return i;
  return std::nullopt;
}

bool is_op(const NodeInfo& n, const char* op, std::size_t inputs) {
  return n.op_type == op && n.domain.empty() && n.inputs.size() == inputs && n.outputs.size() == 1;
}

// A constant input's single value, if it is one.
std::optional<float> scalar_constant(const Graph& g, const NodeInfo& n, std::size_t i) {
  const Tensor* t = constant(g, n, i);
  if (!t || t->size() != 1) return std::nullopt;
  return t->to_floats()[0];
}

// The other input of a two-input node, given one; empty if value is not an input.
std::string other_input(const NodeInfo& n, const std::string& value) {
  if (n.inputs.size() != 2) return {};
  if (n.inputs[0] == value) return n.inputs[1];
  if (n.inputs[1] == value) return n.inputs[0];
  return {};
}

// value read by one node alone and no graph output: an intermediate a fusion may swallow.
std::optional<std::size_t> sole_user(const Graph& g, const std::string& value) {
  if (is_graph_output(g, value)) return std::nullopt;
  const auto users = consumers(g, value);
  if (users.size() != 1) return std::nullopt;
  return users[0];
}

bool near(float value, double want) { return std::fabs(static_cast<double>(value) - want) <= 1e-6 * std::fabs(want); }

// GELU as PyTorch exports it before opset 20: x * (1 + Erf(x / sqrt 2)) * 0.5 (Div or Mul by
// 1 / sqrt 2, the half on either product) becomes one Gelu node: one vectorised pass instead of
// five over the tensor.
void fuse_gelus(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t e = 0; e < g.nodes.size(); ++e) {
    if (!is_op(g.nodes[e], "Erf", 1)) continue;
    const auto scaled = producer(g, g.nodes[e].inputs[0]);
    if (!scaled || !sole_user(g, g.nodes[e].inputs[0])) continue;
    const NodeInfo& div = g.nodes[*scaled];
    std::string x;
    if (is_op(div, "Div", 2) && scalar_constant(g, div, 1) && near(*scalar_constant(g, div, 1), std::sqrt(2.0))) x = div.inputs[0];
    else if (is_op(div, "Mul", 2) && scalar_constant(g, div, 1) && near(*scalar_constant(g, div, 1), std::sqrt(0.5))) x = div.inputs[0];
    else if (is_op(div, "Mul", 2) && scalar_constant(g, div, 0) && near(*scalar_constant(g, div, 0), std::sqrt(0.5))) x = div.inputs[1];
    else continue;
    const auto add_at = sole_user(g, g.nodes[e].outputs[0]);
    if (!add_at || !is_op(g.nodes[*add_at], "Add", 2)) continue;
    const NodeInfo& add = g.nodes[*add_at];
    const std::size_t one_at = add.inputs[0] == g.nodes[e].outputs[0] ? 1 : 0;
    if (!scalar_constant(g, add, one_at) || *scalar_constant(g, add, one_at) != 1.0f) continue;
    const auto mul_at = sole_user(g, add.outputs[0]);
    if (!mul_at || !is_op(g.nodes[*mul_at], "Mul", 2)) continue;
    const NodeInfo& mul = g.nodes[*mul_at];
    const std::string factor = other_input(mul, add.outputs[0]);
    std::optional<std::size_t> half_at, last_at;
    if (factor == x) {
      // (x * (1 + erf)) * 0.5
      half_at = sole_user(g, mul.outputs[0]);
      if (!half_at || !is_op(g.nodes[*half_at], "Mul", 2)) continue;
      const NodeInfo& half = g.nodes[*half_at];
      const std::size_t c = half.inputs[0] == mul.outputs[0] ? 1 : 0;
      if (!scalar_constant(g, half, c) || *scalar_constant(g, half, c) != 0.5f) continue;
      last_at = half_at;
    } else {
      // (x * 0.5) * (1 + erf)
      half_at = producer(g, factor);
      if (!half_at || !sole_user(g, factor) || !is_op(g.nodes[*half_at], "Mul", 2)) continue;
      const NodeInfo& half = g.nodes[*half_at];
      const std::string h = other_input(half, x);
      if (h.empty() || !g.initializers.count(h) || g.initializers.at(h).size() != 1 || g.initializers.at(h).to_floats()[0] != 0.5f) continue;
      last_at = mul_at;
    }
    if (removed.count(*scaled) || removed.count(e) || removed.count(*add_at) || removed.count(*mul_at) || removed.count(*half_at)) continue;
    NodeInfo gelu;
    gelu.name = g.nodes[e].name.empty() ? "Gelu" : g.nodes[e].name + "_gelu";
    gelu.op_type = "Gelu";
    gelu.opset = g.nodes[e].opset;
    gelu.model_path = g.nodes[e].model_path;
    gelu.inputs = {x};
    gelu.outputs = {g.nodes[*last_at].outputs[0]};
    for (std::size_t k : {*scaled, e, *add_at, *mul_at, *half_at})
      if (k != *last_at) removed.insert(k);
    g.nodes[*last_at] = std::move(gelu);
  }
  erase_nodes(g, removed);
}

// The axes a ReduceMean with keepdims averages, from its attribute or (opset 18) its input.
std::optional<std::vector<std::int64_t>> mean_axes(const Graph& g, const NodeInfo& n) {
  if (n.op_type != "ReduceMean" || !n.domain.empty() || n.outputs.size() != 1 || n.attributes.get_int("keepdims", 1) == 0)
    return std::nullopt;
  if (n.inputs.size() == 1) return n.attributes.get_ints("axes");
  const Tensor* axes = constant(g, n, 1);
  if (!axes) return std::nullopt;
  return axes->to_ints();
}

// Layer normalisation as PyTorch exports it before opset 17: m = ReduceMean(x), d = x - m,
// v = ReduceMean(d^2), y = d / Sqrt(v + eps), then * gamma + beta, all over the last k axes
// (given as -k..-1). It becomes one LayerNormalization node, as opset 17 exports it.
void fuse_layer_norms(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (!is_op(g.nodes[i], "Div", 2) || removed.count(i)) continue;
    const NodeInfo& div = g.nodes[i];
    const auto sub_at = producer(g, div.inputs[0]), sqrt_at = producer(g, div.inputs[1]);
    if (!sub_at || !sqrt_at || !is_op(g.nodes[*sub_at], "Sub", 2) || !is_op(g.nodes[*sqrt_at], "Sqrt", 1)) continue;
    const NodeInfo& sub = g.nodes[*sub_at];
    const std::string x = sub.inputs[0], d = sub.outputs[0];
    const auto mean_at = producer(g, sub.inputs[1]);
    if (!mean_at || g.nodes[*mean_at].inputs.empty() || g.nodes[*mean_at].inputs[0] != x || !sole_user(g, sub.inputs[1])) continue;
    const auto axes = mean_axes(g, g.nodes[*mean_at]);
    if (!axes || axes->empty()) continue;
    // The last k axes, named from the end.
    auto sorted = *axes;
    std::sort(sorted.begin(), sorted.end());
    const auto k = static_cast<std::int64_t>(sorted.size());
    bool trailing = true;
    for (std::int64_t j = 0; j < k; ++j) trailing = trailing && sorted[static_cast<std::size_t>(j)] == j - k;
    if (!trailing) continue;
    // d read by the square and the Div alone.
    const auto d_users = consumers(g, d);
    if (d_users.size() != 2 || is_graph_output(g, d)) continue;
    const std::size_t square_at = d_users[0] == i ? d_users[1] : d_users[0];
    const NodeInfo& square = g.nodes[square_at];
    const bool is_square = (is_op(square, "Pow", 2) && square.inputs[0] == d && scalar_constant(g, square, 1) == 2.0f) ||
                           (is_op(square, "Mul", 2) && square.inputs[0] == d && square.inputs[1] == d);
    if (!is_square) continue;
    const auto var_at = sole_user(g, square.outputs[0]);
    if (!var_at) continue;
    const auto var_axes = mean_axes(g, g.nodes[*var_at]);
    if (!var_axes) continue;
    auto var_sorted = *var_axes;
    std::sort(var_sorted.begin(), var_sorted.end());
    if (var_sorted != sorted) continue;
    const auto eps_at = sole_user(g, g.nodes[*var_at].outputs[0]);
    if (!eps_at || !is_op(g.nodes[*eps_at], "Add", 2)) continue;
    const NodeInfo& eps_add = g.nodes[*eps_at];
    const std::size_t eps_index = eps_add.inputs[0] == g.nodes[*var_at].outputs[0] ? 1 : 0;
    const auto epsilon = scalar_constant(g, eps_add, eps_index);
    if (!epsilon || *epsilon < 0 || g.nodes[*sqrt_at].inputs[0] != eps_add.outputs[0] || !sole_user(g, eps_add.outputs[0]) ||
        !sole_user(g, div.inputs[1]))
      continue;
    // Then an affine part: * gamma, + beta, each a constant over the normalised axes alone.
    const auto fits = [&](const Tensor& t) {
      const Shape& s = t.shape();
      std::size_t lead = 0;
      while (lead < s.size() && s[lead] == 1) ++lead;
      return static_cast<std::int64_t>(s.size() - lead) <= k;
    };
    std::string y = div.outputs[0], scale, bias;
    std::vector<std::size_t> swallowed{*mean_at, *sub_at, square_at, *var_at, *eps_at, *sqrt_at};
    std::size_t last = i;
    if (const auto mul_at = sole_user(g, y); mul_at && is_op(g.nodes[*mul_at], "Mul", 2)) {
      const std::string gamma = other_input(g.nodes[*mul_at], y);
      if (g.initializers.count(gamma) && fits(g.initializers.at(gamma))) {
        scale = gamma;
        swallowed.push_back(last);
        last = *mul_at;
        y = g.nodes[*mul_at].outputs[0];
        if (const auto add_at = sole_user(g, y); add_at && is_op(g.nodes[*add_at], "Add", 2)) {
          const std::string beta = other_input(g.nodes[*add_at], y);
          if (g.initializers.count(beta) && fits(g.initializers.at(beta))) {
            bias = beta;
            swallowed.push_back(last);
            last = *add_at;
            y = g.nodes[*add_at].outputs[0];
          }
        }
      }
    }
    if (std::any_of(swallowed.begin(), swallowed.end(), [&](std::size_t n) { return removed.count(n) > 0; }) || removed.count(last))
      continue;
    if (scale.empty()) {
      scale = fresh_name(g, x + "_luojia_unit_scale");
      g.initializers[scale] = Tensor::scalar(1.0f);
    }
    NodeInfo ln;
    ln.name = div.name.empty() ? "LayerNormalization" : div.name + "_layer_norm";
    ln.op_type = "LayerNormalization";
    ln.opset = 17;
    ln.model_path = div.model_path;
    ln.attributes.set("axis", -k);
    ln.attributes.set("epsilon", *epsilon);
    ln.inputs = {x, scale};
    if (!bias.empty()) ln.inputs.push_back(bias);
    ln.outputs = {y};
    for (std::size_t n : swallowed) removed.insert(n);
    g.nodes[last] = std::move(ln);
  }
  erase_nodes(g, removed);
}

// Attention as exports spell it out: S = MatMul(Q, K^T), [S * c or S / c], [S + bias],
// P = Softmax(S) over the last axis, O = MatMul(P, V); every intermediate read by the next step
// alone. It becomes one luojia.Attention node, which never holds the whole score matrix.
void fuse_attention(Graph& g) {
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const NodeInfo& softmax = g.nodes[i];
    if (!is_op(softmax, "Softmax", 1) || removed.count(i) || softmax.opset < 13 || softmax.attributes.get_int("axis", -1) != -1) continue;
    const auto out_at = sole_user(g, softmax.outputs[0]);
    if (!out_at || !is_op(g.nodes[*out_at], "MatMul", 2) || g.nodes[*out_at].inputs[0] != softmax.outputs[0] ||
        g.nodes[*out_at].inputs[1] == softmax.outputs[0])
      continue;
    std::vector<std::size_t> swallowed{i};
    std::string s = softmax.inputs[0], bias;
    float scale = 1.0f;
    auto step = producer(g, s);
    if (!step || !sole_user(g, s)) continue;
    if (is_op(g.nodes[*step], "Add", 2)) {
      const NodeInfo& add = g.nodes[*step];
      // The bias is the operand that is not the product (a MatMul, scaled or not).
      const auto is_product = [&](const std::string& value) {
        auto at = producer(g, value);
        if (at && (is_op(g.nodes[*at], "Mul", 2) || is_op(g.nodes[*at], "Div", 2))) {
          const NodeInfo& m = g.nodes[*at];
          if (scalar_constant(g, m, 1)) at = producer(g, m.inputs[0]);
          else if (m.op_type == "Mul" && scalar_constant(g, m, 0)) at = producer(g, m.inputs[1]);
        }
        return at && is_op(g.nodes[*at], "MatMul", 2);
      };
      const bool product_left = is_product(add.inputs[0]);
      if (!product_left && !is_product(add.inputs[1])) continue;
      bias = product_left ? add.inputs[1] : add.inputs[0];
      s = product_left ? add.inputs[0] : add.inputs[1];
      swallowed.push_back(*step);
      step = producer(g, s);
      if (!step || !sole_user(g, s)) continue;
    }
    if (is_op(g.nodes[*step], "Mul", 2) || is_op(g.nodes[*step], "Div", 2)) {
      const NodeInfo& mul = g.nodes[*step];
      const bool div = mul.op_type == "Div";
      const auto c1 = scalar_constant(g, mul, 1), c0 = div ? std::nullopt : scalar_constant(g, mul, 0);
      if (!c1 && !c0) continue;
      scale = c1 ? (div ? 1.0f / *c1 : *c1) : *c0;
      s = c1 ? mul.inputs[0] : mul.inputs[1];
      swallowed.push_back(*step);
      step = producer(g, s);
      if (!step || !sole_user(g, s)) continue;
    }
    if (!is_op(g.nodes[*step], "MatMul", 2)) continue;
    swallowed.push_back(*step);
    const NodeInfo& product = g.nodes[*step];
    if (std::any_of(swallowed.begin(), swallowed.end(), [&](std::size_t n) { return removed.count(n) > 0; }) || removed.count(*out_at))
      continue;
    NodeInfo attention;
    attention.name = softmax.name.empty() ? "Attention" : softmax.name + "_attention";
    attention.op_type = "Attention";
    attention.domain = "luojia";
    attention.opset = 1;
    attention.model_path = softmax.model_path;
    attention.attributes.set("scale", scale);
    attention.inputs = {product.inputs[0], product.inputs[1], g.nodes[*out_at].inputs[1]};
    if (!bias.empty()) attention.inputs.push_back(bias);
    attention.outputs = {g.nodes[*out_at].outputs[0]};
    for (std::size_t n : swallowed) removed.insert(n);
    g.nodes[*out_at] = std::move(attention);
  }
  erase_nodes(g, removed);
}

// A 1 x 1 convolution (stride 1, no padding, one group, 8 output channels or more, no residual)
// whose output only a depthwise convolution (no residual) reads: an inverted residual block's
// expansion and depthwise layers (MobileNetV2/V3, EfficientNet, MnasNet) become one
// luojia.PointwiseDepthwise node, which never writes the expanded tensor to memory. It runs after
// fuse_activations: the node keeps both activations.
void fuse_pointwise_depthwise(Graph& g) {
  const auto pointwise = [&](const NodeInfo& n) {
    const Tensor* w = constant(g, n, 1);
    const auto& a = n.attributes;
    const auto all_equal = [](const std::vector<std::int64_t>& v, std::int64_t value) {
      return std::all_of(v.begin(), v.end(), [&](std::int64_t e) { return e == value; });
    };
    const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
    return n.op_type == "Conv" && n.domain.empty() && (n.inputs.size() == 2 || n.inputs.size() == 3) && n.outputs.size() == 1 && w &&
           w->rank() == 4 && w->dim(0) >= 8 && w->dim(2) == 1 && w->dim(3) == 1 && a.get_int("group", 1) == 1 &&
           all_equal(a.get_ints("strides", {1, 1}), 1) && all_equal(a.get_ints("pads", {0, 0, 0, 0}), 0) &&
           (auto_pad == "NOTSET" || auto_pad == "VALID") && a.get_int("luojia.residual", 0) == 0;
  };
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const NodeInfo& p = g.nodes[i];
    if (!pointwise(p)) continue;
    const auto user = sole_user(g, p.outputs[0]);
    if (!user || removed.count(*user)) continue;
    NodeInfo& d = g.nodes[*user];
    const Tensor* wd = constant(g, d, 1);
    const std::int64_t m = constant(g, p, 1)->dim(0);
    if (d.op_type != "Conv" || !d.domain.empty() || (d.inputs.size() != 2 && d.inputs.size() != 3) || d.inputs[0] != p.outputs[0] ||
        !wd || wd->rank() != 4 || wd->dim(0) != m || wd->dim(1) != 1 || d.attributes.get_int("group", 1) != m ||
        d.attributes.get_int("luojia.residual", 0) != 0)
      continue;
    NodeInfo fused = d;
    fused.name = d.name.empty() ? "PointwiseDepthwise" : d.name;
    fused.op_type = "PointwiseDepthwise";
    fused.domain = "luojia";
    fused.opset = 1;
    fused.attributes.set("luojia.pointwise_node", p.name);
    fused.attributes.set("luojia.pointwise_activation", p.attributes.get_string("luojia.activation", ""));
    fused.attributes.set("luojia.pointwise_activation_params", p.attributes.get_floats("luojia.activation_params"));
    fused.inputs = {p.inputs[0], p.inputs[1], p.inputs.size() > 2 ? p.inputs[2] : std::string(), d.inputs[1],
                    d.inputs.size() > 2 ? d.inputs[2] : std::string()};
    d = std::move(fused);
    removed.insert(i);
  }
  erase_nodes(g, removed);
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
  fuse_layer_norms(g);
  fuse_gelus(g);
  fuse_attention(g);
  fuse_residual_adds(g);
  fuse_linear_biases(g);
  fuse_activations(g);
  fuse_pointwise_depthwise(g);
  remove_dead_nodes(g);
}

}  // namespace luojia::nn::detail
