// luojia-stereo: a stereo pair in, a DSM (pairs with RPCs) or disparity and depth (epipolar pairs) out.
#include "cli/cli.hpp"

#include <luojia/error.hpp>
#include <luojia/products/stereo.hpp>

#include <iostream>

using namespace luojia;

namespace {

void print_matching(const StereoReport& r, const StereoOptions& o) {
  const std::int64_t tile = o.tile;
  if (!o.model.empty()) {
    std::cerr << "luojia-stereo: " << r.counts.matched << " pixels with a disparity from " << o.model << "; " << r.tiles << " tile"
              << (r.tiles == 1 ? "" : "s") << " of " << tile << " px, halo " << r.halo.left << " px; the network reaches " << r.reach
              << " px\n";
    return;
  }
  const auto share = [&](std::int64_t n) { return r.counts.valid ? 100.0 * static_cast<double>(n) / static_cast<double>(r.counts.valid) : 0.0; };
  std::cerr << "luojia-stereo: " << r.counts.matched << " of " << r.counts.valid << " pixels matched (" << share(r.counts.matched)
            << "%); refused: " << r.counts.not_unique << " not unique, " << r.counts.inconsistent << " left-right inconsistent, "
            << r.counts.speckles << " speckles; " << r.tiles << " tile" << (r.tiles == 1 ? "" : "s") << " of " << tile << " px, halo "
            << r.halo.left << "/" << r.halo.top << "/" << r.halo.right << "/" << r.halo.bottom << " px (left/top/right/bottom)\n";
}

// Said even with -q: a range that cuts the scene's disparities is a wrong result, not noise.
void warn_range(const StereoReport& r, int min_disparity, int max_disparity) {
  if (r.counts.matched > 0 && r.counts.at_range_end * 100 > r.counts.matched)
    std::cerr << "luojia-stereo: warning: " << r.counts.at_range_end << " matches lie at an end of the disparity range [" << min_disparity
              << ", " << max_disparity << "]: the scene's disparities may reach beyond it; widen the range\n";
}

// Every flag, into the options of both runs (which flags a run takes is checked after parsing).
struct StereoFlags {
  std::string left, right, output, min_disparity, max_disparity, min_height, max_height;
  bool rectified = false, no_subpixel = false, no_fill = false;
  StereoOptions o;
  DsmOptions dsm;
  double nodata = o.nodata;
  cli::CommonFlags common;
  cli::KernelFlags kernel_flags;

  void add_to(cli::ArgParser& args) {
    common.shards = false;
    common.ortho_views_allowed = false;
    args.positional("LEFT", "The left image of the pair", left, cli::PathRole::InputRaster);
    args.positional("RIGHT", "The right image", right, cli::PathRole::InputRaster);
    args.positional("OUTPUT", "The DSM (RPC pairs) or the disparity (--rectified) to write", output, cli::PathRole::OutputRaster);
    args.flag("--rectified", "The pair is already epipolar, same size (aerial pairs, rectified satellite pairs)", rectified);
    args.value("--min-disparity", "D", "Smallest disparity searched (default: 0 with --rectified, else from the heights)", min_disparity);
    args.value("--max-disparity", "D", "Largest disparity searched (default: 63 with --rectified, else from the heights)", max_disparity);
    args.value("--dem", "PATH", "RPC pairs: a DEM of the scene (SRTM-like) giving the height range", dsm.dem).role(cli::PathRole::InputRaster);
    args.value("--min-height", "H", "RPC pairs: lowest height of the scene, metres above the ellipsoid", min_height);
    args.value("--max-height", "H", "RPC pairs: highest height of the scene", max_height);
    args.value("--height-margin", "M", "RPC pairs with --dem: metres above the DEM searched, for buildings (default 50)", dsm.height_margin);
    args.value("--max-disparity-span", "N", "RPC pairs: widest disparity range searched; wider is cut with a warning (default 256)",
               dsm.max_disparity_span);
    args.value("--t_srs", "CRS", "RPC pairs: the DSM's CRS (EPSG:32650, WKT, ...; default the scene's UTM zone); a compound CRS (EPSG:32650+5773) puts the heights on its geoid", dsm.crs).fills("crs");
    args.value("--resolution", "R", "RPC pairs: the DSM's cell size in its CRS units (default the left image's pixel on the ground)",
               dsm.resolution);
    args.value("--reduction", "median|max|mean|min", "RPC pairs: how a DSM cell reduces its points' heights (default median)",
               dsm.reduction);
    args.value("--disparity", "PATH", "RPC pairs: also write the disparity on the epipolar grid", dsm.disparity).role(cli::PathRole::OutputRaster);
    args.value("--point-cloud", "PATH", "RPC pairs: also write every point on the DSM's CRS: .las (LAS 1.4), or a 3-D point layer (.fgb, .gpkg, ...)",
               dsm.point_cloud).role(cli::PathRole::OutputVector);
    args.value("--max-residual", "PX", "RPC pairs: drop points whose lines of sight miss by more (pixels, default 1)",
               dsm.max_intersection_residual)
        .fills("max_intersection_residual");
    args.flag("--no-fill", "RPC pairs: leave cells without points of their own empty (default: a cell whose neighbours hold "
                           "points in 3 of 8 takes theirs, with 0 in band 2)", no_fill)
        .fills("fill_holes");
    args.value("--model", "MODEL.onnx", "A learned matcher (two inputs, left and right; one output, the disparity from 0)", o.model)
        .role(cli::PathRole::InputFile);
    kernel_flags.add_to(args);  // with --model
    args.value("--left-band", "B", "Band of LEFT to match (default 1)", o.left_band).range(1, 1e9);
    args.value("--right-band", "B", "Band of RIGHT to match (default 1)", o.right_band).range(1, 1e9);
    args.value("--paths", "8|4", "Aggregation paths: 8 (every 45 degrees) or 4 (rows and columns)", o.match.paths).choices({"8", "4"});
    args.value("--path-length", "N", "Paths restart every N pixels (the matcher's reach; default 32; longer fills broad textureless areas better)",
               o.match.path_length);
    args.value("--p1", "P", "Penalty of a one-pixel disparity step (census bits; default 10)", o.match.p1);
    args.value("--p2", "P", "Penalty of a larger disparity step (default 120)", o.match.p2);
    args.value("--uniqueness", "R", "Refuse a match when another disparity costs within this fraction of it (default 0.10)",
               o.match.uniqueness);
    args.value("--lr-max-diff", "D", "Largest left-right disagreement kept, in pixels; -1 turns the check off (default 1)",
               o.match.lr_max_diff);
    args.value("--speckle-size", "N", "Remove regions of similar disparity smaller than N pixels; 0 off (default 100)",
               o.match.speckle_size);
    args.value("--speckle-range", "D", "Largest disparity step within one speckle region (default 1)", o.match.speckle_range);
    args.flag("--no-subpixel", "Integer disparities", no_subpixel).fills("subpixel");
    args.value("--nodata", "VALUE", "--rectified: nodata of the products (default -9999)", nodata);
    args.value("--depth", "PATH", "--rectified: also write depth = focal * baseline / (disparity + offset), Float32", o.depth)
        .role(cli::PathRole::OutputRaster);
    args.value("--baseline", "B", "With --depth: the baseline (depth comes in its unit)", o.baseline);
    args.value("--focal", "F", "With --depth: the focal length in pixels", o.focal);
    args.value("--disparity-offset", "X", "With --depth: the principal points' x difference (Middlebury's doffs; default 0)",
               o.disparity_offset);
    common.add_to(args);
  }
};

// An epipolar pair: the disparity on LEFT's grid (and depth).
int run_rectified(StereoFlags& f) {
  StereoOptions& o = f.o;
  const DsmOptions& dsm = f.dsm;
  for (const auto& [given, flag] : {std::pair{!dsm.dem.empty(), "--dem"}, {!f.min_height.empty(), "--min-height"},
                                    {!f.max_height.empty(), "--max-height"}, {!dsm.crs.empty(), "--t_srs"},
                                    {dsm.resolution != 0.0, "--resolution"}, {!dsm.disparity.empty(), "--disparity"},
                                    {!dsm.point_cloud.empty(), "--point-cloud"},
                                    {dsm.reduction != "median", "--reduction"}, {dsm.height_margin != 50.0, "--height-margin"},
                                    {dsm.max_disparity_span != 256, "--max-disparity-span"},
                                    {dsm.max_intersection_residual != 1.0, "--max-residual"}, {f.no_fill, "--no-fill"}})
    if (given) throw cli::UsageError(std::string(flag) + " is for pairs with RPCs, not with --rectified");
  if (!f.min_disparity.empty()) o.match.min_disparity = cli::parse_int(f.min_disparity, "--min-disparity");
  if (!f.max_disparity.empty()) o.match.max_disparity = cli::parse_int(f.max_disparity, "--max-disparity");
  o.nodata = static_cast<float>(f.nodata);
  if (static_cast<double>(o.nodata) != f.nodata) throw cli::UsageError("--nodata must be a Float32 value");
  cli::check_paths({f.left, f.right}, {o.model}, {f.output, o.depth});
  const StereoReport r = match_stereo(f.left, f.right, f.output, o);
  if (!f.common.quiet) print_matching(r, o);
  warn_range(r, o.match.min_disparity, o.match.max_disparity);
  if (!f.common.quiet)
    for (const auto& path : r.written) std::cout << path << "\n";
  return 0;
}

// A pair with RPCs: the DSM.
int run_dsm(StereoFlags& f) {
  const StereoOptions& o = f.o;
  DsmOptions& dsm = f.dsm;
  for (const auto& [given, flag] : {std::pair{!o.depth.empty(), "--depth"}, {o.baseline != 0.0, "--baseline"}, {o.focal != 0.0, "--focal"},
                                    {o.disparity_offset != 0.0, "--disparity-offset"}, {f.nodata != -9999.0, "--nodata"}})
    if (given) throw cli::UsageError(std::string(flag) + " is for epipolar pairs (--rectified); a pair with RPCs gives a DSM");
  if (!f.min_disparity.empty()) dsm.min_disparity = cli::parse_int(f.min_disparity, "--min-disparity");
  if (!f.max_disparity.empty()) dsm.max_disparity = cli::parse_int(f.max_disparity, "--max-disparity");
  if (!f.min_height.empty()) dsm.min_height = cli::parse_double(f.min_height, "--min-height");
  if (!f.max_height.empty()) dsm.max_height = cli::parse_double(f.max_height, "--max-height");
  dsm.stereo = o;
  cli::check_paths({f.left, f.right}, {dsm.dem, o.model}, {f.output, dsm.disparity, dsm.point_cloud}, true);
  const DsmReport r = stereo_dsm(f.left, f.right, f.output, dsm);
  if (!f.common.quiet) {
    std::cerr << "luojia-stereo: epipolar grid " << r.epipolar_width << "x" << r.epipolar_height << ", residual vertical disparity "
              << r.vertical_rms << " px RMS (" << r.vertical_max << " max); heights " << r.min_height << " to " << r.max_height
              << " m, disparities " << r.min_disparity << " to " << r.max_disparity << " (" << r.disparity_per_metre << " px/m"
              << (r.surveyed ? ", surveyed on a 1/" + std::to_string(r.survey_factor) + " overview: " + std::to_string(r.survey_matches) + " matches" : "")
              << ")\n";
    print_matching(r.matching, o);
    std::cerr << "luojia-stereo: " << r.points << " points (" << r.dropped_points << " dropped), DSM " << r.width << "x" << r.height
              << ", " << r.cells << " cells with a height (" << r.filled_cells << " from their neighbours' points)\n";
  }
  if (r.survey_factor > 0 && !r.surveyed)
    std::cerr << "luojia-stereo: warning: too few matches (" << r.survey_matches << ") on a 1/" << r.survey_factor
              << " overview to bound the disparities: the RPCs' whole height range is searched; give --dem or --min-height/--max-height\n";
  if (r.matcher_short)
    std::cerr << "luojia-stereo: warning: the heights need disparities " << r.min_disparity << " to " << r.max_disparity << ", but "
              << o.model << " reaches " << r.matching.reach << " px: it searches fewer and cannot find them all\n";
  if (r.range_capped)
    std::cerr << "luojia-stereo: warning: the heights' disparity range was wider than --max-disparity-span and was cut to [" << r.min_disparity
              << ", " << r.max_disparity << "]; give --dem or --min-height/--max-height\n";
  if (r.vertical_max > 1.0)
    std::cerr << "luojia-stereo: warning: the epipolar rectification leaves up to " << r.vertical_max
              << " px of vertical disparity (the views' epipolar curves differ between the heights searched); matches degrade\n";
  warn_range(r.matching, r.min_disparity, r.max_disparity);
  if (!f.common.quiet)
    for (const auto& path : r.written) std::cout << path << "\n";
  return 0;
}

int stereo_main(int argc, char** argv) {
  cli::ArgParser args("luojia-stereo", "[options] LEFT RIGHT OUTPUT",
                      "Dense stereo: census costs, semi-global matching along paths of bounded length, subpixel\n"
                      "parabola, uniqueness and left-right checks, speckle removal; tiles get the matcher's halo, so\n"
                      "results equal a whole-scene match. A pair with RPCs (GeoTIFF tags, .RPB, _RPC.TXT) is rectified\n"
                      "onto one epipolar grid, matched, triangulated through both RPCs and gridded: OUTPUT is a DSM\n"
                      "(Float32 ellipsoidal heights, band 2 points per cell, band 3 their spread) in the scene's UTM\n"
                      "zone. With --rectified the pair is epipolar already: OUTPUT is the disparity on LEFT's grid\n"
                      "(right pixel x - d matches left pixel x), with depth when asked.");
  StereoFlags f;
  f.add_to(args);
  if (!args.parse(argc, argv)) return 0;
  f.o.match.subpixel = !f.no_subpixel;
  f.dsm.fill_holes = !f.no_fill;
  f.kernel_flags.apply(f.o.load);
  f.o.tile = f.common.tile;
  f.o.output = f.common.output();
  f.o.stream = f.common.stream();
  int progress_state = -1;
  f.o.stream.progress_data = &progress_state;
  return f.rectified ? run_rectified(f) : run_dsm(f);
}

}  // namespace

int main(int argc, char** argv) { return cli::run("luojia-stereo", [&] { return stereo_main(argc, argv); }); }
