#include <luojia/version.hpp>

namespace luojia {
std::string_view version() { return LUOJIA_VERSION_STRING; }
}
