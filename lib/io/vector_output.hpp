#pragma once
// A vector product (GeoPackage, GeoJSON, Shapefile) written as rasters are: into a temporary
// beside the target, moved into place only once closed without error, removed otherwise.
#include "io/gdal_support.hpp"

#include <gdal_priv.h>

#include <string>

namespace luojia::detail {

class VectorOutput {
public:
  // Refuses an existing target unless overwrite; the driver is format (an OGR driver's short
  // name, as ogr2ogr -f takes it), or when empty comes from the extension.
  VectorOutput(const std::string& target, bool overwrite, const std::string& format = {});
  ~VectorOutput();
  VectorOutput(const VectorOutput&) = delete;
  VectorOutput& operator=(const VectorOutput&) = delete;

  GDALDataset& dataset() { return *dataset_; }
  const std::string& driver_name() const { return driver_name_; }
  // Closes the dataset and checks for errors; the output stays a temporary until commit(), so a
  // product set can finish every member before it puts any in place.
  void finish();
  // Finishes if not yet finished, then renames every file of it (a shapefile's sidecars too).
  void commit();

private:
  std::string target_;
  std::string driver_name_;
  std::string temp_;
  GDALDriver* driver_ = nullptr;
  DatasetPtr dataset_;
  bool finished_ = false;
  bool committed_ = false;
};

}  // namespace luojia::detail
