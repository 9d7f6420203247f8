#pragma once
// Bands of several rasters on one grid seen as one raster: a VRT in memory (/vsimem/), never a
// copy, so the streaming engine reads two dates or two views of a pair through one window.
#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>

#include <string>
#include <vector>

namespace luojia::detail {

// A unique /vsimem/ name for a virtual raster of this process ("luojia-virtual-TAG-PID-N.vrt").
std::string unique_vsimem(const std::string& tag);
// Whether an error's file is one of those: products then name the files the user gave instead.
bool is_virtual(const std::string& path);

// body(), with an Error it throws about one of those virtual rasters (two dates, two views read
// through one stacked VRT) renamed to the files the user gave: "FIRST" or "FIRST or SECOND".
template <class Body>
auto naming_given_files(const std::string& first, const std::string& second, const Body& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    if (!is_virtual(e.context().file)) throw;
    ErrorContext where = e.context();
    where.file = first == second ? first : first + " or " + second;
    where.band.reset();
    e.rethrow_with(where);
  }
  throw;  // not reached: rethrow_with does not return (GCC cannot see it through the virtual call)
}

// Files removed when the run ends: virtual rasters in /vsimem/ and temporaries on disk alike
// (VSIUnlink removes either).
struct TemporaryFiles {
  std::vector<std::string> paths;
  TemporaryFiles() = default;
  TemporaryFiles(const TemporaryFiles&) = delete;
  TemporaryFiles& operator=(const TemporaryFiles&) = delete;
  ~TemporaryFiles();
};

struct StackSource {
  const Raster* raster;
  std::vector<int> bands;  // 1-based
};

// A VRT in /vsimem/ (listed in files) on grid's size, CRS and geotransform whose bands are each
// source's bands in order, keeping their nodata, scale and offset. what names the stack in
// errors ("both dates"). The rasters must be grid's size.
std::string stack_bands(const RasterInfo& grid, const std::vector<StackSource>& sources, TemporaryFiles& files,
                        const std::string& what);

}  // namespace luojia::detail
