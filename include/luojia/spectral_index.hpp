#pragma once
// Moved to <luojia/products/spectral_index.hpp>; this path stays for code written before the move.
#include <luojia/products/spectral_index.hpp>
