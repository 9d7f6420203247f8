#pragma once
// Moved to <luojia/products/change.hpp>; this path stays for code written before the move.
#include <luojia/products/change.hpp>
