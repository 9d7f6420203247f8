#include <luojia/version.hpp>

#include "nn/layers/conv_gemm.hpp"

namespace luojia {
std::string_view version() { return LUOJIA_VERSION_STRING; }
std::string_view kernel_isa() { return nn::layers::conv_gemm().isa; }
}
