#pragma once
// Custom layers written in Python, for prototyping an operator before writing it in C++: a class
// whose instances (made with the node) answer infer(shapes) and forward(arrays), and declare a
// footprint so the model's tiling stays exact. They run under the GIL, one at a time.
#include <luojia/nn/layer_registry.hpp>

#include <pybind11/pybind11.h>

namespace luojia::python {

// Adds each entry of layers ({"OpType" or "domain:OpType" or (domain, OpType): class}) to registry.
void add_python_layers(nn::LayerRegistry& registry, const pybind11::dict& layers);

}  // namespace luojia::python
