#pragma once
// Planes of float pixels in memory (one per band) and their validity masks: what tiles hold.
#include <luojia/export.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

namespace luojia {

// Cache-line aligned storage so vectorised kernels never straddle lines at a plane's start.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t alignment{64};
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
};

// Planar float32 pixels: band after band, each row-major. What kernels read and write.
class LUOJIA_API Image {
public:
  Image() = default;
  Image(int bands, std::int64_t width, std::int64_t height, float value = 0.0f);

  int bands() const noexcept { return bands_; }
  std::int64_t width() const noexcept { return width_; }
  std::int64_t height() const noexcept { return height_; }
  std::size_t plane_size() const noexcept { return static_cast<std::size_t>(width_ * height_); }
  bool empty() const noexcept { return data_.empty(); }

  std::span<float> band(int index) noexcept {
    return {data_.data() + static_cast<std::size_t>(index) * plane_size(), plane_size()};
  }
  std::span<const float> band(int index) const noexcept {
    return {data_.data() + static_cast<std::size_t>(index) * plane_size(), plane_size()};
  }
  float& at(int b, std::int64_t y, std::int64_t x) noexcept {
    return data_[static_cast<std::size_t>(b) * plane_size() + static_cast<std::size_t>(y * width_ + x)];
  }
  float at(int b, std::int64_t y, std::int64_t x) const noexcept {
    return data_[static_cast<std::size_t>(b) * plane_size() + static_cast<std::size_t>(y * width_ + x)];
  }
  float* data() noexcept { return data_.data(); }
  const float* data() const noexcept { return data_.data(); }
  std::size_t bytes() const noexcept { return data_.size() * sizeof(float); }

  // Keeps the allocation when the new shape fits in it: tiles reuse buffers.
  void reshape(int bands, std::int64_t width, std::int64_t height);

private:
  int bands_ = 0;
  std::int64_t width_ = 0;
  std::int64_t height_ = 0;
  std::vector<float, AlignedAllocator<float>> data_;
};

// One byte per pixel: 1 where every requested band holds data, 0 for nodata, NaN or outside the raster.
using Mask = std::vector<std::uint8_t>;

}  // namespace luojia
