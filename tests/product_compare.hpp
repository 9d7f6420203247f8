#pragma once
// A raster product read back whole with GDAL, and the check that two are the same product: size,
// georeferencing and every pixel bit for bit (NaN equal to NaN).
#include <array>
#include <string>
#include <vector>

namespace luojia::test {

struct Product {
  int width = 0, height = 0, bands = 0;
  std::array<double, 6> geotransform{};
  std::string crs;
  std::vector<std::vector<double>> pixels;
};

Product read_product(const std::string& path);
void check_same(const Product& a, const Product& b);

}  // namespace luojia::test
