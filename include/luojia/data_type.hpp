#pragma once
// Pixel data types as GDAL stores them, and what each can hold.
#include <luojia/export.hpp>

#include <cstddef>
#include <string_view>

namespace luojia {

// Pixel types, the same set GDAL has; kept as luojia's own so public headers need no GDAL.
enum class DataType {
  Unknown, Byte, Int8, UInt16, Int16, UInt32, Int32, UInt64, Int64, Float32, Float64,
  CInt16, CInt32, CFloat32, CFloat64
};

LUOJIA_API std::string_view name(DataType type);
// Parses GDAL's names ("Byte", "UInt16", "Float32", ...), case-insensitive; Unknown if none fits.
LUOJIA_API DataType parse_data_type(std::string_view text);
LUOJIA_API std::size_t size_of(DataType type);
LUOJIA_API bool is_complex(DataType type);
LUOJIA_API bool is_integer(DataType type);
// Whether value is representable in type (used to check nodata values).
LUOJIA_API bool fits(DataType type, double value);

}  // namespace luojia
