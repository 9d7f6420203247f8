// Instance masks as runs: what a tile computes for each box, and what the products read back.
#include <luojia/products/instance_mask.hpp>

#include <luojia/error.hpp>

namespace luojia {

std::int64_t InstanceMask::pixels() const {
  std::int64_t inside = 0;
  for (std::size_t i = 1; i < runs.size(); i += 2) inside += runs[i];
  return inside;
}

std::vector<std::uint8_t> InstanceMask::dense() const {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width * height), 0);
  std::size_t at = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i % 2 == 1) std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(at), runs[i], std::uint8_t{1});
    at += runs[i];
  }
  if (at > out.size()) throw Error("internal: an instance mask's runs overrun its window");
  return out;
}

InstanceMask InstanceMask::from_dense(std::int64_t x0, std::int64_t y0, std::int64_t width, std::int64_t height,
                                      const std::uint8_t* inside) {
  InstanceMask m{x0, y0, width, height, {}};
  std::uint8_t state = 0;
  std::uint32_t run = 0;
  for (std::int64_t i = 0; i < width * height; ++i) {
    const std::uint8_t v = inside[i] ? 1 : 0;
    if (v != state) {
      m.runs.push_back(run);
      run = 0;
      state = v;
    }
    ++run;
  }
  m.runs.push_back(run);
  return m;
}

std::vector<std::int64_t> InstanceMask::coco_counts(std::int64_t image_width, std::int64_t image_height) const {
  const std::vector<std::uint8_t> inside = dense();
  std::vector<std::int64_t> counts;
  std::int64_t position = 0;           // where the run being counted starts
  std::int64_t start = -1, end = -1;   // the inside run being extended, column-major
  const auto close = [&] {
    if (start < 0) return;
    counts.push_back(start - position);  // outside, then inside
    counts.push_back(end - start);
    position = end;
  };
  for (std::int64_t c = 0; c < width; ++c) {
    const std::int64_t x = x0 + c;
    if (x < 0 || x >= image_width) continue;
    for (std::int64_t r = 0; r < height; ++r) {
      const std::int64_t y = y0 + r;
      if (y < 0 || y >= image_height || !inside[static_cast<std::size_t>(r * width + c)]) continue;
      const std::int64_t p = x * image_height + y;
      if (p == end) {
        ++end;
        continue;
      }
      close();
      start = p;
      end = p + 1;
    }
  }
  close();
  if (counts.empty() || position < image_width * image_height) counts.push_back(image_width * image_height - position);
  return counts;
}

}  // namespace luojia
