#include "model.hpp"

#include "options.hpp"
#include "python_layer.hpp"

#include <luojia/error.hpp>
#include <luojia/version.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>

namespace luojia::python {

namespace py = pybind11;

PythonModel::PythonModel(const std::string& path, int threads, const std::string& isa, const std::string& winograd,
                         const py::dict& layers) {
  if (threads < 0) throw UsageError("threads", "must not be negative");
  nn::LoadOptions load;
  load.isa = isa;
  load.winograd = winograd;
  nn::LayerRegistry registry = nn::LayerRegistry::with_builtins();
  add_python_layers(registry, layers);
  model_ = std::make_shared<const nn::Model>(nn::Model::load(path, registry, load));
  session_options_.threads = threads;
}

std::vector<nn::Tensor> PythonModel::run(const std::vector<nn::Tensor>& inputs) {
  std::unique_ptr<nn::Session> session;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      session = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!session) session = std::make_unique<nn::Session>(*model_, session_options_);
  std::vector<nn::Tensor> outputs = session->run(inputs);
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(session));
  return outputs;
}

namespace {

py::object shape_of(const nn::Shape& shape) {
  py::list dims;
  for (std::int64_t d : shape) {
    if (d < 0) dims.append(py::none());
    else dims.append(d);
  }
  return py::tuple(dims);
}

py::dict spec(const nn::TensorSpec& s) {
  py::dict d;
  d["name"] = s.name;
  d["shape"] = shape_of(s.shape);
  d["dtype"] = s.type == nn::ElementType::Float32 ? "float32" : "int64";
  return d;
}

// The library's one JSON form of the metadata (what luojia-info --json prints under "metadata").
py::dict metadata(const nn::ModelMetadata& md) {
  return py::module_::import("json").attr("loads")(nn::to_json(md)).cast<py::dict>();
}

py::dict analysis(const nn::OutputAnalysis& a) {
  py::dict d;
  d["name"] = a.name;
  d["shape"] = shape_of(a.shape);
  d["tileable"] = a.tileable;
  d["reason"] = a.reason;
  d["radius"] = a.radius;
  d["stride"] = a.stride;
  d["upscale"] = a.upscale;
  d["alignment"] = a.alignment;
  d["probabilities"] = a.probabilities;
  d["anchor_axis"] = a.anchor_axis;
  return d;
}

// A float32 array as a tensor over the array's own memory (no copy when it is C-contiguous
// float32; otherwise numpy converts once). keep holds the converted arrays while the run lasts.
nn::Tensor tensor_view(py::handle value, std::vector<py::array>& keep) {
  auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
  if (!array) throw InputError("a model input must be an array of numbers (NCHW float32)");
  nn::Shape shape(array.shape(), array.shape() + array.ndim());
  keep.push_back(array);
  return nn::Tensor::view(const_cast<float*>(array.data()), shape);
}

// An output as a numpy array over the tensor's storage (the capsule keeps it alive).
py::array to_array(const nn::Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  auto* owner = new nn::Tensor(t);
  py::capsule free_tensor(owner, [](void* p) { delete static_cast<nn::Tensor*>(p); });
  if (t.type() == nn::ElementType::Int64)
    return py::array_t<std::int64_t>(shape, owner->ints(), free_tensor);
  return py::array_t<float>(shape, owner->data(), free_tensor);
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PythonModel>(m, "Model", R"(An ONNX model loaded, analysed for tiling, and run on numpy arrays.

Model(path, threads=0, isa="", winograd="auto", layers={})
    threads: threads of each run (0: every core); isa: "" (the best this CPU has), "sse2",
    "avx2" or "avx512"; winograd: 3x3 convolutions through Winograd, "auto" (where it pays),
    "off" (the direct product, closest to PyTorch's sums), "f2" or "f4" (everywhere). layers: custom layers written in Python, {"OpType" or "domain:OpType":
    class}. The class is called with the node (a dict: name, op_type, domain, attributes, inputs,
    outputs); its instances answer infer(shapes) -> output shapes and forward(arrays) -> arrays
    (float32), and declare `footprint`: "pointwise", {"kind": "window", "kernel": k, "pad": p,
    "stride": s, "dilation": d}, {"kind": "upsample", "factor": f} or "global". Without one the
    model is not exactly tileable and the tasks refuse to tile it unless blend=True. The model is immutable after load: any number of Python threads may call
    run() at once (each run takes a session of its own, and the GIL is released while it runs).
    Tasks (segment, detect, ...) take a Model where they take a model path: load once, run many.)")
      .def(py::init([](py::object path, int threads, const std::string& isa, const std::string& winograd, py::dict layers) {
             return std::make_unique<PythonModel>(detail::text(path, "path"), threads, isa, winograd, layers);
           }), py::arg("path"), py::arg("threads") = 0, py::arg("isa") = "", py::arg("winograd") = "auto", py::arg("layers") = py::dict())
      .def_property_readonly("path", [](const PythonModel& p) { return p.model().path(); })
      .def_property_readonly("inputs", [](const PythonModel& p) {
        py::list l;
        for (const auto& s : p.model().inputs()) l.append(spec(s));
        return l;
      }, "The graph inputs: name, shape (None for dynamic axes), dtype.")
      .def_property_readonly("outputs", [](const PythonModel& p) {
        py::list l;
        for (const auto& s : p.model().outputs()) l.append(spec(s));
        return l;
      }, "The graph outputs: name, shape (None for dynamic axes), dtype.")
      .def_property_readonly("metadata", [](const PythonModel& p) { return metadata(p.model().metadata()); },
                             "What the model says of itself: bands, normalisation, classes, tiling hints.")
      .def_property_readonly("opset", [](const PythonModel& p) { return p.model().opset(); })
      .def_property_readonly("kernel_isa", [](const PythonModel& p) { return p.model().kernel_isa(); })
      .def("analyse", [](const PythonModel& p, std::vector<std::int64_t> shape) {
        std::vector<nn::OutputAnalysis> found;
        {
          py::gil_scoped_release release;
          found = p.model().analyse(shape);
        }
        py::list l;
        for (const auto& a : found) l.append(analysis(a));
        return l;
      }, py::arg("input_shape") = std::vector<std::int64_t>{},
         "The tiling verdict of each output at input_shape (default: 256 for dynamic spatial axes):\n"
         "tileable (and why not), receptive radius, stride, upscale, alignment.")
      .def_property_readonly("tiling", [](const PythonModel& p) {
        std::vector<nn::OutputAnalysis> found;
        {
          py::gil_scoped_release release;
          found = p.model().analyse();
        }
        py::list l;
        for (const auto& a : found) l.append(analysis(a));
        return l;
      }, "analyse() at the default shape: what tasks base their halo on.")
      .def("run", [](PythonModel& p, py::object inputs) {
        const auto& specs = p.model().inputs();
        std::vector<py::handle> given;
        if (py::isinstance<py::dict>(inputs)) {
          py::dict d = inputs.cast<py::dict>();
          for (const auto& s : specs) {
            if (!d.contains(s.name)) throw InputError("no array given for the model input '" + s.name + "'");
            given.push_back(d[py::str(s.name)]);
          }
          if (d.size() != specs.size()) throw InputError("the model has " + std::to_string(specs.size()) + " inputs, " + std::to_string(d.size()) + " arrays were given");
        } else if (py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) {
          for (py::handle h : inputs) given.push_back(h);
        } else {
          given.push_back(inputs);
        }
        if (given.size() != specs.size())
          throw InputError("the model has " + std::to_string(specs.size()) + " input" + (specs.size() == 1 ? "" : "s") +
                           ", " + std::to_string(given.size()) + " array" + (given.size() == 1 ? " was" : "s were") + " given");
        std::vector<py::array> keep;
        std::vector<nn::Tensor> tensors;
        for (std::size_t i = 0; i < given.size(); ++i) {
          if (specs[i].type == nn::ElementType::Int64) {
            auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(given[i]);
            if (!a) throw InputError("the model input '" + specs[i].name + "' takes int64 values");
            std::vector<std::int64_t> values(a.data(), a.data() + a.size());
            tensors.push_back(nn::Tensor::from_ints(values, nn::Shape(a.shape(), a.shape() + a.ndim())));
          } else {
            tensors.push_back(tensor_view(given[i], keep));
          }
        }
        std::vector<nn::Tensor> outputs;
        {
          py::gil_scoped_release release;
          outputs = p.run(tensors);
        }
        py::list result;
        for (const auto& t : outputs) result.append(to_array(t));
        return result;
      }, py::arg("inputs"),
         "Runs the model once. inputs: one NCHW float32 array, a list in the model's input order, or a\n"
         "dict by input name (C-contiguous float32 arrays are read in place, others converted once).\n"
         "Returns the outputs as a list of numpy arrays, in the model's output order.")
      .def("__repr__", [](const PythonModel& p) {
        return "<luojia.Model '" + p.model().path() + "', " + std::to_string(p.model().inputs().size()) + " input(s), " +
               std::to_string(p.model().outputs().size()) + " output(s), " + std::to_string(p.model().node_count()) + " nodes>";
      });
}

}  // namespace luojia::python
