#pragma once
// A raster product written by windows into a temporary and put in place only when complete.
#include <luojia/data_type.hpp>
#include <luojia/export.hpp>
#include <luojia/image.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/io/raster_layout.hpp>
#include <luojia/tiling/window.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace luojia {

// The checks every writer makes of its target before a run, so a long run never fails at its end
// for a name: throws Error if path exists and overwrite is false, or if its folder is missing.
// An empty path (an output not asked for) passes.
LUOJIA_API void check_output_path(const std::string& path, bool overwrite);

// How to write: GDAL driver (-of), creation options (-co KEY=VALUE) and whether to replace.
struct OutputOptions {
  std::string driver = "GTiff";
  std::vector<std::string> creation_options;
  bool overwrite = false;
};

// A new raster, written to a temporary file in the target folder and renamed into place by
// commit(). Destroying an uncommitted writer deletes the temporary: a failed or cancelled run
// leaves no partial product and never damages an existing one. Drivers that cannot create
// (COG, PNG, JPEG, ...) get a tiled GTiff first and a CreateCopy at commit.
class LUOJIA_API RasterWriter {
public:
  // Throws if path exists and options.overwrite is false, the folder is missing or not writable,
  // the driver is unknown, or a creation option is not KEY=VALUE or is refused by the driver.
  RasterWriter(const std::string& path, const RasterLayout& layout, const OutputOptions& options = {});
  RasterWriter(RasterWriter&&) noexcept;
  RasterWriter& operator=(RasterWriter&&) noexcept;
  ~RasterWriter();

  const RasterLayout& layout() const noexcept;
  const std::string& path() const noexcept;
  // Block size of the dataset being written; tiles aligned to it are written without read-back.
  std::array<int, 2> block_size() const;

  // Writes image's bands to bands first_band.. of window (which must lie inside the raster).
  void write(const Window& window, const Image& image, int first_band = 1);
  // bands planes of window.area() floats, one after the other, to bands first_band..
  void write(const Window& window, const float* planes, int bands, int first_band = 1);
  // One band of a window in type's values, both ways, for products painted in any order (an
  // instance-id raster, where the better of two overlapping instances keeps a pixel): reading
  // gives what was written so far, 0 (or nodata) where nothing was.
  void write_native(const Window& window, DataType type, const void* buffer, int band = 1);
  void read_native(const Window& window, DataType type, void* buffer, int band = 1);
  // A palette (RGBA per value) and category names for band 1, as class maps carry them.
  void set_color_table(const std::vector<std::array<int, 4>>& colors);
  void set_category_names(const std::vector<std::string>& names);
  void set_band_description(int band, const std::string& description);
  void set_metadata(const std::string& key, const std::string& value);

  // Flushes, closes and converts for copy-only drivers, without touching the target: a run with
  // several products finishes them all before it commits any, so a failure while finishing the
  // last leaves none in place. Throws on failure (the temporary is removed).
  void finish();
  // After finish(): the finished temporary file, which later steps (a filter, polygons) may read
  // before commit() puts it in place. Empty before.
  const std::string& finished_path() const noexcept;
  // finish() if not done, then renames into place. Throws on any failure, after which the target
  // is as it was.
  void commit();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "KEY=VALUE" and checks the form; used for -co and creation options from the API.
LUOJIA_API void check_creation_option(const std::string& option);

}  // namespace luojia
