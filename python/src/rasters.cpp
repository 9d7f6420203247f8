#include "rasters.hpp"

#include <luojia/error.hpp>
#include <luojia/io/crs.hpp>
#include <luojia/io/raster.hpp>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

namespace luojia::python {

namespace py = pybind11;

namespace {

// "EPSG:32650", a WKT, a PROJ string, or any object with to_wkt() (rasterio's and pyproj's CRS).
std::string crs_wkt(py::handle crs) {
  if (crs.is_none()) return {};
  const std::string text = py::hasattr(crs, "to_wkt") ? crs.attr("to_wkt")().cast<std::string>() : py::str(crs).cast<std::string>();
  return text.empty() ? std::string{} : luojia::crs_wkt(text, "crs");
}

// rasterio's Affine (has to_gdal()) or six numbers in GDAL's order (x0, dx, rx, y0, ry, dy).
GeoTransform geotransform(py::handle transform) {
  py::object gdal_order = py::hasattr(transform, "to_gdal") ? transform.attr("to_gdal")() : py::reinterpret_borrow<py::object>(transform);
  std::vector<double> c;
  try {
    c = gdal_order.cast<std::vector<double>>();
  } catch (const py::cast_error&) {
    throw UsageError("transform", "is six numbers in GDAL's order or a rasterio Affine");
  }
  if (c.size() != 6) throw UsageError("transform", "is six numbers in GDAL's order or a rasterio Affine, not " + std::to_string(c.size()));
  GeoTransform g;
  std::copy(c.begin(), c.end(), g.c.begin());
  return g;
}

// A raster in GDAL's memory over a copy of an array's pixels, alive as long as this object.
class MemoryRaster {
public:
  MemoryRaster(py::array values, py::object transform, py::object crs, py::object nodata, py::dict metadata, py::dict rpc) {
    auto pixels = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(values);
    if (!pixels) throw InputError("a raster array must hold numbers");
    if (pixels.ndim() != 2 && pixels.ndim() != 3)
      throw InputError("a raster array is (bands, rows, columns) or (rows, columns), not " + std::to_string(pixels.ndim()) + "-dimensional");
    const int bands = pixels.ndim() == 3 ? static_cast<int>(pixels.shape(0)) : 1;
    const std::int64_t rows = pixels.shape(pixels.ndim() - 2), columns = pixels.shape(pixels.ndim() - 1);
    if (bands < 1 || rows < 1 || columns < 1) throw InputError("a raster array must not be empty");
    RasterLayout layout;
    if (!transform.is_none()) layout.geotransform = geotransform(transform);
    layout.crs_wkt = crs_wkt(crs);
    if (!nodata.is_none()) layout.nodata = nodata.cast<double>();
    for (auto [k, v] : metadata) layout.metadata.emplace_back(py::str(k), py::str(v));
    for (auto [k, v] : rpc) layout.rpc.emplace_back(py::str(k), py::str(v));
    Image image(bands, columns, rows);
    std::memcpy(image.data(), pixels.data(), image.bytes());
    raster_ = std::make_unique<Raster>(Raster::from_image(image, layout));
  }
  const std::string& path() const { return raster_->path(); }

private:
  std::unique_ptr<Raster> raster_;
};

py::dtype numpy_type(GDALDataType type) {
  switch (type) {
    case GDT_Byte: return py::dtype::of<std::uint8_t>();
    case GDT_UInt16: return py::dtype::of<std::uint16_t>();
    case GDT_Int16: return py::dtype::of<std::int16_t>();
    case GDT_UInt32: return py::dtype::of<std::uint32_t>();
    case GDT_Int32: return py::dtype::of<std::int32_t>();
    case GDT_Float32: return py::dtype::of<float>();
    case GDT_Float64: return py::dtype::of<double>();
    default: break;
  }
  if (type == GDT_Int64) return py::dtype::of<std::int64_t>();
  if (type == GDT_UInt64) return py::dtype::of<std::uint64_t>();
  throw InputError(std::string("band type ") + GDALGetDataTypeName(type) + " has no numpy twin here");
}

// (pixels, georeferencing) of a raster: pixels (bands, rows, columns) in the raster's type.
py::tuple read_raster(const std::string& path) {
  Raster raster = Raster::open(path);
  auto dataset = static_cast<GDALDatasetH>(raster.gdal_handle());
  const int bands = GDALGetRasterCount(dataset);
  const int columns = GDALGetRasterXSize(dataset), rows = GDALGetRasterYSize(dataset);
  if (bands < 1) throw InputError("the raster has no band", ErrorContext{path, {}, {}, {}});
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(dataset, 1));
  py::array pixels(numpy_type(type), std::vector<py::ssize_t>{bands, rows, columns});
  {
    py::gil_scoped_release release;
    const CPLErr err = GDALDatasetRasterIO(dataset, GF_Read, 0, 0, columns, rows, pixels.mutable_data(), columns, rows,
                                           type, bands, nullptr, 0, 0, 0);
    if (err != CE_None) throw InputError(std::string("reading failed: ") + CPLGetLastErrorMsg(), ErrorContext{path, {}, {}, {}});
  }
  py::dict georef;
  double g[6];
  georef["transform"] = GDALGetGeoTransform(dataset, g) == CE_None ? py::object(py::make_tuple(g[0], g[1], g[2], g[3], g[4], g[5])) : py::none();
  const char* wkt = GDALGetProjectionRef(dataset);
  georef["crs"] = wkt && *wkt ? py::object(py::str(wkt)) : py::none();
  int has = 0;
  const double nodata = GDALGetRasterNoDataValue(GDALGetRasterBand(dataset, 1), &has);
  georef["nodata"] = has ? py::object(py::float_(nodata)) : py::none();
  py::list names;
  for (int b = 1; b <= bands; ++b) names.append(GDALGetDescription(GDALGetRasterBand(dataset, b)));
  georef["descriptions"] = names;
  py::dict metadata;
  if (char** md = GDALGetMetadata(dataset, nullptr)) {
    for (char** p = md; *p; ++p) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(*p, &key);
      if (key && value) metadata[py::str(key)] = value;
      CPLFree(key);
    }
  }
  georef["metadata"] = metadata;
  return py::make_tuple(pixels, georef);
}

}  // namespace

void bind_rasters(py::module_& m) {
  py::class_<MemoryRaster>(m, "MemoryRaster",
                           "An array as a raster in GDAL's memory (/vsimem) with its georeferencing; .path "
                           "is what tasks read. The pixels are copied (as float32).")
      .def(py::init<py::array, py::object, py::object, py::object, py::dict, py::dict>(), py::arg("array"),
           py::arg("transform") = py::none(), py::arg("crs") = py::none(), py::arg("nodata") = py::none(),
           py::arg("metadata") = py::dict(), py::arg("rpc") = py::dict())
      .def_property_readonly("path", &MemoryRaster::path);
  m.def("read_raster", &read_raster, py::arg("path"),
        "(pixels, georeferencing) of a raster: pixels (bands, rows, columns) in its own type; "
        "georeferencing: transform (GDAL order), crs (WKT), nodata, band descriptions, metadata.");
}

}  // namespace luojia::python
