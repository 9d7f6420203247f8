#pragma once
// An ONNX node's attributes, typed, as layers read them.
#include <luojia/export.hpp>
#include <luojia/nn/tensor.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace luojia::nn {

// A node's attributes, ONNX's kinds without ONNX's types.
class LUOJIA_API Attributes {
public:
  using Value = std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>,
                             std::vector<float>, std::vector<std::string>, Tensor>;

  void set(const std::string& name, Value value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void erase(const std::string& name) { values_.erase(name); }

  // Each getter throws Error when the attribute has another kind; the fallback is used when absent.
  std::int64_t get_int(const std::string& name, std::int64_t fallback) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<std::int64_t> get_ints(const std::string& name, const std::vector<std::int64_t>& fallback = {}) const;
  std::vector<float> get_floats(const std::string& name, const std::vector<float>& fallback = {}) const;
  std::optional<Tensor> get_tensor(const std::string& name) const;
  const std::map<std::string, Value>& all() const { return values_; }

private:
  std::map<std::string, Value> values_;
};

}  // namespace luojia::nn
