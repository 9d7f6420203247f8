#pragma once
// Layers by ONNX operator type (and domain): built-ins, and custom layers from user code.
#include <luojia/export.hpp>
#include <luojia/nn/layer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace luojia::nn {

// Creates layers by (domain, op type). Each model loads through one registry; a researcher adds a
// layer on a registry of their own, without touching the library:
//   LayerRegistry registry = LayerRegistry::with_builtins();
//   registry.add<ScaledTanh>("my.domain", "ScaledTanh");
//   Model model = Model::load("net.onnx", registry);
class LUOJIA_API LayerRegistry {
public:
  using Factory = std::function<std::unique_ptr<Layer>(const NodeInfo&)>;

  static LayerRegistry with_builtins();

  void add(const std::string& domain, const std::string& op_type, Factory factory);
  template <class L>
  void add(const std::string& domain, const std::string& op_type) {
    add(domain, op_type, [](const NodeInfo& node) { return std::make_unique<L>(node); });
  }
  bool contains(const std::string& domain, const std::string& op_type) const;
  // Every registered (domain, op type), sorted by domain then op type ("" is ONNX's own).
  std::vector<std::pair<std::string, std::string>> operators() const;
  // Throws Error naming the node when nothing is registered for it.
  std::unique_ptr<Layer> create(const NodeInfo& node) const;

private:
  std::map<std::pair<std::string, std::string>, Factory> factories_;
};

// Every operator luojia implements itself, in ONNX's default domain ("" and "ai.onnx").
LUOJIA_API void register_builtin_layers(LayerRegistry& registry);

}  // namespace luojia::nn
