// The programs as a user runs them: exit codes, one-line errors, nothing left behind.
#include "program_paths.hpp"
#include "program_runner.hpp"
#include "support.hpp"

#include <luojia/nn/layer_registry.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using luojia::test::TempDir;
using namespace luojia::test;

namespace {

// The command split at spaces (no path or argument here holds one), run as a user runs it.
ProgramResult run(const std::string& command) {
  std::vector<std::string> argv;
  std::istringstream words(command);
  for (std::string word; words >> word;) argv.push_back(word);
  return run_program(argv);
}

std::pair<int, int> Raster_size(const std::string& path) {
  GDALAllRegister();
  GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_RASTER);
  if (!ds) return {0, 0};
  const std::pair<int, int> size{ds->GetRasterXSize(), ds->GetRasterYSize()};
  GDALClose(ds);
  return size;
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::string four_band(const TempDir& dir, const std::string& name = "in.tif") {
  luojia::test::RasterSpec spec;
  spec.width = 70;
  spec.height = 50;
  spec.bands = 4;
  spec.type = GDT_UInt16;
  spec.nodata = 0;
  const std::string path = dir.file(name);
  luojia::test::make_raster(path, spec, [](int b, int x, int y) { return 1 + b * 100 + (x + y) % 50; });
  return path;
}

const std::string kNn = LUOJIA_TEST_DATA "/nn/";

}  // namespace

TEST_CASE("luojia-index writes NDVI with a progress bar", "[programs]") {
  TempDir dir;
  const std::string in = four_band(dir);
  const ProgramResult r = run(kIndex + " " + in + " " + dir.file("ndvi.tif") + " --index ndvi --red 3 --nir 4");
  CHECK(r.code == 0);
  CHECK(r.err.find("0...10...20...30...40...50...60...70...80...90...100 - done.") != std::string::npos);
  const auto ndvi = luojia::test::read_band(dir.file("ndvi.tif"), 1);
  CHECK(ndvi[0] == Approx((301.0 - 201.0) / (301.0 + 201.0)));
  const ProgramResult quiet = run(kIndex + " -q " + in + " " + dir.file("two.tif") +
                                    " --index ndvi,ndwi --green 2 --red 3 --nir 4 --nd 4,1 -co COMPRESS=DEFLATE --threads 1 --mem 64M --tile 16");
  CHECK(quiet.code == 0);
  CHECK(quiet.err.empty());
  const ProgramResult info = run(kInfo + " --json " + dir.file("two.tif"));
  CHECK(info.code == 0);
  CHECK(info.out.find("\"description\": \"ND(4,1)\"") != std::string::npos);
  CHECK(info.out.find("\"epsg\": 32618") != std::string::npos);
}

TEST_CASE("bad input: one line, the right exit code, nothing left behind", "[programs][errors]") {
  TempDir dir;
  const std::string in = four_band(dir);
  const std::string input_bytes = luojia::test::read_file(in);
  std::ofstream(dir.file("text.tif")) << "not a raster\n";
  std::ofstream(dir.file("zero.tif")).close();
  const std::string cut = dir.file("cut.tif");
  std::ofstream(cut, std::ios::binary).write(input_bytes.data(), static_cast<std::streamsize>(input_bytes.size() / 3));
  {
    luojia::test::RasterSpec spec;
    spec.type = GDT_CFloat32;
    spec.bands = 4;
    luojia::test::make_raster(dir.file("complex.tif"), spec, [](int, int x, int) { return x; });
  }
  std::ofstream(dir.file("exists.tif")) << "keep me";
  const std::string out = dir.file("out.tif");
  const std::string ndvi = " --index ndvi --red 3 --nir 4";

  struct Case {
    std::string name;
    std::string args;
    int code;
    std::string needle;  // part of the error line
  };
  const std::vector<Case> cases{
      {"missing input", dir.file("nope.tif") + " " + out + ndvi, 1, "nope.tif: no such file"},
      {"zero-byte input", dir.file("zero.tif") + " " + out + ndvi, 1, "zero.tif: empty file"},
      {"text named .tif", dir.file("text.tif") + " " + out + ndvi, 1, "text.tif: not a raster"},
      {"truncated GeoTIFF", cut + " " + out + ndvi, 1, "cut.tif"},
      {"band out of range", in + " " + out + " --index ndvi --red 3 --nir 9", 1, "band 9 is out of range"},
      {"complex band", dir.file("complex.tif") + " " + out + ndvi, 1, "complex data type CFloat32"},
      {"missing output folder", in + " " + dir.file("no/dir/out.tif") + ndvi, 1, "does not exist"},
      {"unwritable output folder", in + " /proc/luojia.tif" + ndvi, 1, "cannot create output in /proc"},
      {"output exists", in + " " + dir.file("exists.tif") + ndvi, 1, "exists.tif: output already exists"},
      {"bad -co", in + " " + out + ndvi + " -co COMPRESS=NOPE", 1, "invalid creation option"},
      {"-co without =", in + " " + out + ndvi + " -co TILED", 1, "not KEY=VALUE"},
      {"unknown format", in + " " + out + ndvi + " -of NOPE", 1, "unknown raster output format 'NOPE'"},
      {"missing role", in + " " + out + " --index ndvi --red 3", 2, "which NDVI needs: give --bands N=BAND"},
      {"no arguments", "", 2, "missing INPUT"},
      {"unknown option", in + " " + out + ndvi + " --frobnicate", 2, "unknown option --frobnicate"},
      {"bad number", in + " " + out + ndvi + " --threads two", 2, "--threads expects an integer"},
      {"bad memory", in + " " + out + ndvi + " --mem lots", 2, "--mem"},
      {"unknown index", in + " " + out + " --index ndxi --red 3 --nir 4", 2, "'ndxi' is not in the catalogue"},
      {"no index", in + " " + out + " --red 3 --nir 4", 2, "no index requested"},
      {"tiny memory", in + " " + out + ndvi + " --mem 1M --tile 4096", 1, "too small"},
  };
  for (const auto& c : cases) {
    INFO(c.name << ": " << c.args);
    const ProgramResult r = run(kIndex + " -q " + c.args);
    CHECK(r.code == c.code);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("luojia-index: error: ", 0) == 0);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
    for (const auto& name : dir.entries()) CHECK(name.find(".luojia-") == std::string::npos);
  }
  CHECK(luojia::test::read_file(in) == input_bytes);
  CHECK(luojia::test::read_file(dir.file("exists.tif")) == "keep me");

  const ProgramResult info = run(kInfo + " " + dir.file("text.tif"));
  CHECK(info.code == 1);
  CHECK(lines(info.err) == 1);
  CHECK(info.err.rfind("luojia-info: error: ", 0) == 0);
}

TEST_CASE("luojia-segment writes a COG class map with overviews, and reports bad input in one line", "[programs][segment]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 300;
  spec.height = 260;
  spec.bands = 4;
  spec.type = GDT_Float32;
  luojia::test::make_raster(dir.file("in.tif"), spec, [](int b, int x, int y) { return std::sin(x / (9.0 + b)) * std::cos(y / 7.0); });
  const std::string in = dir.file("in.tif");
  const ProgramResult ok = run(kSegment + " -of COG -co COMPRESS=DEFLATE -co OVERVIEW_COUNT=2 --tile 128 " + in + " " + kNn +
                                 "unet_op17.onnx " + dir.file("classes.tif") + " --probabilities " + dir.file("p.tif") +
                                 " --vector " + dir.file("v.geojson"));
  CHECK(ok.code == 0);
  CHECK(ok.out == dir.file("classes.tif") + "\n" + dir.file("p.tif") + "\n" + dir.file("v.geojson") + "\n");
  CHECK(ok.err.find("halo") != std::string::npos);
  GDALAllRegister();
  GDALDataset* ds = GDALDataset::Open(dir.file("classes.tif").c_str(), GDAL_OF_RASTER);
  REQUIRE(ds);
  CHECK(std::string(ds->GetMetadataItem("LAYOUT", "IMAGE_STRUCTURE")) == "COG");
  CHECK(ds->GetRasterBand(1)->GetOverviewCount() == 2);
  GDALClose(ds);

  const std::string out = dir.file("out.tif");
  std::ofstream(dir.file("junk.onnx")) << "not a model";
  struct Case {
    std::string args;
    int code;
    std::string needle;
  };
  const std::vector<Case> cases{
      {in + " " + dir.file("nope.onnx") + " " + out, 1, "nope.onnx: no such file"},
      {in + " " + dir.file("junk.onnx") + " " + out, 1, "junk.onnx: not an ONNX model"},
      {in + " " + kNn + "misc_ops_op17.onnx " + out, 1, "takes 3 bands and the raster has 4; choose them with --bands"},
      {in + " " + kNn + "deeplab_op17.onnx " + out + " --tile 64", 1, "not exactly tileable"},
      {in + " " + kNn + "unet_op17.onnx " + out + " --bands 1,2,9,4", 1, "needs band 9"},
      {in + " " + kNn + "unet_op17.onnx " + out + " --tta d8", 2, "--tta takes one of none, d4, not 'd8'"},
      {in + " " + kNn + "unet_op17.onnx " + out + " --vector " + dir.file("v.txt"), 1, "vector outputs are"},
      {in + " " + kNn + "unet_op17.onnx " + dir.file("classes.tif"), 1, "output already exists"},
      {in + " " + kNn + "unet_op17.onnx", 2, "missing OUTPUT"},
  };
  for (const auto& c : cases) {
    INFO(c.args);
    const ProgramResult r = run(kSegment + " -q " + c.args);
    CHECK(r.code == c.code);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("luojia-segment: error: ", 0) == 0);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
  }
}

TEST_CASE("luojia-classify, luojia-change and luojia-assess: results, and bad input in one line", "[programs]") {
  TempDir dir;
  const std::string a = four_band(dir, "a.tif"), b = four_band(dir, "b.tif");
  {
    luojia::test::RasterSpec spec;
    spec.width = 50;
    spec.height = 50;
    spec.bands = 4;
    luojia::test::make_raster(dir.file("other_grid.tif"), spec, [](int, int x, int) { return x; });
  }
  const ProgramResult change = run(kChange + " -q " + a + " " + b + " " + dir.file("change.tif") + " --threshold 5");
  CHECK(change.code == 0);
  CHECK(luojia::test::read_band(dir.file("change.tif"), 1)[0] == 0);  // identical dates: no change
  const ProgramResult assess = run(kAssess + " --json " + dir.file("change.tif") + " " + dir.file("change.tif"));
  CHECK(assess.code == 0);
  CHECK(nlohmann::json::parse(assess.out)["overall_accuracy"] == 1.0);
  const ProgramResult classify = run(kClassify + " -q " + a + " " + kNn + "resnet_classifier_op17.onnx " + dir.file("labels.tif") +
                                       " --window 16 --stride 16");
  CHECK(classify.code == 0);
  CHECK(Raster_size(dir.file("labels.tif")) == std::pair<int, int>{5, 4});

  const std::string out = dir.file("out.tif");
  struct Case {
    std::string program, args;
    int code;
    std::string needle;
  };
  const std::vector<Case> cases{
      {kChange, a + " " + dir.file("other_grid.tif") + " " + out, 1, "not on one grid: sizes differ"},
      {kChange, a + " " + dir.file("nope.tif") + " " + out, 1, "nope.tif: no such file"},
      {kChange, a + " " + b + " " + out + " --bands 1,9", 1, "band 9 is out of range"},
      {kChange, a + " " + b + " " + out + " --probabilities " + dir.file("p.tif"), 2, "need --model"},
      {kChange, a + " " + b + " " + out + " --threshold x", 2, "--threshold expects a number"},
      {kClassify, a + " " + kNn + "resnet_classifier_op17.onnx " + out, 1, "give the window with --window"},
      {kClassify, a + " " + kNn + "unet_op17.onnx " + out + " --window 16", 1, "is not (N, classes)"},
      {kClassify, a + " " + dir.file("nope.onnx") + " " + out + " --window 16", 1, "nope.onnx: no such file"},
      {kAssess, dir.file("change.tif") + " " + dir.file("nope.tif"), 1, "nope.tif: no such file"},
      {kAssess, dir.file("change.tif") + " " + dir.file("other_grid.tif"), 1, "they must share the grid"},
      {kAssess, dir.file("change.tif") + " " + dir.file("change.tif") + " --remap 1", 2, "--remap expects FROM=TO"},
      {kAssess, dir.file("change.tif"), 2, "missing REFERENCE"},
  };
  for (const auto& c : cases) {
    INFO(c.program << " " << c.args);
    const ProgramResult r = run(c.program + " -q " + c.args);
    CHECK(r.code == c.code);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(": error: ") != std::string::npos);
    CHECK(r.err.find(c.needle) != std::string::npos);
    CHECK(!std::filesystem::exists(out));
  }
}

TEST_CASE("the README's list of operators is the layer registry's, and luojia-info --operators prints it", "[programs][nn]") {
  const std::string readme = luojia::test::read_file(LUOJIA_SOURCE_DIR "/README.md");
  const std::string begin = "<!-- operators: luojia-info --operators -->\n", end = "\n<!-- end of operators -->";
  const auto from = readme.find(begin), to = readme.find(end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  std::vector<std::string> listed;
  std::string text = readme.substr(from + begin.size(), to - from - begin.size());
  for (std::size_t at = 0; (at = text.find('`', at)) != std::string::npos;) {
    const auto close = text.find('`', at + 1);
    listed.push_back(text.substr(at + 1, close - at - 1));
    at = close + 1;
  }
  std::vector<std::string> registered;
  for (const auto& [domain, op] : luojia::nn::LayerRegistry::with_builtins().operators())
    registered.push_back(domain.empty() ? op : domain + "." + op);
  CHECK(listed == registered);
  const ProgramResult printed = run(kInfo + " --operators");
  CHECK(printed.code == 0);
  std::string joined;
  for (const auto& op : registered) joined += op + "\n";
  CHECK(printed.out == joined);
}
