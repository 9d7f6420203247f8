#pragma once
// Everything public, for programs that would rather include one header.
#include <luojia/data_type.hpp>
#include <luojia/engine.hpp>
#include <luojia/error.hpp>
#include <luojia/image.hpp>
#include <luojia/progress.hpp>
#include <luojia/raster.hpp>
#include <luojia/raster_info.hpp>
#include <luojia/raster_writer.hpp>
#include <luojia/spectral_index.hpp>
#include <luojia/tile_grid.hpp>
#include <luojia/version.hpp>
#include <luojia/window.hpp>
