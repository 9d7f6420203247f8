#pragma once
// Float to int64 as a cast cannot do it safely: NaN becomes 0 and values past the range clamp to
// it. A hostile model's constants and scales reach these conversions; a plain cast of -inf is
// undefined behaviour (the loader fuzzer found it).
#include <cmath>
#include <cstdint>
#include <limits>

namespace luojia::nn::detail {

inline std::int64_t saturate_int64(double value) {
  if (std::isnan(value)) return 0;
  if (value >= 9223372036854775807.0) return std::numeric_limits<std::int64_t>::max();
  if (value <= -9223372036854775808.0) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(value);
}

}  // namespace luojia::nn::detail
