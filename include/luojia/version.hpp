#pragma once
#include <luojia/export.hpp>

#include <string_view>

namespace luojia {
LUOJIA_API std::string_view version();
}
