#include <luojia/nn/layer.hpp>
#include <luojia/nn/layer_registry.hpp>

#include <luojia/error.hpp>

namespace luojia::nn {

std::string NodeInfo::describe() const {
  std::string op = domain.empty() ? op_type : domain + "::" + op_type;
  return (name.empty() ? op_type : name) + " (" + op + ", opset " + std::to_string(opset) + ")";
}

void Layer::fail(const std::string& message) const {
  ErrorContext where;
  where.file = node_.model_path;
  where.node = node_.describe();
  throw ModelError(message, where);
}

const Tensor& Layer::constant_input(const std::vector<ValueInfo>& inputs, std::size_t index) const {
  if (index >= inputs.size() || !inputs[index].present)
    fail("input " + std::to_string(index) + " is missing");
  if (!inputs[index].value)
    fail("input " + std::to_string(index) + " ('" + node_.inputs.at(index) +
         "') must be known before the run (a constant or shape arithmetic), but depends on the data");
  return *inputs[index].value;
}

void Layer::forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  try {
    do_forward(inputs, outputs);
  } catch (const Error& e) {
    if (!e.context().node.empty()) throw;
    ErrorContext where = e.context();
    where.file = node_.model_path;
    where.node = node_.describe();
    e.rethrow_with(where);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

void LayerRegistry::add(const std::string& domain, const std::string& op_type, Factory factory) {
  factories_[{domain == "ai.onnx" ? "" : domain, op_type}] = std::move(factory);
}

std::vector<std::pair<std::string, std::string>> LayerRegistry::operators() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, factory] : factories_) out.push_back(key);
  return out;
}

bool LayerRegistry::contains(const std::string& domain, const std::string& op_type) const {
  return factories_.count({domain == "ai.onnx" ? "" : domain, op_type}) != 0;
}

std::unique_ptr<Layer> LayerRegistry::create(const NodeInfo& node) const {
  const auto it = factories_.find({node.domain == "ai.onnx" ? "" : node.domain, node.op_type});
  if (it == factories_.end()) {
    ErrorContext where;
    where.file = node.model_path;
    where.node = node.describe();
    throw ModelError("unsupported operator " + (node.domain.empty() ? "" : node.domain + "::") + node.op_type +
                    (node.domain.empty() ? "" : " (register a layer for this custom domain)"),
                where);
  }
  return it->second(node);
}

LayerRegistry LayerRegistry::with_builtins() {
  LayerRegistry registry;
  register_builtin_layers(registry);
  return registry;
}

}  // namespace luojia::nn
