#pragma once
// Moved to <luojia/products/merge.hpp>; this path stays for code written before the move.
#include <luojia/products/merge.hpp>
