#include "python_layer.hpp"

#include <luojia/error.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <variant>

namespace luojia::python {

namespace py = pybind11;

namespace {

py::object attribute_value(const nn::Attributes::Value& value) {
  return std::visit([](const auto& v) -> py::object {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, nn::Tensor>) {
      if (v.type() == nn::ElementType::Int64) return py::cast(v.to_ints());
      return py::array_t<float>(std::vector<py::ssize_t>(v.shape().begin(), v.shape().end()), v.data());
    } else {
      return py::cast(v);
    }
  }, value);
}

py::dict node_dict(const nn::NodeInfo& node) {
  py::dict d;
  d["name"] = node.name;
  d["op_type"] = node.op_type;
  d["domain"] = node.domain;
  d["opset"] = node.opset;
  py::dict attributes;
  for (const auto& [name, value] : node.attributes.all()) attributes[py::str(name)] = attribute_value(value);
  d["attributes"] = attributes;
  d["inputs"] = node.inputs;
  d["outputs"] = node.outputs;
  return d;
}

std::array<std::int64_t, 2> pair_of(const py::dict& spec, const char* key, std::array<std::int64_t, 2> fallback) {
  if (!spec.contains(key)) return fallback;
  py::object v = spec[key];
  if (py::isinstance<py::int_>(v)) return {v.cast<std::int64_t>(), v.cast<std::int64_t>()};
  const auto values = v.cast<std::vector<std::int64_t>>();
  if (values.size() != 2) throw ModelError(std::string("a footprint's ") + key + " is one number or two (y, x)");
  return {values[0], values[1]};
}

// The footprint a Python layer declares: its attribute (or method) `footprint`: "pointwise",
// "global", {"kind": "window", "kernel": k, "pad": p, "stride": s, "dilation": d} or
// {"kind": "upsample", "factor": f}; absent or None: undeclared (the model is then not tileable).
nn::Footprint declared_footprint(const py::object& layer) {
  if (!py::hasattr(layer, "footprint")) return {};
  py::object f = layer.attr("footprint");
  if (PyCallable_Check(f.ptr())) f = f();
  if (f.is_none()) return {};
  if (py::isinstance<py::str>(f)) {
    const std::string kind = f.cast<std::string>();
    if (kind == "pointwise") return nn::Footprint::pointwise();
    if (kind == "global") return nn::Footprint::global("a Python layer declared itself global");
    throw ModelError("a layer's footprint is pointwise, global or a dict, not '" + kind + "'");
  }
  const py::dict spec = f.cast<py::dict>();
  const std::string kind = spec.contains("kind") ? spec["kind"].cast<std::string>() : "";
  if (kind == "window")
    return nn::Footprint::window(pair_of(spec, "kernel", {1, 1}), pair_of(spec, "pad", {0, 0}), pair_of(spec, "stride", {1, 1}),
                                 pair_of(spec, "dilation", {1, 1}));
  if (kind == "upsample") return nn::Footprint::upsample(pair_of(spec, "factor", {1, 1}));
  throw ModelError("a layer's footprint dict has kind window or upsample, not '" + kind + "'");
}

class PythonLayer : public nn::Layer {
public:
  PythonLayer(const nn::NodeInfo& node, const py::object& factory) : Layer(node) {
    py::gil_scoped_acquire gil;
    try {
      layer_ = factory(node_dict(node));
      footprint_ = declared_footprint(layer_);
    } catch (py::error_already_set& e) {
      fail("the Python layer could not be made: " + std::string(e.what()));
    }
  }
  ~PythonLayer() override {
    if (!Py_IsInitialized()) {
      layer_.release();  // the interpreter is gone: nothing to give back
      return;
    }
    py::gil_scoped_acquire gil;
    layer_ = py::object();
  }

  std::vector<nn::ValueInfo> infer(const std::vector<nn::ValueInfo>& inputs) const override {
    py::gil_scoped_acquire gil;
    py::list shapes;
    for (const auto& in : inputs) shapes.append(py::tuple(py::cast(in.shape)));
    std::vector<nn::ValueInfo> out;
    try {
      for (py::handle shape : layer_.attr("infer")(shapes))
        out.push_back(nn::ValueInfo{shape.cast<nn::Shape>(), nn::ElementType::Float32, std::nullopt, true});
    } catch (py::error_already_set& e) {
      fail("infer: " + std::string(e.what()));
    } catch (const py::cast_error&) {
      fail("infer must return a list of shapes (tuples of ints)");
    }
    return out;
  }
  nn::Footprint footprint() const override { return footprint_; }

protected:
  void do_forward(std::span<const nn::Tensor> inputs, std::span<nn::Tensor> outputs) const override {
    py::gil_scoped_acquire gil;
    py::list arrays;
    for (const auto& t : inputs) {
      if (t.type() != nn::ElementType::Float32) fail("Python layers take float32 inputs");
      // A read-only view of the engine's memory: no copy in.
      py::array a(py::dtype::of<float>(), std::vector<py::ssize_t>(t.shape().begin(), t.shape().end()), t.data(), py::none());
      py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
      arrays.append(a);
    }
    try {
      py::object result = layer_.attr("forward")(arrays);
      std::size_t i = 0;
      for (py::handle value : result) {
        if (i >= outputs.size()) fail("forward returned more arrays than infer declared");
        auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
        if (!a) fail("forward must return arrays of numbers");
        const nn::Shape shape(a.shape(), a.shape() + a.ndim());
        if (shape != outputs[i].shape())
          fail("forward returned shape " + nn::to_string(shape) + " where infer said " + nn::to_string(outputs[i].shape()));
        std::memcpy(outputs[i].data(), a.data(), static_cast<std::size_t>(a.size()) * sizeof(float));
        ++i;
      }
      if (i != outputs.size()) fail("forward returned fewer arrays than infer declared");
    } catch (py::error_already_set& e) {
      fail("forward: " + std::string(e.what()));
    }
  }

private:
  py::object layer_;
  nn::Footprint footprint_;
};

}  // namespace

void add_python_layers(nn::LayerRegistry& registry, const py::dict& layers) {
  for (auto [key, factory] : layers) {
    std::string domain, op;
    if (py::isinstance<py::tuple>(key)) {
      auto pair = key.cast<std::pair<std::string, std::string>>();
      domain = pair.first, op = pair.second;
    } else {
      op = key.cast<std::string>();
      if (auto colon = op.rfind(':'); colon != std::string::npos) domain = op.substr(0, colon), op = op.substr(colon + 1);
    }
    if (!PyCallable_Check(factory.ptr())) throw UsageError("layers", "maps operator names to classes (callables)");
    py::object make = py::reinterpret_borrow<py::object>(factory);
    // The factory keeps its Python object: hand it over with a reference that lives as long as
    // the registry's copies (released under the GIL by the shared_ptr's deleter).
    auto holder = std::shared_ptr<py::object>(new py::object(make), [](py::object* p) {
      if (Py_IsInitialized()) {
        py::gil_scoped_acquire gil;
        delete p;
      } else {
        p->release();
        delete p;
      }
    });
    registry.add(domain, op, [holder](const nn::NodeInfo& node) { return std::make_unique<PythonLayer>(node, *holder); });
  }
}

}  // namespace luojia::python
