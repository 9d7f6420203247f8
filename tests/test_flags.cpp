// Every flag of every program reaches what it controls. For each option a program declares
// (its --json-usage, the same table that parses argv), a probe runs the program with the flag and
// without it, and something a user can observe must differ: the exit status, stdout, stderr or
// the files written. A flag that is parsed and then dropped leaves both runs equal and fails here;
// a flag without a probe fails too, so a new flag arrives with its probe.
//
// Flags that by design change no product (--tile, --threads, --mem, --halo on an exact model) are
// observed through the summary on stderr and GDAL's debug channel (CPL_DEBUG=luojia), where the
// engine says what the thread count and the memory budget became.
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "rpc_cases.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>

using namespace luojia::test;
namespace fs = std::filesystem;

namespace {

using Args = std::vector<std::string>;

struct Probe {
  std::string flag;                // the option's last name in --json-usage
  Args with;                       // added before the base arguments
  Args without = {};               // the run it is compared with
  std::optional<Args> base = {};   // another base for both runs
  bool output_exists = false;      // both runs find OUTPUT already there
};

struct ProgramProbes {
  std::string exe;
  Args base;                       // "{out}" is the run's own folder; OUTPUT is {out}/<output>
  std::string output;
  std::vector<Probe> probes;
};

// The inputs every probe reads, made once: rasters on a UTM grid, a polygon, a mask, a second
// date on another grid, shards for luojia-merge, scenes for luojia-batch.
struct Fixtures {
  TempDir dir;
  std::map<std::string, std::string> paths;

  Fixtures() {
    RasterSpec rgb;
    rgb.width = 72;
    rgb.height = 60;
    rgb.bands = 3;
    rgb.type = GDT_Byte;
    rgb.epsg = 32650;
    rgb.geotransform[1] = 2.0;
    rgb.geotransform[5] = -2.0;
    const auto texture = [](int seed) {
      return [seed](int b, int x, int y) { return std::floor(255.0 * hash01(b, x / 3, y / 2, seed) * 0.6 + 40.0 * ((x + y) % 5)); };
    };
    make_raster(paths["rgb"] = dir.file("rgb.tif"), rgb, texture(1));
    make_raster(paths["rgb2"] = dir.file("rgb2.tif"), rgb, texture(2));
    // A stereo pair: the left view is the right one seen 3 pixels further (6 on a block).
    const auto view = [](int shift_x) {
      return [shift_x](int b, int x, int y) {
        const int d = shift_x * ((x >= 30 && x < 45 && y >= 20 && y < 40) ? 2 : 1);
        return std::floor(200.0 * hash01(b, (x - d) / 2, y / 2, 9) + 50.0 * hash01(b, x - d, y, 10));
      };
    };
    // A pair with RPCs over a surface of known heights, and a DEM under it.
    fs::create_directories(dir.path() / "rpc");
    const RpcScene scene = make_rpc_scene((dir.path() / "rpc").string(), 80);
    paths["rpc_left"] = scene.left;
    paths["rpc_right"] = scene.right;
    RasterSpec dem;
    dem.width = dem.height = 20;
    dem.epsg = 4326;
    dem.geotransform[0] = 114.345;
    dem.geotransform[1] = 0.0005;
    dem.geotransform[3] = 30.535;
    dem.geotransform[5] = -0.0005;
    make_raster(paths["dem"] = dir.file("dem.tif"), dem, [](int, int x, int) { return 28.0 + 0.2 * x; });
    make_raster(paths["stereo_left"] = dir.file("stereo_left.tif"), rgb, view(3));
    make_raster(paths["stereo_right"] = dir.file("stereo_right.tif"), rgb, view(0));
    RasterSpec shifted = rgb;
    shifted.geotransform[0] += 3.0;  // 1.5 pixels east: another grid
    make_raster(paths["shifted"] = dir.file("shifted.tif"), shifted, texture(3));
    RasterSpec four = rgb;
    four.bands = 4;
    four.type = GDT_UInt16;
    four.nodata = 0;
    make_raster(paths["four"] = dir.file("four.tif"), four,
                [](int b, int x, int y) { return 1.0 + std::floor(1000.0 * hash01(b, x, y, 4)) * (b + 1); });
    make_raster(paths["scaled"] = dir.file("scaled.tif"), four, [](int b, int x, int y) { return 1.0 + x * 7 + y * (b + 2); });
    {
      std::unique_ptr<GDALDataset> d(GDALDataset::Open(paths["scaled"].c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE));
      REQUIRE(d);
      for (int b = 1; b <= 4; ++b) {
        d->GetRasterBand(b)->SetScale(0.0001);
        d->GetRasterBand(b)->SetOffset(-0.1);
      }
    }
    RasterSpec mask = rgb;
    mask.bands = 1;
    make_raster(paths["mask"] = dir.file("mask.tif"), mask, [](int, int x, int) { return x < 36 ? 1.0 : 0.0; });
    RasterSpec classes = rgb;
    classes.bands = 1;
    make_raster(paths["classes"] = dir.file("classes.tif"), classes, [](int, int x, int y) { return (x / 8 + y / 9) % 3; });
    make_raster(paths["reference"] = dir.file("reference.tif"), classes, [](int, int x, int y) { return (x / 7 + y / 9) % 3; });
    // A polygon over the west half of the rasters (x 500000..500072, y 3999880..4000000).
    const double x0 = rgb.geotransform[0], y0 = rgb.geotransform[3];
    std::ofstream(paths["aoi"] = dir.file("aoi.geojson"))
        << R"({"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32650"}},)"
        << R"("features":[{"type":"Feature","properties":{"class":1,"other":2},"geometry":{"type":"Polygon","coordinates":[[[)"
        << x0 << "," << y0 << "],[" << x0 + 72 << "," << y0 << "],[" << x0 + 72 << "," << y0 - 120 << "],[" << x0 << "," << y0 - 120
        << "],[" << x0 << "," << y0 << "]]]}}]}";
    // luojia-merge's shards: the two halves of an index run.
    for (const std::string k : {"1", "2"}) {
      const ProgramResult r = run_program({kIndex, "-q", "--tile", "32", "--shard", k + "/2", paths["four"],
                                           paths["shard" + k] = dir.file("shard" + k + ".tif"), "--expr", "S=b1+b2"});
      REQUIRE(r.code == 0);
    }
    // luojia-batch's scenes: a 3-band one (b4 missing: its job fails) sorted before a 4-band one.
    fs::create_directories(dir.path() / "scenes");
    fs::copy_file(paths["rgb"], dir.path() / "scenes" / "a.tif");
    fs::copy_file(paths["four"], dir.path() / "scenes" / "b.tif");
    fs::copy_file(paths["four"], dir.path() / "scenes" / "c.tif");
    paths["scenes"] = (dir.path() / "scenes").string();
  }

  static const Fixtures& get() {
    static const Fixtures fixtures;
    return fixtures;
  }

  std::string expand(const std::string& arg, const std::string& out) const {
    if (arg.rfind("{out}", 0) == 0) return out + arg.substr(5);
    if (arg.size() > 2 && arg.front() == '{' && arg.back() == '}')
      if (const auto found = paths.find(arg.substr(1, arg.size() - 2)); found != paths.end()) return found->second;
    return arg;  // luojia-batch's own {input}, {output}
  }
};

// What a user sees of a run: the exit status, both streams (the run's folder spelled {out}) and
// every file in its folder with its bytes.
struct Observed {
  int code = 0;
  std::string out, err;
  std::map<std::string, std::string> files;
  bool operator==(const Observed&) const = default;
};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

Observed observe(const ProgramProbes& program, const Args& extra, const Args& base, bool output_exists) {
  const Fixtures& f = Fixtures::get();
  TempDir run;
  const std::string out = run.path().string();
  if (output_exists) std::ofstream(run.file(program.output)) << "an earlier product\n";
  // The probe's arguments come after the base's (the last of a repeated flag wins), before a "--"
  // that starts luojia-batch's command.
  Args argv{program.exe};
  const auto dashes = std::find(base.begin(), base.end(), "--");
  for (auto a = base.begin(); a != dashes; ++a) argv.push_back(f.expand(*a, out));
  for (const auto& a : extra) argv.push_back(f.expand(a, out));
  for (auto a = dashes; a != base.end(); ++a) argv.push_back(f.expand(*a, out));
  const ProgramResult r = run_program(argv);
  Observed o;
  o.code = r.code;
  o.out = replace_all(r.out, out, "{out}");
  o.err = replace_all(r.err, out, "{out}");
  // Temporaries are named after the process (luojia-virtual-stack-PID-0.vrt, out.tif.luojia-PID-0.tmp)
  // and luojia-batch times its jobs: neither is the flag's doing.
  o.err = std::regex_replace(o.err, std::regex("luojia-([a-z]+-)*[0-9]+-"), "luojia-$1PID-");
  o.err = std::regex_replace(o.err, std::regex("done in [0-9.e-]+ s"), "done in T s");
  o.files = snapshot(run.path());
  return o;
}

std::string describe(const Observed& o) {
  std::string files;
  for (const auto& [name, bytes] : o.files) files += " " + name + " (" + std::to_string(bytes.size()) + " B)";
  return "exit " + std::to_string(o.code) + ", files:" + files + "\nstdout: " + o.out + "\nstderr: " + o.err;
}

// The debug channel on for the probes' children: the engine's line on threads and memory.
struct DebugChannel {
  DebugChannel() { setenv("CPL_DEBUG", "luojia", 1); }
  ~DebugChannel() { unsetenv("CPL_DEBUG"); }
};

void check_every_flag(const ProgramProbes& program) {
  DebugChannel debug;
  const ProgramResult usage = run_program({program.exe, "--json-usage"});
  REQUIRE(usage.code == 0);
  const nlohmann::json table = nlohmann::json::parse(usage.out);
  std::map<std::string, std::vector<const Probe*>> probes;
  for (const auto& p : program.probes) probes[p.flag].push_back(&p);

  // The base run is what a user would run, and it is deterministic (else any probe would differ).
  const Observed base = observe(program, {}, program.base, false);
  INFO(program.exe << " " << describe(base));
  CHECK(base == observe(program, {}, program.base, false));

  std::set<std::string> declared;
  for (const auto& option : table.at("options")) {
    const std::string flag = option.at("names").back().get<std::string>();
    declared.insert(flag);
    INFO("flag " << flag);
    const auto found = probes.find(flag);
    if (found == probes.end()) {
      FAIL_CHECK(program.exe << " declares " << flag << " and no probe shows that it reaches the library: add one");
      continue;
    }
    for (const Probe* p : found->second) {
      const Args& b = p->base ? *p->base : program.base;
      const Observed with = observe(program, p->with, b, p->output_exists);
      const Observed without = p->without.empty() && !p->base && !p->output_exists ? base : observe(program, p->without, b, p->output_exists);
      INFO("with: " << describe(with) << "\nwithout: " << describe(without));
      CHECK_FALSE(with == without);
    }
  }
  for (const auto& [flag, list] : probes) {
    INFO("probe for " << flag);
    CHECK(declared.count(flag) == 1);  // a probe of a flag that is gone
  }
}

// Flags every streaming program shares. OUTPUT is {out}/<output>.
std::vector<Probe> common_probes(bool vector_product = false) {
  std::vector<Probe> p{
      {"--overwrite", {"--overwrite"}, {}, {}, true},
      {"--quiet", {"-q"}},
      {"--tile", {"--tile", "32"}},
      {"--threads", {"--threads", "1"}, {"--threads", "2"}},
      {"--mem", {"--mem", "40M"}},
      {"--shard", {"--shard", "1/2", "--tile", "32"}, {"--tile", "32"}},
      {"--ortho", {"--ortho"}},   // the raster is on a map grid already: refused
      {"--dem", {"--dem", "{rgb}"}},  // without --ortho: refused
  };
  if (vector_product) {
    p.push_back({"-of", {"-of", "GPKG"}});
    p.push_back({"-lco", {"-lco", "COORDINATE_PRECISION=1"}});
  } else {
    p.push_back({"-of", {"-of", "COG"}});
    p.push_back({"-co", {"-co", "COMPRESS=DEFLATE"}});
  }
  return p;
}

std::vector<Probe> model_input_probes(bool halo = true) {
  std::vector<Probe> p{
      {"--bands", {"--bands", "3,2,1"}},
      {"--scale", {"--scale", "0.5"}},
      {"--mean", {"--mean", "30"}},
      {"--std", {"--std", "3"}},
  };
  if (halo) p.push_back({"--halo", {"--halo", "1", "--tile", "32"}, {"--tile", "32"}});
  return p;
}

template <typename T>
std::vector<T> operator+(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --isa and --winograd: the debug channel names the kernels a model loaded with (sse2 is refused by
// a native build, and is another instruction set than this CPU's best in a portable one).
std::vector<Probe> kernel_probes(const Args& model = {}) {
  return {{"--isa", model + Args{"--isa", "sse2"}, model}, {"--winograd", model + Args{"--winograd", "off"}, model}};
}

const std::string kData = LUOJIA_TEST_DATA "/";

}  // namespace

TEST_CASE("every flag of luojia-segment reaches the library", "[programs][flags]") {
  const Args vector{"--vector", "{out}/v.geojson"};
  // The logits show any change in the network's input (a class map may not).
  const Args base{"{rgb}", kTasks + "segmentor.onnx", "{out}/out.tif", "--logits", "{out}/l.tif"};
  const Args class_map_only{"{rgb}", kTasks + "segmentor.onnx", "{out}/out.tif"};
  check_every_flag({kSegment, base, "out.tif",
                    model_input_probes() + common_probes() + kernel_probes() +
                        std::vector<Probe>{
                            {"--blend", {"--blend", "--tile", "32"}, {"--tile", "32"}, class_map_only},
                            {"--blend-window", {"--blend", "--tile", "32", "--blend-window", "triangle", "--probabilities", "{out}/p.tif"},
                             {"--blend", "--tile", "32", "--probabilities", "{out}/p.tif"}, class_map_only},
                            {"--tta", {"--tta", "d4"}},
                            {"--aoi", {"--aoi", "{aoi}"}},
                            {"--mask", {"--mask", "{mask}"}},
                            {"--probabilities", {"--probabilities", "{out}/p.tif"}},
                            {"--probabilities-type", {"--probabilities", "{out}/p.tif", "--probabilities-type", "Byte"}, {"--probabilities", "{out}/p.tif"}},
                            {"--logits", {"--logits", "{out}/l.tif"}, {}, class_map_only},
                            {"--confidence", {"--confidence", "{out}/c.tif"}},
                            {"--vector", vector},
                            {"--min-area", vector + Args{"--min-area", "3px"}, vector},
                            {"--simplify", vector + Args{"--simplify", "3"}, vector},
                            {"--threshold", {"--threshold", "0.9"}},
                            {"--regularize", {"--regularize", "2"}},
                        }});
}

TEST_CASE("every flag of luojia-regress and luojia-superres reaches the library", "[programs][flags]") {
  const std::vector<Probe> own{{"--output-scale", {"--output-scale", "2"}}};
  check_every_flag({kRegress, {"{rgb}", kTasks + "regressor.onnx", "{out}/out.tif"}, "out.tif", model_input_probes() + common_probes() + kernel_probes() + own});
  check_every_flag({kSuperres, {"{rgb}", kTasks + "sr_pixelshuffle_x3.onnx", "{out}/out.tif"}, "out.tif",
                    model_input_probes() + common_probes() + kernel_probes() + own});
}

TEST_CASE("every flag of luojia-detect reaches the library", "[programs][flags]") {
  const Args conf{"--conf", "0.01"};
  check_every_flag({kDetect, Args{"{rgb}", kData + "detection/yolo8_obb_tiny.onnx", "{out}/d.geojson"} + conf, "d.geojson",
                    model_input_probes() + common_probes(true) + kernel_probes() +
                        std::vector<Probe>{
                            {"--confidence", {"--conf", "0.2"}},
                            {"--iou", {"--iou", "0.05"}},
                            {"--classes", {"--classes", "1"}},
                            {"--max-det", {"--max-det", "3"}},
                            {"--min-size", {"--min-size", "1000"}},
                            {"--class-agnostic", {"--class-agnostic"}},
                            {"--layout", {"--layout", "yolo8"}},
                            {"--box-reach", {"--box-reach", "40"}},
                            {"--tta", {"--tta", "flips"}},
                            {"--aoi", {"--aoi", "{aoi}"}},
                            {"--mask", {"--mask", "{mask}"}},
                            {"--pixel-boxes", {"--pixel-boxes", "{out}/b.json"}},
                            // Instance polygons (an instance segmenter's).
                            {"--simplify", {"--simplify", "3"}, {}, Args{"{rgb}", kData + "detection/instances/seg_no_neck.onnx", "{out}/d.geojson"} + conf},
                            {"--instance-raster", {"--instance-raster", "{out}/ids.tif"}, {},
                             Args{"{rgb}", kData + "detection/instances/seg_no_neck.onnx", "{out}/d.geojson"} + conf},
                        }});
}

TEST_CASE("every flag of luojia-classify reaches the library", "[programs][flags]") {
  // The classifier takes four bands: --bands names four.
  std::vector<Probe> input = model_input_probes(false);
  input[0].with = {"--bands", "4,3,2,1"};
  // The scores show any change in the network's input (the labels may not).
  const Args labels_only{"{four}", kClassifier, "{out}/out.tif", "--window", "16"};
  check_every_flag({kClassify, {"{four}", kClassifier, "{out}/out.tif", "--window", "16", "--scores", "{out}/s.tif"}, "out.tif",
                    input + common_probes() + kernel_probes() +
                        std::vector<Probe>{
                            {"--window", {"--window", "12"}},
                            {"--stride", {"--stride", "8"}},
                            {"--scores", {"--scores", "{out}/s.tif"}, {}, labels_only},
                        }});
}

TEST_CASE("every flag of luojia-change reaches the library", "[programs][flags]") {
  const std::string siamese = kData + "nn/siamese_change_op17.onnx";
  const Args model{"--model", siamese};
  const Args other_grid{"{rgb}", "{shifted}", "{out}/out.tif"};
  check_every_flag({kChange, {"{rgb}", "{rgb2}", "{out}/out.tif"}, "out.tif",
                    common_probes() + kernel_probes(model) + std::vector<Probe>{
                                          {"--bands", {"--bands", "1,2"}},
                                          {"--model", model},
                                          {"--threshold", {"--threshold", "5"}},
                                          {"--magnitude", {"--magnitude", "{out}/m.tif"}},
                                          {"--align", {"--align"}, {}, other_grid},
                                          {"--resampling", {"--align", "--resampling", "near"}, {"--align"}, other_grid},
                                          {"--probabilities", model + Args{"--probabilities", "{out}/p.tif"}, model},
                                          {"--logits", model + Args{"--logits", "{out}/l.tif"}, model},
                                          {"--confidence", model + Args{"--confidence", "{out}/c.tif"}, model},
                                          {"--vector", {"--vector", "{out}/v.geojson"}},
                                      }});
}

TEST_CASE("every flag of luojia-stereo reaches the library", "[programs][flags][stereo]") {
  const Args depth{"--depth", "{out}/z.tif", "--baseline", "1", "--focal", "100"};
  const Args rpc_pair{"{rpc_left}", "{rpc_right}", "{out}/out.tif", "--speckle-size", "10"};
  const Args rpc = rpc_pair + Args{"--min-height", "20", "--max-height", "65"};
  std::vector<Probe> probes = common_probes();
  // Stereo neither shards nor reads through an orthorectified view: those flags are not declared.
  std::erase_if(probes, [](const Probe& p) { return p.flag == "--shard" || p.flag == "--ortho" || p.flag == "--dem"; });
  probes.insert(probes.end(), {
                                  {"--rectified", {"--rectified"}, {}, Args{"{stereo_left}", "{stereo_right}", "{out}/out.tif"}},
                                  {"--dem", {"--dem", "{dem}"}, {}, rpc_pair},
                                  {"--min-height", {"--min-height", "10"}, {}, rpc},
                                  {"--max-height", {"--max-height", "90"}, {}, rpc},
                                  {"--height-margin", {"--height-margin", "5"}, {}, rpc_pair + Args{"--dem", "{dem}"}},
                                  {"--max-disparity-span", {"--max-disparity-span", "12"}, {}, rpc},
                                  {"--t_srs", {"--t_srs", "EPSG:3857"}, {}, rpc},
                                  {"--resolution", {"--resolution", "2"}, {}, rpc},
                                  {"--reduction", {"--reduction", "max"}, {}, rpc},
                                  {"--disparity", {"--disparity", "{out}/d.tif"}, {}, rpc},
                                  {"--point-cloud", {"--point-cloud", "{out}/cloud.fgb"}, {}, rpc},
                                  {"--max-residual", {"--max-residual", "1e-9"}, {}, rpc},
                                  {"--no-fill", {"--no-fill"}, {}, rpc},
                                  {"--min-disparity", {"--min-disparity", "2"}},
                                  {"--max-disparity", {"--max-disparity", "9"}},
                                  {"--left-band", {"--left-band", "2"}},
                                  {"--right-band", {"--right-band", "3"}},
                                  {"--paths", {"--paths", "4"}},
                                  {"--path-length", {"--path-length", "6"}},
                                  {"--p1", {"--p1", "1"}},
                                  {"--p2", {"--p2", "300"}},
                                  {"--uniqueness", {"--uniqueness", "0.5"}},
                                  {"--lr-max-diff", {"--lr-max-diff", "-1"}},
                                  {"--speckle-size", {"--speckle-size", "400"}},
                                  {"--speckle-range", {"--speckle-range", "0"}},
                                  {"--no-subpixel", {"--no-subpixel"}},
                                  {"--nodata", {"--nodata", "-5"}},
                                  {"--depth", depth},
                                  {"--model", {"--model", kData + "stereo/gcnet_tiny.onnx"}},
                                  {"--baseline", {"--baseline", "2"}, {}, Args{"--rectified", "{stereo_left}", "{stereo_right}", "{out}/out.tif"} + depth},
                                  {"--focal", {"--focal", "50"}, {}, Args{"--rectified", "{stereo_left}", "{stereo_right}", "{out}/out.tif"} + depth},
                                  {"--disparity-offset", {"--disparity-offset", "1"}, {}, Args{"--rectified", "{stereo_left}", "{stereo_right}", "{out}/out.tif"} + depth},
                              });
  check_every_flag({kStereo, {"--rectified", "{stereo_left}", "{stereo_right}", "{out}/out.tif"}, "out.tif",
                    probes + kernel_probes({"--model", kData + "stereo/gcnet_tiny.onnx"})});
}

TEST_CASE("every flag of luojia-index reaches the library", "[programs][flags]") {
  const Args nd{"--index", "NDVI"};
  const Args bands{"--bands", "B=1,G=2,R=3,N=4,S1=4"};
  check_every_flag({kIndex, {"{four}", "{out}/out.tif", "--expr", "S=b1+b2"}, "out.tif",
                    common_probes() +
                        std::vector<Probe>{
                            {"--index", bands + Args{"--index", "NDVI"}, bands},
                            {"--bands", {"--index", "NDVI", "--bands", "R=3,N=4"}, {"--index", "NDVI", "--bands", "R=2,N=4"}},
                            {"--sensor", {"--sensor", "landsat4-7", "--index", "NDVI"}, {"--index", "NDVI"}},
                            {"--const", bands + Args{"--index", "SAVI", "--const", "L=0.2"}, bands + Args{"--index", "SAVI"}},
                            {"--expr", {"--expr", "T=b3"}},
                            {"--nd", {"--nd", "1,2"}},
                            {"--blue", nd + Args{"--red", "3", "--nir", "4", "--blue", "1", "--index", "EVI"}, nd + Args{"--red", "3", "--nir", "4", "--blue", "2", "--index", "EVI"}},
                            {"--green", {"--nir", "4", "--green", "1", "--index", "NDWI"}, {"--nir", "4", "--green", "2", "--index", "NDWI"}},
                            {"--red", nd + Args{"--red", "3", "--nir", "4"}, nd + Args{"--red", "2", "--nir", "4"}},
                            {"--nir", nd + Args{"--red", "3", "--nir", "4"}, nd + Args{"--red", "3", "--nir", "1"}},
                            {"--swir", {"--index", "NDMI", "--nir", "4", "--swir", "2"}, {"--index", "NDMI", "--nir", "4", "--swir", "3"}},
                            {"--savi-l", {"--index", "savi", "--red", "3", "--nir", "4", "--savi-l", "0.1"}, {"--index", "savi", "--red", "3", "--nir", "4"}},
                            {"--nodata", {"--nodata", "-1"}},
                            {"--raw", {"--raw"}, {}, Args{"{scaled}", "{out}/out.tif", "--expr", "S=b1+b2"}},
                            {"--list", {"--list"}},
                            {"--json", {"--list", "--json"}, {"--list"}},
                        }});
}

TEST_CASE("every flag of luojia-assess, luojia-merge, luojia-batch and luojia-info reaches what it controls", "[programs][flags]") {
  const Args vector_reference{"{classes}", "{aoi}"};
  check_every_flag({kAssess, {"{classes}", "{reference}"}, "",
                    {
                        {"--field", {"--field", "other"}, {}, vector_reference},
                        {"--ignore", {"--ignore", "1"}},
                        {"--remap", {"--remap", "2=1"}},
                        {"--surface", {"--surface", "disparity"}},
                        {"--json", {"--json"}},
                        {"--csv", {"--csv"}},
                        {"--quiet", {"-q"}},
                    }});
  check_every_flag({kMerge, {"{shard1}", "{shard2}", "{out}/out.tif"}, "out.tif",
                    {
                        {"-of", {"-of", "COG"}},
                        {"-co", {"-co", "COMPRESS=DEFLATE"}},
                        {"--overwrite", {"--overwrite"}, {}, {}, true},
                        {"--quiet", {"-q"}},
                        {"--mem", {"--mem", "40M"}},
                        // Raster shards: refused (pixel boxes are for detection shards).
                        {"--pixel-boxes", {"--pixel-boxes", "{out}/b.json"}},
                    }});
  // The job's commands follow "--": the probes go before it.
  check_every_flag({kBatch, {"{scenes}", "{out}", "--", kIndex, "-q", "{input}", "{output}", "--expr", "S=b4"}, "",
                    {
                        {"--suffix", {"--suffix", "_s.tif"}},
                        {"--shard", {"--shard", "1/2"}},
                        {"--stop-on-error", {"--stop-on-error"}},
                        {"--quiet", {"-q"}},
                    }});
  check_every_flag({kInfo, {"{rgb}"}, "",
                    {
                        {"--operators", {"--operators"}, {}, Args{}},
                        {"--json", {"--json"}},
                        {"--check", {"--check"}, {}, Args{kClassifier}},
                        {"--describe", {"--describe", "luojia-segment"}, {}, Args{}},
                    }});
}
