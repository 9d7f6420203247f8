#pragma once
// Moved to <luojia/io/raster_writer.hpp>; this path stays for code written before the move.
#include <luojia/io/raster_writer.hpp>
