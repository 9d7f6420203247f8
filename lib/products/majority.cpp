#include "products/majority.hpp"

#include <luojia/error.hpp>

#include <array>

namespace luojia::detail {

RasterWriter majority_filter(const std::string& input, const std::string& output, int radius,
                     const std::vector<std::string>& class_names, const std::vector<std::array<int, 4>>& colors,
                     const OutputOptions& output_options, const StreamOptions& stream_options) {
  if (radius < 0) raise("the regularisation radius must not be negative");
  Raster raster = Raster::open(input);
  RasterLayout layout = layout_like(raster.info(), DataType::Byte, 1);
  layout.nodata = 255;
  OutputOptions options = output_options;
  if (options.driver == "COG" || options.driver == "cog") options.creation_options.push_back("OVERVIEW_RESAMPLING=MODE");
  RasterWriter writer(output, layout, options);
  writer.set_color_table(colors);
  writer.set_category_names(class_names);
  TileGridOptions go;
  go.halo = radius;
  const TileGrid grid(raster.info().width, raster.info().height, go);
  StreamOptions so = stream_options;
  so.read.edge = EdgeMode::Constant;
  so.read.fill_value = 255;  // outside the raster counts as nodata: it never votes
  const TileKernel kernel = [radius](const InputTile& in, OutputTile& out) {
    const Image& c = in.pixels;
    std::array<int, 256> votes{};
    for (std::int64_t y = 0; y < in.tile.core.height; ++y)
      for (std::int64_t x = 0; x < in.tile.core.width; ++x) {
        const std::int64_t cy = y + in.core_y(), cx = x + in.core_x();
        const int own = static_cast<int>(c.at(0, cy, cx));
        if (own == 255) {
          out.pixels.at(0, y, x) = 255.0f;
          continue;
        }
        votes.fill(0);
        for (std::int64_t dy = -radius; dy <= radius; ++dy)
          for (std::int64_t dx = -radius; dx <= radius; ++dx) ++votes[static_cast<std::size_t>(c.at(0, cy + dy, cx + dx))];
        int best = own;
        for (int k = 0; k < 255; ++k)
          if (votes[static_cast<std::size_t>(k)] > votes[static_cast<std::size_t>(best)]) best = k;
        out.pixels.at(0, y, x) = static_cast<float>(best);
      }
  };
  stream(raster, {1}, grid, writer, 1, kernel, so);
  writer.finish();
  return writer;
}

}  // namespace luojia::detail
