#pragma once
// Moved to <luojia/io/raster_info.hpp>; this path stays for code written before the move.
#include <luojia/io/raster_info.hpp>
