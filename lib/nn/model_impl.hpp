#pragma once
// What Model, Session and the analysis share: the loaded graph with its layers, and plans.
#include <luojia/nn/model.hpp>

#include "nn/graph.hpp"

#include <memory>
#include <vector>

namespace luojia::nn {

struct Model::Impl {
  detail::Graph graph;
  LoadOptions options;
  std::vector<std::unique_ptr<Layer>> layers;  // one per graph node, same order
  ModelMetadata metadata;
};

namespace detail {

enum class Storage { Constant, Input, Arena, Owned, Output };

struct Slot {
  Shape shape;
  ElementType type = ElementType::Float32;
  Storage storage = Storage::Arena;
  Tensor tensor;              // Constant / Owned: the tensor
  std::size_t offset = 0;     // Arena: in floats
  int input_index = -1;       // Input
  int output_index = -1;      // Output
  int first = -1, last = -1;  // steps that write and last read it
  // Arena slots written straight into their place inside a Concat's output: that slot, and the
  // offset (floats) within it. The Concat then has nothing to copy.
  int alias_of = -1;
  std::size_t alias_offset = 0;
};

struct Step {
  const Layer* layer;
  std::vector<int> inputs;  // slot ids, -1 for omitted
  std::vector<int> outputs;
};

struct Plan {
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int> outputs;  // slot per graph output
  std::size_t arena_floats = 0;
};

// Shapes, constants folded, steps and arena offsets for one set of input shapes.
Plan make_plan(const Model::Impl& model, const std::vector<Tensor>& inputs);

}  // namespace detail
}  // namespace luojia::nn
