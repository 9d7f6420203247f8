#include "io/vector_output.hpp"

#include "io/file_names.hpp"

#include <luojia/error.hpp>
#include <luojia/io/vector_format.hpp>
#include <luojia/io/raster_writer.hpp>

#include <filesystem>
#include <vector>

namespace luojia::detail {

namespace fs = std::filesystem;

VectorOutput::VectorOutput(const std::string& target, bool overwrite, const std::string& format) : target_(target) {
  register_gdal();
  const ErrorContext where{target, {}, {}, {}};
  driver_name_ = format.empty() ? vector_driver_for(target) : format;
  check_output_path(target, overwrite);
  const fs::path folder = fs::path(target).parent_path();
  driver_ = GetGDALDriverManager()->GetDriverByName(driver_name_.c_str());
  if (!driver_) throw UsageError("format", "GDAL has no vector driver '" + driver_name_ + "'", where);
  if (!driver_->GetMetadataItem(GDAL_DCAP_VECTOR) || !driver_->GetMetadataItem(GDAL_DCAP_CREATE))
    throw UsageError("format", "'" + driver_name_ + "' cannot create vector datasets", where);
  temp_ = temporary_path(target, fs::path(target).extension().string().substr(1));
  GdalErrorTrap trap;
  dataset_.reset(driver_->Create(temp_.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
  if (!dataset_)
    throw OutputError("cannot create output in " + (folder.empty() ? std::string(".") : folder.string()) + ": " + trap.message("create failed"),
          where);
}

VectorOutput::~VectorOutput() {
  if (committed_) return;
  dataset_.reset();
  // Deleting through the driver removes a shapefile's sidecars too.
  GdalErrorTrap quiet;
  driver_->Delete(temp_.c_str());
}

void VectorOutput::finish() {
  if (finished_) return;
  GdalErrorTrap trap;
  dataset_.reset();
  if (trap.has_error())
    throw OutputError("cannot finish the vector output: " + trap.message("close failed"), ErrorContext{target_, {}, {}, {}});
  finished_ = true;
}

void VectorOutput::commit() {
  const ErrorContext where{target_, {}, {}, {}};
  finish();
  // A shapefile is several files with one stem; the others are one file. Each moves by rename(2).
  std::vector<std::string> extensions{fs::path(target_).extension().string()};
  if (driver_name_ == "ESRI Shapefile") extensions = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix"};
  const fs::path final_stem = fs::path(target_).parent_path() / fs::path(target_).stem();
  std::error_code ec;
  for (const auto& e : extensions) fs::remove(final_stem.string() + e, ec);
  for (const auto& e : extensions) {
    const std::string from = fs::path(temp_).replace_extension(e).string();
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, final_stem.string() + e, ec);
    if (ec) throw OutputError("cannot move the vector output into place: " + ec.message(), where);
  }
  committed_ = true;
}

}  // namespace luojia::detail
