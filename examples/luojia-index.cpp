// luojia-index: spectral indices of a raster, one Float32 band per index, georeferenced like it.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/error.hpp>
#include <luojia/spectral_index.hpp>

#include <iostream>
#include <sstream>

using namespace luojia;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

int index_main(int argc, char** argv, cli::Distributed& distributed) {
  cli::ArgParser args("luojia-index", "[options] INPUT OUTPUT --index NAME [--index NAME ...]",
                      "Computes spectral indices (ndvi, ndwi, mndwi, ndbi, savi, evi, nd) of INPUT into a "
                      "Float32 raster\nwith one band per index, with INPUT's grid, CRS and geotransform. "
                      "Pixels where any input\nband is nodata or the denominator is zero are nodata.");
  std::string input, output;
  std::vector<std::string> index_names, nd_pairs;
  BandRoles roles;
  double savi_l = 0.5, nodata = -9999.0;
  bool raw = false;
  cli::CommonFlags common;
  args.positional("INPUT", "Any raster GDAL reads", input);
  args.positional("OUTPUT", "The index raster to write", output);
  args.list("--index", "NAME", "Index to compute: ndvi, ndwi, mndwi, ndbi, savi, evi (repeatable, or a,b,c)",
            index_names);
  args.value("--blue", "N", "Band number of blue (evi)", roles.blue);
  args.value("--green", "N", "Band number of green (ndwi, mndwi)", roles.green);
  args.value("--red", "N", "Band number of red (ndvi, savi, evi)", roles.red);
  args.value("--nir", "N", "Band number of near infrared (ndvi, ndwi, ndbi, savi, evi)", roles.nir);
  args.value("--swir", "N", "Band number of short-wave infrared (mndwi, ndbi)", roles.swir);
  args.list("--nd", "A,B", "Normalised difference (A-B)/(A+B) of bands A and B (repeatable)", nd_pairs);
  args.value("--savi-l", "L", "Soil brightness factor L of SAVI (default 0.5)", savi_l);
  args.value("--nodata", "VALUE", "Nodata value of the output (default -9999)", nodata);
  args.flag("--raw", "Use stored values, ignoring the bands' scale and offset", raw);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;

  IndexJob job;
  for (const auto& list : index_names)
    for (const auto& n : split(list, ',')) {
      IndexSpec spec;
      try {
        spec.kind = parse_index_kind(n);
      } catch (const Error& e) {
        throw cli::UsageError(e.message());
      }
      if (spec.kind == IndexKind::NormalizedDifference)
        throw cli::UsageError("give the bands of a normalised difference with --nd A,B");
      spec.savi_l = savi_l;
      job.indices.push_back(spec);
    }
  for (const auto& pair : nd_pairs) {
    const auto bands = split(pair, ',');
    if (bands.size() != 2) throw cli::UsageError("--nd expects two band numbers A,B, not '" + pair + "'");
    IndexSpec spec;
    spec.kind = IndexKind::NormalizedDifference;
    spec.band_a = cli::parse_int(bands[0], "--nd");
    spec.band_b = cli::parse_int(bands[1], "--nd");
    job.indices.push_back(spec);
  }
  if (job.indices.empty()) throw cli::UsageError("no index requested (--index ndvi, --nd 4,3, ...)");
  for (int band : {roles.blue, roles.green, roles.red, roles.nir, roles.swir})
    if (band < 0) throw cli::UsageError("band numbers start at 1");
  job.roles = roles;
  job.nodata = static_cast<float>(nodata);
  job.tile_size = common.tile;
  job.output = common.output();
  job.stream = common.stream();
  job.stream.read.apply_scale = !raw;
  int progress_state = -1;
  job.stream.progress_data = &progress_state;
  cli::check_paths({input}, {}, {output});
  distributed.run(job.stream, {&output}, job.output, [&] { compute_indices(input, output, job); });
  if (!common.quiet && distributed.rank() == 0) std::cerr << "wrote " << output << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Distributed distributed(&argc, &argv);
  return cli::run("luojia-index", [&] { return index_main(argc, argv, distributed); });
}
