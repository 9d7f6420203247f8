#include <luojia/nn/attributes.hpp>

#include <luojia/error.hpp>

namespace luojia::nn {
namespace {

template <class T>
const T* find(const std::map<std::string, Attributes::Value>& values, const std::string& name, const char* kind) {
  const auto it = values.find(name);
  if (it == values.end()) return nullptr;
  if (const T* v = std::get_if<T>(&it->second)) return v;
  throw ModelError("attribute '" + name + "' is not " + kind);
}

}  // namespace

std::int64_t Attributes::get_int(const std::string& name, std::int64_t fallback) const {
  const auto* v = find<std::int64_t>(values_, name, "an integer");
  return v ? *v : fallback;
}

float Attributes::get_float(const std::string& name, float fallback) const {
  const auto it = values_.find(name);
  if (it != values_.end())
    if (const auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<float>(*i);
  const auto* v = find<float>(values_, name, "a float");
  return v ? *v : fallback;
}

std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  const auto* v = find<std::string>(values_, name, "a string");
  return v ? *v : fallback;
}

std::vector<std::int64_t> Attributes::get_ints(const std::string& name,
                                               const std::vector<std::int64_t>& fallback) const {
  const auto* v = find<std::vector<std::int64_t>>(values_, name, "a list of integers");
  return v ? *v : fallback;
}

std::vector<float> Attributes::get_floats(const std::string& name, const std::vector<float>& fallback) const {
  const auto* v = find<std::vector<float>>(values_, name, "a list of floats");
  return v ? *v : fallback;
}

std::optional<Tensor> Attributes::get_tensor(const std::string& name) const {
  const auto* v = find<Tensor>(values_, name, "a tensor");
  return v ? std::optional<Tensor>(*v) : std::nullopt;
}

}  // namespace luojia::nn
