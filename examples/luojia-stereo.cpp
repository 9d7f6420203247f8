// luojia-stereo: an epipolar pair in, disparity (and depth) on the left image's grid out.
#include "cli/cli.hpp"

#include <luojia/error.hpp>
#include <luojia/products/stereo.hpp>

#include <iostream>

using namespace luojia;

namespace {

int stereo_main(int argc, char** argv) {
  cli::ArgParser args("luojia-stereo", "[options] --rectified LEFT RIGHT DISPARITY",
                      "Matches an epipolar (rectified) pair: census costs, semi-global matching along paths of\n"
                      "bounded length, subpixel parabola, uniqueness and left-right checks, speckle removal.\n"
                      "Right pixel x - d matches left pixel x. DISPARITY (Float32, nodata where no match) carries\n"
                      "LEFT's georeferencing; tiles get the matcher's halo, so it equals a whole-scene match.");
  std::string left, right, output;
  bool rectified = false, no_subpixel = false;
  StereoOptions o;
  double nodata = o.nodata;
  cli::CommonFlags common;
  common.shards = false;
  common.ortho_views_allowed = false;
  args.positional("LEFT", "The left image of the pair", left, cli::PathRole::InputRaster);
  args.positional("RIGHT", "The right image, same size, rows on the same epipolar lines", right, cli::PathRole::InputRaster);
  args.positional("DISPARITY", "The disparity to write", output, cli::PathRole::OutputRaster);
  args.flag("--rectified", "The pair is already epipolar (aerial pairs, rectified satellite pairs)", rectified);
  args.value("--min-disparity", "D", "Smallest disparity searched (default 0)", o.match.min_disparity);
  args.value("--max-disparity", "D", "Largest disparity searched (default 63)", o.match.max_disparity);
  args.value("--left-band", "B", "Band of LEFT to match (default 1)", o.left_band).range(1, 1e9);
  args.value("--right-band", "B", "Band of RIGHT to match (default 1)", o.right_band).range(1, 1e9);
  args.value("--paths", "8|4", "Aggregation paths: 8 (every 45 degrees) or 4 (rows and columns)", o.match.paths).choices({"8", "4"});
  args.value("--path-length", "N", "Paths restart every N pixels (the matcher's reach; default 32; longer fills broad textureless areas better)", o.match.path_length);
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
  args.value("--nodata", "VALUE", "Nodata of the products (default -9999)", nodata);
  args.value("--depth", "PATH", "Also write depth = focal * baseline / (disparity + offset), Float32", o.depth)
      .role(cli::PathRole::OutputRaster);
  args.value("--baseline", "B", "With --depth: the baseline (depth comes in its unit)", o.baseline);
  args.value("--focal", "F", "With --depth: the focal length in pixels", o.focal);
  args.value("--disparity-offset", "X", "With --depth: the principal points' x difference (Middlebury's doffs; default 0)",
             o.disparity_offset);
  common.add_to(args);
  if (!args.parse(argc, argv)) return 0;
  if (!rectified)
    throw cli::UsageError("give an epipolar pair with --rectified: rectification of RPC pairs is not built yet");
  o.match.subpixel = !no_subpixel;
  o.nodata = static_cast<float>(nodata);
  if (static_cast<double>(o.nodata) != nodata) throw cli::UsageError("--nodata must be a Float32 value");
  o.tile = common.tile;
  o.output = common.output();
  o.stream = common.stream();
  int progress_state = -1;
  o.stream.progress_data = &progress_state;
  cli::check_paths({left, right}, {}, {output, o.depth});
  const StereoReport r = match_stereo(left, right, output, o);
  if (!common.quiet) {
    const auto share = [&](std::int64_t n) { return r.counts.valid ? 100.0 * static_cast<double>(n) / static_cast<double>(r.counts.valid) : 0.0; };
    std::cerr << "luojia-stereo: " << r.counts.matched << " of " << r.counts.valid << " pixels matched (" << share(r.counts.matched)
              << "%); refused: " << r.counts.not_unique << " not unique, " << r.counts.inconsistent << " left-right inconsistent, "
              << r.counts.speckles << " speckles; " << r.tiles << " tile" << (r.tiles == 1 ? "" : "s") << " of " << o.tile
              << " px, halo " << r.halo.left << "/" << r.halo.top << "/" << r.halo.right << "/" << r.halo.bottom
              << " px (left/top/right/bottom)\n";
  }
  // Said even with -q: a range that cuts the scene's disparities is a wrong result, not noise.
  if (r.counts.matched > 0 && r.counts.at_range_end * 100 > r.counts.matched)
    std::cerr << "luojia-stereo: warning: " << r.counts.at_range_end << " matches lie at an end of the disparity range ["
              << o.match.min_disparity << ", " << o.match.max_disparity
              << "]: the scene's disparities may reach beyond it; widen --min-disparity/--max-disparity\n";
  if (!common.quiet)
    for (const auto& path : r.written) std::cout << path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return cli::run("luojia-stereo", [&] { return stereo_main(argc, argv); }); }
