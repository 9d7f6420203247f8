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
  session.run({b});
  CHECK(session.planned_shapes() == 2);
  CHECK(session.peak_bytes() > small);
  // Liveness sharing: the arena is far below the sum of every activation.
  CHECK(session.peak_bytes() < std::size_t{48 * 40 * 4} * 4 * 200);
}
