#pragma once
// Moved to <luojia/io/grid_match.hpp>; this path stays for code written before the move.
#include <luojia/io/grid_match.hpp>
