// luojia-merge: the outputs of a job run in shards (--shard K/N) put back together.
#include "cli/cli.hpp"

#include <luojia/engine/engine.hpp>
#include <luojia/error.hpp>
#include <luojia/products/merge.hpp>
#include <luojia/products/polygonize.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

using namespace luojia;

namespace {

int merge_main(int argc, char** argv) {
  cli::ArgParser args("luojia-merge", "[options] SHARD... OUTPUT",
                      "Joins the shards of one job (the outputs of --shard 1/N to N/N) into OUTPUT, after checking\n"
                      "that each shard is there once, that together they cover the grid exactly, and that they share\n"
                      "CRS, pixel size, bands, types and nodata. Rasters: a VRT over the shards (instant; -of VRT or\n"
                      "an OUTPUT ending in .vrt) or one GeoTIFF, COG, ... file. Polygons (.gpkg, .geojson, .shp): one\n"
                      "layer, polygons of one class that meet across a shard border joined into one.");
  std::vector<std::string> files;
  std::string format;
  std::vector<std::string> creation_options;
  bool overwrite = false, quiet = false;
  std::string memory = "256M";
  args.rest("SHARD... OUTPUT", "The shards, in any order, then the product to write", files);
  args.value("-of", "FORMAT", "GDAL raster format (default: VRT for .vrt outputs, else GTiff)", format).fills("driver");
  args.list("-co", "KEY=VALUE", "Creation option for the output format (repeatable)", creation_options).fills("creation_options");
  args.flag("--overwrite", "Replace an existing output (atomically, only once the new one is complete)", overwrite);
  args.flag("-q,--quiet", "No progress bar", quiet);
  args.value("--mem", "SIZE", "GDAL's block cache while copying into one file (default 256M)", memory).fills("memory_budget");
  std::string pixel_boxes;
  args.value("--pixel-boxes", "PATH.json", "Detection shards: also write the merged boxes as COCO-style pixel boxes", pixel_boxes).role(cli::PathRole::OutputFile);
  if (!args.parse(argc, argv)) return 0;
  if (files.size() < 2) throw cli::UsageError(files.empty() ? "missing SHARD... OUTPUT" : "missing OUTPUT (or the shards)");
  const std::string output = files.back();
  files.pop_back();
  cli::check_paths({}, files, {output, pixel_boxes});

  MergeOptions o;
  try {
    o.memory_budget = parse_byte_size(memory);
  } catch (const Error& e) {
    throw cli::UsageError("--mem: " + e.message());
  }
  o.output.overwrite = overwrite;
  o.output.creation_options = creation_options;
  o.pixel_boxes = pixel_boxes;
  int progress_state = -1;
  o.progress = quiet ? cli::silent_progress : cli::terminal_progress;
  o.progress_data = &progress_state;
  MergeReport r;
  if (is_vector_path(output)) {
    if (!format.empty() || !creation_options.empty()) throw cli::UsageError("-of and -co are for raster outputs");
    const bool detections = !files.empty() && is_detection_shard(files[0]);
    r = merge_vector_shards(files, output, o);
    if (!quiet && detections)
      std::cerr << "luojia-merge: " << r.polygons << " detections from " << r.shards << " shards; " << r.joined
                << " boxes suppressed across shard borders\n";
    else if (!quiet)
      std::cerr << "luojia-merge: " << r.polygons << " polygons from " << r.shards << " shards; " << r.joined
                << " pieces joined across shard borders\n";
  } else {
    std::string ext = std::filesystem::path(output).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    o.output.driver = !format.empty() ? format : ext == ".vrt" ? "VRT" : "GTiff";
    r = merge_raster_shards(files, output, o);
    if (!quiet) std::cerr << "luojia-merge: " << r.shards << " shards, " << r.width << "x" << r.height << "\n";
  }
  std::cout << output << "\n";
  if (!pixel_boxes.empty()) std::cout << pixel_boxes << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("luojia-merge", [&] { return merge_main(argc, argv); });
}
