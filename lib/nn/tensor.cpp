#include <luojia/nn/tensor.hpp>

#include "nn/saturate.hpp"

#include <luojia/error.hpp>

#include <algorithm>
#include <cstring>
#include <new>

namespace luojia::nn {
namespace {

std::shared_ptr<void> allocate(std::size_t bytes) {
  constexpr std::align_val_t alignment{64};
  void* p = ::operator new(std::max<std::size_t>(bytes, 64), alignment);
  std::memset(p, 0, std::max<std::size_t>(bytes, 64));
  return std::shared_ptr<void>(p, [](void* q) { ::operator delete(q, std::align_val_t{64}); });
}

std::size_t element_size(ElementType type) { return type == ElementType::Int64 ? 8 : 4; }

}  // namespace

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::int64_t element_count(const Shape& shape) {
  // Shapes come from files and from arithmetic on them: a product past int64 is an error, not
  // undefined behaviour.
  std::int64_t n = 1;
  for (std::int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) raise("shape " + to_string(shape) + " has no valid element count");
  return n;
}

Tensor::Tensor(Shape shape, ElementType type) : shape_(std::move(shape)), type_(type) {
  for (std::int64_t d : shape_)
    if (d < 0) raise("tensor shape " + to_string(shape_) + " has a negative dimension");
  storage_ = allocate(static_cast<std::size_t>(size()) * element_size(type));
  data_ = storage_.get();
}

Tensor Tensor::view(float* data, Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.data_ = data;
  return t;
}

Tensor Tensor::scalar(float value) { return from_floats({value}, {}); }

Tensor Tensor::from_ints(const std::vector<std::int64_t>& values, Shape shape) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<std::int64_t>(values.size())};
  Tensor t(shape, ElementType::Int64);
  std::copy(values.begin(), values.end(), t.ints());
  return t;
}

Tensor Tensor::from_floats(const std::vector<float>& values, Shape shape) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<std::int64_t>(values.size())};
  Tensor t(shape, ElementType::Float32);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

std::vector<std::int64_t> Tensor::to_ints() const {
  std::vector<std::int64_t> out(static_cast<std::size_t>(size()));
  if (type_ == ElementType::Int64)
    std::copy(ints(), ints() + size(), out.begin());
  else
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = detail::saturate_int64(data()[i]);
  return out;
}

std::vector<float> Tensor::to_floats() const {
  std::vector<float> out(static_cast<std::size_t>(size()));
  if (type_ == ElementType::Float32)
    std::copy(data(), data() + size(), out.begin());
  else
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(ints()[i]);
  return out;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (element_count(shape) != size())
    raise("cannot reshape " + to_string(shape_) + " to " + to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(shape_, type_);
  if (size() > 0) std::memcpy(t.data_, data_, static_cast<std::size_t>(size()) * element_size(type_));
  return t;
}

}  // namespace luojia::nn
