#include "hostile_models.hpp"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <random>

namespace luojia::test {

onnx::ModelProto empty_model(int opset) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

void add_input(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims) {
  auto* v = g->add_input();
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

void add_output(onnx::GraphProto* g, const std::string& name) { g->add_output()->set_name(name); }

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                          std::vector<std::string> out, const std::string& domain) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_domain(domain);
  n->set_name(op + "_" + std::to_string(g->node_size()));
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

onnx::TensorProto* add_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims,
                                   const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return t;
}

onnx::TensorProto* add_int64_initializer(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<std::int64_t>(values.size()));
  for (std::int64_t v : values) t->add_int64_data(v);
  return t;
}

std::string save(const TempDir& dir, const std::string& name, const onnx::ModelProto& m) {
  const std::string path = dir.file(name);
  std::ofstream out(path, std::ios::binary);
  m.SerializeToOstream(&out);
  return path;
}

std::vector<HostileModel> write_hostile_models(const TempDir& dir) {
  using Case = HostileModel;
  std::vector<Case> cases;

  cases.push_back({"missing", dir.file("missing.onnx"), "no such file"});
  std::ofstream(dir.file("empty.onnx")).close();
  cases.push_back({"empty", dir.file("empty.onnx"), "empty file"});
  {
    std::mt19937 rng(7);
    std::ofstream out(dir.file("random.onnx"), std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(rng()));
  }
  cases.push_back({"random bytes", dir.file("random.onnx"), "not an ONNX model"});
  {
    const std::string bytes = luojia::test::read_file(LUOJIA_TEST_DATA "/nn/unet_op17.onnx");
    std::ofstream(dir.file("truncated.onnx"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  cases.push_back({"truncated", dir.file("truncated.onnx"), "truncated.onnx: "});
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "Add", {"input", "b"}, {"a"});
    add_node(g, "Relu", {"a"}, {"b"});
    add_output(g, "b");
    cases.push_back({"cycle", save(dir, "cycle.onnx", m), "cycle"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "Add", {"input", "nowhere"}, {"out"});
    add_output(g, "out");
    cases.push_back({"undefined input", save(dir, "undefined.onnx", m), "reads 'nowhere', which no node"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "FrobnicateImage", {"input"}, {"out"});
    add_output(g, "out");
    cases.push_back({"unsupported op", save(dir, "unsupported.onnx", m), "unsupported operator FrobnicateImage"});
  }
  {
    auto m = empty_model();
    auto* op = m.add_opset_import();
    op->set_domain("com.example");
    op->set_version(1);
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "Warp", {"input"}, {"out"}, "com.example");
    add_output(g, "out");
    cases.push_back({"unregistered custom op", save(dir, "custom.onnx", m), "register a layer for this custom domain"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_initializer(g, "w", {1, 1, 3}, {1, 2, 3});
    add_node(g, "Conv", {"input", "w"}, {"out"});
    add_output(g, "out");
    cases.push_back({"wrong weight rank", save(dir, "rank.onnx", m), "weights must be 4-D"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_initializer(g, "w", {100000, 100000, 1, 1}, {});
    add_node(g, "Conv", {"input", "w"}, {"out"});
    add_output(g, "out");
    cases.push_back({"huge initializer", save(dir, "huge_init.onnx", m), "over the limit"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_int64_initializer(g, "shape", {100000, 100000, 1, 1});
    add_node(g, "Expand", {"input", "shape"}, {"out"});
    add_output(g, "out");
    cases.push_back({"terabyte shapes", save(dir, "huge_plan.onnx", m), "over the limit"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    auto* t = add_initializer(g, "b", {1}, {});
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* kv = t->add_external_data();
    kv->set_key("location");
    kv->set_value("../../../../etc/passwd");
    add_node(g, "Add", {"input", "b"}, {"out"});
    add_output(g, "out");
    cases.push_back({"external data outside", save(dir, "external.onnx", m), "points outside the model's folder"});
  }
  {
    auto m = empty_model(7);
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "Relu", {"input"}, {"out"});
    add_output(g, "out");
    cases.push_back({"old opset", save(dir, "opset7.onnx", m), "opset 7"});
  }
  {
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_initializer(g, "b", {2}, {1.0f});  // two values declared, one given
    add_node(g, "Add", {"input", "b"}, {"out"});
    add_output(g, "out");
    cases.push_back({"short initializer", save(dir, "short.onnx", m), "holds 1 values"});
  }
  {
    auto m = empty_model();
    add_input(m.mutable_graph(), "input", {1, 1, 8, 8});
    cases.push_back({"no nodes", save(dir, "nodes.onnx", m), "no graph"});
  }
  {
    // Found by fuzzing: a node without its inputs.
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_node(g, "Relu", {}, {"a"});
    add_node(g, "Add", {"input", "a"}, {"out"});
    add_output(g, "out");
    cases.push_back({"node without inputs", save(dir, "no_inputs.onnx", m), "Relu"});
  }
  {
    // Found by fuzzing: a target shape whose product overflows int64.
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_int64_initializer(g, "shape", {196608, 144115188075855871, -1});
    add_node(g, "Reshape", {"input", "shape"}, {"out"});
    add_output(g, "out");
    cases.push_back({"overflowing reshape", save(dir, "overflow.onnx", m), "too large"});
  }
  {
    // Found by fuzzing: a perm naming an axis twice read past the input.
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    auto* n = add_node(g, "Transpose", {"input"}, {"out"});
    auto* perm = n->add_attribute();
    perm->set_name("perm");
    perm->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t p : {0, 0, 2, 3}) perm->add_ints(p);
    add_output(g, "out");
    cases.push_back({"repeated perm axis", save(dir, "perm.onnx", m), "perm names axis 0 twice"});
  }
  {
    // Found by fuzzing: Concat (like ArgMax, Gather, Split, Pad) indexed past a scalar's empty shape.
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_initializer(g, "s", {}, {1.0f});
    auto* n = add_node(g, "Concat", {"s", "s"}, {"c"});
    auto* axis = n->add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(0);
    add_node(g, "Add", {"input", "c"}, {"out"});
    add_output(g, "out");
    cases.push_back({"concat of scalars", save(dir, "scalars.onnx", m), "out of range for rank 0"});
  }
  {
    // Found by fuzzing: a float shape holding -inf was cast to int64 (undefined behaviour).
    auto m = empty_model();
    auto* g = m.mutable_graph();
    add_input(g, "input", {1, 1, 8, 8});
    add_initializer(g, "shape", {2}, {-std::numeric_limits<float>::infinity(), 64.0f});
    add_node(g, "Reshape", {"input", "shape"}, {"out"});
    add_output(g, "out");
    cases.push_back({"infinite shape", save(dir, "inf_shape.onnx", m), "Reshape"});
  }
  return cases;
}

}  // namespace luojia::test
