#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>

#include <cctype>
#include <cmath>
#include <string>

namespace luojia {

std::size_t parse_byte_size(std::string_view text) {
  const std::string original(text);
  std::size_t pos = 0;
  double value = 0.0;
  try {
    value = std::stod(original, &pos);
  } catch (const std::exception&) {
    raise("'" + original + "' is not a size such as 512M or 2G");
  }
  std::string unit;
  for (char c : original.substr(pos)) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double multiplier = 0.0;
  if (unit.empty() || unit == "M") multiplier = 1024.0 * 1024.0;
  else if (unit == "K") multiplier = 1024.0;
  else if (unit == "G") multiplier = 1024.0 * 1024.0 * 1024.0;
  else if (unit == "T") multiplier = 1024.0 * 1024.0 * 1024.0 * 1024.0;
  else if (unit == "B") multiplier = 1.0;
  if (multiplier == 0.0 || !std::isfinite(value) || value <= 0.0)
    raise("'" + original + "' is not a size such as 512M or 2G");
  return static_cast<std::size_t>(value * multiplier);
}

}  // namespace luojia
