// A program built against an installed luojia: NDVI of a raster through the public API.
#include <luojia/luojia.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  try {
    luojia::IndexJob job;
    job.indices = {luojia::IndexSpec{"NDVI", "", {}}};
    job.bands = {{"R", 3}, {"N", 4}};
    job.output.overwrite = true;
    const auto stats = luojia::compute_indices(argv[1], argv[2], job);
    const auto info = luojia::Raster::open(argv[2]).info();
    std::cout << "luojia " << luojia::version() << ": " << stats.tiles << " tiles, " << info.width << "x"
              << info.height << " EPSG:" << info.epsg.value_or(0) << "\n";
  } catch (const luojia::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
