// luojia-assess: accuracy of a class map against a reference raster or vector.
#include "cli/cli.hpp"

#include <luojia/products/assessment.hpp>
#include <luojia/products/surface_assessment.hpp>
#include <luojia/error.hpp>

#include <iostream>
#include <sstream>

using namespace luojia;

int main(int argc, char** argv) {
  return cli::run("luojia-assess", [&] {
    cli::ArgParser args("luojia-assess", "[options] CLASS_MAP REFERENCE",
                        "Confusion matrix, overall accuracy, Cohen's kappa, per-class precision, recall, F1 and IoU,\n"
                        "and mean IoU of CLASS_MAP against REFERENCE: a raster on the same grid, or a vector whose\n"
                        "polygons carry the class in --field (rasterised on the class map's grid). Nodata pixels of\n"
                        "either and --ignore are left out. With --surface, CLASS_MAP is a disparity or a DSM and\n"
                        "REFERENCE its truth: end-point error and D1 (> 3 px), or height RMSE, NMAD, bias and\n"
                        "completeness (a reference DSM in any CRS is resampled onto the DSM's grid, bilinear).");
    std::string map, reference, remap, ignore, format_flag, surface;
    bool json = false, csv = false, quiet = false;
    AssessOptions o;
    args.positional("CLASS_MAP", "A class map, e.g. from luojia-segment", map, cli::PathRole::InputRaster);
    args.positional("REFERENCE", "Reference raster or vector", reference, cli::PathRole::InputFile);
    args.value("--field", "NAME", "Vector references: the attribute with the class (default class)", o.field);
    args.value("--ignore", "VALUE", "Reference value to leave out", ignore);
    args.value("--remap", "FROM=TO[,...]", "Map reference values to classes first, e.g. 255=1", remap);
    args.value("--surface", "disparity|dsm", "Assess a disparity map or a DSM instead of a class map", surface)
        .choices({"disparity", "dsm"});
    args.flag("--json", "Print JSON", json);
    args.flag("--csv", "Print CSV", csv);
    args.flag("-q,--quiet", "No progress bar", quiet);
    if (!args.parse(argc, argv)) return 0;
    if (json && csv) throw cli::UsageError("--json and --csv exclude each other");
    int progress_state = -1;
    if (!surface.empty()) {
      if (!ignore.empty() || !remap.empty() || o.field != "class")
        throw cli::UsageError("--field, --ignore and --remap are for class maps, not with --surface");
      SurfaceOptions so;
      so.kind = surface == "disparity" ? SurfaceKind::Disparity : SurfaceKind::Dsm;
      so.stream.progress = quiet || json || csv ? cli::silent_progress : cli::terminal_progress;
      so.stream.progress_data = &progress_state;
      cli::check_input(map);
      cli::check_input(reference);
      const SurfaceAssessment a = assess_surface(map, reference, so);
      std::cout << (json ? to_json(a) : csv ? to_csv(a) : to_text(a));
      return 0;
    }
    if (!ignore.empty()) o.ignore = cli::parse_int(ignore, "--ignore");
    std::stringstream in(remap);
    for (std::string pair; std::getline(in, pair, ',');) {
      const auto eq = pair.find('=');
      if (eq == std::string::npos) throw cli::UsageError("--remap expects FROM=TO pairs, not '" + pair + "'");
      o.remap.emplace_back(cli::parse_int(pair.substr(0, eq), "--remap"), cli::parse_int(pair.substr(eq + 1), "--remap"));
    }
    o.stream.progress = quiet || json || csv ? cli::silent_progress : cli::terminal_progress;
    o.stream.progress_data = &progress_state;
    cli::check_input(map);
    const Assessment a = assess(map, reference, o);
    std::cout << (json ? to_json(a) : csv ? to_csv(a) : to_text(a));
    return 0;
  });
}
