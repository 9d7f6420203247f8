#pragma once
// Moved to <luojia/tiling/window.hpp>; this path stays for code written before the move.
#include <luojia/tiling/window.hpp>
