#pragma once
// numpy arrays as rasters and back: an array with a transform and a CRS becomes a raster luojia's
// tasks read (GDAL's /vsimem, through Raster::from_image), and a product becomes an array with its
// georeferencing.
#include <pybind11/pybind11.h>

namespace luojia::python {

void bind_rasters(pybind11::module_& m);

}  // namespace luojia::python
