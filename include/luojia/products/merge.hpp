#pragma once
// Shards of one job (outputs of --shard K/N) put back together into one product.
#include <luojia/engine/engine.hpp>
#include <luojia/export.hpp>
#include <luojia/io/raster_writer.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace luojia {

struct MergeOptions {
  // Driver "VRT" (the default) writes a VRT over the shard files: instant, and the shards stay.
  // Any other driver (GTiff, COG, ...) copies them into one file with its creation options.
  OutputOptions output{"VRT", {}, false};
  std::size_t memory_budget = 256u << 20;  // GDAL's block cache while copying into one file
  ProgressFunc progress = nullptr;
  void* progress_data = nullptr;
  // Detection shards: also write the merged boxes as COCO-style pixel boxes (luojia-detect's
  // --pixel-boxes), which shards cannot write themselves. Empty: none.
  std::string pixel_boxes;
};

struct MergeReport {
  int shards = 0;
  std::int64_t width = 0, height = 0;  // the whole grid
  std::int64_t polygons = 0;           // vector merges: polygons (or detections) written
  std::int64_t joined = 0;             // vector merges: polygons joined across shard borders (detections: boxes suppressed there)
};

// Checks that the rasters are shards 1..N of one job, each exactly once (LUOJIA_SHARD metadata),
// that their windows tile the whole grid without gap or overlap, and that they share CRS, pixel
// size, band count, data types and nodata; then writes output. Throws Error naming the shard at
// fault. Colour tables, class names and band descriptions of shard 1 are kept.
LUOJIA_API MergeReport merge_raster_shards(const std::vector<std::string>& shards, const std::string& output,
                                           const MergeOptions& options = {});

// The polygon layers shards' class maps gave (luojia-segment --vector with --shard) as one layer:
// polygons of the same class that share an edge across a shard border become one polygon (area
// summed, mean_conf weighted by area), so the result is what one run over the whole raster gives.
// The format follows output's extension (.gpkg, .geojson, .shp).
LUOJIA_API MergeReport merge_vector_shards(const std::vector<std::string>& shards, const std::string& output,
                                           const MergeOptions& options = {});

// luojia-detect's shards (GeoPackages, --shard K/N) as one layer of detections equal to one run
// over the whole raster: each shard's final boxes, and the boxes the shards left unsuppressed at
// their borders suppressed together (class-aware greedy NMS with the shards' IoU threshold), the
// best max_detections kept when the shards were capped. merge_vector_shards calls it for them.
LUOJIA_API MergeReport merge_detection_shards(const std::vector<std::string>& shards, const std::string& output,
                                              const MergeOptions& options = {});
// Whether path is a luojia-detect shard.
LUOJIA_API bool is_detection_shard(const std::string& path);

}  // namespace luojia
