#include "model_task/model_loading.hpp"

#include <luojia/error.hpp>

#include <cpl_error.h>

namespace luojia::detail {

nn::Model load_model(const std::string& path, const nn::LayerRegistry* registry, const nn::LoadOptions& load) {
  nn::Model model = nn::Model::load(path, registry ? *registry : nn::LayerRegistry::with_builtins(), load);
  CPLDebug("luojia", "%s: %s kernels, Winograd %s", path.c_str(), model.kernel_isa().c_str(), load.winograd.c_str());
  return model;
}

void refuse_load_options(const nn::LoadOptions& load, const std::string& why) {
  const nn::LoadOptions defaults;
  if (load.isa != defaults.isa) throw UsageError("isa", why);
  if (load.winograd != defaults.winograd) throw UsageError("winograd", why);
}

}  // namespace luojia::detail
