#pragma once
// luojia's exceptions as Python classes: luojia.Error (a RuntimeError) and its kinds, so Python
// callers branch on `except luojia.InputError` as C++ callers do on the class.
#include <pybind11/pybind11.h>

namespace luojia::python {

void bind_errors(pybind11::module_& m);

}  // namespace luojia::python
