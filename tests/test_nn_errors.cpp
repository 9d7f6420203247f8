// Hostile and broken model files: each is a luojia::Error naming the file, never a crash.
#include "hostile_models.hpp"
#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <random>

using namespace luojia;
using namespace luojia::nn;
using luojia::test::TempDir;
using namespace luojia::test;

namespace {

std::string load_error(const std::string& path) {
  try {
    const Model model = Model::load(path);
    Tensor input({1, 1, 8, 8});
    model.run({input});
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("broken model files are errors naming the file", "[nn][errors]") {
  TempDir dir;
  const std::vector<luojia::test::HostileModel> cases = luojia::test::write_hostile_models(dir);
  for (const auto& c : cases) {
    const std::string message = load_error(c.path);
    INFO(c.name << ": " << message);
    CHECK(message.rfind(c.path, 0) == 0);
    CHECK(message.find(c.needle) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("wrong inputs at run time name the node", "[nn][errors]") {
  const Model model = Model::load(LUOJIA_TEST_DATA "/nn/unet_op17.onnx");
  Tensor three_bands({1, 3, 32, 32});
  CHECK_THROWS_WITH(model.run({three_bands}), Catch::Contains("expects shape [1,4,-1,-1]"));
  Tensor too_small({1, 4, 1, 1});
  CHECK_THROWS_AS(model.run({too_small}), Error);
  CHECK_THROWS_WITH(model.run({}), Catch::Contains("takes 1 input(s), not 0"));
}

TEST_CASE("model metadata from metadata_props and sidecars", "[nn][metadata]") {
  TempDir dir;
  auto m = empty_model();
  auto* g = m.mutable_graph();
  add_input(g, "input", {1, 2, -1, -1});
  add_node(g, "Relu", {"input"}, {"out"});
  add_output(g, "out");
  auto* prop = m.add_metadata_props();
  prop->set_key("luojia");
  prop->set_value(R"({"bands": [4, 3], "scale": 0.0001, "mean": [0.1, 0.2], "std": [0.5, 0.25],
                      "classes": [{"name": "water", "color": "#0000ff"}, {"name": "land", "color": [0, 128, 0]}]})");
  const std::string path = save(dir, "net.onnx", m);
  {
    const Model model = Model::load(path);
    const ModelMetadata& md = model.metadata();
    CHECK(md.source == "metadata_props");
    CHECK(md.bands == std::vector<int>{4, 3});
    REQUIRE(md.classes.size() == 2);
    CHECK(md.classes[0].name == "water");
    CHECK(md.classes[0].color == std::array<int, 3>{0, 0, 255});
    CHECK(md.classes[1].color == std::array<int, 3>{0, 128, 0});
    std::vector<float> gain, bias;
    md.normalisation(2, gain, bias);
    // ((raw * 1e-4) - 0.1) / 0.5 = raw * 2e-4 - 0.2
    CHECK(gain[0] == Approx(2e-4));
    CHECK(bias[0] == Approx(-0.2));
    CHECK(gain[1] == Approx(4e-4));
    CHECK(bias[1] == Approx(-0.8));
    CHECK_THROWS_AS(md.normalisation(3, gain, bias), Error);
  }
  std::ofstream(dir.file("net.json")) << R"({"bands": [1, 2], "classes": ["a", "b", "c"]})";
  {
    const Model model = Model::load(path);
    CHECK(model.metadata().source == "sidecar " + dir.file("net.json"));
    CHECK(model.metadata().bands == std::vector<int>{1, 2});
    CHECK(model.metadata().classes.size() == 3);
  }
  std::ofstream(dir.file("net.json")) << R"({"bands": [0]})";
  CHECK_THROWS_WITH(Model::load(path), Catch::Contains("net.json: \"bands\" must hold band numbers from 1"));
  std::ofstream(dir.file("net.json")) << "{not json";
  CHECK_THROWS_WITH(Model::load(path), Catch::Contains("not valid JSON"));
  std::ofstream(dir.file("net.json")) << R"({"std": [1, 0]})";
  CHECK_THROWS_WITH(Model::load(path), Catch::Contains("must not contain zero"));
  std::filesystem::remove(dir.file("net.json"));
  // Without metadata: bands in order, no normalisation.
  auto plain = empty_model();
  add_input(plain.mutable_graph(), "input", {1, 2, -1, -1});
  add_node(plain.mutable_graph(), "Relu", {"input"}, {"out"});
  add_output(plain.mutable_graph(), "out");
  const Model model = Model::load(save(dir, "plain.onnx", plain));
  CHECK(model.metadata().source == "none");
  std::vector<float> gain, bias;
  model.metadata().normalisation(2, gain, bias);
  CHECK(gain == std::vector<float>{1.0f, 1.0f});
  CHECK(bias == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("a session plans once per shape and reuses its arena", "[nn]") {
  const Model model = Model::load(LUOJIA_TEST_DATA "/nn/unet_op17.onnx");
  Session session(model);
  Tensor a({1, 4, 32, 32}), b({1, 4, 48, 40});
  session.run({a});
  const std::size_t small = session.peak_bytes();
  session.run({b});
  session.run({a});
  const auto outputs = session.run({b});
  CHECK(session.planned_shapes() == 2);
  // The outputs it keeps for the next run are the last shape's.
  std::size_t output_bytes = 0;
  for (const Tensor& t : outputs) output_bytes += static_cast<std::size_t>(t.size()) * sizeof(float);
  CHECK(output_bytes >= std::size_t{48 * 40 * 4});
  CHECK(session.output_bytes() == output_bytes);
  CHECK(session.peak_bytes() > small);
  // Liveness sharing: the arena is far below the sum of every activation.
  CHECK(session.peak_bytes() < std::size_t{48 * 40 * 4} * 4 * 200);
}

TEST_CASE("a Reshape takes its input's memory, and the input stays readable after it", "[nn]") {
  // a = Relu(x) is reshaped (r), activated (s), reshaped back (v) and added to a: a and r share
  // one plane, s and v another, so the plan needs 2 planes of S floats; copies would need 3 (a, r
  // and s alive at the Sigmoid).
  TempDir dir;
  constexpr std::int64_t kChannels = 4, kSide = 16, kPlane = kChannels * kSide * kSide;
  auto m = empty_model();
  auto* g = m.mutable_graph();
  add_input(g, "x", {1, kChannels, kSide, kSide});
  add_node(g, "Relu", {"x"}, {"a"});
  add_int64_initializer(g, "flat", {1, kChannels, kSide * kSide});
  add_int64_initializer(g, "square", {1, kChannels, kSide, kSide});
  add_node(g, "Reshape", {"a", "flat"}, {"r"});
  add_node(g, "Sigmoid", {"r"}, {"s"});
  add_node(g, "Reshape", {"s", "square"}, {"v"});
  add_node(g, "Add", {"v", "a"}, {"y"});
  add_output(g, "y");
  const Model model = Model::load(save(dir, "views.onnx", m));
  Session session(model);
  Tensor x({1, kChannels, kSide, kSide});
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 9) - 4.0f;
  const auto y = session.run({x}).at(0);
  CHECK(session.peak_bytes() == static_cast<std::size_t>(2 * kPlane) * sizeof(float));
  REQUIRE(y.shape() == Shape{1, kChannels, kSide, kSide});
  for (std::int64_t i = 0; i < y.size(); ++i) {
    const float a = std::max(0.0f, x.data()[i]);
    CHECK(y.data()[i] == Approx(a + 1.0f / (1.0f + std::exp(-a))).epsilon(1e-6));
  }
}

TEST_CASE("the arena reuses the half of a skip's Concat block that is not written yet", "[nn]") {
  // A U-Net level in miniature: s = Relu(x) is the skip, pooled (p), activated (q), upsampled (u)
  // and concatenated with s (both written in place into the Concat's block c), then y = Relu(c).
  // At the Resize s, q and u are alive: 2.25 planes of S floats, the least any plan can do. While
  // p and q live, u's half of c is not written yet, so they can sit there; a plan that keeps the
  // whole of c reserved from s onwards needs 2.5 S.
  TempDir dir;
  constexpr std::int64_t kChannels = 4, kSide = 16, kPlane = kChannels * kSide * kSide;  // S = 1024 floats
  auto m = empty_model();
  auto* g = m.mutable_graph();
  add_input(g, "x", {1, kChannels, kSide, kSide});
  add_node(g, "Relu", {"x"}, {"s"});
  auto* pool = add_node(g, "MaxPool", {"s"}, {"p"});
  auto* kernel = pool->add_attribute();
  kernel->set_name("kernel_shape");
  kernel->set_type(onnx::AttributeProto::INTS);
  kernel->add_ints(2);
  kernel->add_ints(2);
  auto* strides = pool->add_attribute();
  strides->set_name("strides");
  strides->set_type(onnx::AttributeProto::INTS);
  strides->add_ints(2);
  strides->add_ints(2);
  add_node(g, "Sigmoid", {"p"}, {"q"});
  add_initializer(g, "scales", {4}, {1.0f, 1.0f, 2.0f, 2.0f});
  add_node(g, "Resize", {"q", "", "scales"}, {"u"});
  auto* concat = add_node(g, "Concat", {"s", "u"}, {"c"});
  auto* axis = concat->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(1);
  add_node(g, "Relu", {"c"}, {"y"});
  add_output(g, "y");
  const Model model = Model::load(save(dir, "level.onnx", m));
  Session session(model);
  Tensor x({1, kChannels, kSide, kSide});
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 7) - 3.0f;
  const auto y = session.run({x}).at(0);
  CHECK(session.peak_bytes() == static_cast<std::size_t>(kPlane * 9 / 4) * sizeof(float));
  // And the values: y = [relu(x), sigmoid(maxpool(relu(x))) upsampled by nearest neighbour].
  REQUIRE(y.shape() == Shape{1, 2 * kChannels, kSide, kSide});
  for (std::int64_t c = 0; c < kChannels; ++c)
    for (std::int64_t r = 0; r < kSide; ++r)
      for (std::int64_t col = 0; col < kSide; ++col) {
        const auto at = [&](std::int64_t rr, std::int64_t cc) { return std::max(0.0f, x.data()[(c * kSide + rr) * kSide + cc]); };
        CHECK(y.data()[(c * kSide + r) * kSide + col] == at(r, col));
        const float pooled = std::max({at(r / 2 * 2, col / 2 * 2), at(r / 2 * 2 + 1, col / 2 * 2), at(r / 2 * 2, col / 2 * 2 + 1),
                                       at(r / 2 * 2 + 1, col / 2 * 2 + 1)});
        CHECK(y.data()[((kChannels + c) * kSide + r) * kSide + col] == Approx(1.0f / (1.0f + std::exp(-pooled))).epsilon(1e-6));
      }
}

TEST_CASE("a profiled session times every node of the runs it makes", "[nn]") {
  const Model model = Model::load(LUOJIA_TEST_DATA "/nn/unet_op17.onnx");
  Session session(model);
  Tensor x({1, 4, 32, 32});
  session.run({x});
  CHECK(session.layer_times().empty());  // off by default
  session.profile(true);
  session.run({x});
  session.run({x});
  const auto times = session.layer_times();
  REQUIRE(!times.empty());
  CHECK(times.size() <= model.node_count());
  std::size_t convolutions = 0;
  for (const LayerTime& t : times) {
    INFO(t.node << " " << t.op_type);
    CHECK(!t.node.empty());
    CHECK(t.runs == 2);
    CHECK(t.seconds >= 0.0);
    if (t.op_type == "Conv") ++convolutions;
  }
  CHECK(convolutions >= 4);
  CHECK(times.back().output == Shape{1, model.outputs().front().shape[1], 32, 32});  // the last node writes the output
  session.profile(false);
  session.run({x});
  CHECK(session.layer_times().empty());
}
