#pragma once
// Broken and hostile ONNX files, written into a test folder: the loader's tests and the programs'
// bad-input matrix feed the same ones.
#include "support.hpp"

#include <onnx/onnx_pb.h>

#include <cstdint>

#include <string>
#include <vector>

namespace luojia::test {

// Small builders of ONNX graphs for tests.
onnx::ModelProto empty_model(int opset = 17);
void add_input(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims);
void add_output(onnx::GraphProto* g, const std::string& name);
onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                          std::vector<std::string> out, const std::string& domain = "");
onnx::TensorProto* add_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims,
                                   const std::vector<float>& values);
// A 1-D int64 initializer (shapes, pads, slice bounds).
onnx::TensorProto* add_int64_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& values);
std::string save(const TempDir& dir, const std::string& name, const onnx::ModelProto& m);

struct HostileModel {
  std::string name;
  std::string path;
  std::string needle;  // part of the one-line error
};

// Each model takes one (1, 1, 8, 8) float input where it has one.
std::vector<HostileModel> write_hostile_models(const TempDir& dir);

}  // namespace luojia::test
