#pragma once
// luojia.Model: an ONNX model loaded once, run on numpy arrays from any number of Python threads.
#include <luojia/nn/model.hpp>

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <vector>

namespace luojia::python {

class PythonModel {
public:
  // layers: custom Python layers (see python_layer.hpp), {} for the built-ins alone.
  PythonModel(const std::string& path, int threads, const std::string& isa, const std::string& winograd, const pybind11::dict& layers);

  const nn::Model& model() const { return *model_; }
  // One run: inputs in the model's input order, outputs in its output order. Sessions are pooled:
  // a thread takes an idle one (or makes one) and gives it back, so concurrent runs never share a
  // session and a session keeps its plans between runs.
  std::vector<nn::Tensor> run(const std::vector<nn::Tensor>& inputs);

private:
  std::shared_ptr<const nn::Model> model_;
  nn::SessionOptions session_options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<nn::Session>> idle_;
};

void bind_model(pybind11::module_& m);

}  // namespace luojia::python
