#pragma once
// Moved to <luojia/products/detection.hpp>; this path stays for code written before the move.
#include <luojia/products/detection.hpp>
