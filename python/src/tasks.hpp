#pragma once
// The library's tasks as Python functions over paths (the package's __init__ adds arrays): each
// takes the task's options as keyword arguments named as the library's option fields.
#include <pybind11/pybind11.h>

namespace luojia::python {

void bind_tasks(pybind11::module_& m);

}  // namespace luojia::python
