#pragma once
// N-dimensional arrays the network engine passes between layers.
#include <luojia/export.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace luojia::nn {

using Shape = std::vector<std::int64_t>;

enum class ElementType { Float32, Int64 };

LUOJIA_API std::string to_string(const Shape& shape);
LUOJIA_API std::int64_t element_count(const Shape& shape);

// An n-dimensional array, NCHW for images, float32 or int64 (shape arithmetic, ArgMax).
// Copies share storage; a view wraps memory owned elsewhere (the planner's arena).
class LUOJIA_API Tensor {
public:
  Tensor() = default;
  // Owned, zero-filled, 64-byte aligned.
  explicit Tensor(Shape shape, ElementType type = ElementType::Float32);
  static Tensor view(float* data, Shape shape);
  static Tensor scalar(float value);
  static Tensor from_ints(const std::vector<std::int64_t>& values, Shape shape = {});
  static Tensor from_floats(const std::vector<float>& values, Shape shape = {});

  const Shape& shape() const noexcept { return shape_; }
  ElementType type() const noexcept { return type_; }
  int rank() const noexcept { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const { return shape_.at(static_cast<std::size_t>(axis < 0 ? axis + rank() : axis)); }
  std::int64_t size() const noexcept { return element_count(shape_); }
  bool empty() const noexcept { return data_ == nullptr; }

  float* data() noexcept { return static_cast<float*>(data_); }
  const float* data() const noexcept { return static_cast<const float*>(data_); }
  std::int64_t* ints() noexcept { return static_cast<std::int64_t*>(data_); }
  const std::int64_t* ints() const noexcept { return static_cast<const std::int64_t*>(data_); }
  std::span<const float> floats() const { return {data(), static_cast<std::size_t>(size())}; }

  // Values as int64 / float whatever the element type (shape inputs arrive as either).
  std::vector<std::int64_t> to_ints() const;
  std::vector<float> to_floats() const;

  // Same storage, another shape of the same element count.
  Tensor reshaped(Shape shape) const;
  // A deep copy into owned storage.
  Tensor clone() const;
  // Whether this is owned storage that no other Tensor shares (a Session may then reuse it).
  bool sole_owner() const noexcept { return storage_ && storage_.use_count() == 1; }

private:
  Shape shape_;
  ElementType type_ = ElementType::Float32;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
};

}  // namespace luojia::nn
