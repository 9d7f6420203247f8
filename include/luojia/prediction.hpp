#pragma once
// Moved to <luojia/products/prediction.hpp>; this path stays for code written before the move.
#include <luojia/products/prediction.hpp>
