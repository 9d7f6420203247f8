#include <luojia/io/raster_writer.hpp>

#include "io/file_names.hpp"
#include "io/gdal_support.hpp"

#include <cpl_string.h>
#include <cpl_vsi.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <atomic>
#include <unistd.h>

namespace luojia {

namespace detail {

std::string temporary_path(const std::string& target, const std::string& extension) {
  static std::atomic<unsigned> counter{0};
  const std::string folder = CPLGetPath(target.c_str());
  const std::string base = CPLGetFilename(target.c_str());
  const std::string name = "." + base + ".luojia-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".tmp" +
                           (extension.empty() ? "" : "." + extension);
  return folder.empty() ? name : std::string(CPLFormFilename(folder.c_str(), name.c_str(), nullptr));
}

}  // namespace detail

using detail::DatasetPtr;
using detail::temporary_path;
using detail::GdalErrorTrap;

namespace {

bool path_exists(const std::string& path) {
  VSIStatBufL stat;
  return VSIStatL(path.c_str(), &stat) == 0;
}

}  // namespace

void check_output_path(const std::string& path, bool overwrite) {
  if (path.empty()) return;
  const ErrorContext where{path, {}, {}, {}};
  if (path_exists(path) && !overwrite) throw OutputError("output already exists (`overwrite` replaces it)", where);
  const std::string folder = CPLGetPath(path.c_str());
  VSIStatBufL stat;
  if (!folder.empty() && (VSIStatL(folder.c_str(), &stat) != 0 || !VSI_ISDIR(stat.st_mode)))
    throw OutputError("output folder " + folder + " does not exist", where);
}

namespace {

std::string option_key(const std::string& option) { return option.substr(0, option.find('=')); }

bool has_option(const std::vector<std::string>& options, const char* key) {
  for (const auto& o : options)
    if (EQUAL(option_key(o).c_str(), key)) return true;
  return false;
}

// A CSL list owned for the duration of one GDAL call.
class OptionList {
public:
  explicit OptionList(const std::vector<std::string>& options) {
    for (const auto& o : options) list_ = CSLAddString(list_, o.c_str());
  }
  ~OptionList() { CSLDestroy(list_); }
  OptionList(const OptionList&) = delete;
  OptionList& operator=(const OptionList&) = delete;
  char** get() const { return list_; }

private:
  char** list_ = nullptr;
};

// The files that make up a dataset, .aux.xml sidecars left out.
std::vector<std::string> dataset_files(const std::string& path) {
  std::vector<std::string> files;
  GdalErrorTrap quiet;
  if (GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY)) {
    char** list = ds->GetFileList();
    GDALClose(GDALDataset::ToHandle(ds));
    for (char** f = list; f && *f; ++f)
      if (!EQUAL(CPLGetExtension(*f), "xml")) files.emplace_back(*f);
    CSLDestroy(list);
  }
  return files;
}

void delete_dataset_files(const std::string& path) {
  if (path.empty() || !path_exists(path)) return;
  for (const auto& f : dataset_files(path)) VSIUnlink(f.c_str());
  VSIUnlink(path.c_str());
  VSIUnlink((path + ".aux.xml").c_str());
}

}  // namespace

void check_creation_option(const std::string& option) {
  const auto eq = option.find('=');
  if (eq == std::string::npos || eq == 0)
    throw OutputError("creation option '" + option + "' is not KEY=VALUE");
}

RasterLayout layout_like(const RasterInfo& like, DataType type, int bands) {
  RasterLayout layout;
  layout.width = like.width;
  layout.height = like.height;
  layout.bands = bands;
  layout.type = type;
  layout.geotransform = like.geotransform;
  layout.crs_wkt = like.crs_wkt;
  layout.rpc = like.rpc;
  layout.gcps = like.gcps;
  layout.gcp_crs_wkt = like.gcp_crs_wkt;
  if (!like.bands.empty() && like.bands.front().nodata && fits(type, *like.bands.front().nodata))
    layout.nodata = like.bands.front().nodata;
  return layout;
}

struct RasterWriter::Impl {
  std::string path;
  RasterLayout layout;
  OutputOptions options;
  GDALDriver* driver = nullptr;  // the format asked for
  bool copy_only = false;        // the driver has CreateCopy but no Create
  std::string temp_path;         // what we write into
  std::string copy_path;         // copy-only drivers: the converted temporary
  DatasetPtr dataset;
  bool committed = false;
  std::string finished;  // after finish(): the file to rename into place

  ErrorContext where() const { return ErrorContext{path, {}, {}, {}}; }

  void discard() noexcept {
    if (dataset) dataset->MarkSuppressOnClose();
    dataset.reset();
    delete_dataset_files(temp_path);
    delete_dataset_files(copy_path);
  }
};

RasterWriter::RasterWriter(const std::string& path, const RasterLayout& layout,
                           const OutputOptions& options)
    : impl_(std::make_unique<Impl>()) {
  detail::register_gdal();
  Impl& self = *impl_;
  self.path = path;
  self.layout = layout;
  self.options = options;
  const ErrorContext where = self.where();

  for (const auto& o : options.creation_options) {
    try {
      check_creation_option(o);
    } catch (const Error& e) {
      throw OutputError(e.message(), where);
    }
  }
  if (layout.width <= 0 || layout.height <= 0 || layout.bands <= 0)
    throw OutputError("cannot create a raster of " + std::to_string(layout.width) + "x" +
              std::to_string(layout.height) + " pixels and " + std::to_string(layout.bands) + " bands",
          where);
  if (is_complex(layout.type) || layout.type == DataType::Unknown)
    throw OutputError("output type " + std::string(name(layout.type)) + " is not supported", where);
  if (layout.nodata && !fits(layout.type, *layout.nodata))
    throw OutputError("nodata value " + std::to_string(*layout.nodata) + " does not fit output type " +
              std::string(name(layout.type)),
          where);

  self.driver = GetGDALDriverManager()->GetDriverByName(options.driver.c_str());
  if (!self.driver || !self.driver->GetMetadataItem(GDAL_DCAP_RASTER))
    throw OutputError("unknown raster output format '" + options.driver + "'", where);
  const bool can_create = self.driver->GetMetadataItem(GDAL_DCAP_CREATE) != nullptr;
  const bool can_copy = self.driver->GetMetadataItem(GDAL_DCAP_CREATECOPY) != nullptr;
  if (!can_create && !can_copy) throw OutputError("format '" + options.driver + "' cannot be written", where);
  self.copy_only = !can_create;

  {
    OptionList list(options.creation_options);
    GdalErrorTrap trap;
    if (!GDALValidateCreationOptions(GDALDriver::ToHandle(self.driver), list.get()) ||
        trap.has_error())
      throw OutputError("invalid creation option for " + options.driver + ": " + trap.message("refused"), where);
  }

  check_output_path(path, options.overwrite);
  const std::string folder = CPLGetPath(path.c_str());

  GDALDriver* create_driver = self.driver;
  std::vector<std::string> create_options = options.creation_options;
  std::string extension = CPLGetExtension(path.c_str());
  if (self.copy_only) {
    create_driver = GetGDALDriverManager()->GetDriverByName("GTiff");
    create_options = {"TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "BIGTIFF=IF_SAFER", "SPARSE_OK=TRUE"};
    extension = "tif";
  } else if (EQUAL(options.driver.c_str(), "GTiff")) {
    // Tiled by default: tiles then land on whole blocks, and memory stays independent of width.
    // Blocks no larger than the raster (rounded up to TIFF's multiple of 16): a 512 x 512 block of
    // a small many-band product would make every read of one pixel allocate and read megabytes.
    if (!has_option(create_options, "TILED") && !has_option(create_options, "BLOCKYSIZE")) {
      const auto block = [](std::int64_t extent) { return std::to_string(std::min<std::int64_t>(512, (extent + 15) / 16 * 16)); };
      create_options.push_back("TILED=YES");
      create_options.push_back("BLOCKXSIZE=" + block(layout.width));
      create_options.push_back("BLOCKYSIZE=" + block(layout.height));
    }
    // Band-interleaved: each product band (an index, a class probability) is read on its own
    // without reading the others.
    if (layout.bands > 1 && !has_option(create_options, "INTERLEAVE")) create_options.push_back("INTERLEAVE=BAND");
    if (!has_option(create_options, "BIGTIFF")) create_options.push_back("BIGTIFF=IF_SAFER");
    // Every block gets written by a run that succeeds; sparse creation only spares an abandoned
    // run from GDAL filling every never-written tile when it closes the temporary file.
    if (!has_option(create_options, "SPARSE_OK")) create_options.push_back("SPARSE_OK=TRUE");
  }
  self.temp_path = temporary_path(path, extension);
  if (self.copy_only) self.copy_path = temporary_path(path, CPLGetExtension(path.c_str()));

  GdalErrorTrap trap;
  OptionList list(create_options);
  GDALDataset* ds = create_driver->Create(self.temp_path.c_str(), static_cast<int>(layout.width),
                                          static_cast<int>(layout.height), layout.bands,
                                          detail::to_gdal(layout.type), list.get());
  if (!ds)
    throw OutputError("cannot create output in " + (folder.empty() ? std::string(".") : folder) + ": " +
              trap.message("creation failed"),
          where);
  self.dataset.reset(ds);
  if (layout.geotransform) {
    double gt[6];
    std::copy(layout.geotransform->c.begin(), layout.geotransform->c.end(), gt);
    ds->SetGeoTransform(gt);
  }
  if (!layout.crs_wkt.empty()) {
    OGRSpatialReference srs;
    if (srs.importFromWkt(layout.crs_wkt.c_str()) == OGRERR_NONE) {
      srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
      ds->SetSpatialRef(&srs);
    }
  }
  if (layout.nodata)
    for (int b = 1; b <= layout.bands; ++b) ds->GetRasterBand(b)->SetNoDataValue(*layout.nodata);
  for (const auto& [key, value] : layout.metadata) ds->SetMetadataItem(key.c_str(), value.c_str());
  for (const auto& [key, value] : layout.rpc) ds->SetMetadataItem(key.c_str(), value.c_str(), "RPC");
  if (!layout.gcps.empty()) {
    std::vector<GDAL_GCP> gcps(layout.gcps.size());
    for (std::size_t i = 0; i < gcps.size(); ++i) {
      const GroundControlPoint& g = layout.gcps[i];
      gcps[i] = GDAL_GCP{const_cast<char*>(g.id.c_str()), const_cast<char*>(""), g.pixel, g.line, g.x, g.y, g.z};
    }
    OGRSpatialReference srs;
    const bool has_crs = !layout.gcp_crs_wkt.empty() && srs.importFromWkt(layout.gcp_crs_wkt.c_str()) == OGRERR_NONE;
    if (has_crs) srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    ds->SetGCPs(static_cast<int>(gcps.size()), gcps.data(), has_crs ? &srs : nullptr);
  }
  if (trap.has_error()) {
    self.discard();
    throw OutputError("cannot set up output: " + trap.message("GDAL error"), where);
  }
}

RasterWriter::RasterWriter(RasterWriter&&) noexcept = default;
RasterWriter& RasterWriter::operator=(RasterWriter&&) noexcept = default;

RasterWriter::~RasterWriter() {
  if (impl_ && !impl_->committed) impl_->discard();
}

const RasterLayout& RasterWriter::layout() const noexcept { return impl_->layout; }
const std::string& RasterWriter::path() const noexcept { return impl_->path; }

std::array<int, 2> RasterWriter::block_size() const {
  std::array<int, 2> size{0, 0};
  impl_->dataset->GetRasterBand(1)->GetBlockSize(&size[0], &size[1]);
  return size;
}

void RasterWriter::write(const Window& window, const Image& image, int first_band) {
  if (image.width() != window.width || image.height() != window.height)
    throw OutputError("image does not match its write window", impl_->where());
  write(window, image.data(), image.bands(), first_band);
}

void RasterWriter::write(const Window& window, const float* planes, int bands, int first_band) {
  Impl& self = *impl_;
  if (!self.dataset) throw OutputError("writing to a closed output", self.where());
  const Window extent{0, 0, self.layout.width, self.layout.height};
  if (!extent.contains(window) || window.empty())
    throw OutputError("write window lies outside the output", self.where());
  if (bands < 1 || first_band < 1 || first_band + bands - 1 > self.layout.bands)
    throw OutputError("write to bands beyond the output's " + std::to_string(self.layout.bands), self.where());
  std::vector<int> band_map(static_cast<std::size_t>(bands));
  for (int b = 0; b < bands; ++b) band_map[static_cast<std::size_t>(b)] = first_band + b;
  GdalErrorTrap trap;
  const CPLErr err = self.dataset->RasterIO(
      GF_Write, static_cast<int>(window.x), static_cast<int>(window.y), static_cast<int>(window.width),
      static_cast<int>(window.height), const_cast<float*>(planes), static_cast<int>(window.width),
      static_cast<int>(window.height), GDT_Float32, bands, band_map.data(), sizeof(float),
      static_cast<GSpacing>(window.width * sizeof(float)),
      static_cast<GSpacing>(window.area() * static_cast<std::int64_t>(sizeof(float))), nullptr);
  if (err != CE_None || trap.has_error())
    throw OutputError("cannot write pixels: " + trap.message("write failed"), self.where());
}

namespace {

void native_io(GDALDataset* dataset, const RasterLayout& layout, const ErrorContext& where, GDALRWFlag direction,
               const Window& window, DataType type, void* buffer, int band) {
  if (!dataset) throw OutputError("writing to a closed output", where);
  const Window extent{0, 0, layout.width, layout.height};
  if (!extent.contains(window) || window.empty()) throw OutputError("window lies outside the output", where);
  if (band < 1 || band > layout.bands) throw OutputError("band " + std::to_string(band) + " is not in the output", where);
  GdalErrorTrap trap;
  const CPLErr err = dataset->GetRasterBand(band)->RasterIO(
      direction, static_cast<int>(window.x), static_cast<int>(window.y), static_cast<int>(window.width),
      static_cast<int>(window.height), buffer, static_cast<int>(window.width), static_cast<int>(window.height),
      detail::to_gdal(type), 0, 0, nullptr);
  if (err != CE_None || trap.has_error())
    throw OutputError(std::string(direction == GF_Write ? "cannot write pixels: " : "cannot read back pixels: ") +
                          trap.message("RasterIO failed"),
                      where);
}

}  // namespace

void RasterWriter::write_native(const Window& window, DataType type, const void* buffer, int band) {
  native_io(impl_->dataset.get(), impl_->layout, impl_->where(), GF_Write, window, type, const_cast<void*>(buffer), band);
}

void RasterWriter::read_native(const Window& window, DataType type, void* buffer, int band) {
  native_io(impl_->dataset.get(), impl_->layout, impl_->where(), GF_Read, window, type, buffer, band);
}

void RasterWriter::set_color_table(const std::vector<std::array<int, 4>>& colors) {
  GDALColorTable table;
  for (std::size_t i = 0; i < colors.size(); ++i) {
    const GDALColorEntry entry{static_cast<short>(colors[i][0]), static_cast<short>(colors[i][1]),
                               static_cast<short>(colors[i][2]), static_cast<short>(colors[i][3])};
    table.SetColorEntry(static_cast<int>(i), &entry);
  }
  impl_->dataset->GetRasterBand(1)->SetColorTable(&table);
  impl_->dataset->GetRasterBand(1)->SetColorInterpretation(GCI_PaletteIndex);
}

void RasterWriter::set_category_names(const std::vector<std::string>& names) {
  char** list = nullptr;
  for (const auto& n : names) list = CSLAddString(list, n.c_str());
  impl_->dataset->GetRasterBand(1)->SetCategoryNames(list);
  CSLDestroy(list);
}

void RasterWriter::set_band_description(int band, const std::string& description) {
  impl_->dataset->GetRasterBand(band)->SetDescription(description.c_str());
}

void RasterWriter::set_metadata(const std::string& key, const std::string& value) {
  impl_->dataset->SetMetadataItem(key.c_str(), value.c_str());
}

const std::string& RasterWriter::finished_path() const noexcept { return impl_->finished; }

void RasterWriter::finish() {
  Impl& self = *impl_;
  if (self.committed || !self.finished.empty()) return;
  const ErrorContext where = self.where();
  try {
    {
      GdalErrorTrap trap;
      self.dataset->FlushCache(true);
      self.dataset.reset();  // GDALClose writes the last blocks and the TIFF directory
      if (trap.has_error()) throw OutputError("cannot finish writing: " + trap.message("flush failed"), where);
    }
    std::string finished = self.temp_path;
    if (self.copy_only) {
      GdalErrorTrap trap;
      DatasetPtr source(GDALDataset::Open(self.temp_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
      OptionList list(self.options.creation_options);
      DatasetPtr copy(source ? self.driver->CreateCopy(self.copy_path.c_str(), source.get(), FALSE,
                                                       list.get(), nullptr, nullptr)
                             : nullptr);
      const bool ok = copy != nullptr;
      copy.reset();
      source.reset();
      if (!ok || trap.has_error())
        throw OutputError("cannot write " + self.options.driver + ": " + trap.message("conversion failed"), where);
      delete_dataset_files(self.temp_path);
      self.temp_path.clear();
      finished = self.copy_path;
    }
    self.finished = finished;
  } catch (...) {
    self.discard();
    throw;
  }
}

void RasterWriter::commit() {
  Impl& self = *impl_;
  if (self.committed) return;
  finish();
  const ErrorContext where = self.where();
  const std::string finished = self.finished;
  try {
    GdalErrorTrap trap;
    if (dataset_files(finished).size() > 1) {
      // Formats with sidecars (ENVI .hdr, ...): GDAL's own rename moves every file, but the
      // replacement is not atomic across files.
      if (path_exists(self.path)) self.driver->Delete(self.path.c_str());
      if (self.driver->Rename(self.path.c_str(), finished.c_str()) != CE_None)
        throw OutputError("cannot move the finished output into place: " + trap.message("rename failed"), where);
      self.committed = true;
      return;
    }
    // rename(2) replaces an existing output atomically: it is never half old, half new.
    if (VSIRename(finished.c_str(), self.path.c_str()) != 0)
      throw OutputError("cannot move the finished output into place: " + trap.message(VSIStrerror(errno)), where);
    if (path_exists(finished + ".aux.xml"))
      VSIRename((finished + ".aux.xml").c_str(), (self.path + ".aux.xml").c_str());
    else if (path_exists(self.path + ".aux.xml"))
      VSIUnlink((self.path + ".aux.xml").c_str());  // stale sidecar of the replaced output
    self.committed = true;
  } catch (...) {
    self.discard();
    throw;
  }
}

}  // namespace luojia
