// Which build of the convolution GEMM this process runs: the CPU's best, once.
#include "nn/layers/conv_gemm.hpp"

#include <luojia/error.hpp>

#include <cstdlib>
#include <string>

namespace luojia::nn::layers {

#if defined(LUOJIA_ISA_DISPATCH)
const ConvGemm& conv_gemm_sse2();
const ConvGemm& conv_gemm_avx2();
const ConvGemm& conv_gemm_avx512();

namespace {

bool has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
bool has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

const ConvGemm& choose() {
  __builtin_cpu_init();
  if (const char* forced = std::getenv("LUOJIA_ISA"); forced && *forced) {
    const std::string isa = forced;
    if (isa == "sse2") return conv_gemm_sse2();
    if (isa == "avx2" && has_avx2()) return conv_gemm_avx2();
    if (isa == "avx512" && has_avx512()) return conv_gemm_avx512();
    throw Error("LUOJIA_ISA=" + isa + ": not sse2, avx2 or avx512, or not supported by this CPU");
  }
  if (has_avx512()) return conv_gemm_avx512();
  if (has_avx2()) return conv_gemm_avx2();
  return conv_gemm_sse2();
}

}  // namespace

const ConvGemm& conv_gemm() {
  static const ConvGemm& chosen = choose();
  return chosen;
}

const ConvGemm& conv_gemm_for(const std::string& isa) {
  if (isa.empty() || (std::getenv("LUOJIA_ISA") && *std::getenv("LUOJIA_ISA"))) return conv_gemm();
  __builtin_cpu_init();
  if (isa == "sse2") return conv_gemm_sse2();
  if (isa == "avx2" && has_avx2()) return conv_gemm_avx2();
  if (isa == "avx512" && has_avx512()) return conv_gemm_avx512();
  if (isa == "avx2" || isa == "avx512") throw UsageError("isa", "'" + isa + "' is not supported by this CPU");
  throw UsageError("isa", "is sse2, avx2 or avx512 (or empty: the best this CPU has), not '" + isa + "'");
}
#else
const ConvGemm& conv_gemm_native();
const ConvGemm& conv_gemm() { return conv_gemm_native(); }

const ConvGemm& conv_gemm_for(const std::string& isa) {
  const ConvGemm& native = conv_gemm_native();
  if (isa.empty() || isa == native.isa) return native;
  throw UsageError("isa", "this build has only its " + std::string(native.isa) + " kernels, not '" + isa + "'");
}
#endif

}  // namespace luojia::nn::layers
