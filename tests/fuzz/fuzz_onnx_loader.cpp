// libFuzzer harness: arbitrary bytes as an .onnx file must give a model or a luojia::Error, never
// a crash, a hang or an unbounded allocation. Loads, analyses and runs on a small input.
#include <luojia/error.hpp>
#include <luojia/nn/model.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/luojia-fuzz-" + std::to_string(::getpid()) + ".onnx";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  luojia::nn::LoadOptions limits;
  limits.max_tensor_bytes = std::size_t{64} << 20;
  limits.max_plan_bytes = std::size_t{256} << 20;
  try {
    const luojia::nn::Model model = luojia::nn::Model::load(path, luojia::nn::LayerRegistry::with_builtins(), limits);
    std::vector<luojia::nn::Tensor> inputs;
    for (const auto& spec : model.inputs()) {
      luojia::nn::Shape shape = spec.shape;
      for (auto& d : shape)
        if (d < 0 || d > 64) d = 8;
      inputs.emplace_back(shape, spec.type);
    }
    model.analyse();
    model.run(inputs);
  } catch (const luojia::Error&) {
  }
  return 0;
}
