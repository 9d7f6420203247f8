#include "io/gdal_support.hpp"

#include <cpl_error.h>

#include <mutex>

namespace luojia::detail {

GDALDataType to_gdal(DataType type) {
  switch (type) {
    case DataType::Byte: return GDT_Byte;
#if GDAL_VERSION_NUM >= 3070000
    case DataType::Int8: return GDT_Int8;
#endif
    case DataType::UInt16: return GDT_UInt16;
    case DataType::Int16: return GDT_Int16;
    case DataType::UInt32: return GDT_UInt32;
    case DataType::Int32: return GDT_Int32;
    case DataType::UInt64: return GDT_UInt64;
    case DataType::Int64: return GDT_Int64;
    case DataType::Float32: return GDT_Float32;
    case DataType::Float64: return GDT_Float64;
    case DataType::CInt16: return GDT_CInt16;
    case DataType::CInt32: return GDT_CInt32;
    case DataType::CFloat32: return GDT_CFloat32;
    case DataType::CFloat64: return GDT_CFloat64;
    default: raise("data type " + std::string(name(type)) + " is not supported by this GDAL");
  }
}

DataType from_gdal(GDALDataType type) {
  switch (type) {
    case GDT_Byte: return DataType::Byte;
#if GDAL_VERSION_NUM >= 3070000
    case GDT_Int8: return DataType::Int8;
#endif
    case GDT_UInt16: return DataType::UInt16;
    case GDT_Int16: return DataType::Int16;
    case GDT_UInt32: return DataType::UInt32;
    case GDT_Int32: return DataType::Int32;
    case GDT_UInt64: return DataType::UInt64;
    case GDT_Int64: return DataType::Int64;
    case GDT_Float32: return DataType::Float32;
    case GDT_Float64: return DataType::Float64;
    case GDT_CInt16: return DataType::CInt16;
    case GDT_CInt32: return DataType::CInt32;
    case GDT_CFloat32: return DataType::CFloat32;
    case GDT_CFloat64: return DataType::CFloat64;
    default: return DataType::Unknown;
  }
}

void register_gdal() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

void DatasetCloser::operator()(GDALDataset* dataset) const noexcept {
  if (dataset) GDALClose(GDALDataset::ToHandle(dataset));
}

GdalErrorTrap::GdalErrorTrap() {
  CPLErrorReset();
  CPLPushErrorHandlerEx(&GdalErrorTrap::handle, this);
}

GdalErrorTrap::~GdalErrorTrap() { CPLPopErrorHandler(); }

void CPL_STDCALL GdalErrorTrap::handle(CPLErr level, CPLErrorNum, const char* text) {
  auto* self = static_cast<GdalErrorTrap*>(CPLGetErrorHandlerUserData());
  if (self && level >= CE_Failure && self->error_.empty() && text) self->error_ = text;
}

std::string GdalErrorTrap::message(const std::string& fallback) const {
  if (!error_.empty()) return error_;
  const char* last = CPLGetLastErrorMsg();
  return (last && *last) ? std::string(last) : fallback;
}

std::string GdalErrorTrap::message_about(const std::string& path, const std::string& fallback) const {
  std::string text = message(fallback);
  const std::string base = path.substr(path.find_last_of('/') + 1);
  for (const std::string& prefix : {path, base}) {
    if (prefix.empty()) continue;
    for (std::size_t at; (at = text.find(prefix + ":")) != std::string::npos;) {
      std::size_t end = at + prefix.size() + 1;
      while (end < text.size() && text[end] == ' ') ++end;
      text.erase(at, end - at);
    }
  }
  return text.empty() ? fallback : text;
}

}  // namespace luojia::detail
