#pragma once
// GDAL behind luojia's own types: type mapping, RAII handles, and CPLError turned into exceptions.
#include <luojia/data_type.hpp>
#include <luojia/error.hpp>

#include <gdal_priv.h>

#include <memory>
#include <string>

namespace luojia::detail {

GDALDataType to_gdal(DataType type);
DataType from_gdal(GDALDataType type);

// GDALAllRegister once per process.
void register_gdal();

struct DatasetCloser {
  void operator()(GDALDataset* dataset) const noexcept;
};
using DatasetPtr = std::unique_ptr<GDALDataset, DatasetCloser>;

// While alive, GDAL errors and warnings raised on this thread are collected instead of printed,
// so a failure becomes one exception with GDAL's own words in it.
class GdalErrorTrap {
public:
  GdalErrorTrap();
  ~GdalErrorTrap();
  GdalErrorTrap(const GdalErrorTrap&) = delete;
  GdalErrorTrap& operator=(const GdalErrorTrap&) = delete;

  bool has_error() const noexcept { return !error_.empty(); }
  // The first error message, or fallback when GDAL said nothing.
  std::string message(const std::string& fallback) const;
  // The message without GDAL's own "path:" prefixes, for errors whose context names the file.
  std::string message_about(const std::string& path, const std::string& fallback) const;

private:
  static void CPL_STDCALL handle(CPLErr level, CPLErrorNum number, const char* text);
  std::string error_;
};

// GDAL's block cache is process-wide; the budget sets it for one run and the old size comes back.
class GdalCacheScope {
public:
  explicit GdalCacheScope(std::size_t bytes) : previous_(GDALGetCacheMax64()) {
    GDALSetCacheMax64(static_cast<GIntBig>(bytes));
    CPLDebug("luojia", "GDAL block cache %llu KiB", static_cast<unsigned long long>(bytes >> 10));
  }
  ~GdalCacheScope() { GDALSetCacheMax64(previous_); }
  GdalCacheScope(const GdalCacheScope&) = delete;
  GdalCacheScope& operator=(const GdalCacheScope&) = delete;

private:
  GIntBig previous_;
};

}  // namespace luojia::detail
