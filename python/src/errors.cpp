#include "errors.hpp"

#include <luojia/error.hpp>

namespace luojia::python {

namespace py = pybind11;

namespace {

// A Python exception class NAME(bases...) in module m, with a docstring.
py::object new_exception(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("luojia.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!type) throw py::error_already_set();
  py::object cls = py::reinterpret_steal<py::object>(type);
  m.attr(name) = cls;
  return cls;
}

}  // namespace

void bind_errors(py::module_& m) {
  // Handles kept for the translator; the module holds the classes (never freed: no destructor may
  // run after the interpreter is gone).
  static py::handle error, input, model, output, usage, cancelled;
  error = new_exception(m, "Error", py::make_tuple(py::handle(PyExc_RuntimeError)),
                        "The root of every error luojia raises; str() is its one-line message with where it happened.").release();
  input = new_exception(m, "InputError", py::make_tuple(error, py::handle(PyExc_ValueError)),
                        "A raster, vector or other input that cannot be read or does not fit the job.").release();
  model = new_exception(m, "ModelError", py::make_tuple(error),
                        "A model file that cannot be loaded or run, or does not fit the task.").release();
  output = new_exception(m, "OutputError", py::make_tuple(error, py::handle(PyExc_OSError)),
                         "A product that cannot be written (existing output, unwritable folder, driver refusal).").release();
  usage = new_exception(m, "UsageError", py::make_tuple(error, py::handle(PyExc_ValueError)),
                        "An option holds a value the job cannot use; .option names it as the library spells it.").release();
  cancelled = new_exception(m, "Cancelled", py::make_tuple(error),
                            "The progress callback returned False; no product was left behind.").release();

  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const luojia::UsageError& e) {
      py::object value = usage(e.what());
      value.attr("option") = e.option();
      PyErr_SetObject(usage.ptr(), value.ptr());
    } catch (const luojia::InputError& e) {
      PyErr_SetString(input.ptr(), e.what());
    } catch (const luojia::ModelError& e) {
      PyErr_SetString(model.ptr(), e.what());
    } catch (const luojia::OutputError& e) {
      PyErr_SetString(output.ptr(), e.what());
    } catch (const luojia::Cancelled& e) {
      PyErr_SetString(cancelled.ptr(), e.what());
    } catch (const luojia::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
}

}  // namespace luojia::python
