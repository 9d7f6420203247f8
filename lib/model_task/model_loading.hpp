#pragma once
// Models given as paths, loaded with the task's kernel choices; those choices refused where a
// task would drop them.
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>

#include <string>

namespace luojia::detail {

// The model at path with registry's layers (null: the built-in ones) and load's kernel choices;
// GDAL's debug channel (CPL_DEBUG=luojia) says which kernels and Winograd mode it runs with.
nn::Model load_model(const std::string& path, const nn::LayerRegistry* registry, const nn::LoadOptions& load);
// Load options (isa, winograd) where they would be dropped are refused, naming the option; why
// says what they need. A task handed a loaded model refuses them with kLoadedModel; the path
// overloads clear them once they have loaded the model (loaded_with()).
void refuse_load_options(const nn::LoadOptions& load, const std::string& why);
inline constexpr const char* kLoadedModel = "chooses the kernels of a model given as a path; a loaded model has its own, chosen when it was loaded";
template <class Options>
Options loaded_with(const Options& o) {
  Options loaded = o;
  loaded.load = {};
  return loaded;
}

}  // namespace luojia::detail
