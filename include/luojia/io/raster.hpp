#pragma once
// A raster opened through GDAL (RAII), read by windows into Images with masks.
#include <luojia/data_type.hpp>
#include <luojia/export.hpp>
#include <luojia/image.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/io/raster_layout.hpp>
#include <luojia/tiling/window.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>

namespace luojia {

// What fills the part of a read window that lies outside the raster.
enum class EdgeMode {
  Constant,   // ReadOptions::fill_value
  Nodata,     // each band's nodata value (fill_value where a band has none)
  Reflect,    // mirror without repeating the edge pixel (numpy "reflect", PyTorch "reflect")
  Replicate,  // repeat the edge pixel
};

struct ReadOptions {
  EdgeMode edge = EdgeMode::Constant;
  double fill_value = 0.0;
  bool apply_scale = false;  // value * scale + offset for pixels that hold data
  // One mask plane per band (band after band) instead of one for all: kernels whose outputs
  // read different bands judge each output by its own inputs.
  bool mask_per_band = false;
};

// A read-only handle on a GDAL dataset (any path GDAL opens: files, /vsizip/, /vsimem/, VRT, ...).
// One handle is not thread-safe, as GDAL's are not; give each worker its own with reopen().
class LUOJIA_API Raster {
public:
  static Raster open(const std::string& path);
  // A raster over pixels in memory (band after band, float32) with the georeferencing of layout:
  // its geotransform, CRS, nodata, RPCs, GCPs and metadata (its size, band count and type are the
  // image's). Products made from it carry that georeferencing, as from a file. The pixels are
  // copied into a GDAL in-memory file (/vsimem) that lives as long as any handle on it (reopen()
  // included). Throws InputError for an empty image.
  static Raster from_image(const Image& pixels, const RasterLayout& layout = {});

  Raster(Raster&&) noexcept;
  Raster& operator=(Raster&&) noexcept;
  ~Raster();

  const RasterInfo& info() const noexcept;
  const std::string& path() const noexcept;
  Raster reopen() const;

  // Planar float32 of the given 1-based bands over window (which may reach outside the raster).
  // mask, when given, is resized to the window and marks pixels where every band holds data
  // (or, with mask_per_band, where each band does).
  Image read(const Window& window, std::span<const int> bands, const ReadOptions& options = {},
             Mask* mask = nullptr);
  // The same into a caller-owned image (reshaped to fit), so tiles reuse their buffers.
  void read_into(const Window& window, std::span<const int> bands, Image& out,
                 const ReadOptions& options = {}, Mask* mask = nullptr);
  // Pixels in their stored type, band-sequential, for kernels that want the raw values.
  // buffer must hold bands.size() * window.area() * size_of(type) bytes.
  void read_native(const Window& window, std::span<const int> bands, DataType type, void* buffer,
                   const ReadOptions& options = {});

  // The GDAL dataset (GDALDatasetH) for code that needs GDAL itself.
  void* gdal_handle() const noexcept;

private:
  struct Impl;
  explicit Raster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace luojia
