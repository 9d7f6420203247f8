// luojia-info: what luojia sees in a raster.
#include "cli/cli.hpp"

#include <luojia/raster.hpp>

#include <iostream>

using namespace luojia;

int main(int argc, char** argv) {
  return cli::run("luojia-info", [&] {
    cli::ArgParser args("luojia-info", "[--json] INPUT",
                        "Prints size, bands, data types, nodata, scale/offset, CRS, geotransform, block "
                        "size and metadata\nof a raster, as luojia reads it.");
    std::string input;
    bool json = false;
    args.positional("INPUT", "Any raster GDAL reads (files, /vsizip/, /vsicurl/-free VRT, ...)", input);
    args.flag("--json", "Print JSON instead of text", json);
    if (!args.parse(argc, argv)) return 0;
    const Raster raster = Raster::open(input);
    std::cout << (json ? to_json(raster.info()) : to_text(raster.info()));
    return 0;
  });
}
