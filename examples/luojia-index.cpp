// luojia-index: spectral indices of a raster, one Float32 band per index, georeferenced like it.
#include "cli/cli.hpp"
#include "cli/distributed.hpp"

#include <luojia/error.hpp>
#include <luojia/products/index_catalogue.hpp>
#include <luojia/products/spectral_index.hpp>

#include <cmath>
#include <cstdio>
#include <map>

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

// --list: the catalogue, for people (a table) or scripts (--json).
void print_catalogue(bool json) {
  const IndexCatalogue& c = IndexCatalogue::builtin();
  const auto needs = [&](const SpectralIndexEntry& e) {
    std::string out;
    for (const auto& s : e.symbols) out += (out.empty() ? "" : ",") + s;
    return out;
  };
  if (!json) {
    for (const auto& e : c.indices())
      std::cout << e.short_name << "\t" << e.domain << "\t" << e.long_name << "\t" << needs(e) << "\n";
    return;
  }
  // By hand rather than through a JSON library: the programs link luojia only.
  const auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      if (ch == '"' || ch == '\\') out += '\\';
      if (static_cast<unsigned char>(ch) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", ch);
        out += buf;
        continue;
      }
      out += ch;
    }
    return out + "\"";
  };
  std::cout << "[\n";
  for (std::size_t i = 0; i < c.indices().size(); ++i) {
    const auto& e = c.indices()[i];
    std::cout << "  {\"short_name\": " << quote(e.short_name) << ", \"domain\": " << quote(e.domain)
              << ", \"long_name\": " << quote(e.long_name) << ", \"formula\": " << quote(e.formula) << ", \"symbols\": [";
    for (std::size_t k = 0; k < e.symbols.size(); ++k) std::cout << (k ? ", " : "") << quote(e.symbols[k]);
    std::cout << "], \"reference\": " << quote(e.reference) << "}" << (i + 1 < c.indices().size() ? "," : "") << "\n";
  }
  std::cout << "]\n";
}

// "R=3,N=4" or "L=0.5,g=2.5" into a map; each NAME=VALUE once.
template <class Parse>
void parse_assignments(const std::string& list, const std::string& flag, Parse parse) {
  for (const auto& item : split(list, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw cli::UsageError(flag + " expects NAME=VALUE pairs, not '" + item + "'");
    parse(item.substr(0, eq), item.substr(eq + 1));
  }
}

int index_main(int argc, char** argv, cli::Distributed& distributed) {
  cli::ArgParser args("luojia-index", "[options] INPUT OUTPUT --index NAME[,NAME...] | --list [--json]",
                      "Computes spectral indices of INPUT into a Float32 raster with one band per index (named after it),\n"
                      "with INPUT's grid, CRS and geotransform: any of the Awesome Spectral Indices catalogue (--list),\n"
                      "luojia's former names (ndvi ndwi mndwi ndbi savi evi), --nd A,B and --expr NAME=FORMULA. Bands\n"
                      "are read once per tile whatever the number of indices. A pixel is nodata where an input band of\n"
                      "its index is nodata, a divisor is zero, or the value is not finite.");
  std::string input, output, band_list, const_list, sensor;
  std::vector<std::string> index_names, nd_pairs, expressions;
  std::map<std::string, int> legacy;
  int blue = 0, green = 0, red = 0, nir = 0, swir = 0;
  double savi_l = NAN, nodata = -9999.0;
  bool raw = false, list = false, json = false;
  cli::CommonFlags common;
  args.positional("INPUT", "Any raster GDAL reads", input, cli::PathRole::InputRaster);
  args.positional("OUTPUT", "The index raster to write", output, cli::PathRole::OutputRaster);
  args.list("--index", "NAME", "Catalogue indices to compute: NDVI, EVI, kNDVI, NBR, ... (repeatable, or A,B,C)", index_names).fills("indices");
  args.value("--bands", "SYM=N,...", "Which band holds each symbol: R=3,N=4,S1=5 (A B G R RE1-RE3 N N2 S1 S2 T T1 T2 VV VH HH HV ...)",
             band_list);
  args.value("--sensor", "NAME", "The raster is this sensor's band stack (band k is its Bk; Sentinel-2: B1..B8,B8A,B9..B12) unless "
             "band descriptions say otherwise; also gives the wavelengths: sentinel2, landsat8, landsat9, landsat4-7, modis, planetscope, wv2, wv3",
             sensor);
  args.value("--const", "NAME=V,...", "Constants over the catalogue's defaults: L=0.5,g=2.5,sigma=0.3,PAR=...", const_list).fills("constants");
  args.list("--expr", "NAME=FORMULA", "An index of your own over the same symbols and b1, b2, ... (repeatable): 'NDRE=(N-RE1)/(N+RE1)'",
            expressions);
  args.list("--nd", "A,B", "Normalised difference (A-B)/(A+B) of bands A and B (repeatable)", nd_pairs);
  args.value("--blue", "N", "Band number of blue (B)", blue);
  args.value("--green", "N", "Band number of green (G)", green);
  args.value("--red", "N", "Band number of red (R)", red);
  args.value("--nir", "N", "Band number of near infrared (N)", nir);
  args.value("--swir", "N", "Band number of short-wave infrared 1 (S1)", swir);
  args.value("--savi-l", "L", "L of the savi alias (default 0.5); --const L= sets it for every index", savi_l);
  args.value("--nodata", "VALUE", "Nodata value of the output (default -9999)", nodata);
  args.flag("--raw", "Use stored values, ignoring the bands' scale and offset", raw);
  args.flag("--list", "Print the catalogue (name, domain, long name, symbols) and exit; no INPUT or OUTPUT", list);
  args.flag("--json", "With --list: JSON, with formulas and references", json);
  common.add_to(args);
  // --list needs no INPUT and OUTPUT: look for it before the parser asks for them.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--list") {
      bool as_json = false;
      for (int k = 1; k < argc; ++k) as_json = as_json || std::string(argv[k]) == "--json";
      print_catalogue(as_json);
      return 0;
    }
  if (!args.parse(argc, argv)) return 0;

  IndexJob job;
  for (const auto& names : index_names)
    for (const auto& n : split(names, ',')) {
      IndexSpec spec;
      spec.name = n;
      if (n == "nd") throw cli::UsageError("give the bands of a normalised difference with --nd A,B");
      if (n == "savi" && !std::isnan(savi_l)) spec.constants["L"] = savi_l;
      job.indices.push_back(spec);
    }
  for (const auto& e : expressions) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) throw cli::UsageError("--expr expects NAME=FORMULA, not '" + e + "'");
    job.indices.push_back(IndexSpec{e.substr(0, eq), e.substr(eq + 1), {}});
  }
  for (const auto& pair : nd_pairs) {
    const auto bands = split(pair, ',');
    if (bands.size() != 2) throw cli::UsageError("--nd expects two band numbers A,B, not '" + pair + "'");
    const int a = cli::parse_int(bands[0], "--nd"), b = cli::parse_int(bands[1], "--nd");
    const std::string ba = "b" + std::to_string(a), bb = "b" + std::to_string(b);
    job.indices.push_back(IndexSpec{"ND(" + std::to_string(a) + "," + std::to_string(b) + ")",
                                    "(" + ba + " - " + bb + ") / (" + ba + " + " + bb + ")", {}});
  }
  if (job.indices.empty()) throw cli::UsageError("no index requested (--index NDVI, --expr, --nd 4,3; --list shows the catalogue)");
  for (const auto& [symbol, band] : {std::pair{"B", blue}, {"G", green}, {"R", red}, {"N", nir}, {"S1", swir}}) {
    if (band < 0) throw cli::UsageError("band numbers start at 1");
    if (band > 0) job.bands[symbol] = band;
  }
  parse_assignments(band_list, "--bands", [&](const std::string& symbol, const std::string& value) {
    const int band = cli::parse_int(value, "--bands");
    if (band < 1) throw cli::UsageError("--bands: bands are numbered from 1, not " + value);
    job.bands[symbol] = band;
  });
  parse_assignments(const_list, "--const", [&](const std::string& name, const std::string& value) {
    job.constants[name] = cli::parse_double(value, "--const");
  });
  job.sensor = sensor;
  job.nodata = static_cast<float>(nodata);
  job.tile = common.tile;
  job.output = common.output();
  job.stream = common.stream();
  job.stream.read.apply_scale = !raw;
  int progress_state = -1;
  job.stream.progress_data = &progress_state;
  cli::check_paths({input}, {}, {output});
  input = common.placed_input(input);
  distributed.run(job.stream, {&output}, job.output, [&] { compute_indices(input, output, job); });
  if (!common.quiet && distributed.rank() == 0) std::cerr << "wrote " << output << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Distributed distributed(&argc, &argv);
  return cli::run("luojia-index", [&] { return index_main(argc, argv, distributed); });
}
