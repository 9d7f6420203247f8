#pragma once
// Moved to <luojia/products/segmentation.hpp>; this path stays for code written before the move.
#include <luojia/products/segmentation.hpp>
