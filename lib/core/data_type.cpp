#include <luojia/data_type.hpp>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace luojia {
namespace {

struct TypeRow {
  DataType type;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<TypeRow, 15> kTypes{{
    {DataType::Unknown, "Unknown", 0},   {DataType::Byte, "Byte", 1},
    {DataType::Int8, "Int8", 1},         {DataType::UInt16, "UInt16", 2},
    {DataType::Int16, "Int16", 2},       {DataType::UInt32, "UInt32", 4},
    {DataType::Int32, "Int32", 4},       {DataType::UInt64, "UInt64", 8},
    {DataType::Int64, "Int64", 8},       {DataType::Float32, "Float32", 4},
    {DataType::Float64, "Float64", 8},   {DataType::CInt16, "CInt16", 4},
    {DataType::CInt32, "CInt32", 8},     {DataType::CFloat32, "CFloat32", 8},
    {DataType::CFloat64, "CFloat64", 16},
}};

const TypeRow& row(DataType type) {
  for (const auto& r : kTypes)
    if (r.type == type) return r;
  return kTypes[0];
}

template <class T>
bool in_range(double value) {
  return value >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
         value <= static_cast<double>(std::numeric_limits<T>::max());
}

}  // namespace

std::string_view name(DataType type) { return row(type).name; }
std::size_t size_of(DataType type) { return row(type).size; }

DataType parse_data_type(std::string_view text) {
  for (const auto& r : kTypes) {
    if (r.name.size() != text.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < text.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(text[i])) ==
             std::tolower(static_cast<unsigned char>(r.name[i]));
    if (same) return r.type;
  }
  return DataType::Unknown;
}

bool is_complex(DataType type) {
  return type == DataType::CInt16 || type == DataType::CInt32 || type == DataType::CFloat32 ||
         type == DataType::CFloat64;
}

bool is_integer(DataType type) {
  switch (type) {
    case DataType::Byte: case DataType::Int8: case DataType::UInt16: case DataType::Int16:
    case DataType::UInt32: case DataType::Int32: case DataType::UInt64: case DataType::Int64:
      return true;
    default:
      return false;
  }
}

bool fits(DataType type, double value) {
  if (std::isnan(value)) return type == DataType::Float32 || type == DataType::Float64;
  if (is_integer(type) && value != std::floor(value)) return false;
  switch (type) {
    case DataType::Byte: return in_range<std::uint8_t>(value);
    case DataType::Int8: return in_range<std::int8_t>(value);
    case DataType::UInt16: return in_range<std::uint16_t>(value);
    case DataType::Int16: return in_range<std::int16_t>(value);
    case DataType::UInt32: return in_range<std::uint32_t>(value);
    case DataType::Int32: return in_range<std::int32_t>(value);
    case DataType::UInt64: return in_range<std::uint64_t>(value);
    case DataType::Int64: return in_range<std::int64_t>(value);
    case DataType::Float32: return std::isinf(value) || in_range<float>(value);
    case DataType::Float64: return true;
    default: return false;
  }
}

}  // namespace luojia
