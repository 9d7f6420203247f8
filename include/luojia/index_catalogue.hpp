#pragma once
// Moved to <luojia/products/index_catalogue.hpp>; this path stays for code written before the move.
#include <luojia/products/index_catalogue.hpp>
