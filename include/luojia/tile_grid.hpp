#pragma once
// Moved to <luojia/tiling/tile_grid.hpp>; this path stays for code written before the move.
#include <luojia/tiling/tile_grid.hpp>
