// segment_many: one model loaded once, many rasters segmented with it, through the library.
//   segment_many MODEL.onnx INPUT.tif... (writes INPUT.classes.tif beside each input)
#include <luojia/luojia.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: segment_many MODEL.onnx INPUT.tif...\n";
    return 2;
  }
  try {
    const luojia::nn::Model model = luojia::nn::Model::load(argv[1]);  // parsed, optimised, planned once
    luojia::SegmentOptions options;
    options.tile = 256;
    options.output.overwrite = true;
    for (int i = 2; i < argc; ++i) {
      luojia::Raster raster = luojia::Raster::open(argv[i]);
      const std::string output = std::string(argv[i]) + ".classes.tif";
      const luojia::SegmentReport report = luojia::segment(raster, model, output, options);
      std::cout << output << ": " << report.tiles << " tiles, halo " << report.halo << " px\n";
    }
  } catch (const luojia::Error& e) {
    std::cerr << "segment_many: " << e.what() << "\n";
    return 1;
  }
}
