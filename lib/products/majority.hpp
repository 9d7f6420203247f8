#pragma once
// Majority-filter regularisation of a class map, tile by tile with a halo of its own.
#include <luojia/engine/engine.hpp>
#include <luojia/io/raster_writer.hpp>

#include <array>
#include <string>
#include <vector>

namespace luojia::detail {

// Each pixel of the class map at input takes the most frequent class among the valid pixels of
// the (2 radius + 1)^2 square around it (its own class on ties); nodata (255) stays nodata.
// Returns the writer of output finished but not committed, so the caller puts it in place with
// the run's other products.
RasterWriter majority_filter(const std::string& input, const std::string& output, int radius,
                     const std::vector<std::string>& class_names, const std::vector<std::array<int, 4>>& colors,
                     const OutputOptions& output_options, const StreamOptions& stream_options);

}  // namespace luojia::detail
