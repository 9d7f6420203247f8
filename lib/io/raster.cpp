#include <luojia/io/raster.hpp>
#include <luojia/io/raster_writer.hpp>

#include "io/file_names.hpp"
#include "io/gdal_support.hpp"

#include <cpl_string.h>
#include <cpl_vsi.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace luojia {

using detail::DatasetPtr;
using detail::GdalErrorTrap;

namespace {

// A GDAL metadata domain's KEY=VALUE items, in order.
std::vector<std::pair<std::string, std::string>> name_value_pairs(char** items) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (char** item = items; item && *item; ++item) {
    char* key = nullptr;
    const char* value = CPLParseNameValue(*item, &key);
    if (key) pairs.emplace_back(key, value ? value : "");
    CPLFree(key);
  }
  return pairs;
}

// The dataset's alpha band, if any.
GDALRasterBand* alpha_band(GDALDataset& dataset) {
  for (int a = 1; a <= dataset.GetRasterCount(); ++a)
    if (dataset.GetRasterBand(a)->GetColorInterpretation() == GCI_AlphaBand) return dataset.GetRasterBand(a);
  return nullptr;
}

// The band whose zeros mark band b's pixels as no data beyond its values, or null: GDAL's mask
// band, or the alpha band of a warped VRT, which reports every band all-valid beside its alpha
// band (gdalwarp -dstalpha, luojia's --ortho).
GDALRasterBand* validity_mask(GDALDataset& dataset, int b, bool has_nodata) {
  GDALRasterBand* band = dataset.GetRasterBand(b);
  const int flags = band->GetMaskFlags();
  if (flags & GMF_ALL_VALID) return has_nodata || band->GetColorInterpretation() == GCI_AlphaBand ? nullptr : alpha_band(dataset);
  if (flags & GMF_NODATA) return nullptr;
  return band->GetMaskBand();
}

RasterInfo describe(GDALDataset& dataset, const std::string& path) {
  RasterInfo info;
  info.path = path;
  if (auto* driver = dataset.GetDriver()) info.driver = driver->GetDescription();
  info.width = dataset.GetRasterXSize();
  info.height = dataset.GetRasterYSize();

  double gt[6];
  if (dataset.GetGeoTransform(gt) == CE_None) {
    GeoTransform transform;
    std::copy(gt, gt + 6, transform.c.begin());
    info.geotransform = transform;
  }
  if (const OGRSpatialReference* srs = dataset.GetSpatialRef()) {
    char* wkt = nullptr;
    const char* options[] = {"FORMAT=WKT2_2018", nullptr};
    if (srs->exportToWkt(&wkt, options) == OGRERR_NONE && wkt) info.crs_wkt = wkt;
    CPLFree(wkt);
    OGRSpatialReference identified(*srs);
    const char* authority = identified.GetAuthorityName(nullptr);
    if (!authority) {
      identified.AutoIdentifyEPSG();
      authority = identified.GetAuthorityName(nullptr);
    }
    if (authority && EQUAL(authority, "EPSG"))
      if (const char* code = identified.GetAuthorityCode(nullptr)) info.epsg = std::atoi(code);
  }
  info.rpc = name_value_pairs(dataset.GetMetadata("RPC"));
  if (const int count = dataset.GetGCPCount(); count > 0) {
    const GDAL_GCP* gcps = dataset.GetGCPs();
    for (int i = 0; i < count; ++i)
      info.gcps.push_back({gcps[i].pszId ? gcps[i].pszId : "", gcps[i].dfGCPPixel, gcps[i].dfGCPLine, gcps[i].dfGCPX,
                           gcps[i].dfGCPY, gcps[i].dfGCPZ});
    if (const OGRSpatialReference* srs = dataset.GetGCPSpatialRef()) {
      char* wkt = nullptr;
      if (srs->exportToWkt(&wkt) == OGRERR_NONE && wkt) info.gcp_crs_wkt = wkt;
      CPLFree(wkt);
    }
  }
  info.metadata = name_value_pairs(dataset.GetMetadata());

  for (int b = 1; b <= dataset.GetRasterCount(); ++b) {
    GDALRasterBand* band = dataset.GetRasterBand(b);
    BandInfo bi;
    bi.type = detail::from_gdal(band->GetRasterDataType());
    int has = 0;
    const double nodata = band->GetNoDataValue(&has);
    if (has) bi.nodata = nodata;
    bi.scale = band->GetScale(&has);
    if (!has) bi.scale = 1.0;
    bi.offset = band->GetOffset(&has);
    if (!has) bi.offset = 0.0;
    bi.color_interpretation = GDALGetColorInterpretationName(band->GetColorInterpretation());
    bi.description = band->GetDescription();
    band->GetBlockSize(&bi.block_width, &bi.block_height);
    int flags = band->GetMaskFlags();
    if ((flags & GMF_ALL_VALID) && validity_mask(dataset, b, bi.nodata.has_value())) flags = GMF_ALPHA | GMF_PER_DATASET;
    bi.mask = (flags & GMF_ALL_VALID)     ? MaskKind::AllValid
              : (flags & GMF_NODATA)      ? MaskKind::Nodata
              : (flags & GMF_ALPHA)       ? MaskKind::Alpha
              : (flags & GMF_PER_DATASET) ? MaskKind::PerDataset
                                          : MaskKind::PerBand;
    info.bands.push_back(bi);
  }
  return info;
}

std::int64_t replicate(std::int64_t i, std::int64_t n) { return std::clamp<std::int64_t>(i, 0, n - 1); }

std::vector<std::int64_t> source_map(std::int64_t start, std::int64_t length, std::int64_t n,
                                     EdgeMode mode) {
  std::vector<std::int64_t> map(static_cast<std::size_t>(length));
  for (std::int64_t i = 0; i < length; ++i)
    map[static_cast<std::size_t>(i)] =
        mode == EdgeMode::Reflect ? detail::reflect_index(start + i, n) : replicate(start + i, n);
  return map;
}

// Where each pixel of a window falls in the raster under reflect/replicate, and the rectangle
// of source pixels that covers them all.
struct EdgeSource {
  std::vector<std::int64_t> cols;
  std::vector<std::int64_t> rows;
  Window rect;
};

EdgeSource edge_source(const Window& window, std::int64_t width, std::int64_t height, EdgeMode mode) {
  EdgeSource s;
  s.cols = source_map(window.x, window.width, width, mode);
  s.rows = source_map(window.y, window.height, height, mode);
  const auto [cmin, cmax] = std::minmax_element(s.cols.begin(), s.cols.end());
  const auto [rmin, rmax] = std::minmax_element(s.rows.begin(), s.rows.end());
  s.rect = {*cmin, *rmin, *cmax - *cmin + 1, *rmax - *rmin + 1};
  return s;
}

// Copies each window pixel from its source pixel; planes of esize-byte elements.
void gather(const unsigned char* src, const EdgeSource& s, unsigned char* dst, const Window& window,
            std::size_t esize, std::size_t bands) {
  const auto e = static_cast<std::int64_t>(esize);
  for (std::size_t b = 0; b < bands; ++b) {
    const unsigned char* splane = src + static_cast<std::int64_t>(b) * s.rect.area() * e;
    unsigned char* dplane = dst + static_cast<std::int64_t>(b) * window.area() * e;
    for (std::int64_t y = 0; y < window.height; ++y) {
      const unsigned char* srow = splane + (s.rows[static_cast<std::size_t>(y)] - s.rect.y) * s.rect.width * e;
      unsigned char* drow = dplane + y * window.width * e;
      for (std::int64_t x = 0; x < window.width; ++x)
        std::memcpy(drow + x * e, srow + (s.cols[static_cast<std::size_t>(x)] - s.rect.x) * e, esize);
    }
  }
}

// Infinities are not data either: one would spread through a kernel's neighbourhood.
bool is_data(float value, const std::optional<double>& nodata, float nodata_as_float) {
  if (!std::isfinite(value)) return false;
  return !nodata || value != nodata_as_float;
}

}  // namespace

struct Raster::Impl {
  std::string path;
  DatasetPtr dataset;
  RasterInfo info;
  std::vector<GDALRasterBand*> masks;  // per band (0-based): validity_mask(), found once at open
  std::shared_ptr<const std::string> owned_file;  // from_image's /vsimem file, unlinked with its last handle

  ErrorContext context(std::optional<int> band = std::nullopt) const {
    ErrorContext c;
    c.file = path;
    c.band = band;
    return c;
  }

  void check_bands(std::span<const int> bands) const {
    if (bands.empty()) throw InputError("no bands requested", context());
    for (int b : bands) {
      if (b < 1 || b > info.band_count())
        throw InputError("band " + std::to_string(b) + " is out of range: the raster has " +
                  std::to_string(info.band_count()) + " band" + (info.band_count() == 1 ? "" : "s"),
              context());
      if (is_complex(info.band(b).type))
        throw InputError("complex data type " + std::string(name(info.band(b).type)) + " is not supported",
              context(b));
    }
  }

  // Reads rect (inside the raster) of bands into buffer with the given strides, in bytes.
  void raster_io(const Window& rect, std::span<const int> bands, DataType type, void* buffer,
                 std::int64_t line_space, std::int64_t band_space) {
    const auto pixel = static_cast<GSpacing>(size_of(type));
    std::vector<int> band_map(bands.begin(), bands.end());
    GdalErrorTrap trap;
    const CPLErr err = dataset->RasterIO(
        GF_Read, static_cast<int>(rect.x), static_cast<int>(rect.y), static_cast<int>(rect.width),
        static_cast<int>(rect.height), buffer, static_cast<int>(rect.width),
        static_cast<int>(rect.height), detail::to_gdal(type), static_cast<int>(band_map.size()),
        band_map.data(), pixel, static_cast<GSpacing>(line_space), static_cast<GSpacing>(band_space),
        nullptr);
    if (err != CE_None || trap.has_error())
      throw InputError("cannot read pixels " + std::to_string(rect.x) + "," + std::to_string(rect.y) + " " +
                std::to_string(rect.width) + "x" + std::to_string(rect.height) + ": " +
                trap.message("read failed"),
            context());
  }

  Window extent() const { return {0, 0, info.width, info.height}; }
};

namespace {

// What makes a pixel of the bands read a data pixel, and the scale applied to data pixels:
// nodata values, GDAL masks, band scale and offset. apply() marks and scales one block of planar
// float values just read.
class PixelValidity {
public:
  // masks: each band's GDAL mask (0-based, nullptr: none); context names the raster in errors.
  PixelValidity(GDALDataset& dataset, const RasterInfo& info, const std::vector<GDALRasterBand*>& masks, ErrorContext context,
                std::span<const int> bands, const ReadOptions& options)
      : dataset_(dataset), context_(std::move(context)), bands_(bands), per_band_(options.mask_per_band), nodata(bands.size()), nodata_f(bands.size()),
        scale_(bands.size(), 1.0f), offset_(bands.size(), 0.0f), mask_band_(bands.size(), nullptr), exact_nodata_(bands.size(), false) {
    for (std::size_t i = 0; i < bands.size(); ++i) {
      const BandInfo& bi = info.band(bands[i]);
      nodata[i] = bi.nodata;
      nodata_f[i] = bi.nodata ? static_cast<float>(*bi.nodata) : 0.0f;
      if (options.apply_scale) {
        scale_[i] = static_cast<float>(bi.scale);
        offset_[i] = static_cast<float>(bi.offset);
      }
      // Bands whose validity needs more than their float values: a GDAL mask (alpha,
      // per-dataset, per-band), or a nodata value float32 cannot tell from its neighbours (32-
      // and 64-bit integers, Float64: 16777217 and 16777216 are one float), compared in double.
      mask_band_[i] = masks[static_cast<std::size_t>(bands[i] - 1)];
      exact_nodata_[i] = bi.nodata && (bi.type == DataType::Int32 || bi.type == DataType::UInt32 || bi.type == DataType::Int64 ||
                                       bi.type == DataType::UInt64 || bi.type == DataType::Float64);
    }
  }

  // Marks data pixels of a block of planar float (rect's rows x cols of the raster, at x0, y0 in
  // img) and applies scale. valid points at the block's first mask byte (nullptr: no mask
  // wanted); with one plane per band, planes are plane_step apart, otherwise every band clears
  // the same plane.
  void apply(Image& img, std::int64_t x0, std::int64_t y0, const Window& rect, std::uint8_t* valid, std::int64_t valid_stride,
             std::int64_t plane_step) {
    const std::int64_t w = img.width(), cols = rect.width, rows = rect.height;
    if (valid && !per_band_)
      for (std::int64_t y = 0; y < rows; ++y) std::fill(valid + y * valid_stride, valid + y * valid_stride + cols, std::uint8_t{1});
    GDALRasterBand* mask_read = nullptr;  // the mask now in mask_values_ (bands may share one)
    for (std::size_t bi = 0; bi < bands_.size(); ++bi) {
      const auto b = static_cast<int>(bi);
      const bool masked = valid && mask_band_[bi];
      const bool exact = valid && exact_nodata_[bi];
      if (masked && mask_read != mask_band_[bi]) {
        mask_values_.resize(static_cast<std::size_t>(rect.area()));
        read_band(mask_band_[bi], rect, GDT_Byte, mask_values_.data());
        mask_read = mask_band_[bi];
      }
      if (exact) {
        exact_values_.resize(static_cast<std::size_t>(rect.area()));
        read_band(dataset_.GetRasterBand(bands_[bi]), rect, GDT_Float64, exact_values_.data());
      }
      const bool scaled = scale_[bi] != 1.0f || offset_[bi] != 0.0f;
      for (std::int64_t y = 0; y < rows; ++y) {
        std::uint8_t* vrow = valid ? valid + y * valid_stride + (per_band_ ? b * plane_step : 0) : nullptr;
        float* row = img.band(b).data() + (y0 + y) * w + x0;
        const std::uint8_t* mrow = masked ? mask_values_.data() + y * cols : nullptr;
        const double* erow = exact ? exact_values_.data() + y * cols : nullptr;
        for (std::int64_t x = 0; x < cols; ++x) {
          bool data = erow ? std::isfinite(erow[x]) && erow[x] != *nodata[bi] : is_data(row[x], nodata[bi], nodata_f[bi]);
          if (mrow) data = data && mrow[x] != 0;
          if (vrow) vrow[x] = per_band_ ? data : (vrow[x] & data);
          if (scaled && data) row[x] = row[x] * scale_[bi] + offset_[bi];
        }
      }
    }
  }

private:
  void read_band(GDALRasterBand* band, const Window& rect, GDALDataType type, void* buffer) const {
    GdalErrorTrap trap;
    if (band->RasterIO(GF_Read, static_cast<int>(rect.x), static_cast<int>(rect.y), static_cast<int>(rect.width),
                       static_cast<int>(rect.height), buffer, static_cast<int>(rect.width), static_cast<int>(rect.height), type, 0, 0,
                       nullptr) != CE_None ||
        trap.has_error())
      throw InputError("cannot read the mask or values of pixels " + std::to_string(rect.x) + "," + std::to_string(rect.y) + " " +
                           std::to_string(rect.width) + "x" + std::to_string(rect.height) + ": " + trap.message("read failed"),
                       context_);
  }

  GDALDataset& dataset_;
  ErrorContext context_;
  std::span<const int> bands_;
  bool per_band_;

public:
  std::vector<std::optional<double>> nodata;  // per band read
  std::vector<float> nodata_f;                // nodata as float (0 where none)

private:
  std::vector<float> scale_, offset_;
  std::vector<GDALRasterBand*> mask_band_;
  std::vector<bool> exact_nodata_;
  std::vector<std::uint8_t> mask_values_;
  std::vector<double> exact_values_;
};

}  // namespace

Raster::Raster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Raster::Raster(Raster&&) noexcept = default;
Raster& Raster::operator=(Raster&&) noexcept = default;
Raster::~Raster() = default;

Raster Raster::open(const std::string& path) {
  detail::register_gdal();
  ErrorContext where{path, {}, {}, {}};
  VSIStatBufL stat;
  const bool virtual_path = path.rfind("/vsi", 0) == 0;
  if (!virtual_path && VSIStatL(path.c_str(), &stat) != 0) throw InputError("no such file", where);
  if (!virtual_path && VSI_ISDIR(stat.st_mode) && path.find(".gdb") == std::string::npos &&
      path.find(".zarr") == std::string::npos)
    throw InputError("is a folder, not a raster", where);
  if (!virtual_path && stat.st_size == 0 && !VSI_ISDIR(stat.st_mode)) throw InputError("empty file (0 bytes)", where);

  GdalErrorTrap trap;
  GDALDataset* opened = GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY);
  if (!opened) throw InputError("not a raster GDAL can read: " + trap.message_about(path, "unrecognised format"), where);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->dataset.reset(opened);
  if (opened->GetRasterCount() == 0) throw InputError("has no raster bands", where);
  if (opened->GetRasterXSize() <= 0 || opened->GetRasterYSize() <= 0) throw InputError("has no pixels", where);
  impl->info = describe(*opened, path);
  for (int b = 1; b <= impl->info.band_count(); ++b)
    impl->masks.push_back(validity_mask(*opened, b, impl->info.band(b).nodata.has_value()));
  return Raster(std::move(impl));
}

const RasterInfo& Raster::info() const noexcept { return impl_->info; }
const std::string& Raster::path() const noexcept { return impl_->path; }
Raster Raster::reopen() const {
  Raster again = open(impl_->path);
  again.impl_->owned_file = impl_->owned_file;
  return again;
}

Raster Raster::from_image(const Image& pixels, const RasterLayout& georeferencing) {
  detail::register_gdal();
  if (pixels.bands() < 1 || pixels.width() < 1 || pixels.height() < 1)
    throw InputError("an image without pixels", ErrorContext{"(in-memory image)", {}, {}, {}});
  static std::atomic<std::uint64_t> made{0};
  const std::string path = "/vsimem/luojia-image-" + std::to_string(++made) + ".tif";
  RasterLayout layout = georeferencing;
  layout.width = pixels.width();
  layout.height = pixels.height();
  layout.bands = pixels.bands();
  layout.type = DataType::Float32;
  auto owned = std::shared_ptr<const std::string>(new std::string(path), [](const std::string* p) {
    VSIUnlink(p->c_str());
    delete p;
  });
  {
    RasterWriter writer(path, layout, OutputOptions{"GTiff", {"TILED=YES"}, true});
    writer.write(Window{0, 0, layout.width, layout.height}, pixels);
    writer.commit();
  }
  Raster raster = open(path);
  raster.impl_->owned_file = std::move(owned);
  return raster;
}
void* Raster::gdal_handle() const noexcept { return GDALDataset::ToHandle(impl_->dataset.get()); }

Image Raster::read(const Window& window, std::span<const int> bands, const ReadOptions& options,
                   Mask* mask) {
  Image image;
  read_into(window, bands, image, options, mask);
  return image;
}

void Raster::read_into(const Window& window, std::span<const int> bands, Image& out,
                       const ReadOptions& options, Mask* mask) {
  Impl& self = *impl_;
  self.check_bands(bands);
  if (window.empty()) throw InputError("empty read window", self.context());
  const int nb = static_cast<int>(bands.size());
  out.reshape(nb, window.width, window.height);

  const bool per_band = options.mask_per_band;
  PixelValidity validity(*self.dataset, self.info, self.masks, self.context(), bands, options);
  const auto& nodata = validity.nodata;
  const auto& nodata_f = validity.nodata_f;

  const Window inside = intersection(window, self.extent());
  const bool need_mask = mask != nullptr;
  const std::size_t mask_planes = per_band ? bands.size() : 1;
  if (need_mask) mask->assign(static_cast<std::size_t>(window.area()) * mask_planes, 0);
  const std::int64_t fsize = sizeof(float);

  if (inside == window) {
    self.raster_io(window, bands, DataType::Float32, out.data(), window.width * fsize,
                   window.area() * fsize);
    validity.apply(out, 0, 0, window, need_mask ? mask->data() : nullptr, window.width, window.area());
    return;
  }

  if (options.edge == EdgeMode::Constant || options.edge == EdgeMode::Nodata) {
    for (int b = 0; b < nb; ++b) {
      const float fill = options.edge == EdgeMode::Nodata && nodata[b]
                             ? nodata_f[b]
                             : static_cast<float>(options.fill_value);
      std::fill(out.band(b).begin(), out.band(b).end(), fill);
    }
    if (inside.empty()) return;
    const std::int64_t dx = inside.x - window.x, dy = inside.y - window.y;
    self.raster_io(inside, bands, DataType::Float32, out.data() + dy * window.width + dx,
                   window.width * fsize, window.area() * fsize);
    validity.apply(out, dx, dy, inside, need_mask ? mask->data() + dy * window.width + dx : nullptr, window.width, window.area());
    return;
  }

  // Reflect / replicate: read the source pixels the window maps onto, then gather.
  const EdgeSource es = edge_source(window, self.info.width, self.info.height, options.edge);
  const Window& source = es.rect;
  Image scratch(nb, source.width, source.height);
  Mask scratch_valid(static_cast<std::size_t>(source.area()) * mask_planes);
  self.raster_io(source, bands, DataType::Float32, scratch.data(), source.width * fsize,
                 source.area() * fsize);
  validity.apply(scratch, 0, 0, source, scratch_valid.data(), source.width, source.area());
  gather(reinterpret_cast<const unsigned char*>(scratch.data()), es,
         reinterpret_cast<unsigned char*>(out.data()), window, sizeof(float), bands.size());
  if (need_mask) {
    // Pixels outside the raster stay invalid even where reflected data fills them.
    for (std::size_t p = 0; p < mask_planes; ++p)
      for (std::int64_t y = inside.y; y < inside.bottom(); ++y)
        for (std::int64_t x = inside.x; x < inside.right(); ++x)
          (*mask)[p * static_cast<std::size_t>(window.area()) +
                  static_cast<std::size_t>((y - window.y) * window.width + (x - window.x))] =
              scratch_valid[p * static_cast<std::size_t>(source.area()) +
                            static_cast<std::size_t>((y - source.y) * source.width + (x - source.x))];
  }
}

void Raster::read_native(const Window& window, std::span<const int> bands, DataType type,
                         void* buffer, const ReadOptions& options) {
  Impl& self = *impl_;
  self.check_bands(bands);
  if (window.empty()) throw InputError("empty read window", self.context());
  if (is_complex(type) || size_of(type) == 0) throw InputError("cannot read into type " + std::string(name(type)));
  const std::int64_t esize = static_cast<std::int64_t>(size_of(type));
  auto* bytes = static_cast<unsigned char*>(buffer);
  const std::int64_t plane = window.area() * esize;
  const Window inside = intersection(window, self.extent());

  if (inside == window) {
    self.raster_io(window, bands, type, bytes, window.width * esize, plane);
    return;
  }
  if (options.edge == EdgeMode::Constant || options.edge == EdgeMode::Nodata) {
    for (std::size_t b = 0; b < bands.size(); ++b) {
      const auto& nd = self.info.band(bands[b]).nodata;
      double fill = options.edge == EdgeMode::Nodata && nd ? *nd : options.fill_value;
      GDALCopyWords64(&fill, GDT_Float64, 0, bytes + static_cast<std::int64_t>(b) * plane,
                      detail::to_gdal(type), static_cast<int>(esize), window.area());
    }
    if (inside.empty()) return;
    const std::int64_t dx = inside.x - window.x, dy = inside.y - window.y;
    self.raster_io(inside, bands, type, bytes + (dy * window.width + dx) * esize,
                   window.width * esize, plane);
    return;
  }
  const EdgeSource es = edge_source(window, self.info.width, self.info.height, options.edge);
  std::vector<unsigned char> scratch(static_cast<std::size_t>(es.rect.area() * esize) * bands.size());
  self.raster_io(es.rect, bands, type, scratch.data(), es.rect.width * esize, es.rect.area() * esize);
  gather(scratch.data(), es, bytes, window, static_cast<std::size_t>(esize), bands.size());
}

}  // namespace luojia
