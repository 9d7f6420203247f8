#include <luojia/image.hpp>

namespace luojia {

Image::Image(int bands, std::int64_t width, std::int64_t height, float value)
    : bands_(bands), width_(width), height_(height),
      data_(static_cast<std::size_t>(bands) * static_cast<std::size_t>(width * height), value) {}

void Image::reshape(int bands, std::int64_t width, std::int64_t height) {
  bands_ = bands;
  width_ = width;
  height_ = height;
  data_.resize(static_cast<std::size_t>(bands) * static_cast<std::size_t>(width * height));
}

}  // namespace luojia
