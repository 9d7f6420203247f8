#pragma once
// Where luojia puts files that must not be seen until they are finished, and the index arithmetic
// of edge reflection: small pieces several stages share.
#include <cstdint>
#include <string>

namespace luojia::detail {

// A hidden, unique name in target's folder (so a final rename never crosses file systems):
// ".NAME.luojia-PID-N.tmp.EXTENSION" (no extension when empty).
std::string temporary_path(const std::string& target, const std::string& extension);

// Index i of an axis of n pixels mirrored into [0, n), the edge pixel not repeated (numpy and
// PyTorch "reflect"); a single pixel reflects onto itself.
inline std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
  if (n == 1) return 0;
  const std::int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

}  // namespace luojia::detail
