// Every optimised layer against a naive loop written from the ONNX operator spec, over a sweep
// of shapes (ncnn's testutil way): Conv (groups, dilation, stride, padding, the channel-block
// path for 64 and more output channels, the column chunks past 1024 pixels), ConvTranspose,
// pooling, Resize, Softmax, DepthToSpace and SpaceToDepth; 1x1 and odd sizes included.
#include "hostile_models.hpp"
#include "support.hpp"

#include <luojia/nn/model.hpp>

#include <catch2/catch.hpp>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <sstream>

using namespace luojia;
using namespace luojia::test;

namespace {

using Dims = std::vector<std::int64_t>;

void set_int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void set_ints(onnx::NodeProto* n, const std::string& name, const Dims& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

std::vector<float> random_values(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::int64_t product(const Dims& d) {
  std::int64_t p = 1;
  for (auto x : d) p *= x;
  return p;
}

// Runs a one-input graph on x and returns its output.
nn::Tensor run_graph(const TempDir& dir, const onnx::ModelProto& m, const Dims& shape, const std::vector<float>& x) {
  static int counter = 0;
  const std::string path = save(dir, "op" + std::to_string(counter++) + ".onnx", m);
  const nn::Model model = nn::Model::load(path);
  nn::Tensor input(shape);
  std::copy(x.begin(), x.end(), input.data());
  return model.run({input}).at(0);
}

void check_equal(const nn::Tensor& got, const Dims& shape, const std::vector<double>& want) {
  REQUIRE(got.shape() == shape);
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want[i]) / (1.0 + std::fabs(want[i])));
  CHECK(worst < 2e-5);
}

struct ConvCase {
  std::int64_t n, cin, cout, group, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  bool bias, relu;
  std::string describe() const {
    std::ostringstream s;
    s << "N" << n << " Cin" << cin << " Cout" << cout << " g" << group << " " << h << "x" << w << " k" << kh << "x" << kw << " s" << sh
      << "," << sw << " d" << dh << "," << dw << " p" << pt << "," << pl << "," << pb << "," << pr << (bias ? " bias" : "")
      << (relu ? " relu" : "");
    return s.str();
  }
};

void check_conv(const TempDir& dir, const ConvCase& c, std::mt19937& rng) {
  INFO(c.describe());
  const std::int64_t cin_g = c.cin / c.group, cout_g = c.cout / c.group;
  const std::int64_t rows = c.h + c.pt + c.pb - c.dh * (c.kh - 1) - 1, cols = c.w + c.pl + c.pr - c.dw * (c.kw - 1) - 1;
  if (rows < 0 || cols < 0) return;  // smaller than the kernel: refused, tested elsewhere
  const std::int64_t ho = rows / c.sh + 1, wo = cols / c.sw + 1;
  const Dims xs{c.n, c.cin, c.h, c.w}, ws{c.cout, cin_g, c.kh, c.kw}, ys{c.n, c.cout, ho, wo};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng), w = random_values(static_cast<std::size_t>(product(ws)), rng);
  const auto b = random_values(static_cast<std::size_t>(c.cout), rng);
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", xs);
  add_initializer(g, "w", ws, w);
  std::vector<std::string> inputs{"x", "w"};
  if (c.bias) {
    add_initializer(g, "b", {c.cout}, b);
    inputs.push_back("b");
  }
  auto* conv = add_node(g, "Conv", inputs, {c.relu ? "c" : "y"});
  set_ints(conv, "kernel_shape", {c.kh, c.kw});
  set_ints(conv, "strides", {c.sh, c.sw});
  set_ints(conv, "dilations", {c.dh, c.dw});
  set_ints(conv, "pads", {c.pt, c.pl, c.pb, c.pr});
  set_int(conv, "group", c.group);
  if (c.relu) add_node(g, "Relu", {"c"}, {"y"});  // fused into the convolution at load
  add_output(g, "y");

  std::vector<double> want(static_cast<std::size_t>(product(ys)));
  for (std::int64_t n = 0; n < c.n; ++n)
    for (std::int64_t co = 0; co < c.cout; ++co) {
      const std::int64_t grp = co / cout_g;
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double sum = c.bias ? b[static_cast<std::size_t>(co)] : 0.0;
          for (std::int64_t ci = 0; ci < cin_g; ++ci)
            for (std::int64_t ky = 0; ky < c.kh; ++ky)
              for (std::int64_t kx = 0; kx < c.kw; ++kx) {
                const std::int64_t iy = oy * c.sh - c.pt + ky * c.dh, ix = ox * c.sw - c.pl + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                sum += static_cast<double>(x[static_cast<std::size_t>(((n * c.cin + grp * cin_g + ci) * c.h + iy) * c.w + ix)]) *
                       w[static_cast<std::size_t>(((co * cin_g + ci) * c.kh + ky) * c.kw + kx)];
              }
          want[static_cast<std::size_t>(((n * c.cout + co) * ho + oy) * wo + ox)] = c.relu ? std::max(0.0, sum) : sum;
        }
    }
  check_equal(run_graph(dir, m, xs, x), ys, want);
}

}  // namespace

namespace {

// An inverted residual block's expansion and depthwise layers, which load fuses into one
// luojia.PointwiseDepthwise: 1 x 1 (cin -> m) with bias and activation a1, then a depthwise
// kh x kw convolution with bias and activation a2.
struct ExpandCase {
  std::int64_t n, cin, m, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  std::string a1, a2;  // "", "relu" or "silu"
  std::string describe() const {
    std::ostringstream s;
    s << "N" << n << " " << cin << " -> " << m << " " << h << "x" << w << " k" << kh << "x" << kw << " s" << sh << "," << sw << " d" << dh
      << "," << dw << " p" << pt << "," << pl << "," << pb << "," << pr << " " << (a1.empty() ? "-" : a1) << "/" << (a2.empty() ? "-" : a2);
    return s.str();
  }
};

double activate(const std::string& a, double v) {
  if (a == "relu") return std::max(0.0, v);
  if (a == "silu") return v / (1.0 + std::exp(-v));
  return v;
}

// The activation a on value `in` as PyTorch exports it; returns the activated value's name.
std::string add_activation(onnx::GraphProto* g, const std::string& a, const std::string& in) {
  if (a == "relu") {
    add_node(g, "Relu", {in}, {in + "_relu"});
    return in + "_relu";
  }
  if (a == "silu") {
    add_node(g, "Sigmoid", {in}, {in + "_sigmoid"});
    add_node(g, "Mul", {in, in + "_sigmoid"}, {in + "_silu"});
    return in + "_silu";
  }
  return in;
}

void check_expansion(const TempDir& dir, const ExpandCase& c, std::mt19937& rng) {
  INFO(c.describe());
  const std::int64_t ho = (c.h + c.pt + c.pb - c.dh * (c.kh - 1) - 1) / c.sh + 1, wo = (c.w + c.pl + c.pr - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  const Dims xs{c.n, c.cin, c.h, c.w}, ys{c.n, c.m, ho, wo};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  const auto w1 = random_values(static_cast<std::size_t>(c.m * c.cin), rng), b1 = random_values(static_cast<std::size_t>(c.m), rng);
  const auto w2 = random_values(static_cast<std::size_t>(c.m * c.kh * c.kw), rng), b2 = random_values(static_cast<std::size_t>(c.m), rng);
  onnx::ModelProto model = empty_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", xs);
  add_initializer(g, "w1", {c.m, c.cin, 1, 1}, w1);
  add_initializer(g, "b1", {c.m}, b1);
  add_initializer(g, "w2", {c.m, 1, c.kh, c.kw}, w2);
  add_initializer(g, "b2", {c.m}, b2);
  add_node(g, "Conv", {"x", "w1", "b1"}, {"e"});
  auto* dw = add_node(g, "Conv", {add_activation(g, c.a1, "e"), "w2", "b2"}, {"d"});
  set_ints(dw, "kernel_shape", {c.kh, c.kw});
  set_ints(dw, "strides", {c.sh, c.sw});
  set_ints(dw, "dilations", {c.dh, c.dw});
  set_ints(dw, "pads", {c.pt, c.pl, c.pb, c.pr});
  set_int(dw, "group", c.m);
  add_output(g, add_activation(g, c.a2, "d"));
  const std::string path = save(dir, "expansion.onnx", model);
  const nn::Model loaded = nn::Model::load(path);
  CHECK(loaded.node_count() == 1);  // one luojia.PointwiseDepthwise
  // The expansion in double, then the depthwise layer on it.
  std::vector<double> e(static_cast<std::size_t>(c.n * c.m * c.h * c.w)), want(static_cast<std::size_t>(product(ys)));
  for (std::int64_t b = 0; b < c.n; ++b)
    for (std::int64_t ch = 0; ch < c.m; ++ch)
      for (std::int64_t p = 0; p < c.h * c.w; ++p) {
        double sum = b1[static_cast<std::size_t>(ch)];
        for (std::int64_t ci = 0; ci < c.cin; ++ci)
          sum += static_cast<double>(w1[static_cast<std::size_t>(ch * c.cin + ci)]) * x[static_cast<std::size_t>((b * c.cin + ci) * c.h * c.w + p)];
        e[static_cast<std::size_t>((b * c.m + ch) * c.h * c.w + p)] = activate(c.a1, sum);
      }
  for (std::int64_t b = 0; b < c.n; ++b)
    for (std::int64_t ch = 0; ch < c.m; ++ch)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double sum = b2[static_cast<std::size_t>(ch)];
          for (std::int64_t ky = 0; ky < c.kh; ++ky)
            for (std::int64_t kx = 0; kx < c.kw; ++kx) {
              const std::int64_t iy = oy * c.sh - c.pt + ky * c.dh, ix = ox * c.sw - c.pl + kx * c.dw;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              sum += w2[static_cast<std::size_t>((ch * c.kh + ky) * c.kw + kx)] * e[static_cast<std::size_t>(((b * c.m + ch) * c.h + iy) * c.w + ix)];
            }
          want[static_cast<std::size_t>(((b * c.m + ch) * ho + oy) * wo + ox)] = activate(c.a2, sum);
        }
  nn::Tensor input(xs);
  std::copy(x.begin(), x.end(), input.data());
  check_equal(loaded.run({input}).at(0), ys, want);
}

}  // namespace

TEST_CASE("A 1 x 1 convolution and the depthwise one after it, fused, equal the two convolutions' loops", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(29);
  const std::vector<ExpandCase> cases{
      {1, 16, 64, 40, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, "relu", "relu"},    // stride 2, odd sizes, two panels
      {2, 24, 72, 23, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, "silu", "silu"},    // batch 2, a partly filled last panel
      {1, 8, 8, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, "", ""},                // one pixel, eight channels
      {1, 5, 40, 1, 50, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, "relu", ""},          // one row
      {1, 40, 240, 14, 14, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, "silu", "silu"},   // EfficientNet's 14 x 14: groups of panels
      {1, 192, 300, 7, 7, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, "silu", "relu"},    // 7 x 7 at stride 2: slivers across rows
      {1, 16, 96, 70, 130, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, "silu", "silu"},   // wide rows: bands of output rows
      {1, 12, 48, 33, 64, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, "relu", "relu"},    // dilated
      {1, 6, 20, 17, 23, 3, 5, 1, 2, 1, 1, 0, 2, 1, 1, "", "silu"},         // a 3 x 5 window, asymmetric padding
      {1, 8, 16, 19, 31, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, "relu", ""},         // stride 3
      {1, 8, 32, 20, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, "relu", "relu"},     // one panel: bands for the threads
      {1, 4, 24, 9, 90, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3, "", ""},              // 7 x 7 (ConvNeXt's window) on a wide row
      {1, 6, 10, 6, 6, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4, "", ""},               // padding wider than the window: bands of padding only
  };
  for (const auto& c : cases) check_expansion(dir, c, rng);
  // Not fused where the expansion is also read elsewhere: here it is a graph output too.
  onnx::ModelProto model = empty_model(17);
  auto* g = model.mutable_graph();
  add_input(g, "x", {1, 4, 5, 5});
  add_initializer(g, "w1", {8, 4, 1, 1}, random_values(32, rng));
  add_initializer(g, "w2", {8, 1, 3, 3}, random_values(72, rng));
  add_node(g, "Conv", {"x", "w1"}, {"e"});
  auto* dw = add_node(g, "Conv", {"e", "w2"}, {"y"});
  set_int(dw, "group", 8);
  add_output(g, "y");
  add_output(g, "e");
  CHECK(nn::Model::load(save(dir, "kept.onnx", model)).node_count() == 2);
}

TEST_CASE("SiLU as PyTorch exports it (Sigmoid, Mul) and Sigmoid, fused into a convolution or alone, equal the formula in double",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(11);
  const Dims xs{1, 3, 9, 13}, ws{5, 3, 3, 3}, ys{1, 5, 9, 13};
  auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  for (auto& v : x) v *= 40.0f;  // from far below to far above exp's range: saturation, tiny values
  x[0] = 0.0f;
  const auto w = random_values(static_cast<std::size_t>(product(ws)), rng);
  std::vector<double> conv(static_cast<std::size_t>(product(ys)), 0.0);
  for (std::int64_t co = 0; co < 5; ++co)
    for (std::int64_t oy = 0; oy < 9; ++oy)
      for (std::int64_t ox = 0; ox < 13; ++ox) {
        double sum = 0;
        for (std::int64_t ci = 0; ci < 3; ++ci)
          for (std::int64_t ky = 0; ky < 3; ++ky)
            for (std::int64_t kx = 0; kx < 3; ++kx) {
              const std::int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;
              if (iy < 0 || iy >= 9 || ix < 0 || ix >= 13) continue;
              sum += static_cast<double>(x[static_cast<std::size_t>((ci * 9 + iy) * 13 + ix)]) * w[static_cast<std::size_t>(((co * 3 + ci) * 3 + ky) * 3 + kx)];
            }
        conv[static_cast<std::size_t>((co * 9 + oy) * 13 + ox)] = sum;
      }
  const auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (const bool swapped : {false, true})
    for (const bool with_conv : {true, false}) {
      INFO((with_conv ? "after a convolution" : "alone") << (swapped ? ", Mul(Sigmoid(x), x)" : ", Mul(x, Sigmoid(x))"));
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      std::string pre = "x";
      if (with_conv) {
        add_initializer(g, "w", ws, w);
        auto* node = add_node(g, "Conv", {"x", "w"}, {"c"});
        set_ints(node, "kernel_shape", {3, 3});
        set_ints(node, "pads", {1, 1, 1, 1});
        pre = "c";
      }
      add_node(g, "Sigmoid", {pre}, {"s"});
      add_node(g, "Mul", swapped ? std::vector<std::string>{"s", pre} : std::vector<std::string>{pre, "s"}, {"y"});
      add_output(g, "y");
      const Dims& out = with_conv ? ys : xs;
      std::vector<double> want(static_cast<std::size_t>(product(out)));
      for (std::size_t i = 0; i < want.size(); ++i) {
        const double v = with_conv ? conv[i] : static_cast<double>(x[i]);
        want[i] = v * sigmoid(v);
      }
      check_equal(run_graph(dir, m, xs, x), out, want);
    }
  // Sigmoid alone, and its relative error where it is tiny.
  onnx::ModelProto m = empty_model(17);
  add_input(m.mutable_graph(), "x", xs);
  add_node(m.mutable_graph(), "Sigmoid", {"x"}, {"y"});
  add_output(m.mutable_graph(), "y");
  const nn::Tensor got = run_graph(dir, m, xs, x);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = sigmoid(static_cast<double>(x[i]));
    if (want > 1e-30) worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want) / want);
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("Tanh (vectorised) equals tanh in double: tiny values relatively, saturation, zero, infinities and NaN", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(12);
  const Dims xs{1, 2, 17, 19};
  auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= i % 3 == 0 ? 1e-3f : i % 3 == 1 ? 1.0f : 30.0f;
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 0.0299f, x[3] = 0.0301f, x[4] = -0.0301f, x[5] = 1e-30f;
  x[6] = std::numeric_limits<float>::infinity(), x[7] = -x[6], x[8] = std::numeric_limits<float>::quiet_NaN();
  onnx::ModelProto m = empty_model(17);
  add_input(m.mutable_graph(), "x", xs);
  add_node(m.mutable_graph(), "Tanh", {"x"}, {"y"});
  add_output(m.mutable_graph(), "y");
  const nn::Tensor got = run_graph(dir, m, xs, x);
  double worst_absolute = 0, worst_relative = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::tanh(static_cast<double>(x[i])), y = got.data()[i];
    if (std::isnan(want)) {
      CHECK(std::isnan(y));
      continue;
    }
    worst_absolute = std::max(worst_absolute, std::fabs(y - want));
    if (want != 0) worst_relative = std::max(worst_relative, std::fabs(y - want) / std::fabs(want));
  }
  CHECK(worst_absolute < 2e-7);
  CHECK(worst_relative < 2e-6);
  CHECK(got.data()[6] == 1.0f);
  CHECK(got.data()[7] == -1.0f);
}

TEST_CASE("binary arithmetic broadcasts as numpy: per channel, scalars, rows, columns, both sides at once", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(17);
  const std::vector<std::pair<Dims, Dims>> shapes{
      {{2, 3, 5, 7}, {2, 3, 5, 7}}, {{2, 3, 5, 7}, {1, 3, 1, 1}}, {{1, 3, 1, 1}, {2, 3, 5, 7}}, {{2, 3, 5, 7}, {}},
      {{2, 3, 5, 7}, {7}},          {{2, 3, 5, 7}, {2, 1, 5, 7}}, {{2, 3, 1, 7}, {2, 1, 5, 1}}, {{3, 1, 1}, {2, 3, 5, 7}},
      {{1, 1, 5, 1}, {2, 3, 5, 7}}, {{1, 1, 1, 1}, {1, 1, 1, 1}}, {{4, 1}, {1, 6}},             {{2, 3, 5, 7}, {5, 1}},
  };
  for (const std::string op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu"})
    for (const auto& [as, bs] : shapes) {
      if (op == "PRelu" && bs.size() > as.size()) continue;  // the slope broadcasts to the input
      const std::size_t rank = std::max(as.size(), bs.size());
      Dims ys(rank);
      const auto dim = [&](const Dims& s, std::size_t d) { return d + s.size() < rank ? 1 : s[d + s.size() - rank]; };
      for (std::size_t d = 0; d < rank; ++d) ys[d] = std::max(dim(as, d), dim(bs, d));
      INFO(op << " " << as.size() << "-d by " << bs.size() << "-d into " << product(ys));
      auto a = random_values(static_cast<std::size_t>(product(as)), rng), b = random_values(static_cast<std::size_t>(product(bs)), rng);
      if (op == "Pow")
        for (auto& v : a) v = std::fabs(v) + 0.1f;
      if (op == "Div")
        for (auto& v : b) v = v >= 0 ? v + 0.5f : v - 0.5f;
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "a", as);
      add_initializer(g, "b", bs, b);
      add_node(g, op, {"a", "b"}, {"y"});
      add_output(g, "y");
      std::vector<double> want(static_cast<std::size_t>(product(ys)));
      for (std::int64_t o = 0; o < product(ys); ++o) {
        std::int64_t ia = 0, ib = 0, rest = o, step_a = 1, step_b = 1;
        for (std::size_t d = rank; d-- > 0;) {
          const std::int64_t i = rest % ys[d];
          rest /= ys[d];
          if (dim(as, d) > 1) ia += i * step_a;
          if (dim(bs, d) > 1) ib += i * step_b;
          step_a *= dim(as, d);
          step_b *= dim(bs, d);
        }
        const double u = a[static_cast<std::size_t>(ia)], v = b[static_cast<std::size_t>(ib)];
        want[static_cast<std::size_t>(o)] = op == "Add" ? u + v : op == "Sub" ? u - v : op == "Mul" ? u * v : op == "Div" ? u / v
                                           : op == "Max" ? std::max(u, v) : op == "Min" ? std::min(u, v) : op == "Pow" ? std::pow(u, v)
                                           : u >= 0 ? u : u * v;
      }
      check_equal(run_graph(dir, m, as, a), ys, want);
    }
}

TEST_CASE("Slice equals numpy's slicing: steps forward and back, clamped ends, some axes or all, runs and single elements",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(23);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  for (int i = 0; i < 200; ++i) {
    const std::size_t rank = 1 + static_cast<std::size_t>(pick(rng) % 4);
    Dims xs(rank);
    for (auto& d : xs) d = 1 + pick(rng) % 7;
    std::vector<std::int64_t> starts, ends, axes, steps;
    std::vector<std::int64_t> lo(rank, 0), step(rank, 1), count(xs.begin(), xs.end());
    for (std::size_t a = 0; a < rank; ++a) {
      if (pick(rng) % 3 == 0) continue;  // this axis whole
      const std::int64_t n = xs[a];
      const std::int64_t st = std::vector<std::int64_t>{1, 1, 2, 3, -1, -2}[static_cast<std::size_t>(pick(rng) % 6)];
      std::int64_t b = pick(rng) % (n + 2) - 1, e = pick(rng) % (n + 3) - 1;  // -1 and past the end: clamped
      if (st < 0) std::swap(b, e);
      axes.push_back(static_cast<std::int64_t>(a));
      starts.push_back(b);
      ends.push_back(e);
      steps.push_back(st);
      // numpy's rule: negative indices count from the end, then clamp ([0, n] forward, [-1, n-1] back).
      const auto norm = [n](std::int64_t v, bool back) {
        if (v < 0) v += n;
        return back ? std::clamp<std::int64_t>(v, -1, n - 1) : std::clamp<std::int64_t>(v, 0, n);
      };
      const std::int64_t s0 = norm(b, st < 0), e0 = norm(e, st < 0);
      lo[a] = s0;
      step[a] = st;
      count[a] = st > 0 ? std::max<std::int64_t>(0, (e0 - s0 + st - 1) / st) : std::max<std::int64_t>(0, (s0 - e0 - st - 1) / -st);
    }
    if (std::find(count.begin(), count.end(), 0) != count.end()) continue;  // empty results are tested elsewhere
    INFO("case " << i << ", rank " << rank);
    const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    for (const auto& [name, values] : {std::pair{"starts", starts}, {"ends", ends}, {"axes", axes}, {"steps", steps}})
      add_int64_initializer(g, name, values);
    add_node(g, "Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
    add_output(g, "y");
    const Dims ys(count.begin(), count.end());
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t o = 0; o < product(ys); ++o) {
      std::int64_t rest = o, src = 0, stride = 1;
      for (std::size_t d = rank; d-- > 0;) {
        src += (lo[d] + rest % ys[d] * step[d]) * stride;
        rest /= ys[d];
        stride *= xs[d];
      }
      want[static_cast<std::size_t>(o)] = x[static_cast<std::size_t>(src)];
    }
    check_equal(run_graph(dir, m, xs, x), ys, want);
  }
}

TEST_CASE("Pad equals the spec: constant (with a value), reflect and edge, negative pads that crop, on every axis", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int checked = 0;
  for (int i = 0; i < 120; ++i) {
    const std::size_t rank = 1 + static_cast<std::size_t>(pick(rng) % 4);
    Dims xs(rank);
    for (auto& d : xs) d = 1 + pick(rng) % 6;
    const std::string mode = std::vector<std::string>{"constant", "reflect", "edge"}[static_cast<std::size_t>(pick(rng) % 3)];
    std::vector<std::int64_t> pads(2 * rank);
    Dims ys(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      for (std::size_t side : {d, d + rank}) {
        const std::int64_t most = mode == "reflect" ? xs[d] - 1 : 3;  // reflect pads less than the axis
        pads[side] = pick(rng) % (most + 1) - (xs[d] > 2 && pick(rng) % 4 == 0 ? 1 : 0);
      }
      ys[d] = xs[d] + pads[d] + pads[d + rank];
    }
    if (std::any_of(ys.begin(), ys.end(), [](std::int64_t v) { return v < 1; })) continue;
    INFO("case " << i << ": " << mode << ", rank " << rank);
    const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
    const float value = mode == "constant" ? 2.5f : 0.0f;
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_int64_initializer(g, "pads", pads);
    add_initializer(g, "value", {}, {value});
    set_string(add_node(g, "Pad", {"x", "pads", "value"}, {"y"}), "mode", mode);
    add_output(g, "y");
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t o = 0; o < product(ys); ++o) {
      std::int64_t rest = o, src = 0, stride = 1;
      bool outside = false;
      for (std::size_t d = rank; d-- > 0;) {
        std::int64_t i = rest % ys[d] - pads[d];
        rest /= ys[d];
        const std::int64_t n = xs[d];
        if (i < 0 || i >= n) {
          if (mode == "constant") outside = true;
          else if (mode == "edge") i = std::clamp<std::int64_t>(i, 0, n - 1);
          else i = i < 0 ? -i : 2 * (n - 1) - i;  // one reflection: pads are below n
        }
        src += i * stride;
        stride *= n;
      }
      want[static_cast<std::size_t>(o)] = outside ? value : x[static_cast<std::size_t>(src)];
    }
    check_equal(run_graph(dir, m, xs, x), ys, want);
    ++checked;
  }
  CHECK(checked > 60);
  // All-zero pads (PyTorch's export of avg_pool2d puts one before AveragePool) are no layer at all.
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", {1, 2, 4, 4});
  add_int64_initializer(g, "pads", std::vector<std::int64_t>(8, 0));
  add_node(g, "Pad", {"x", "pads"}, {"p"});
  add_node(g, "Relu", {"p"}, {"y"});
  add_output(g, "y");
  const nn::Model model = nn::Model::load(save(dir, "zero_pad.onnx", m));
  nn::Session session(model);
  session.profile(true);
  session.run({nn::Tensor({1, 2, 4, 4})});
  for (const nn::LayerTime& lt : session.layer_times()) CHECK(lt.op_type != "Pad");
}

TEST_CASE("Softmax and LogSoftmax over every axis equal the formula in double, 1-sized and long axes included", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(5);
  for (const Dims& xs : {Dims{2, 3, 5, 7}, Dims{1, 1, 1, 300}, Dims{1, 16, 4, 531}})
    for (std::int64_t axis = -1; axis < static_cast<std::int64_t>(xs.size()); ++axis)
      for (const std::string op : {"Softmax", "LogSoftmax"}) {
        INFO(op << " over axis " << axis << " of " << xs.size() << "-d " << product(xs));
        auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
        for (auto& v : x) v *= 30.0f;
        onnx::ModelProto m = empty_model(17);
        add_input(m.mutable_graph(), "x", xs);
        set_int(add_node(m.mutable_graph(), op, {"x"}, {"y"}), "axis", axis);
        add_output(m.mutable_graph(), "y");
        const std::size_t a = static_cast<std::size_t>(axis < 0 ? axis + 4 : axis);
        std::int64_t inner = 1;
        for (std::size_t d = a + 1; d < 4; ++d) inner *= xs[d];
        const std::int64_t len = xs[a];
        std::vector<double> want(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
          const std::int64_t base = static_cast<std::int64_t>(i) - (static_cast<std::int64_t>(i) / inner % len) * inner;
          double top = -INFINITY, sum = 0;
          for (std::int64_t k = 0; k < len; ++k) top = std::max(top, static_cast<double>(x[static_cast<std::size_t>(base + k * inner)]));
          for (std::int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(x[static_cast<std::size_t>(base + k * inner)]) - top);
          const double v = static_cast<double>(x[i]) - top;
          want[i] = op == "Softmax" ? std::exp(v) / sum : v - std::log(sum);
        }
        check_equal(run_graph(dir, m, xs, x), xs, want);
      }
}

TEST_CASE("a BatchNormalization left standing, then ReLU or Clip (fused into it at load), and a Concat copied over the threads equal "
          "the formula",
          "[nn][ops]") {
  // DenseNet's pattern: normalisation and activation on a concatenation, which no convolution
  // before it can absorb. 8 x 64 x 64 inputs are 128 KiB each: the Concat copies pieces of them.
  TempDir dir;
  std::mt19937 rng(5);
  const std::int64_t c = 8, h = 64, w = 67;
  const Dims xs{1, c, h, w}, ys{1, 3 * c, h, w};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", xs);
  std::vector<std::vector<float>> params;  // per normalisation: scale, bias, mean, variance
  for (int bn = 0; bn < 2; ++bn) {
    auto scale = random_values(static_cast<std::size_t>(c), rng), bias = random_values(static_cast<std::size_t>(c), rng);
    auto mean = random_values(static_cast<std::size_t>(c), rng), var = random_values(static_cast<std::size_t>(c), rng);
    for (float& v : var) v = std::fabs(v) + 0.1f;
    const std::string p = "bn" + std::to_string(bn) + "_";
    add_initializer(g, p + "scale", {c}, scale);
    add_initializer(g, p + "bias", {c}, bias);
    add_initializer(g, p + "mean", {c}, mean);
    add_initializer(g, p + "var", {c}, var);
    add_node(g, "BatchNormalization", {"x", p + "scale", p + "bias", p + "mean", p + "var"}, {p + "out"});
    for (auto* v : {&scale, &bias, &mean, &var}) params.push_back(*v);
  }
  add_node(g, "Relu", {"bn0_out"}, {"relu"});
  add_initializer(g, "lo", {}, {0.0f});
  add_initializer(g, "hi", {}, {0.5f});
  add_node(g, "Clip", {"bn1_out", "lo", "hi"}, {"clip"});
  auto* cat = add_node(g, "Concat", {"relu", "x", "clip"}, {"y"});
  set_int(cat, "axis", 1);
  add_output(g, "y");
  std::vector<double> want(static_cast<std::size_t>(product(ys)));
  const std::int64_t plane = h * w;
  for (std::int64_t ch = 0; ch < c; ++ch)
    for (std::int64_t i = 0; i < plane; ++i) {
      const double v = x[static_cast<std::size_t>(ch * plane + i)];
      const auto normalised = [&](int bn) {
        const auto at = [&](int k) { return static_cast<double>(params[static_cast<std::size_t>(4 * bn + k)][static_cast<std::size_t>(ch)]); };
        return (v - at(2)) / std::sqrt(at(3) + 1e-5) * at(0) + at(1);
      };
      want[static_cast<std::size_t>(ch * plane + i)] = std::max(0.0, normalised(0));
      want[static_cast<std::size_t>((c + ch) * plane + i)] = v;
      want[static_cast<std::size_t>((2 * c + ch) * plane + i)] = std::clamp(normalised(1), 0.0, 0.5);
    }
  for (const int threads : {1, 2}) {
    INFO(threads << " threads");
    nn::Tensor got;
    tbb::task_arena(threads).execute([&] { got = run_graph(dir, m, xs, x); });
    check_equal(got, ys, want);
  }
}

TEST_CASE("ReduceMean, ReduceSum, ReduceMax and ReduceMin equal the spec's loop over every set of axes, kept or dropped", "[nn][ops]") {
  // Contiguous blocks of axes (a global mean over H and W, ShuffleNet's) take the run-wise path,
  // others the general walk; axes of size 1 inside a block must not break it.
  TempDir dir;
  std::mt19937 rng(3);
  const Dims xs{2, 3, 1, 5, 7};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  const std::vector<Dims> axis_sets{{3, 4}, {1, 2, 3}, {1, 3}, {0}, {4}, {0, 2, 4}, {2}, {0, 1, 2, 3, 4}, {1, 2}};
  for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"})
    for (const Dims& axes : axis_sets)
      for (const int keep : {0, 1}) {
        std::ostringstream what;
        what << op << " axes";
        for (auto a : axes) what << " " << a;
        what << " keepdims " << keep;
        INFO(what.str());
        onnx::ModelProto m = empty_model(11);
        add_input(m.mutable_graph(), "x", xs);
        auto* node = add_node(m.mutable_graph(), op, {"x"}, {"y"});
        set_ints(node, "axes", axes);
        set_int(node, "keepdims", keep);
        add_output(m.mutable_graph(), "y");
        Dims ys, kept_shape;
        for (std::size_t d = 0; d < xs.size(); ++d) {
          const bool reduced = std::find(axes.begin(), axes.end(), static_cast<std::int64_t>(d)) != axes.end();
          kept_shape.push_back(reduced ? 1 : xs[d]);
          if (!reduced) ys.push_back(xs[d]);
          else if (keep) ys.push_back(1);
        }
        const std::string kind(op);
        std::vector<double> want(static_cast<std::size_t>(product(kept_shape)), kind == "ReduceMax" ? -1e300 : kind == "ReduceMin" ? 1e300 : 0.0);
        std::int64_t count = 1;
        for (auto a : axes) count *= xs[static_cast<std::size_t>(a)];
        Dims index(xs.size(), 0);
        for (std::size_t i = 0; i < x.size(); ++i) {
          std::int64_t o = 0;
          for (std::size_t d = 0; d < xs.size(); ++d) o = o * kept_shape[d] + (kept_shape[d] == 1 ? 0 : index[d]);
          double& w = want[static_cast<std::size_t>(o)];
          const double v = x[i];
          w = kind == "ReduceMax" ? std::max(w, v) : kind == "ReduceMin" ? std::min(w, v) : w + v;
          for (std::size_t d = xs.size(); d-- > 0;) {
            if (++index[d] < xs[d]) break;
            index[d] = 0;
          }
        }
        if (kind == "ReduceMean")
          for (double& w : want) w /= static_cast<double>(count);
        check_equal(run_graph(dir, m, xs, x), ys, want);
      }
}

TEST_CASE("a residual Add fused into the convolution before it (then ReLU) equals the unfused spec on every convolution path, "
          "with an identity shortcut, a projection computed first and a broadcast residual",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(29);
  // Same-padded k x k convolution of x (c channels, h x w) with cout = c, in double.
  const auto conv = [](const std::vector<float>& x, const std::vector<float>& wt, std::int64_t c, std::int64_t h, std::int64_t w,
                       std::int64_t k, std::int64_t group) {
    std::vector<double> out(static_cast<std::size_t>(c * h * w), 0.0);
    const std::int64_t per = c / group;
    for (std::int64_t co = 0; co < c; ++co)
      for (std::int64_t oy = 0; oy < h; ++oy)
        for (std::int64_t ox = 0; ox < w; ++ox) {
          double sum = 0;
          for (std::int64_t ci = 0; ci < per; ++ci)
            for (std::int64_t ky = 0; ky < k; ++ky)
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t iy = oy - k / 2 + ky, ix = ox - k / 2 + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                sum += static_cast<double>(x[static_cast<std::size_t>(((co / per * per + ci) * h + iy) * w + ix)]) *
                       wt[static_cast<std::size_t>(((co * per + ci) * k + ky) * k + kx)];
              }
          out[static_cast<std::size_t>((co * h + oy) * w + ox)] = sum;
        }
    return out;
  };
  struct Case {
    std::int64_t c, h, w, k, group;
    const char* what;
  };
  // Winograd F(2x2) where a layer takes it (the residual's pass after the output transform), else
  // the direct paths; F(4x4)'s own error is bounded by the Winograd test.
  for (const char* winograd : {"f2", "off"})
  for (const Case& c : {Case{16, 9, 11, 3, 1, "3x3: Winograd or small-plane product"}, Case{16, 40, 44, 3, 1, "3x3: Winograd or patch GEMM"},
                        Case{8, 40, 50, 1, 1, "1x1: pointwise product"}, Case{12, 16, 70, 5, 1, "5x5: patch GEMM"},
                        Case{24, 7, 9, 3, 24, "depthwise, narrow"}, Case{4, 6, 80, 3, 4, "depthwise, wide rows"}})
    for (const std::string shortcut : {"identity", "projection", "broadcast"}) {
      const WinogradMode mode(winograd);
      INFO(c.what << ", " << shortcut << " shortcut, Winograd " << winograd);
      const Dims xs{1, c.c, c.h, c.w}, ws{c.c, c.c / c.group, c.k, c.k};
      const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
      const auto w = random_values(static_cast<std::size_t>(product(ws)), rng);
      const auto wp = random_values(static_cast<std::size_t>(c.c * c.c), rng);
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      add_initializer(g, "w", ws, w);
      std::string r = "x";
      if (shortcut == "projection") {  // computed before the convolution that takes the Add
        add_initializer(g, "wp", {c.c, c.c, 1, 1}, wp);
        add_node(g, "Conv", {"x", "wp"}, {"p"});
        r = "p";
      } else if (shortcut == "broadcast") {
        add_node(g, "GlobalAveragePool", {"x"}, {"p"});
        r = "p";
      }
      auto* node = add_node(g, "Conv", {"x", "w"}, {"c"});
      set_ints(node, "kernel_shape", {c.k, c.k});
      set_ints(node, "pads", {c.k / 2, c.k / 2, c.k / 2, c.k / 2});
      set_int(node, "group", c.group);
      add_node(g, "Add", {"c", r}, {"s"});
      add_node(g, "Relu", {"s"}, {"y"});
      add_output(g, "y");
      const auto main = conv(x, w, c.c, c.h, c.w, c.k, c.group);
      std::vector<double> want(main.size());
      const std::int64_t plane = c.h * c.w;
      for (std::size_t i = 0; i < want.size(); ++i) {
        const std::int64_t ch = static_cast<std::int64_t>(i) / plane;
        double res = x[i];
        if (shortcut == "projection") {
          res = 0;
          for (std::int64_t ci = 0; ci < c.c; ++ci)
            res += static_cast<double>(wp[static_cast<std::size_t>(ch * c.c + ci)]) * x[static_cast<std::size_t>(ci * plane) + i % static_cast<std::size_t>(plane)];
        } else if (shortcut == "broadcast") {
          res = 0;
          for (std::int64_t q = 0; q < plane; ++q) res += x[static_cast<std::size_t>(ch * plane + q)];
          res /= static_cast<double>(plane);
        }
        want[i] = std::max(0.0, main[i] + res);
      }
      check_equal(run_graph(dir, m, xs, x), xs, want);
      // The Add and the ReLU are gone into the convolution.
      const nn::Model model = nn::Model::load(save(dir, "fused.onnx", m));
      nn::Session session(model);
      session.profile(true);
      nn::Tensor input(xs);
      std::copy(x.begin(), x.end(), input.data());
      session.run({input});
      for (const nn::LayerTime& t : session.layer_times()) CHECK((t.op_type != "Add" && t.op_type != "Relu"));
    }
  // A residual larger than the convolution's output: the Add broadcasts the convolution (a global
  // context, 1 x 1, added to every pixel of the map), and so must the fused convolution.
  const Dims xs{1, 6, 5, 7};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng), w = random_values(36, rng);
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", xs);
  add_initializer(g, "w", {6, 6, 1, 1}, w);
  add_node(g, "GlobalAveragePool", {"x"}, {"p"});
  add_node(g, "Conv", {"p", "w"}, {"c"});
  add_node(g, "Add", {"c", "x"}, {"y"});
  add_output(g, "y");
  std::vector<double> want(x.size());
  for (std::int64_t co = 0; co < 6; ++co) {
    double context = 0;
    for (std::int64_t ci = 0; ci < 6; ++ci) {
      double mean = 0;
      for (std::int64_t q = 0; q < 35; ++q) mean += x[static_cast<std::size_t>(ci * 35 + q)];
      context += static_cast<double>(w[static_cast<std::size_t>(co * 6 + ci)]) * mean / 35.0;
    }
    for (std::int64_t q = 0; q < 35; ++q) want[static_cast<std::size_t>(co * 35 + q)] = context + x[static_cast<std::size_t>(co * 35 + q)];
  }
  check_equal(run_graph(dir, m, xs, x), xs, want);
}

TEST_CASE("Conv equals the spec's loop: groups, depthwise, dilation, stride, asymmetric padding, 64+ channels", "[nn][ops]") {
  TempDir dir;
  const WinogradMode direct("off");  // the direct GEMM's paths; Winograd is checked below, to its own bound
  std::mt19937 rng(7);
  // Hand-picked: the paths the implementation distinguishes.
  const std::vector<ConvCase> fixed{
      {1, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false},        // 1x1 pixel, 1x1 kernel
      {1, 3, 8, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},         // 1x1 pixel, 3x3 padded
      {1, 5, 7, 1, 1, 23, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, false},       // one row
      {2, 4, 6, 1, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, false},       // batch 2, stride 2
      {1, 6, 6, 6, 13, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},       // depthwise
      {1, 8, 12, 4, 15, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, false, false},    // grouped, dilated
      {1, 3, 5, 1, 16, 16, 5, 3, 2, 1, 1, 3, 2, 0, 1, 3, true, false},      // rectangular, asymmetric everything
      {1, 16, 64, 1, 12, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},     // 64 output channels: the channel-block path
      {1, 8, 96, 1, 7, 9, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false},       // 96 channels, 1x1 GEMM
      {1, 4, 72, 2, 37, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, false},     // 72 grouped, 1369 pixels: column chunks of 1024
      {1, 3, 64, 1, 40, 33, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, true, true},      // a ResNet stem on odd sizes
      {1, 8, 8, 8, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},       // depthwise, stride 2: column phases
      {2, 5, 5, 5, 23, 21, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, true, false},      // depthwise 5x5 stride 2, batch 2
      {1, 4, 4, 4, 16, 31, 7, 7, 3, 2, 1, 1, 3, 3, 3, 3, false, true},      // depthwise 7x7, strides 3 and 2
      // Grouped, up to 64 channels per group: the indirect product on phase planes.
      {1, 64, 64, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},    // 2 per group, 32 groups (ResNeXt's shape, narrow)
      {2, 32, 48, 4, 15, 13, 3, 3, 2, 2, 1, 1, 1, 0, 2, 1, true, false},    // stride 2, odd sizes, asymmetric padding, batch 2
      {1, 16, 16, 2, 20, 22, 3, 3, 2, 2, 2, 2, 2, 1, 2, 2, false, true},    // stride 2 and dilation 2 together
      {1, 12, 12, 3, 17, 19, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, true, false},    // stride 3: the general phase copy
      {1, 8, 16, 2, 9, 10, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, true, false},      // grouped 1x1 of stride 2
      {1, 128, 128, 2, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},     // 64 per group: the last the indirect product takes
      {1, 8, 8, 2, 1, 1, 5, 3, 3, 1, 2, 1, 4, 1, 4, 1, true, false},        // one pixel, 5x3 kernel reading mostly padding
      {1, 6, 9, 3, 1, 40, 3, 3, 1, 1, 1, 3, 1, 3, 1, 3, true, false},       // one row, dilation 3 along it
      {1, 6, 6, 6, 15, 14, 3, 3, 2, 2, 2, 2, 2, 1, 2, 0, true, false},      // depthwise dilated, stride 2, asymmetric
      {1, 3, 3, 3, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, false},        // depthwise on one pixel
      {1, 2, 2, 2, 9, 140, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},       // depthwise, rows of 70: the direct path, stride 2
      {1, 3, 3, 3, 7, 131, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, false, false},     // depthwise 5x5 on rows of 131
      {1, 5, 5, 5, 11, 77, 3, 3, 2, 3, 2, 1, 0, 2, 1, 0, true, true},       // depthwise direct: column stride 3, dilated rows
      {2, 4, 4, 4, 9, 40, 7, 7, 1, 1, 1, 2, 3, 5, 3, 1, true, false},       // depthwise direct: rows of 34, three-vector bands
      {1, 5, 5, 5, 8, 45, 7, 7, 1, 1, 1, 1, 3, 3, 3, 2, true, true},        // depthwise 7x7 along rows of 44: shifted runs
      {1, 6, 6, 6, 10, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},       // depthwise 3x3 along rows of 50 (MobileNet's)
      {1, 19, 19, 19, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},     // 19 channels: a partly filled lane block
      {1, 6, 10, 1, 5, 5, 3, 3, 1, 1, 6, 6, 6, 6, 6, 6, true, true},        // dilation past the plane: the centre tap alone
      {1, 4, 8, 1, 4, 9, 3, 3, 1, 1, 5, 2, 5, 2, 5, 2, false, false},       // the top and bottom rows of taps read only padding
      {1, 5, 7, 1, 30, 30, 3, 3, 2, 2, 16, 16, 16, 16, 16, 16, true, false}, // strided, dilated: outer taps dead on a 15 x 15 output
      {2, 6, 24, 2, 13, 15, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},      // batch 2, 2 groups of 12: luojia's kernel on column phases
      {1, 5, 30, 1, 20, 23, 4, 4, 3, 3, 1, 2, 1, 0, 2, 1, true, false},     // column stride 3, dilation 2: phases shifted per tap
      {1, 16, 40, 1, 14, 15, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, true, false},    // patches (ConvNeXt's downsampling), an odd width
      {1, 8, 40, 1, 13, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},      // 7 x 7 output: the plane's panels packed once for all blocks
      {1, 300, 48, 1, 14, 14, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, true, false},   // a strided 1 x 1 on 7 x 7, 300 deep: two depth blocks
      {1, 24, 160, 1, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true},      // 1 x 1 on 7 x 7, 160 channels: the pixels as rows
      {2, 40, 96, 1, 3, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, false},      // pixels as rows on a plane under one vector, batch 2
      {1, 300, 672, 1, 14, 14, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, true},  // pixels as rows, 196 pixels, two depth blocks
      {1, 300, 40, 1, 31, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true},    // 1 x 1 by panels of pixels read in place, two depth blocks, a partial panel
      {2, 20, 36, 1, 17, 23, 1, 1, 3, 2, 1, 1, 0, 0, 0, 0, true, true},     // 1 x 1, strides 3 and 2: the pixels it reads gathered, batch 2
      {1, 400, 128, 1, 28, 28, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true},  // 1 x 1, one chunk of pixels: blocks of output channels
      {1, 12, 24, 1, 8, 9, 1, 1, 2, 2, 1, 1, 0, 0, 1, 2, true, false},      // 1 x 1 stride 2 whose last row and column read padding
      {1, 12, 40, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true},       // squeeze-and-excitation's 1 x 1 plane: a matrix-vector product
      {1, 16, 24, 1, 20, 20, 3, 3, 1, 1, 8, 8, 8, 8, 8, 8, true, true},     // dilated, by taps: blocks of rows, border rows' dead taps
      {1, 8, 16, 1, 6, 70, 3, 3, 1, 1, 40, 40, 40, 40, 40, 40, true, false}, // ASPP-like dilation past half a row: half-row blocks
      {1, 16, 32, 2, 12, 13, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, false, true},    // dilated, 2 groups of 16
      {2, 6, 16, 1, 19, 37, 3, 3, 2, 2, 3, 3, 3, 3, 3, 3, true, false},     // dilated, stride 2 (column phases), batch 2
      // Dense layers with a window: the indirect product too.
      {1, 64, 100, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},      // 100 channels on 7 x 7: blocks of slivers, the last partial
      {1, 64, 16, 1, 128, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, true},   // strips of output rows: 4 of 14, then 8
      {1, 64, 8, 1, 75, 250, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, false},  // strips of 14 rows, the last of 5, stride 1
      // ... and on small planes, pixels as the rows of the product (patches gathered into slivers).
      {1, 40, 32, 1, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, true},     // DenseNet's 32 channels on 14 x 14
      {2, 24, 48, 1, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, false},      // batch 2, 63 pixels: the last sliver partial
      {1, 20, 32, 1, 13, 11, 5, 3, 2, 2, 1, 1, 2, 1, 1, 2, false, true},    // 5 x 3 kernel, strides 2, asymmetric padding
  };
  for (const auto& c : fixed) check_conv(dir, c, rng);
  // Randomised shapes.
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  for (int i = 0; i < 40; ++i) {
    ConvCase c{};
    c.n = 1;
    c.group = std::vector<std::int64_t>{1, 1, 2, 3}[static_cast<std::size_t>(pick(rng) % 4)];
    c.cin = c.group * (1 + pick(rng) % 5);
    c.cout = c.group * (1 + pick(rng) % (pick(rng) % 4 == 0 ? 40 : 6));
    c.h = 1 + pick(rng) % 21;
    c.w = 1 + pick(rng) % 21;
    c.kh = 1 + pick(rng) % 5;
    c.kw = 1 + pick(rng) % 5;
    c.sh = 1 + pick(rng) % 3;
    c.sw = 1 + pick(rng) % 3;
    c.dh = 1 + pick(rng) % 2;
    c.dw = 1 + pick(rng) % 2;
    c.pt = pick(rng) % 3;
    c.pl = pick(rng) % 3;
    c.pb = pick(rng) % 3;
    c.pr = pick(rng) % 3;
    c.bias = pick(rng) % 2;
    c.relu = pick(rng) % 3 == 0;
    check_conv(dir, c, rng);
  }
}

namespace {

struct WinogradCase {
  std::int64_t cin, cout, h, w, pt, pl, pb, pr;
  bool relu = false;  // fused into the convolution at load: applied in the output transform
  std::int64_t batch = 1;
  std::int64_t dh = 1, dw = 1;  // dilation: Winograd on the output's phases
};

// Worst |luojia - exact| / (1 + sum |w x|) of one 3x3 stride-1 convolution with bias, inputs
// uniform in [lo, hi): error relative to the magnitude of the terms summed, which is what a
// floating-point sum's error bound scales with (the output itself may cancel to near zero).
double winograd_error(const TempDir& dir, const WinogradCase& c, double lo, double hi, std::mt19937& rng) {
  const std::int64_t ho = c.h + c.pt + c.pb - 2 * c.dh, wo = c.w + c.pl + c.pr - 2 * c.dw;
  const Dims xs{c.batch, c.cin, c.h, c.w}, ws{c.cout, c.cin, 3, 3}, ys{c.batch, c.cout, ho, wo};
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<float> x(static_cast<std::size_t>(product(xs)));
  for (float& v : x) v = static_cast<float>(u(rng));
  const auto w = random_values(static_cast<std::size_t>(product(ws)), rng), b = random_values(static_cast<std::size_t>(c.cout), rng);
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", xs);
  add_initializer(g, "w", ws, w);
  add_initializer(g, "b", {c.cout}, b);
  auto* conv = add_node(g, "Conv", {"x", "w", "b"}, {c.relu ? "c" : "y"});
  set_ints(conv, "kernel_shape", {3, 3});
  set_ints(conv, "pads", {c.pt, c.pl, c.pb, c.pr});
  if (c.dh != 1 || c.dw != 1) set_ints(conv, "dilations", {c.dh, c.dw});
  if (c.relu) add_node(g, "Relu", {"c"}, {"y"});
  add_output(g, "y");
  const nn::Tensor got = run_graph(dir, m, xs, x);
  REQUIRE(got.shape() == ys);
  double worst = 0;
  for (std::int64_t n = 0; n < c.batch; ++n)
    for (std::int64_t co = 0; co < c.cout; ++co)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double sum = b[static_cast<std::size_t>(co)], magnitude = std::fabs(sum);
          for (std::int64_t ci = 0; ci < c.cin; ++ci)
            for (std::int64_t ky = 0; ky < 3; ++ky)
              for (std::int64_t kx = 0; kx < 3; ++kx) {
                const std::int64_t iy = oy - c.pt + ky * c.dh, ix = ox - c.pl + kx * c.dw;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
                const double term = static_cast<double>(x[static_cast<std::size_t>(((n * c.cin + ci) * c.h + iy) * c.w + ix)]) *
                                    w[static_cast<std::size_t>(((co * c.cin + ci) * 3 + ky) * 3 + kx)];
                sum += term;
                magnitude += std::fabs(term);
              }
          if (c.relu) sum = std::max(0.0, sum);
          const double e = std::fabs(got.data()[((n * c.cout + co) * ho + oy) * wo + ox] - sum) / (1.0 + magnitude);
          worst = std::max(worst, e);
        }
  return worst;
}

}  // namespace

TEST_CASE("Winograd F(2x2) and F(4x4) equal the spec's loop on awkward sizes and 16-bit inputs", "[nn][ops][winograd]") {
  TempDir dir;
  std::mt19937 rng(11);
  const std::vector<WinogradCase> cases{
      {8, 8, 1, 1, 1, 1, 1, 1},       // one pixel: one tile, almost all padding
      {8, 13, 1, 23, 1, 1, 1, 1},     // one row; 13 channels: a partial kernel column panel
      {9, 8, 23, 1, 1, 1, 1, 1},      // one column
      {16, 16, 7, 9, 1, 1, 1, 1, true},  // not a multiple of either tile; ReLU
      {16, 24, 9, 10, 0, 0, 0, 0},    // no padding (7x8 out)
      {12, 20, 11, 14, 0, 1, 2, 0, false, 2},  // asymmetric padding; batch of 2
      {24, 72, 37, 37, 1, 1, 1, 1, true},  // channel blocks; more tiles than one block; ReLU
      {300, 16, 6, 6, 1, 1, 1, 1},    // depth over one 256-deep block
      {16, 16, 64, 64, 1, 1, 1, 1},   // tile multiples, many blocks
      {8, 16, 4, 280, 1, 1, 1, 1},    // one row of 70 tiles: the last block's second panel holds none
      // Dilated: Winograd on the output's phases.
      {8, 8, 1, 1, 2, 2, 2, 2, false, 1, 2, 2},        // one pixel, dilation 2: the phases past it hold no output
      {8, 13, 1, 23, 2, 2, 2, 2, false, 1, 2, 2},      // one row: one phase row of outputs
      {16, 16, 13, 11, 2, 3, 2, 3, true, 1, 2, 3},     // neither side a multiple of its dilation or the tile; ReLU
      {12, 20, 19, 17, 1, 3, 2, 0, false, 2, 2, 3},    // asymmetric padding, not the dilation's; batch of 2
      {16, 24, 37, 35, 4, 4, 4, 4, false, 1, 4, 4},    // DeepLab's layer4, small: 16 phases
      {24, 40, 44, 41, 12, 12, 12, 12, true, 1, 12, 12},  // ASPP's 12 on a small map: phases of 3 and 4
      {8, 16, 9, 50, 0, 0, 0, 0, false, 1, 2, 2},      // no padding (5x46 out)
  };
  // Direct GEMM, then both Winograd tiles forced on every layer, then the default choice.
  for (const char* mode : {"off", "f2", "f4", "auto"}) {
    const WinogradMode forced(mode);
    double worst_unit = 0, worst_16bit = 0;
    for (const auto& c : cases) {
      INFO(mode << " Cin" << c.cin << " Cout" << c.cout << " " << c.h << "x" << c.w << " p" << c.pt << "," << c.pl << "," << c.pb << ","
                << c.pr << " d" << c.dh << "," << c.dw);
      worst_unit = std::max(worst_unit, winograd_error(dir, c, -1.0, 1.0, rng));
      worst_16bit = std::max(worst_16bit, winograd_error(dir, c, 0.0, 65535.0, rng));
    }
    INFO(mode << ": worst error / term magnitude " << worst_unit << " on [-1, 1), " << worst_16bit << " on 16-bit values");
    // Measured (AVX2 EPYC): direct 2.9e-7 / 2.2e-7; F(2x2) 1.3e-7 / 1.3e-7; F(4x4) 1.9e-6 / 1.2e-6.
    CHECK(worst_unit < 5e-6);
    CHECK(worst_16bit < 5e-6);
    if (std::string(mode) == "off" || std::string(mode) == "f2") {
      CHECK(worst_unit < 1e-6);
      CHECK(worst_16bit < 1e-6);
    }
  }
}

TEST_CASE("ConvTranspose equals the spec's scatter: stride, padding, output padding, groups, dilation", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(11);
  struct Case {
    std::int64_t cin, cout, group, h, w, k, s, d, p, out_pad;
  };
  const std::vector<Case> cases{{3, 4, 1, 1, 1, 2, 2, 1, 0, 0},  {4, 6, 1, 5, 7, 4, 2, 1, 1, 0}, {4, 4, 2, 6, 5, 3, 2, 1, 1, 1},
                                {2, 3, 1, 1, 9, 3, 3, 1, 0, 2}, {6, 3, 3, 4, 4, 3, 1, 2, 2, 0}, {8, 64, 1, 9, 11, 2, 2, 1, 0, 0},
                                {3, 5, 1, 13, 8, 5, 3, 1, 2, 1}};
  for (const auto& c : cases) {
    INFO("Cin" << c.cin << " Cout" << c.cout << " g" << c.group << " " << c.h << "x" << c.w << " k" << c.k << " s" << c.s << " d" << c.d
               << " p" << c.p << " op" << c.out_pad);
    const std::int64_t cin_g = c.cin / c.group, cout_g = c.cout / c.group;
    const std::int64_t ho = (c.h - 1) * c.s - 2 * c.p + c.d * (c.k - 1) + c.out_pad + 1,
                       wo = (c.w - 1) * c.s - 2 * c.p + c.d * (c.k - 1) + c.out_pad + 1;
    const Dims xs{1, c.cin, c.h, c.w}, ws{c.cin, cout_g, c.k, c.k}, ys{1, c.cout, ho, wo};
    const auto x = random_values(static_cast<std::size_t>(product(xs)), rng), w = random_values(static_cast<std::size_t>(product(ws)), rng);
    const auto b = random_values(static_cast<std::size_t>(c.cout), rng);
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_initializer(g, "w", ws, w);
    add_initializer(g, "b", {c.cout}, b);
    auto* n = add_node(g, "ConvTranspose", {"x", "w", "b"}, {"y"});
    set_ints(n, "kernel_shape", {c.k, c.k});
    set_ints(n, "strides", {c.s, c.s});
    set_ints(n, "dilations", {c.d, c.d});
    set_ints(n, "pads", {c.p, c.p, c.p, c.p});
    set_ints(n, "output_padding", {c.out_pad, c.out_pad});
    set_int(n, "group", c.group);
    add_output(g, "y");
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t co = 0; co < c.cout; ++co)
      for (std::int64_t i = 0; i < ho * wo; ++i) want[static_cast<std::size_t>(co * ho * wo + i)] = b[static_cast<std::size_t>(co)];
    for (std::int64_t ci = 0; ci < c.cin; ++ci) {
      const std::int64_t grp = ci / cin_g;
      for (std::int64_t iy = 0; iy < c.h; ++iy)
        for (std::int64_t ix = 0; ix < c.w; ++ix)
          for (std::int64_t col = 0; col < cout_g; ++col)
            for (std::int64_t ky = 0; ky < c.k; ++ky)
              for (std::int64_t kx = 0; kx < c.k; ++kx) {
                const std::int64_t oy = iy * c.s - c.p + ky * c.d, ox = ix * c.s - c.p + kx * c.d;
                if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
                const std::int64_t co = grp * cout_g + col;
                want[static_cast<std::size_t>((co * ho + oy) * wo + ox)] +=
                    static_cast<double>(x[static_cast<std::size_t>((ci * c.h + iy) * c.w + ix)]) *
                    w[static_cast<std::size_t>(((ci * cout_g + col) * c.k + ky) * c.k + kx)];
              }
    }
    check_equal(run_graph(dir, m, xs, x), ys, want);
  }
}

TEST_CASE("MaxPool and AveragePool equal the spec's loop: padding, strides, dilation, ceil mode, count_include_pad", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(13);
  struct Case {
    std::string op;
    std::int64_t c, h, w, k, s, d, p;
    bool ceil, include_pad;
  };
  const std::vector<Case> cases{
      {"MaxPool", 2, 1, 1, 1, 1, 1, 0, false, false},      {"MaxPool", 3, 9, 11, 3, 2, 1, 1, false, false},
      {"MaxPool", 2, 10, 7, 2, 2, 1, 0, true, false},      {"MaxPool", 2, 12, 13, 3, 1, 2, 2, false, false},
      {"MaxPool", 1, 1, 23, 3, 2, 1, 1, false, false},     {"AveragePool", 2, 9, 11, 3, 2, 1, 1, false, false},
      {"AveragePool", 2, 9, 11, 3, 2, 1, 1, false, true},  {"AveragePool", 3, 11, 10, 3, 3, 1, 0, true, false},
      {"AveragePool", 1, 1, 1, 1, 1, 1, 0, false, false},  {"AveragePool", 4, 17, 5, 5, 1, 1, 2, false, true},
      {"MaxPool", 64, 56, 56, 3, 2, 1, 1, false, false},   // ResNet's stem pool: the vectorised interior
  };
  // Randomised windows: the separable interior and edge paths at every offset.
  std::vector<Case> all = cases;
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  for (int i = 0; i < 40; ++i) {
    Case c{pick(rng) % 2 ? "MaxPool" : "AveragePool", 1 + pick(rng) % 3, 1 + pick(rng) % 19, 1 + pick(rng) % 19, 1 + pick(rng) % 5,
           1 + pick(rng) % 3, 1 + pick(rng) % 2, 0, pick(rng) % 2 == 0, pick(rng) % 2 == 0};
    c.p = pick(rng) % (c.k / 2 + 1);
    if (c.h + 2 * c.p < c.d * (c.k - 1) + 1 || c.w + 2 * c.p < c.d * (c.k - 1) + 1) continue;  // no output: refused, tested elsewhere
    all.push_back(c);
  }
  for (const auto& c : all) {
    INFO(c.op << " C" << c.c << " " << c.h << "x" << c.w << " k" << c.k << " s" << c.s << " d" << c.d << " p" << c.p << (c.ceil ? " ceil" : "")
              << (c.include_pad ? " include_pad" : ""));
    const std::int64_t span = c.d * (c.k - 1) + 1;
    const auto out_size = [&](std::int64_t n) {
      const std::int64_t num = n + 2 * c.p - span;
      std::int64_t out = (c.ceil ? (num + c.s - 1) / c.s : num / c.s) + 1;
      // Ceil mode drops a last window that would start in the end padding (PyTorch's rule, and ONNX Runtime's).
      if (c.ceil && (out - 1) * c.s >= n + c.p) --out;
      return out;
    };
    const std::int64_t ho = out_size(c.h), wo = out_size(c.w);
    const Dims xs{1, c.c, c.h, c.w}, ys{1, c.c, ho, wo};
    const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    auto* n = add_node(g, c.op, {"x"}, {"y"});
    set_ints(n, "kernel_shape", {c.k, c.k});
    set_ints(n, "strides", {c.s, c.s});
    if (c.d != 1) set_ints(n, "dilations", {c.d, c.d});
    set_ints(n, "pads", {c.p, c.p, c.p, c.p});
    if (c.ceil) set_int(n, "ceil_mode", 1);
    if (c.op == "AveragePool") set_int(n, "count_include_pad", c.include_pad ? 1 : 0);
    add_output(g, "y");
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t ch = 0; ch < c.c; ++ch)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          std::int64_t inside = 0, padded = 0;
          for (std::int64_t ky = 0; ky < c.k; ++ky)
            for (std::int64_t kx = 0; kx < c.k; ++kx) {
              const std::int64_t iy = oy * c.s - c.p + ky * c.d, ix = ox * c.s - c.p + kx * c.d;
              // Positions in the padding count for count_include_pad; those past it (ceil mode) never do.
              if (iy < c.h + c.p && ix < c.w + c.p) ++padded;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              const double v = x[static_cast<std::size_t>((ch * c.h + iy) * c.w + ix)];
              best = std::max(best, v);
              sum += v;
              ++inside;
            }
          want[static_cast<std::size_t>((ch * ho + oy) * wo + ox)] =
              c.op == "MaxPool" ? best : sum / static_cast<double>(c.include_pad ? padded : inside);
        }
    check_equal(run_graph(dir, m, xs, x), ys, want);
  }
}

TEST_CASE("Resize equals the spec's sampling: nearest and linear, every coordinate transform, up and down", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(17);
  struct Case {
    std::string mode, transform, nearest;
    std::int64_t h, w;
    float scale;
  };
  const std::vector<Case> cases{
      {"nearest", "asymmetric", "floor", 5, 7, 2.0f},        {"nearest", "half_pixel", "round_prefer_floor", 5, 7, 3.0f},
      {"nearest", "asymmetric", "floor", 8, 6, 0.5f},        {"nearest", "half_pixel", "round_prefer_floor", 1, 1, 4.0f},
      {"linear", "half_pixel", "", 5, 7, 2.0f},              {"linear", "pytorch_half_pixel", "", 6, 1, 2.0f},
      {"linear", "align_corners", "", 4, 9, 2.0f},           {"linear", "asymmetric", "", 7, 5, 3.0f},
      {"linear", "half_pixel", "", 9, 11, 1.5f},             {"linear", "half_pixel", "", 12, 10, 0.5f},
      {"linear", "align_corners", "", 1, 5, 2.0f},
  };
  for (const auto& c : cases) {
    INFO(c.mode << " " << c.transform << " " << c.nearest << " " << c.h << "x" << c.w << " x" << c.scale);
    const auto out_len = [&](std::int64_t n) { return static_cast<std::int64_t>(std::floor(static_cast<double>(n) * c.scale)); };
    const std::int64_t ho = out_len(c.h), wo = out_len(c.w);
    const Dims xs{1, 2, c.h, c.w}, ys{1, 2, ho, wo};
    const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_initializer(g, "scales", {4}, {1.0f, 1.0f, c.scale, c.scale});
    auto* n = add_node(g, "Resize", {"x", "", "scales"}, {"y"});
    set_string(n, "mode", c.mode);
    set_string(n, "coordinate_transformation_mode", c.transform);
    if (!c.nearest.empty()) set_string(n, "nearest_mode", c.nearest);
    add_output(g, "y");
    const auto original = [&](std::int64_t o, std::int64_t in, std::int64_t out) {
      const double s = c.scale;
      if (c.transform == "half_pixel") return (static_cast<double>(o) + 0.5) / s - 0.5;
      if (c.transform == "pytorch_half_pixel") return out > 1 ? (static_cast<double>(o) + 0.5) / s - 0.5 : 0.0;
      if (c.transform == "align_corners") return out > 1 ? static_cast<double>(o) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
      return static_cast<double>(o) / s;
    };
    const auto sample = [&](std::int64_t ch, double fy, double fx) -> double {
      const auto at = [&](std::int64_t y, std::int64_t xx) {
        y = std::clamp<std::int64_t>(y, 0, c.h - 1);
        xx = std::clamp<std::int64_t>(xx, 0, c.w - 1);
        return static_cast<double>(x[static_cast<std::size_t>((ch * c.h + y) * c.w + xx)]);
      };
      if (c.mode == "nearest") {
        const auto pick = [&](double v) {
          if (c.nearest == "floor") return static_cast<std::int64_t>(std::floor(v));
          const double f = std::floor(v);
          return static_cast<std::int64_t>(v - f == 0.5 ? f : std::round(v));  // round_prefer_floor
        };
        return at(pick(fy), pick(fx));
      }
      fy = std::clamp(fy, 0.0, static_cast<double>(c.h - 1));
      fx = std::clamp(fx, 0.0, static_cast<double>(c.w - 1));
      const auto y0 = static_cast<std::int64_t>(std::floor(fy)), x0 = static_cast<std::int64_t>(std::floor(fx));
      const double ty = fy - static_cast<double>(y0), tx = fx - static_cast<double>(x0);
      return (1 - ty) * ((1 - tx) * at(y0, x0) + tx * at(y0, x0 + 1)) + ty * ((1 - tx) * at(y0 + 1, x0) + tx * at(y0 + 1, x0 + 1));
    };
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t ch = 0; ch < 2; ++ch)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox)
          want[static_cast<std::size_t>((ch * ho + oy) * wo + ox)] = sample(ch, original(oy, c.h, ho), original(ox, c.w, wo));
    check_equal(run_graph(dir, m, xs, x), ys, want);
  }
}

TEST_CASE("Softmax over channels and over the last axis equals the closed form", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(19);
  for (const auto& [axis, shape] : std::vector<std::pair<std::int64_t, Dims>>{{1, {1, 5, 3, 7}}, {-1, {2, 3, 4, 9}}, {1, {1, 1, 1, 1}}, {-3, {1, 4, 1, 23}}}) {
    INFO("axis " << axis);
    auto x = random_values(static_cast<std::size_t>(product(shape)), rng);
    for (float& v : x) v *= 20.0f;  // large logits: the max must be subtracted
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", shape);
    set_int(add_node(g, "Softmax", {"x"}, {"y"}), "axis", axis);
    add_output(g, "y");
    const std::int64_t a = axis < 0 ? axis + 4 : axis;
    std::int64_t inner = 1;
    for (std::int64_t d = a + 1; d < 4; ++d) inner *= shape[static_cast<std::size_t>(d)];
    const std::int64_t len = shape[static_cast<std::size_t>(a)], outer = product(shape) / (len * inner);
    std::vector<double> want(x.size());
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        double top = -INFINITY, sum = 0;
        for (std::int64_t k = 0; k < len; ++k) top = std::max(top, static_cast<double>(x[static_cast<std::size_t>((o * len + k) * inner + i)]));
        for (std::int64_t k = 0; k < len; ++k) sum += std::exp(x[static_cast<std::size_t>((o * len + k) * inner + i)] - top);
        for (std::int64_t k = 0; k < len; ++k)
          want[static_cast<std::size_t>((o * len + k) * inner + i)] = std::exp(x[static_cast<std::size_t>((o * len + k) * inner + i)] - top) / sum;
      }
    check_equal(run_graph(dir, m, shape, x), shape, want);
  }
}

TEST_CASE("DepthToSpace (DCR and CRD) and SpaceToDepth move the elements the spec says", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(23);
  for (const std::string mode : {"DCR", "CRD"})
    for (std::int64_t b : {2, 3}) {
      INFO(mode << " blocksize " << b);
      const std::int64_t c = 2, h = 3, w = 5;
      const Dims xs{1, c * b * b, h, w}, ys{1, c, h * b, w * b};
      const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      auto* n = add_node(g, "DepthToSpace", {"x"}, {"y"});
      set_int(n, "blocksize", b);
      set_string(n, "mode", mode);
      add_output(g, "y");
      std::vector<double> want(x.size());
      // The spec's reshape-transpose-reshape, written as index arithmetic.
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t y = 0; y < h * b; ++y)
          for (std::int64_t xx = 0; xx < w * b; ++xx) {
            const std::int64_t by = y % b, bx = xx % b;
            const std::int64_t depth = mode == "DCR" ? (by * b + bx) * c + ch : ch * b * b + by * b + bx;
            want[static_cast<std::size_t>((ch * h * b + y) * w * b + xx)] = x[static_cast<std::size_t>((depth * h + y / b) * w + xx / b)];
          }
      const nn::Tensor y = run_graph(dir, m, xs, x);
      check_equal(y, ys, want);

      // SpaceToDepth is DCR's inverse.
      onnx::ModelProto back = empty_model(17);
      auto* g2 = back.mutable_graph();
      add_input(g2, "x", ys);
      set_int(add_node(g2, "SpaceToDepth", {"x"}, {"y"}), "blocksize", b);
      add_output(g2, "y");
      if (mode == "DCR") {
        std::vector<float> ydata(y.data(), y.data() + y.size());
        std::vector<double> original(x.begin(), x.end());
        check_equal(run_graph(dir, back, ys, ydata), xs, original);
      }
    }
}

TEST_CASE("an unknown LUOJIA_WINOGRAD value is refused at load, naming the accepted ones", "[nn][winograd]") {
  TempDir dir;
  onnx::ModelProto m = empty_model(17);
  auto* g = m.mutable_graph();
  add_input(g, "x", {1, 8, 6, 6});
  add_initializer(g, "w", {8, 8, 3, 3}, std::vector<float>(8 * 8 * 9, 0.1f));
  auto* conv = add_node(g, "Conv", {"x", "w"}, {"y"});
  set_ints(conv, "kernel_shape", {3, 3});
  set_ints(conv, "pads", {1, 1, 1, 1});
  add_output(g, "y");
  const std::string path = save(dir, "conv.onnx", m);
  const WinogradMode bad("f6");
  CHECK_THROWS_WITH(nn::Model::load(path), Catch::Contains("LUOJIA_WINOGRAD=f6") && Catch::Contains("not off, f2, f4 or auto"));
}

// ---- the operators transformers and modern exports bring (issue 25), against the spec's loops ----

namespace {

// Runs a graph with one float input and returns every output.
std::vector<nn::Tensor> run_all(const TempDir& dir, const onnx::ModelProto& m, const Dims& shape, const std::vector<float>& x) {
  static int counter = 0;
  const std::string path = save(dir, "modern" + std::to_string(counter++) + ".onnx", m);
  nn::Tensor input(shape);
  std::copy(x.begin(), x.end(), input.data());
  return nn::Model::load(path).run({input});
}

void set_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void check_close(const nn::Tensor& got, const Dims& shape, const std::vector<double>& want, double tolerance = 2e-5) {
  REQUIRE(got.shape() == shape);
  REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want[i]) / (1.0 + std::fabs(want[i])));
  CHECK(worst < tolerance);
}

// Index helpers for the naive loops.
std::vector<std::int64_t> unravel(std::int64_t i, const Dims& shape) {
  std::vector<std::int64_t> at(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    at[d] = i % shape[d];
    i /= shape[d];
  }
  return at;
}
std::int64_t ravel(const std::vector<std::int64_t>& at, const Dims& shape) {
  std::int64_t i = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + at[d];
  return i;
}

}  // namespace

TEST_CASE("LayerNormalization over every axis equals the formula in double, with its Mean and InvStdDev outputs", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(21);
  for (const Dims& xs : {Dims{2, 3, 5, 7}, Dims{1, 1, 1, 1}, Dims{3, 1, 17, 1}})
    for (std::int64_t axis = -4; axis < 4; ++axis)
      for (const bool bias : {false, true}) {
        const auto a = static_cast<std::size_t>(axis < 0 ? axis + 4 : axis);
        const Dims block(xs.begin() + static_cast<std::ptrdiff_t>(a), xs.end());
        INFO("axis " << axis << " bias " << bias << " of " << product(xs));
        auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
        for (auto& v : x) v = v * 5.0f + 3.0f;  // far from 0: the variance must not cancel
        const auto scale = random_values(static_cast<std::size_t>(product(block)), rng), shift = random_values(scale.size(), rng);
        onnx::ModelProto m = empty_model(17);
        auto* g = m.mutable_graph();
        add_input(g, "x", xs);
        add_initializer(g, "scale", block, scale);
        add_initializer(g, "bias", block, shift);
        auto* n = add_node(g, "LayerNormalization", bias ? std::vector<std::string>{"x", "scale", "bias"} : std::vector<std::string>{"x", "scale"},
                           {"y", "mean", "inv"});
        set_int(n, "axis", axis);
        set_float(n, "epsilon", 1e-3f);
        for (const char* o : {"y", "mean", "inv"}) add_output(g, o);
        const std::int64_t len = product(block), rows = product(xs) / len;
        std::vector<double> want(x.size()), want_mean, want_inv;
        for (std::int64_t r = 0; r < rows; ++r) {
          double mean = 0, var = 0;
          for (std::int64_t i = 0; i < len; ++i) mean += x[static_cast<std::size_t>(r * len + i)];
          mean /= static_cast<double>(len);
          for (std::int64_t i = 0; i < len; ++i) var += std::pow(x[static_cast<std::size_t>(r * len + i)] - mean, 2);
          const double inv = 1.0 / std::sqrt(var / static_cast<double>(len) + 1e-3);
          want_mean.push_back(mean);
          want_inv.push_back(inv);
          for (std::int64_t i = 0; i < len; ++i) {
            const auto at = static_cast<std::size_t>(r * len + i);
            want[at] = (x[at] - mean) * inv * scale[static_cast<std::size_t>(i)] + (bias ? shift[static_cast<std::size_t>(i)] : 0.0);
          }
        }
        Dims reduced = xs;
        for (std::size_t d = a; d < 4; ++d) reduced[d] = 1;
        const auto out = run_all(dir, m, xs, x);
        check_close(out.at(0), xs, want);
        check_close(out.at(1), reduced, want_mean);
        check_close(out.at(2), reduced, want_inv);
      }
}

TEST_CASE("GroupNormalization (opsets 18 and 21) and InstanceNormalization equal the formula in double", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(22);
  for (const Dims& xs : {Dims{2, 6, 5, 7}, Dims{1, 4, 1, 1}, Dims{1, 3, 1, 9}})
    for (const std::int64_t groups : {std::int64_t{1}, xs[1], xs[1] == 6 ? std::int64_t{3} : std::int64_t{1}})
      for (const int opset : {18, 21, 0}) {  // 0: InstanceNormalization
        INFO("groups " << groups << " opset " << opset << " of " << product(xs));
        const std::int64_t c = xs[1], g_count = opset == 0 ? c : groups, plane = xs[2] * xs[3];
        const bool per_channel = opset != 18;
        auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
        const auto scale = random_values(static_cast<std::size_t>(per_channel ? c : groups), rng), shift = random_values(scale.size(), rng);
        onnx::ModelProto m = empty_model(opset == 0 ? 17 : opset);
        auto* g = m.mutable_graph();
        add_input(g, "x", xs);
        add_initializer(g, "scale", {static_cast<std::int64_t>(scale.size())}, scale);
        add_initializer(g, "bias", {static_cast<std::int64_t>(shift.size())}, shift);
        auto* n = add_node(g, opset == 0 ? "InstanceNormalization" : "GroupNormalization", {"x", "scale", "bias"}, {"y"});
        if (opset != 0) set_int(n, "num_groups", groups);
        add_output(g, "y");
        std::vector<double> want(x.size());
        const std::int64_t per_group = c / g_count, len = per_group * plane;
        for (std::int64_t b = 0; b < xs[0]; ++b)
          for (std::int64_t k = 0; k < g_count; ++k) {
            const std::int64_t base = (b * g_count + k) * len;
            double mean = 0, var = 0;
            for (std::int64_t i = 0; i < len; ++i) mean += x[static_cast<std::size_t>(base + i)];
            mean /= static_cast<double>(len);
            for (std::int64_t i = 0; i < len; ++i) var += std::pow(x[static_cast<std::size_t>(base + i)] - mean, 2);
            const double inv = 1.0 / std::sqrt(var / static_cast<double>(len) + 1e-5);
            for (std::int64_t i = 0; i < len; ++i) {
              const auto p = static_cast<std::size_t>(per_channel ? k * per_group + i / plane : k);
              want[static_cast<std::size_t>(base + i)] = (x[static_cast<std::size_t>(base + i)] - mean) * inv * scale[p] + shift[p];
            }
          }
        check_close(run_all(dir, m, xs, x).at(0), xs, want);
      }
}

TEST_CASE("Gelu (opset 20, exact and tanh) and the Erf pattern PyTorch exports equal the formula in double", "[nn][ops]") {
  TempDir dir;
  const Dims xs{1, 3, 7, 61};
  std::vector<float> x(static_cast<std::size_t>(product(xs)));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -12.0f + 24.0f * static_cast<float>(i) / static_cast<float>(x.size() - 1);
  for (const std::string approximate : {"none", "tanh", "erf pattern"}) {
    INFO(approximate);
    onnx::ModelProto m = empty_model(approximate == "erf pattern" ? 17 : 20);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    if (approximate == "erf pattern") {
      add_initializer(g, "sqrt2", {}, {1.4142135381698608f});
      add_initializer(g, "one", {}, {1.0f});
      add_initializer(g, "half", {}, {0.5f});
      add_node(g, "Div", {"x", "sqrt2"}, {"d"});
      add_node(g, "Erf", {"d"}, {"e"});
      add_node(g, "Add", {"e", "one"}, {"a"});
      add_node(g, "Mul", {"x", "a"}, {"m"});
      add_node(g, "Mul", {"m", "half"}, {"y"});
    } else {
      set_string(add_node(g, "Gelu", {"x"}, {"y"}), "approximate", approximate);
    }
    add_output(g, "y");
    std::vector<double> want(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      want[i] = approximate == "tanh" ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                                      : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    }
    check_close(run_all(dir, m, xs, x).at(0), xs, want, 1e-6);
  }
}

namespace {

// Einsum by its definition: every assignment of the labels, products summed into the output.
// Letters only (no "..."), explicit output.
std::vector<double> naive_einsum(const std::string& equation, const std::vector<Dims>& shapes, const std::vector<std::vector<float>>& values,
                                 Dims& out_shape) {
  const auto arrow = equation.find("->");
  std::vector<std::string> terms;
  std::string lhs = equation.substr(0, arrow), out = equation.substr(arrow + 2);
  for (std::size_t s = 0;;) {
    const auto comma = lhs.find(',', s);
    terms.push_back(lhs.substr(s, comma == std::string::npos ? std::string::npos : comma - s));
    if (comma == std::string::npos) break;
    s = comma + 1;
  }
  std::map<char, std::int64_t> size;
  for (std::size_t t = 0; t < terms.size(); ++t)
    for (std::size_t d = 0; d < terms[t].size(); ++d) size[terms[t][d]] = shapes[t][d];
  std::string labels;
  Dims extents;
  for (const auto& [c, n] : size) {
    labels += c;
    extents.push_back(n);
  }
  out_shape.clear();
  for (char c : out) out_shape.push_back(size[c]);
  std::vector<double> result(static_cast<std::size_t>(product(out_shape)), 0.0);
  for (std::int64_t i = 0; i < product(extents); ++i) {
    const auto at = unravel(i, extents);
    const auto value_of = [&](char c) { return at[labels.find(c)]; };
    double p = 1;
    for (std::size_t t = 0; t < terms.size(); ++t) {
      std::vector<std::int64_t> idx;
      for (char c : terms[t]) idx.push_back(value_of(c));
      p *= values[t][static_cast<std::size_t>(ravel(idx, shapes[t]))];
    }
    std::vector<std::int64_t> o;
    for (char c : out) o.push_back(value_of(c));
    result[static_cast<std::size_t>(ravel(o, out_shape))] += p;
  }
  return result;
}

}  // namespace

TEST_CASE("Einsum equals its definition on the contractions exports emit, batch, outer products, sums and implicit outputs",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(23);
  struct Case {
    std::string equation;   // as the node says
    std::string naive;      // the same with explicit letters, for the reference
    std::vector<Dims> shapes;
  };
  const std::vector<Case> cases{
      {"ij,jk->ik", "ij,jk->ik", {{5, 3}, {3, 7}}},
      {"bij,bjk->bik", "bij,bjk->bik", {{2, 4, 3}, {2, 3, 5}}},
      {"bhqd,bhkd->bhqk", "bhqd,bhkd->bhqk", {{1, 2, 9, 4}, {1, 2, 6, 4}}},
      {"bhwc,hkc->bhwk", "bhwc,hkc->bhwk", {{2, 3, 4, 5}, {3, 6, 5}}},
      {"bchw,dc->bdhw", "bchw,dc->bdhw", {{1, 4, 3, 5}, {2, 4}}},
      {"i,j->ij", "i,j->ij", {{4}, {3}}},
      {"ij->ji", "ij->ji", {{4, 3}}},
      {"ij->", "ij->", {{4, 3}}},
      {"ijk->j", "ijk->j", {{2, 3, 4}}},
      {"ij,jk", "ij,jk->ik", {{2, 3}, {3, 1}}},
      {"...ij,...jk->...ik", "abij,abjk->abik", {{2, 3, 4, 5}, {2, 3, 5, 1}}},
      {"ab, bc , cd->ad", "ab,bc,cd->ad", {{2, 3}, {3, 4}, {4, 5}}},
      {"bn,bn->b", "bn,bn->b", {{3, 7}, {3, 7}}},
  };
  for (const auto& c : cases) {
    INFO(c.equation);
    // The first operand is the graph's input, the others initializers.
    std::vector<std::vector<float>> values;
    for (const auto& s : c.shapes) values.push_back(random_values(static_cast<std::size_t>(product(s)), rng));
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x0", c.shapes[0]);
    std::vector<std::string> ins{"x0"};
    for (std::size_t k = 1; k < c.shapes.size(); ++k) {
      ins.push_back("x" + std::to_string(k));
      add_initializer(g, ins.back(), c.shapes[k], values[k]);
    }
    set_string(add_node(g, "Einsum", ins, {"y"}), "equation", c.equation);
    add_output(g, "y");
    Dims out_shape;
    const auto want = naive_einsum(c.naive, c.shapes, values, out_shape);
    check_close(run_all(dir, m, c.shapes[0], values[0]).at(0), out_shape, want);
  }
  // A diagonal (a label twice in one operand) is refused at load, with the equation.
  onnx::ModelProto m = empty_model(17);
  add_input(m.mutable_graph(), "x", {3, 3});
  set_string(add_node(m.mutable_graph(), "Einsum", {"x"}, {"y"}), "equation", "ii->i");
  add_output(m.mutable_graph(), "y");
  CHECK_THROWS_WITH(nn::Model::load(save(dir, "diagonal.onnx", m)), Catch::Contains("ii->i"));
}

TEST_CASE("TopK, CumSum, GatherElements, GatherND and ScatterND equal the spec's loops", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(24);
  const Dims xs{2, 5, 4};
  auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  x[3] = x[7];  // a tie in the middle axis (same b, c = 3)
  SECTION("TopK, largest and smallest, ties to the lower index") {
    for (const int largest : {1, 0}) {
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      add_int64_initializer(g, "k", {3});
      auto* n = add_node(g, "TopK", {"x", "k"}, {"values", "indices"});
      set_int(n, "axis", 1);
      set_int(n, "largest", largest);
      add_output(g, "values");
      add_output(g, "indices");
      const auto out = run_all(dir, m, xs, x);
      std::vector<double> want_values;
      std::vector<std::int64_t> want_indices(static_cast<std::size_t>(2 * 3 * 4));
      want_values.resize(want_indices.size());
      for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t c = 0; c < 4; ++c) {
          std::vector<std::int64_t> order{0, 1, 2, 3, 4};
          std::stable_sort(order.begin(), order.end(), [&](std::int64_t p, std::int64_t q) {
            const float u = x[static_cast<std::size_t>((b * 5 + p) * 4 + c)], v = x[static_cast<std::size_t>((b * 5 + q) * 4 + c)];
            return largest ? u > v : u < v;
          });
          for (std::int64_t j = 0; j < 3; ++j) {
            const auto at = static_cast<std::size_t>((b * 3 + j) * 4 + c);
            want_indices[at] = order[static_cast<std::size_t>(j)];
            want_values[at] = x[static_cast<std::size_t>((b * 5 + order[static_cast<std::size_t>(j)]) * 4 + c)];
          }
        }
      check_close(out.at(0), {2, 3, 4}, want_values, 1e-7);
      CHECK(out.at(1).to_ints() == want_indices);
    }
  }
  SECTION("CumSum, forward and reverse, inclusive and exclusive, on every axis") {
    for (std::int64_t axis = -3; axis < 3; ++axis)
      for (const int exclusive : {0, 1})
        for (const int reverse : {0, 1}) {
          INFO("axis " << axis << " exclusive " << exclusive << " reverse " << reverse);
          onnx::ModelProto m = empty_model(17);
          auto* g = m.mutable_graph();
          add_input(g, "x", xs);
          auto* t = add_int64_initializer(g, "axis", {axis});
          t->clear_dims();  // a scalar, as the spec has it
          auto* n = add_node(g, "CumSum", {"x", "axis"}, {"y"});
          set_int(n, "exclusive", exclusive);
          set_int(n, "reverse", reverse);
          add_output(g, "y");
          const auto a = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
          std::vector<double> want(x.size(), 0.0);
          for (std::int64_t i = 0; i < product(xs); ++i) {
            auto at = unravel(i, xs);
            const std::int64_t own = at[a];
            double s = 0;
            for (std::int64_t j = 0; j < xs[a]; ++j) {
              const bool counted = reverse ? (exclusive ? j > own : j >= own) : (exclusive ? j < own : j <= own);
              at[a] = j;
              if (counted) s += x[static_cast<std::size_t>(ravel(at, xs))];
            }
            want[static_cast<std::size_t>(i)] = s;
          }
          check_close(run_all(dir, m, xs, x).at(0), xs, want);
        }
  }
  SECTION("GatherElements with negative indices, GatherND with batch_dims, ScatterND with every reduction") {
    {
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      std::vector<std::int64_t> idx(2 * 3 * 4);
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>(i * 7 % 9) - 4;  // -4 .. 4
      auto* t = add_int64_initializer(g, "idx", idx);
      t->clear_dims();
      for (auto d : {2, 3, 4}) t->add_dims(d);
      set_int(add_node(g, "GatherElements", {"x", "idx"}, {"y"}), "axis", 1);
      add_output(g, "y");
      std::vector<double> want(idx.size());
      for (std::size_t i = 0; i < idx.size(); ++i) {
        auto at = unravel(static_cast<std::int64_t>(i), {2, 3, 4});
        at[1] = idx[i] < 0 ? idx[i] + 5 : idx[i];
        want[i] = x[static_cast<std::size_t>(ravel(at, xs))];
      }
      check_close(run_all(dir, m, xs, x).at(0), {2, 3, 4}, want, 1e-7);
    }
    {
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      auto* t = add_int64_initializer(g, "idx", {4, 1, -1, 0});  // per batch: rows (4) and (1); (-1) and (0)
      t->clear_dims();
      for (auto d : {2, 2, 1}) t->add_dims(d);
      set_int(add_node(g, "GatherND", {"x", "idx"}, {"y"}), "batch_dims", 1);
      add_output(g, "y");
      std::vector<double> want;
      for (const auto [b, row] : {std::pair{0, 4}, {0, 1}, {1, 4}, {1, 0}})
        for (std::int64_t c = 0; c < 4; ++c) want.push_back(x[static_cast<std::size_t>((b * 5 + row) * 4 + c)]);
      check_close(run_all(dir, m, xs, x).at(0), {2, 2, 4}, want, 1e-7);
    }
    for (const std::string reduction : {"none", "add", "mul", "max", "min"}) {
      INFO(reduction);
      onnx::ModelProto m = empty_model(18);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      auto* t = add_int64_initializer(g, "idx", {1, 3, 0, 0, 1, -2});
      t->clear_dims();
      for (auto d : {3, 2}) t->add_dims(d);
      const auto updates = random_values(12, rng);
      add_initializer(g, "updates", {3, 4}, updates);
      set_string(add_node(g, "ScatterND", {"x", "idx", "updates"}, {"y"}), "reduction", reduction);
      add_output(g, "y");
      std::vector<double> want(x.begin(), x.end());
      const std::pair<int, int> rows[] = {{1, 3}, {0, 0}, {1, 3}};  // (1, -2) is row 3 of batch 1: twice
      for (int k = 0; k < 3; ++k)
        for (int c = 0; c < 4; ++c) {
          double& y = want[static_cast<std::size_t>((rows[k].first * 5 + rows[k].second) * 4 + c)];
          const double u = updates[static_cast<std::size_t>(k * 4 + c)];
          y = reduction == "none" ? u : reduction == "add" ? y + u : reduction == "mul" ? y * u : reduction == "max" ? std::max(y, u) : std::min(y, u);
        }
      check_close(run_all(dir, m, xs, x).at(0), xs, want, 1e-6);
    }
  }
}

TEST_CASE("Pad's wrap mode (opset 19), Mod on integers with the divisor's sign, Trilu and Tile follow the spec", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(25);
  const Dims xs{1, 2, 3, 4};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  {
    onnx::ModelProto m = empty_model(19);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_int64_initializer(g, "pads", {0, 0, 2, 5, 0, 0, 1, 3});
    set_string(add_node(g, "Pad", {"x", "pads"}, {"y"}), "mode", "wrap");
    add_output(g, "y");
    const Dims ys{1, 2, 6, 12};
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t i = 0; i < product(ys); ++i) {
      auto at = unravel(i, ys);
      at[2] = ((at[2] - 2) % 3 + 3) % 3;
      at[3] = ((at[3] - 5) % 4 + 4) % 4;
      want[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(ravel(at, xs))];
    }
    check_close(run_all(dir, m, xs, x).at(0), ys, want, 1e-7);
  }
  {
    // (x * 10) cast to int64, Mod by -3 and by 4 (fmod 0: the divisor's sign), cast back.
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_initializer(g, "ten", {}, {10.0f});
    add_int64_initializer(g, "div", {-3, 4, -3, 4});
    add_node(g, "Mul", {"x", "ten"}, {"x10"});
    set_int(add_node(g, "Cast", {"x10"}, {"i"}), "to", 7);
    add_node(g, "Mod", {"i", "div"}, {"r"});
    set_int(add_node(g, "Cast", {"r"}, {"y"}), "to", 1);
    add_output(g, "y");
    std::vector<double> want(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto v = static_cast<std::int64_t>(x[i] * 10.0f);
      const std::int64_t d = i % 2 == 0 ? -3 : 4;
      std::int64_t r = v % d;
      if (r != 0 && ((r < 0) != (d < 0))) r += d;
      want[i] = static_cast<double>(r);
    }
    check_close(run_all(dir, m, xs, x).at(0), xs, want, 1e-7);
  }
  for (const int upper : {0, 1})
    for (const std::int64_t k : {-2, 0, 1, 5}) {
      INFO("upper " << upper << " k " << k);
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "x", xs);
      add_int64_initializer(g, "k", {k})->clear_dims();
      set_int(add_node(g, "Trilu", {"x", "k"}, {"y"}), "upper", upper);
      add_output(g, "y");
      std::vector<double> want(x.size());
      for (std::int64_t i = 0; i < product(xs); ++i) {
        const auto at = unravel(i, xs);
        const bool kept = upper ? at[3] - at[2] >= k : at[3] - at[2] <= k;
        want[static_cast<std::size_t>(i)] = kept ? x[static_cast<std::size_t>(i)] : 0.0;
      }
      check_close(run_all(dir, m, xs, x).at(0), xs, want, 1e-7);
    }
  {
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_int64_initializer(g, "repeats", {2, 1, 3, 2});
    add_node(g, "Tile", {"x", "repeats"}, {"y"});
    add_output(g, "y");
    const Dims ys{2, 2, 9, 8};
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    for (std::int64_t i = 0; i < product(ys); ++i) {
      auto at = unravel(i, ys);
      for (std::size_t d = 0; d < 4; ++d) at[d] %= xs[d];
      want[static_cast<std::size_t>(i)] = x[static_cast<std::size_t>(ravel(at, xs))];
    }
    check_close(run_all(dir, m, xs, x).at(0), ys, want, 1e-7);
  }
}

TEST_CASE("MatMul and Gemm with weights known at load (luojia's packed GEMM) equal the sum of products, on remainders of every block",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(26);
  // Rows past a 12- or 14-row sliver and a 192-row block, columns past a 32-wide panel, depths
  // past the 256-deep block; one row (the column-split path), batches folded into rows.
  const std::vector<std::pair<Dims, Dims>> cases{{{1, 1}, {1, 1}},         {{13, 300}, {300, 45}},   {{3, 7, 513}, {513, 33}},
                                                 {{1, 197, 96}, {96, 65}}, {{1, 1200}, {1200, 700}}, {{2, 250, 17}, {17, 64}},
                                                 {{205, 31}, {31, 1}}};
  for (const auto& [as, bs] : cases) {
    for (const bool gemm : {false, true}) {
      if (gemm && as.size() != 2) continue;
      INFO((gemm ? "Gemm" : "MatMul") << " A " << product(as) << " rows x depth " << as.back() << ", B columns " << bs[1]);
      const std::int64_t k = as.back(), n = bs[1], rows = product(as) / k;
      const auto a = random_values(static_cast<std::size_t>(product(as)), rng);
      const auto b = random_values(static_cast<std::size_t>(product(bs)), rng);
      const auto c = random_values(static_cast<std::size_t>(n), rng);
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "a", as);
      Dims ys = as;
      ys.back() = n;
      if (gemm) {
        // transB: B stored n x k, as PyTorch's Linear; alpha, beta and a bias row C.
        std::vector<float> bt(b.size());
        for (std::int64_t i = 0; i < k; ++i)
          for (std::int64_t j = 0; j < n; ++j) bt[static_cast<std::size_t>(j * k + i)] = b[static_cast<std::size_t>(i * n + j)];
        add_initializer(g, "b", {n, k}, bt);
        add_initializer(g, "c", {n}, c);
        auto* node = add_node(g, "Gemm", {"a", "b", "c"}, {"y"});
        set_int(node, "transB", 1);
        set_float(node, "alpha", 0.5f);
        set_float(node, "beta", 2.0f);
      } else {
        add_initializer(g, "b", bs, b);
        add_node(g, "MatMul", {"a", "b"}, {"y"});
      }
      add_output(g, "y");
      std::vector<double> want(static_cast<std::size_t>(rows * n));
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (std::int64_t d = 0; d < k; ++d) s += static_cast<double>(a[static_cast<std::size_t>(i * k + d)]) * b[static_cast<std::size_t>(d * n + j)];
          want[static_cast<std::size_t>(i * n + j)] = gemm ? 0.5 * s + 2.0 * c[static_cast<std::size_t>(j)] : s;
        }
      for (const int threads : {1, 2}) {
        INFO("threads " << threads);
        const std::string path = save(dir, "gemm" + std::to_string(rows) + "_" + std::to_string(n) + (gemm ? "g" : "m") + ".onnx", m);
        const nn::Model model = nn::Model::load(path);
        nn::Tensor input(as);
        std::copy(a.begin(), a.end(), input.data());
        std::vector<nn::Tensor> out;
        tbb::task_arena(threads).execute([&] { out = model.run({input}); });
        check_close(out.at(0), ys, want, 1e-5);
      }
    }
  }
}

TEST_CASE("a Linear layer's bias and the activation after it run in the product's epilogue and equal the formula", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(27);
  using Formula = double (*)(double);
  struct Activation {
    const char* op;
    const char* approximate;  // Gelu's attribute, or ""
    Formula f;
  };
  const std::vector<Activation> activations{
      {"", "", [](double v) { return v; }},
      {"Gelu", "none", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"Gelu", "tanh", [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); }},
      {"Relu", "", [](double v) { return v > 0 ? v : 0.0; }},
      {"Sigmoid", "", [](double v) { return 1 / (1 + std::exp(-v)); }},
      {"Tanh", "", [](double v) { return std::tanh(v); }},
      {"HardSwish", "", [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }},
  };
  // Rows below 4 (the unpacked product), within one sliver, past slivers and blocks; columns past
  // a panel; depths past the 256-deep block (the epilogue must wait for the last one).
  const std::vector<std::array<std::int64_t, 3>> shapes{{1, 17, 33}, {3, 300, 65}, {5, 40, 7}, {197, 300, 65}, {250, 520, 700}};
  for (const auto& [rows, k, n] : shapes)
    for (std::size_t at = 0; at < activations.size(); ++at)
      for (const bool gemm : {false, true}) {
        const Activation& act = activations[at];
        INFO((gemm ? "Gemm" : "MatMul + Add") << " " << rows << " x " << k << " x " << n << ", activation '" << act.op << "' " << act.approximate);
        const auto a = random_values(static_cast<std::size_t>(rows * k), rng);
        const auto b = random_values(static_cast<std::size_t>(k * n), rng);
        auto bias = random_values(static_cast<std::size_t>(n), rng);
        for (float& v : bias) v *= 4.0f;  // into the activations' curved parts
        onnx::ModelProto m = empty_model(20);
        auto* g = m.mutable_graph();
        add_input(g, "a", {rows, k});
        add_initializer(g, "c", {n}, bias);
        const std::string product = act.op[0] != '\0' ? "p" : "y";
        if (gemm) {
          std::vector<float> bt(b.size());
          for (std::int64_t i = 0; i < k; ++i)
            for (std::int64_t j = 0; j < n; ++j) bt[static_cast<std::size_t>(j * k + i)] = b[static_cast<std::size_t>(i * n + j)];
          add_initializer(g, "b", {n, k}, bt);
          set_int(add_node(g, "Gemm", {"a", "b", "c"}, {product}), "transB", 1);
        } else {
          add_initializer(g, "b", {k, n}, b);
          add_node(g, "MatMul", {"a", "b"}, {"m"});
          add_node(g, "Add", {at % 2 ? "c" : "m", at % 2 ? "m" : "c"}, {product});  // either order
        }
        if (act.op[0] != '\0') {
          auto* node = add_node(g, act.op, {"p"}, {"y"});
          if (act.approximate[0] != '\0') set_string(node, "approximate", act.approximate);
        }
        add_output(g, "y");
        std::vector<double> want(static_cast<std::size_t>(rows * n));
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < n; ++j) {
            double sum = bias[static_cast<std::size_t>(j)];
            for (std::int64_t d = 0; d < k; ++d) sum += static_cast<double>(a[static_cast<std::size_t>(i * k + d)]) * b[static_cast<std::size_t>(d * n + j)];
            want[static_cast<std::size_t>(i * n + j)] = act.f(sum);
          }
        const std::string path = save(dir, "linear.onnx", m);
        const nn::Model model = nn::Model::load(path);
        nn::Tensor input({rows, k});
        std::copy(a.begin(), a.end(), input.data());
        for (const int threads : {1, 2}) {
          INFO("threads " << threads);
          nn::Session session(model);
          session.profile(true);
          std::vector<nn::Tensor> out;
          tbb::task_arena(threads).execute([&] { out = session.run({input}); });
          check_close(out.at(0), {rows, n}, want, 5e-5);  // float sums of up to 520 products
          // One node: the bias and the activation went into the product.
          REQUIRE(session.layer_times().size() == 1);
          CHECK(session.layer_times()[0].op_type == (gemm ? "Gemm" : "MatMul"));
        }
      }
}

TEST_CASE("Transpose equals the permutation's definition: 8 x 8 register blocks with remainders, merged axes, 1-sized axes", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(28);
  std::vector<std::pair<Dims, Dims>> cases{{{17, 9}, {1, 0}},          {{1, 96, 13, 11}, {0, 2, 3, 1}}, {{1, 13, 11, 96}, {0, 3, 1, 2}},
                                           {{2, 3, 64, 21}, {0, 1, 3, 2}}, {{8, 8}, {1, 0}},            {{7, 7}, {1, 0}},
                                           {{3, 1, 24, 5, 16}, {4, 2, 1, 0, 3}}, {{1, 1}, {1, 0}}};
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  for (int i = 0; i < 30; ++i) {
    const std::size_t rank = 2 + static_cast<std::size_t>(pick(rng) % 4);
    Dims shape(rank), perm(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      shape[d] = 1 + pick(rng) % (rank > 3 ? 12 : 40);
      perm[d] = static_cast<std::int64_t>(d);
    }
    std::shuffle(perm.begin(), perm.end(), rng);
    cases.emplace_back(shape, perm);
  }
  for (const auto& c : cases) {
    // Named, not a structured binding: clang 14 does not capture those in the lambda below.
    const Dims& shape = c.first;
    const Dims& perm = c.second;
    std::ostringstream what;
    for (auto v : shape) what << v << ' ';
    what << "perm ";
    for (auto v : perm) what << v << ' ';
    INFO(what.str());
    onnx::ModelProto m = empty_model(13);
    auto* g = m.mutable_graph();
    add_input(g, "x", shape);
    set_ints(add_node(g, "Transpose", {"x"}, {"y"}), "perm", perm);
    add_output(g, "y");
    std::vector<float> x(static_cast<std::size_t>(product(shape)));
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k);
    Dims out(shape.size());
    for (std::size_t d = 0; d < shape.size(); ++d) out[d] = shape[static_cast<std::size_t>(perm[d])];
    std::vector<double> want(x.size());
    for (std::int64_t k = 0; k < product(out); ++k) {
      const auto at = unravel(k, out);
      std::vector<std::int64_t> in(shape.size());
      for (std::size_t d = 0; d < shape.size(); ++d) in[static_cast<std::size_t>(perm[d])] = at[d];
      std::int64_t flat = 0;
      for (std::size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + in[d];
      want[static_cast<std::size_t>(k)] = x[static_cast<std::size_t>(flat)];
    }
    for (const int threads : {1, 2}) {
      std::vector<nn::Tensor> got;
      tbb::task_arena(threads).execute([&] { got = run_all(dir, m, shape, x); });
      check_close(got.at(0), out, want, 0.0 + 1e-12);
    }
  }
}

TEST_CASE("Gemm to one column with a scalar C: the bias broadcasts, nothing reads a shape it does not have", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(29);
  const std::int64_t rows = 9, k = 5;
  const auto a = random_values(static_cast<std::size_t>(rows * k), rng), b = random_values(static_cast<std::size_t>(k), rng);
  onnx::ModelProto m = empty_model(13);
  auto* g = m.mutable_graph();
  add_input(g, "a", {rows, k});
  add_initializer(g, "b", {1, k}, b);
  add_initializer(g, "c", {}, {0.25f});
  set_int(add_node(g, "Gemm", {"a", "b", "c"}, {"y"}), "transB", 1);
  add_output(g, "y");
  std::vector<double> want(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    double sum = 0.25;
    for (std::int64_t d = 0; d < k; ++d) sum += static_cast<double>(a[static_cast<std::size_t>(i * k + d)]) * b[static_cast<std::size_t>(d)];
    want[static_cast<std::size_t>(i)] = sum;
  }
  check_close(run_all(dir, m, {rows, k}, a).at(0), {rows, 1}, want, 1e-5);
}

TEST_CASE("Erf alone equals erf in double to float precision, NaN and infinities included", "[nn][ops]") {
  TempDir dir;
  std::vector<float> x{0.0f, -0.0f, 1e-30f, -1e-7f, 1e-5f, 0.1f, -0.5f, 0.9f, 1.0f, -1.7f, 2.5f, 3.9f, -4.0f, 4.1f, 9.0f, -50.0f,
                       std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  for (int i = 0; i < 401; ++i) x.push_back(-5.0f + 0.025f * static_cast<float>(i));
  const Dims xs{static_cast<std::int64_t>(x.size())};
  onnx::ModelProto m = empty_model(13);
  auto* g = m.mutable_graph();
  add_input(g, "x", xs);
  add_node(g, "Erf", {"x"}, {"y"});
  add_output(g, "y");
  const nn::Tensor got = run_all(dir, m, xs, x).at(0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("x = " << x[i]);
    const double want = std::erf(static_cast<double>(x[i]));
    if (std::isnan(want)) {
      CHECK(std::isnan(got.data()[i]));
      continue;
    }
    CHECK(std::fabs(got.data()[i] - want) <= 5e-7 * std::max(std::fabs(want), 1e-30));
  }
}

TEST_CASE("attention as exports spell it (MatMul, scale, bias, Softmax, MatMul) is fused, equals the formula, and never holds the scores",
          "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(27);
  for (const std::int64_t tokens : {std::int64_t{1}, std::int64_t{77}, std::int64_t{1000}})
    for (const int variant : {0, 1, 2}) {  // 0: MatMul, Softmax, MatMul; 1: Div by a constant; 2: Mul and a bias
      INFO(tokens << " tokens, variant " << variant);
      const std::int64_t heads = 2, depth = 8, dv = 5;
      const Dims qs{1, heads, tokens, depth}, ks{1, heads, depth, tokens}, vs{1, heads, tokens, dv}, bs{1, 1, tokens, tokens};
      const auto q = random_values(static_cast<std::size_t>(product(qs)), rng);
      const auto k = random_values(static_cast<std::size_t>(product(ks)), rng);
      const auto v = random_values(static_cast<std::size_t>(product(vs)), rng);
      const auto bias = random_values(static_cast<std::size_t>(product(bs)), rng);
      onnx::ModelProto m = empty_model(17);
      auto* g = m.mutable_graph();
      add_input(g, "q", qs);
      add_initializer(g, "kt", ks, k);
      add_initializer(g, "v", vs, v);
      add_node(g, "MatMul", {"q", "kt"}, {"s"});
      std::string scores = "s";
      if (variant == 1) {
        add_initializer(g, "c", {}, {2.5f});
        add_node(g, "Div", {"s", "c"}, {"scaled"});
        scores = "scaled";
      } else if (variant == 2) {
        add_initializer(g, "c", {}, {0.3f});
        add_initializer(g, "bias", bs, bias);
        add_node(g, "Mul", {"c", "s"}, {"scaled"});
        add_node(g, "Add", {"bias", "scaled"}, {"biased"});
        scores = "biased";
      }
      add_node(g, "Softmax", {scores}, {"p"});
      add_node(g, "MatMul", {"p", "v"}, {"y"});
      add_output(g, "y");
      std::vector<double> want(static_cast<std::size_t>(heads * tokens * dv));
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < tokens; ++i) {
          std::vector<double> s(static_cast<std::size_t>(tokens));
          double top = -INFINITY, sum = 0;
          for (std::int64_t j = 0; j < tokens; ++j) {
            double d = 0;
            for (std::int64_t e = 0; e < depth; ++e)
              d += static_cast<double>(q[static_cast<std::size_t>((h * tokens + i) * depth + e)]) * k[static_cast<std::size_t>((h * depth + e) * tokens + j)];
            if (variant == 1) d /= 2.5;
            if (variant == 2) d = d * static_cast<double>(0.3f) + bias[static_cast<std::size_t>(i * tokens + j)];
            s[static_cast<std::size_t>(j)] = d;
            top = std::max(top, d);
          }
          for (auto& x : s) sum += x = std::exp(x - top);
          for (std::int64_t c = 0; c < dv; ++c) {
            double o = 0;
            for (std::int64_t j = 0; j < tokens; ++j) o += s[static_cast<std::size_t>(j)] / sum * v[static_cast<std::size_t>((h * tokens + j) * dv + c)];
            want[static_cast<std::size_t>((h * tokens + i) * dv + c)] = o;
          }
        }
      const std::string path = save(dir, "attention" + std::to_string(tokens) + "_" + std::to_string(variant) + ".onnx", m);
      const nn::Model model = nn::Model::load(path);
      CHECK(model.node_count() == 1);  // one luojia.Attention
      nn::Session session(model);
      nn::Tensor input(qs);
      std::copy(q.begin(), q.end(), input.data());
      check_close(session.run({input}).at(0), {1, heads, tokens, dv}, want, 1e-5);
      // The scores (heads x tokens x tokens floats: 8 MB at 1000 tokens) are never planned.
      CHECK(session.peak_bytes() <= static_cast<std::size_t>(heads * tokens * dv * 4) + 4096);
    }
}

TEST_CASE("Resize cubic with exclude_outside and cubic_coeff_a equals the spec's four taps per axis", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(28);
  const Dims xs{1, 2, 5, 7}, ys{1, 2, 9, 4};
  const auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  for (const int exclude : {0, 1}) {
    INFO("exclude_outside " << exclude);
    onnx::ModelProto m = empty_model(17);
    auto* g = m.mutable_graph();
    add_input(g, "x", xs);
    add_int64_initializer(g, "sizes", ys);
    auto* n = add_node(g, "Resize", {"x", "", "", "sizes"}, {"y"});
    set_string(n, "mode", "cubic");
    set_int(n, "exclude_outside", exclude);
    set_float(n, "cubic_coeff_a", -0.5f);
    add_output(g, "y");
    // half_pixel: source = (o + 0.5) / scale - 0.5; Keys' kernel with a = -0.5.
    const auto weights = [&](std::int64_t o, std::int64_t n_in, std::int64_t n_out, std::vector<std::int64_t>& at, std::vector<double>& w) {
      const double a = -0.5, s = (static_cast<double>(o) + 0.5) * static_cast<double>(n_in) / static_cast<double>(n_out) - 0.5;
      const double f = std::floor(s);
      at.clear();
      w.clear();
      double sum = 0;
      for (int j = -1; j <= 2; ++j) {
        const double d = std::fabs(s - (f + j));
        double k = d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0;
        const auto i = static_cast<std::int64_t>(f) + j;
        if (exclude && (i < 0 || i >= n_in)) k = 0;
        at.push_back(std::clamp<std::int64_t>(i, 0, n_in - 1));
        w.push_back(k);
        sum += k;
      }
      if (exclude)
        for (double& v : w) v /= sum;
    };
    std::vector<double> want(static_cast<std::size_t>(product(ys)));
    std::vector<std::int64_t> ay, ax;
    std::vector<double> wy, wx;
    for (std::int64_t c = 0; c < 2; ++c)
      for (std::int64_t oy = 0; oy < 9; ++oy)
        for (std::int64_t ox = 0; ox < 4; ++ox) {
          weights(oy, 5, 9, ay, wy);
          weights(ox, 7, 4, ax, wx);
          double v = 0;
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) v += wy[static_cast<std::size_t>(i)] * wx[static_cast<std::size_t>(j)] * x[static_cast<std::size_t>((c * 5 + ay[static_cast<std::size_t>(i)]) * 7 + ax[static_cast<std::size_t>(j)])];
          want[static_cast<std::size_t>((c * 9 + oy) * 4 + ox)] = v;
        }
    check_close(run_all(dir, m, xs, x).at(0), ys, want, 1e-5);
  }
}

TEST_CASE("Exp, Elu, Selu, Celu and Mish (vectorised) equal their formulas in double, saturation and NaN included", "[nn][ops]") {
  TempDir dir;
  std::mt19937 rng(31);
  const Dims xs{1, 3, 11, 13};
  auto x = random_values(static_cast<std::size_t>(product(xs)), rng);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= i % 4 == 0 ? 1e-3f : i % 4 == 1 ? 3.0f : 40.0f;
  x[0] = 0.0f, x[1] = 25.0f, x[2] = -90.0f, x[3] = std::numeric_limits<float>::quiet_NaN();
  struct Case {
    std::string op;
    std::function<double(double)> formula;
    std::vector<std::pair<std::string, float>> attributes;
  };
  const double alpha = 0.7, gamma = 1.3;
  const std::vector<Case> cases{
      {"Exp", [](double v) { return std::exp(v); }, {}},
      {"Elu", [&](double v) { return v >= 0 ? v : alpha * std::expm1(v); }, {{"alpha", 0.7f}}},
      {"Selu", [&](double v) { return gamma * (v > 0 ? v : alpha * std::expm1(v)); }, {{"alpha", 0.7f}, {"gamma", 1.3f}}},
      {"Celu", [&](double v) { return std::max(0.0, v) + std::min(0.0, alpha * std::expm1(v / alpha)); }, {{"alpha", 0.7f}}},
      {"Mish", [](double v) { return v * std::tanh(std::log1p(std::exp(v))); }, {}},
  };
  for (const auto& c : cases) {
    INFO(c.op);
    onnx::ModelProto m = empty_model(18);  // Mish is opset 18
    add_input(m.mutable_graph(), "x", xs);
    auto* node = add_node(m.mutable_graph(), c.op, {"x"}, {"y"});
    for (const auto& [name, value] : c.attributes) set_float(node, name, value);
    add_output(m.mutable_graph(), "y");
    const nn::Tensor got = run_graph(dir, m, xs, x);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = c.formula(static_cast<double>(static_cast<float>(x[i]))), y = got.data()[i];
      if (std::isnan(want)) {
        CHECK(std::isnan(y));
        continue;
      }
      if (std::isinf(want)) {
        CHECK(y == want);
        continue;
      }
      // Relative where values are large (Exp), absolute near zero (expm1's cancellation, as the
      // scalar loops had it).
      worst = std::max(worst, std::abs(y - want) / std::max(1.0, std::abs(want)));
    }
    CHECK(worst < 2e-6);
  }
}
