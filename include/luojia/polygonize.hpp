#pragma once
// Moved to <luojia/products/polygonize.hpp>; this path stays for code written before the move.
#include <luojia/products/polygonize.hpp>
