#pragma once
// The library's version and the instruction set its network kernels run.
#include <luojia/export.hpp>

#include <string_view>

namespace luojia {
LUOJIA_API std::string_view version();
// The instruction set the network kernels run with: "avx512", "avx2" or "sse2" (chosen by the CPU
// in a portable build; LUOJIA_ISA forces one), or "native" (built with -march=native).
LUOJIA_API std::string_view kernel_isa();
}
