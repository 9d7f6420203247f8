#pragma once
// Moved to <luojia/products/classification.hpp>; this path stays for code written before the move.
#include <luojia/products/classification.hpp>
