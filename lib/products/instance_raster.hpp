#pragma once
// The instance-id raster of an instance segmentation: UInt32, 0 where no instance lies, k where
// the k-th instance written does. Where masks overlap the better instance (ranks_before) keeps
// the pixel, so the raster does not depend on the order instances arrive in.
#include <luojia/io/raster_info.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/products/detection.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace luojia::detail {

class InstanceRaster {
public:
  // A COG on the input's grid (its geotransform, CRS, RPCs, GCPs), nodata 0.
  InstanceRaster(const RasterInfo& input, const std::string& path, bool overwrite);

  // Paints d's mask (set, not empty) with id, the next one: ids go 1, 2, ... in call order.
  void paint(const Detection& d, std::uint32_t id);
  void finish() { writer_.finish(); }
  void commit() { writer_.commit(); }

private:
  struct Rank {
    float score;
    std::int64_t anchor;
  };
  RasterWriter writer_;
  std::vector<Rank> ranks_;  // by id - 1
  std::vector<std::uint32_t> window_;
};

}  // namespace luojia::detail
