// Times luojia's network engine on one model, and Eigen's sgemm as the practical peak.
//   luojia-nn-bench MODEL.onnx C H W THREADS ITERATIONS    -> ms per run, peak activation bytes
//   luojia-nn-bench MODEL.onnx C H W THREADS ITERATIONS --layers  -> and the ten slowest nodes
//   luojia-nn-bench --sgemm THREADS                         -> GFLOP/s of Eigen sgemm on conv-like shapes
#include <luojia/nn/model.hpp>

#include <Eigen/Core>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int sgemm(int threads) {
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  // Shapes of a U-Net's 3x3 convolutions in 1024-pixel chunks, and a square one.
  const int shapes[][3] = {{16, 144, 1024}, {32, 288, 1024}, {64, 576, 1024}, {128, 1152, 1024}, {1024, 1024, 1024}};
  tbb::task_arena arena(threads);
  for (const auto& s : shapes) {
    const int m = s[0], k = s[1], n = s[2];
    std::vector<M> a(static_cast<std::size_t>(threads), M::Random(m, k)), b(static_cast<std::size_t>(threads), M::Random(k, n)),
        c(static_cast<std::size_t>(threads), M::Zero(m, n));
    const double flop = 2.0 * m * k * n;
    int reps = std::max(3, static_cast<int>(2e10 / flop));
    double best = 1e9;
    for (int round = 0; round < 3; ++round) {
      const auto t0 = std::chrono::steady_clock::now();
      arena.execute([&] {
        tbb::parallel_for(0, threads, [&](int t) {
          for (int r = 0; r < reps; ++r) c[static_cast<std::size_t>(t)].noalias() = a[static_cast<std::size_t>(t)] * b[static_cast<std::size_t>(t)];
        });
      });
      best = std::min(best, seconds_since(t0));
    }
    std::printf("sgemm %dx%dx%d threads %d: %.1f GFLOP/s\n", m, k, n, threads, flop * reps * threads / best / 1e9);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--sgemm") return sgemm(std::atoi(argv[2]));
  const bool layers = argc == 8 && std::string(argv[7]) == "--layers";
  if (argc != 7 && !layers) {
    std::fprintf(stderr, "usage: luojia-nn-bench MODEL.onnx C H W THREADS ITERATIONS [--layers] | --sgemm THREADS\n");
    return 2;
  }
  const int threads = std::atoi(argv[5]), iterations = std::atoi(argv[6]);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  const luojia::nn::Model model = luojia::nn::Model::load(argv[1]);
  luojia::nn::Session session(model);
  luojia::nn::Tensor input({1, std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4])});
  for (std::int64_t i = 0; i < input.size(); ++i) input.data()[i] = static_cast<float>((i * 7919) % 1000) / 500.0f - 1.0f;
  tbb::task_arena arena(threads);
  arena.execute([&] { session.run({input}); });  // plans, warms caches
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    arena.execute([&] { session.run({input}); });
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  if (layers) {
    session.profile(true);
    for (int i = 0; i < iterations; ++i) arena.execute([&] { session.run({input}); });
    auto nodes = session.layer_times();
    std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
    std::map<std::string, double> by_op;
    for (const auto& node : nodes) by_op[node.op_type] += node.seconds / static_cast<double>(node.runs);
    for (const auto& [op, seconds] : by_op) std::printf("  all %-12s %8.2f ms\n", op.c_str(), seconds * 1e3);
    // LUOJIA_BENCH_NODES=N lists the N slowest (default 10).
    const char* listed = std::getenv("LUOJIA_BENCH_NODES");
    const std::size_t shown = listed ? static_cast<std::size_t>(std::strtoul(listed, nullptr, 10)) : 10;
    for (std::size_t i = 0; i < std::min<std::size_t>(shown, nodes.size()); ++i)
      std::printf("  %-28s %-12s %-22s %8.2f ms\n", nodes[i].node.c_str(), nodes[i].op_type.c_str(),
                  luojia::nn::to_string(nodes[i].output).c_str(), nodes[i].seconds / static_cast<double>(nodes[i].runs) * 1e3);
  }
  std::printf("luojia %s %sx%s threads %d: median %.2f ms, best %.2f ms, activations %.1f MB\n", argv[1], argv[3], argv[4],
              threads, times[times.size() / 2] * 1e3, times.front() * 1e3, static_cast<double>(session.peak_bytes()) / 1e6);
  return 0;
}
