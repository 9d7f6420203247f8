// The _luojia extension: luojia's library for Python (the luojia package wraps it).
#include "errors.hpp"
#include "model.hpp"
#include "rasters.hpp"
#include "tasks.hpp"

#include <luojia/version.hpp>

#include <gdal.h>

PYBIND11_MODULE(_luojia, m) {
  m.doc() = "luojia's C++ library: models, tasks over rasters, arrays as rasters.";
  GDALAllRegister();
  m.attr("__version__") = std::string(luojia::version());
  m.def("kernel_isa", [] { return std::string(luojia::kernel_isa()); },
        "The instruction set luojia's kernels run with on this CPU (avx512, avx2, sse2, native).");
  luojia::python::bind_errors(m);
  luojia::python::bind_model(m);
  luojia::python::bind_rasters(m);
  luojia::python::bind_tasks(m);
}
