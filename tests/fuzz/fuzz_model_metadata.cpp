// libFuzzer harness: model metadata JSON (metadata_props or MODEL.json) parses or is an Error.
#include <luojia/error.hpp>
#include <luojia/nn/model_metadata.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto metadata = luojia::nn::parse_model_metadata(text, "fuzz");
    std::vector<float> gain, bias;
    for (int channels = 1; channels <= 4; ++channels) {
      try {
        metadata.normalisation(channels, gain, bias);
      } catch (const luojia::Error&) {
      }
    }
  } catch (const luojia::Error&) {
  }
  return 0;
}
