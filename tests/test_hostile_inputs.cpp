// Every program against bad input, as a table: the right exit code (1, or 2 for usage), one line on
// stderr naming the file and the problem, no output left behind, inputs unchanged, and never a
// crash or a sanitizer report. Odd but processable input (1x1, one row, Int64, NaN and Inf, no
// CRS, a nodata value the type cannot hold) is processed, and what is odd is said.
#include "hostile_models.hpp"
#include "product_compare.hpp"
#include "program_runner.hpp"
#include "program_paths.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <gdal_priv.h>

#include <cmath>
#include <cstdint>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <thread>

namespace fs = std::filesystem;
using namespace luojia::test;

namespace {


std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::string name_of(const std::string& program) { return fs::path(program).filename().string(); }

bool no_sanitizer_report(const ProgramResult& r) {
  return r.err.find("Sanitizer") == std::string::npos && r.err.find("runtime error:") == std::string::npos;
}

// The one-line error contract: "PROGRAM: error: ...", nothing else on stderr but warnings.
void check_clean_error(const ProgramResult& r, const std::string& program, const std::string& needle) {
  CHECK(r.signal == 0);
  CHECK(no_sanitizer_report(r));
  std::vector<std::string> errors;
  std::stringstream in(r.err);
  for (std::string line; std::getline(in, line);)
    if (line.find(": warning: ") == std::string::npos) errors.push_back(line);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind(name_of(program) + ": error: ", 0) == 0);
  CHECK(errors[0].find(needle) != std::string::npos);
}

double small_value(int b, int x, int y) { return 1 + b + (x + 2 * y) % 5; }

// Input rasters in in/, outputs in out/ (which must hold nothing after a failed run).
struct Fixture {
  TempDir dir;
  fs::path in = dir.path() / "in";
  fs::path out = dir.path() / "out";

  Fixture() {
    fs::create_directories(in);
    fs::create_directories(out);
    raster("good.tif", 70, 50, 4, GDT_UInt16, 0.0);
    raster("good_b.tif", 70, 50, 4, GDT_UInt16, 0.0);
    raster("one_by_one.tif", 1, 1, 4, GDT_UInt16, 0.0);
    raster("one_row.tif", 300, 1, 4, GDT_UInt16, 0.0);
    raster("one_column.tif", 1, 300, 4, GDT_UInt16, 0.0);
    raster("int64.tif", 70, 50, 4, GDT_Int64, 0.0);
    {
      RasterSpec spec;
      spec.width = 70;
      spec.height = 50;
      spec.bands = 4;
      spec.epsg = 0;
      make_raster(file("no_crs.tif"), spec, small_value);
      spec.epsg = 32618;
      spec.type = GDT_Byte;
      spec.nodata = -9999.0;
      make_raster(file("nodata_out_of_range.tif"), spec, small_value);
    }
    {
      RasterSpec spec;
      spec.width = 70;
      spec.height = 50;
      spec.bands = 4;
      make_raster(file("nan_inf.tif"), spec, [](int b, int x, int y) {
        if (b == 0 && x == 5 && y == 5) return std::numeric_limits<double>::quiet_NaN();
        if (b == 1 && x == 20 && y == 10) return std::numeric_limits<double>::infinity();
        if (b == 2 && x == 30 && y == 20) return -std::numeric_limits<double>::infinity();
        if (b == 3 && x == 16 && y < 12) return std::numeric_limits<double>::quiet_NaN();  // on a tile border
        return small_value(b, x, y) + 0.25 * std::sin(x * 0.3 + y * 0.2 + b);
      });
    }
    {
      RasterSpec spec;
      spec.type = GDT_CFloat32;
      spec.bands = 4;
      make_raster(file("complex.tif"), spec, small_value);
    }
    // Same size, other grids.
    raster("other_size.tif", 50, 50, 4, GDT_UInt16, 0.0);
    {
      RasterSpec spec;
      spec.width = 70;
      spec.height = 50;
      spec.bands = 4;
      spec.type = GDT_UInt16;
      spec.geotransform[0] += 10.0;
      make_raster(file("shifted.tif"), spec, small_value);
      spec.geotransform[0] -= 10.0;
      spec.epsg = 32619;
      make_raster(file("other_crs.tif"), spec, small_value);
      spec.epsg = 32618;
      spec.geotransform[1] = 20.0;
      spec.geotransform[5] = -20.0;
      make_raster(file("other_pixel_size.tif"), spec, small_value);
    }
    // A CRS GDAL cannot use: garbage in a VRT, and an EPSG code that does not exist in a GeoTIFF's
    // keys (patched in the file: GDAL itself refuses to write one).
    {
      std::ofstream vrt(file("garbage_crs.vrt"));
      vrt << "<VRTDataset rasterXSize=\"70\" rasterYSize=\"50\"><SRS>this is not a CRS</SRS>"
          << "<GeoTransform>500000, 10, 0, 4000000, 0, -10</GeoTransform>\n";
      for (int b = 1; b <= 4; ++b)
        vrt << "<VRTRasterBand dataType=\"UInt16\" band=\"" << b << "\"><SimpleSource><SourceFilename relativeToVRT=\"1\">good.tif"
            << "</SourceFilename><SourceBand>" << b << "</SourceBand></SimpleSource></VRTRasterBand>\n";
      vrt << "</VRTDataset>\n";
      std::string bytes = read_file(file("good.tif"));
      const std::uint16_t key[4] = {3072, 0, 1, 32618}, unknown[4] = {3072, 0, 1, 12345};  // ProjectedCSTypeGeoKey
      const std::string from(reinterpret_cast<const char*>(key), 8), to(reinterpret_cast<const char*>(unknown), 8);
      const auto at = bytes.find(from);
      REQUIRE(at != std::string::npos);
      bytes.replace(at, 8, to);
      std::ofstream(file("unknown_epsg.tif"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    // Broken files.
    std::ofstream(file("zero.tif")).close();
    std::ofstream(file("text.tif")) << "not a raster\n";
    std::ofstream(file("header_only.tif"), std::ios::binary).write("II*\0\x08\0\0\0\0\0", 10);
    fs::create_directories(in / "folder.tif");
    const std::string good = read_file(file("good.tif"));
    std::ofstream(file("truncated_third.tif"), std::ios::binary).write(good.data(), static_cast<std::streamsize>(good.size() / 3));
    std::ofstream(file("truncated_end.tif"), std::ios::binary).write(good.data(), static_cast<std::streamsize>(good.size() * 9 / 10));
  }

  std::string file(const std::string& name) const { return (in / name).string(); }
  std::string output(const std::string& name = "o.tif") const { return (out / name).string(); }

  void raster(const std::string& name, int width, int height, int bands, GDALDataType type, std::optional<double> nodata) {
    RasterSpec spec;
    spec.width = width;
    spec.height = height;
    spec.bands = bands;
    spec.type = type;
    spec.nodata = nodata;
    make_raster(file(name), spec, small_value);
  }
};

// A program as the matrix runs it: the command for one input raster (used for every input slot)
// and one output path, and whether it writes a raster.
struct Program {
  std::string exe;
  std::function<std::vector<std::string>(const std::string& input, const std::string& output)> command;
  bool writes_raster = true;
  // Output size for an input of width x height.
  std::function<std::pair<int, int>(int, int)> output_size = [](int w, int h) { return std::pair{w, h}; };
};

std::vector<Program> programs() {
  return {
      {kIndex, [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kIndex, "-q", in, out, "--index", "ndvi", "--red", "3", "--nir", "4"};
       }},
      {kSegment, [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kSegment, "-q", "--tile", "32", in, kUnet, out};
       }},
      {kClassify,
       [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kClassify, "-q", in, kClassifier, out, "--window", "16", "--stride", "16"};
       },
       true, [](int w, int h) { return std::pair{(w + 15) / 16, (h + 15) / 16}; }},
      {kChange, [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kChange, "-q", in, in, out, "--threshold", "5"};
       }},
      {kAssess, [](const std::string& in, const std::string&) {
         return std::vector<std::string>{kAssess, "-q", in, in};
       }, false},
      {kInfo, [](const std::string& in, const std::string&) { return std::vector<std::string>{kInfo, in}; }, false},
      {kRegress, [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kRegress, "-q", "--tile", "32", "--bands", "1,2,3", in, kTasks + "regressor.onnx", out};
       }},
      {kSuperres,
       [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kSuperres, "-q", "--tile", "32", "--bands", "1,2,3", in, kTasks + "sr_pixelshuffle_x3.onnx", out};
       },
       true, [](int w, int h) { return std::pair{3 * w, 3 * h}; }},
      {kStereo, [](const std::string& in, const std::string& out) {
         return std::vector<std::string>{kStereo, "-q", "--rectified", "--max-disparity", "7", "--speckle-size", "10", in, in, out};
       }},
  };
}

struct RasterCase {
  std::string name;
  std::string file;
  int code;            // expected exit code
  std::string needle;  // part of the error line (code 1), or of a warning (code 0)
};

}  // namespace

TEST_CASE("every program: bad and odd input rasters", "[programs][hostile]") {
  Fixture f;
  const auto inputs_before = snapshot(f.in);
  const std::vector<RasterCase> cases{
      {"missing", "nope.tif", 1, "nope.tif: no such file"},
      {"zero bytes", "zero.tif", 1, "zero.tif: empty file"},
      {"TIFF header only", "header_only.tif", 1, "header_only.tif: not a raster GDAL can read"},
      {"text named .tif", "text.tif", 1, "text.tif: not a raster GDAL can read"},
      {"truncated at a third", "truncated_third.tif", 1, "truncated_third.tif"},
      {"truncated at nine tenths", "truncated_end.tif", 1, "truncated_end.tif"},
      {"a folder", "folder.tif", 1, "folder.tif: is a folder"},
      {"complex bands", "complex.tif", 1, "complex data type CFloat32 is not supported"},
      {"1x1", "one_by_one.tif", 0, ""},
      {"one row", "one_row.tif", 0, ""},
      {"one column", "one_column.tif", 0, ""},
      {"Int64 bands", "int64.tif", 0, ""},
      {"NaN and Inf pixels", "nan_inf.tif", 0, ""},
      {"no CRS", "no_crs.tif", 0, "no_crs.tif: has no CRS"},
      {"garbage CRS", "garbage_crs.vrt", 0, "garbage_crs.vrt: has no CRS"},
      {"unknown EPSG code", "unknown_epsg.tif", 0, "unknown_epsg.tif: has a local CRS"},
      {"nodata outside the type's range", "nodata_out_of_range.tif", 0, "nodata -9999 is outside the range of Byte"},
  };
  int tried = 0;
  for (const Program& p : programs()) {
    for (const RasterCase& c : cases) {
      const std::string input = f.file(c.file);
      const std::string output = f.output();
      int expected = c.code;
      if (p.exe == kInfo && c.name == "complex bands") expected = 0;  // describing it is fine
      // luojia-info reads the directory, not the pixels: a file cut after its directory is described.
      const bool either = p.exe == kInfo && c.name.rfind("truncated", 0) == 0;
      INFO(name_of(p.exe) << " / " << c.name);
      const ProgramResult r = run_program(p.command(input, output));
      ++tried;
      INFO(r.err);
      if (either) expected = r.code == 0 ? 0 : 1;
      CHECK(r.code == expected);
      if (expected == 0) {
        CHECK(no_sanitizer_report(r));
        CHECK(r.err.find(": error: ") == std::string::npos);
        if (!c.needle.empty() && p.exe != kInfo) CHECK(r.err.find(c.needle) != std::string::npos);
        if (p.writes_raster) {
          const Product in_grid = read_product(input), out_grid = read_product(output);
          CHECK(std::pair{out_grid.width, out_grid.height} == p.output_size(in_grid.width, in_grid.height));
          CHECK(out_grid.crs == in_grid.crs);
          CHECK(out_grid.geotransform[0] == in_grid.geotransform[0]);
          CHECK(out_grid.geotransform[3] == in_grid.geotransform[3]);
        } else {
          CHECK(!r.out.empty());
        }
        fs::remove(output);
        fs::remove(output + ".aux.xml");
      } else {
        check_clean_error(r, p.exe, c.needle);
      }
      CHECK(snapshot(f.out).empty());
    }
  }
  CHECK(snapshot(f.in) == inputs_before);
  WARN("bad and odd rasters: " << tried << " program runs");
}

TEST_CASE("every program: bit-flipped GeoTIFFs fail cleanly or process, never crash", "[programs][hostile]") {
  Fixture f;
  const std::string good = read_file(f.file("good.tif"));
  std::mt19937 rng(2026);
  std::vector<std::string> flipped;
  for (int i = 0; i < 12; ++i) {
    std::string bytes = good;
    // Half the files are hit in the header and first directory, half anywhere.
    const std::size_t span = i % 2 == 0 ? std::min<std::size_t>(bytes.size(), 512) : bytes.size();
    const int flips = 1 + i % 4;
    for (int k = 0; k < flips; ++k) {
      const std::size_t at = rng() % span;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
    }
    // GDAL writes the directory after the pixels: hit it too.
    if (i % 3 == 2) {
      const std::size_t at = bytes.size() - 1 - rng() % 200;
      bytes[at] = static_cast<char>(bytes[at] ^ 0xff);
    }
    flipped.push_back(f.file("flipped_" + std::to_string(i) + ".tif"));
    std::ofstream(flipped.back(), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto inputs_before = snapshot(f.in);
  int failed = 0, processed = 0;
  for (const Program& p : programs()) {
    for (const std::string& input : flipped) {
      INFO(name_of(p.exe) << " " << input);
      const ProgramResult r = run_program(p.command(input, f.output()));
      INFO(r.err);
      CHECK(r.signal == 0);
      CHECK((r.code == 0 || r.code == 1));
      CHECK(no_sanitizer_report(r));
      if (r.code == 1) {
        ++failed;
        check_clean_error(r, p.exe, fs::path(input).filename().string());
        CHECK(snapshot(f.out).empty());
      } else {
        ++processed;
        if (p.writes_raster) CHECK(read_product(f.output()).width > 0);
        fs::remove_all(f.out);
        fs::create_directories(f.out);
      }
    }
  }
  CHECK(snapshot(f.in) == inputs_before);
  WARN("bit-flipped rasters: " << failed << " clean failures, " << processed << " processed");
}

TEST_CASE("NaN and Inf pixels are nodata and do not spread through a tile's halo", "[programs][hostile]") {
  Fixture f;
  const std::string in = f.file("nan_inf.tif");
  const auto bad = [&](int x, int y) {
    return (x == 5 && y == 5) || (x == 20 && y == 10) || (x == 30 && y == 20) || (x == 16 && y < 12);
  };
  // Tiles of 16 put the NaN column on a tile border; one tile of 512 is the whole image.
  for (const std::string tile : {"16", "512"}) {
    const ProgramResult seg = run_program({kSegment, "-q", "--tile", tile, in, kUnet, f.output("classes_" + tile + ".tif"),
                                           "--probabilities", f.output("p_" + tile + ".tif"), "--regularize", "1"});
    REQUIRE(seg.code == 0);
    const ProgramResult index = run_program({kIndex, "-q", "--tile", tile, in, f.output("ndvi_" + tile + ".tif"), "--index",
                                             "ndvi", "--red", "3", "--nir", "4"});
    REQUIRE(index.code == 0);
    const ProgramResult change = run_program({kChange, "-q", "--tile", tile, in, f.file("good.tif"),
                                              f.output("change_" + tile + ".tif"), "--magnitude", f.output("m_" + tile + ".tif")});
    REQUIRE(change.code == 0);
  }
  for (const std::string product : {"classes_", "p_", "ndvi_", "change_", "m_"}) {
    INFO(product);
    const auto tiled = read_band(f.output(product + "16.tif"), 1);
    const auto whole = read_band(f.output(product + "512.tif"), 1);
    CHECK(tiled == whole);
  }
  const auto classes = read_band(f.output("classes_16.tif"), 1);
  const auto probability = read_band(f.output("p_16.tif"), 1);
  const auto ndvi = read_band(f.output("ndvi_16.tif"), 1);
  const auto magnitude = read_band(f.output("m_16.tif"), 1);
  int bad_pixels = 0;
  for (int y = 0; y < 50; ++y)
    for (int x = 0; x < 70; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * 70 + x);
      INFO(x << "," << y);
      CHECK(std::isfinite(probability[i]));
      CHECK(std::isfinite(ndvi[i]));
      CHECK(std::isfinite(magnitude[i]));
      if (bad(x, y)) {
        ++bad_pixels;
        CHECK(classes[i] == 255);
        CHECK(probability[i] == -1.0);
        CHECK(magnitude[i] == -1.0);
      } else {
        CHECK(classes[i] != 255);
        CHECK(probability[i] >= 0.0);
      }
      // NDVI reads bands 3 and 4: the -Inf and the NaN column; NaN and Inf in bands 1 and 2 do not matter.
      const bool ndvi_bad = (x == 30 && y == 20) || (x == 16 && y < 12);
      CHECK((ndvi[i] == -9999.0) == ndvi_bad);
    }
  CHECK(bad_pixels == 15);
}

TEST_CASE("two-input programs refuse rasters on other grids", "[programs][hostile]") {
  Fixture f;
  const std::string good = f.file("good.tif");
  const std::vector<std::pair<std::string, std::string>> others{
      {"other_size.tif", "sizes differ"}, {"shifted.tif", "geotransform"}, {"other_crs.tif", "CRS"}, {"other_pixel_size.tif", "geotransform"}};
  int tried = 0;
  for (const auto& [other, why] : others) {
    INFO(other);
    const ProgramResult change = run_program({kChange, "-q", good, f.file(other), f.output()});
    check_clean_error(change, kChange, "not on one grid");
    CHECK(change.err.find(other) != std::string::npos);
    CHECK(change.err.find(why) != std::string::npos);
    CHECK(change.code == 1);
    const ProgramResult assess = run_program({kAssess, "-q", good, f.file(other)});
    check_clean_error(assess, kAssess, "must share the grid");
    CHECK(assess.err.find(other) != std::string::npos);
    CHECK(assess.code == 1);
    tried += 2;
  }
  CHECK(snapshot(f.out).empty());
  WARN("mismatched grids: " << tried << " program runs");
}

TEST_CASE("band numbers out of range name the band and the file", "[programs][hostile]") {
  Fixture f;
  const std::string good = f.file("good.tif");
  const std::vector<std::vector<std::string>> commands{
      {kIndex, "-q", good, f.output(), "--index", "ndvi", "--red", "3", "--nir", "9"},
      {kIndex, "-q", good, f.output(), "--nd", "0,1"},
      {kSegment, "-q", good, kUnet, f.output(), "--bands", "1,2,3,9"},
      {kClassify, "-q", good, kClassifier, f.output(), "--window", "16", "--bands", "1,2,9,4"},
      {kChange, "-q", good, good, f.output(), "--bands", "1,9"},
  };
  for (const auto& command : commands) {
    INFO(command[0] << " " << command.back());
    const ProgramResult r = run_program(command);
    CHECK(r.code == 1);
    check_clean_error(r, command[0], "good.tif");
    CHECK(r.err.find(command[4] == "--nd" ? "band 0 is out of range" : "band 9") != std::string::npos);
  }
  CHECK(snapshot(f.out).empty());
}

TEST_CASE("hostile model files: one line naming the model, for every program that loads one", "[programs][hostile]") {
  Fixture f;
  TempDir models;
  const auto hostile = write_hostile_models(models);
  const std::string good = f.file("good.tif");
  int tried = 0;
  for (const HostileModel& m : hostile) {
    const std::vector<std::vector<std::string>> commands{
        {kSegment, "-q", good, m.path, f.output(), "--bands", "1"},
        {kClassify, "-q", good, m.path, f.output(), "--window", "8", "--bands", "1"},
        {kChange, "-q", good, good, f.output(), "--model", m.path, "--bands", "1"},
    };
    for (const auto& command : commands) {
      INFO(m.name << ": " << name_of(command[0]));
      const ProgramResult r = run_program(command);
      ++tried;
      INFO(r.err);
      CHECK(r.code == 1);
      check_clean_error(r, command[0], m.path);
      CHECK(snapshot(f.out).empty());
    }
  }
  WARN("hostile models: " << tried << " program runs over " << hostile.size() << " files");
}

TEST_CASE("outputs: missing and read-only folders, full disks, existing files, and the input itself", "[programs][hostile]") {
  Fixture f;
  // Larger than the small file systems below, so a write runs out of space part-way.
  f.raster("big.tif", 400, 300, 4, GDT_UInt16, 0.0);
  const std::string big = f.file("big.tif");
  const auto inputs_before = snapshot(f.in);
  TmpfsMount read_only(f.dir.path() / "read_only", 1 << 20, true);
  TmpfsMount full(f.dir.path() / "full", 64 << 10);
  TmpfsMount no_space(f.dir.path() / "no_space", 64 << 10);
  if (no_space.ok()) {
    std::ofstream filler(f.dir.path() / "no_space" / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  if (!read_only.ok() || !full.ok()) WARN("cannot mount tmpfs here: the read-only and full-disk cases are skipped");

  struct OutputCase {
    std::string name;
    std::string output;
    std::vector<std::string> extra;
    ProgramLimits limits;
    std::string needle;
    bool needs_mount = false;
  };
  const std::string ro = (f.dir.path() / "read_only" / "o.tif").string();
  const std::string on_full = (f.dir.path() / "full" / "o.tif").string();
  const std::string on_no_space = (f.dir.path() / "no_space" / "o.tif").string();
  std::ofstream(f.output("exists.tif")) << "keep me";
  const std::vector<OutputCase> cases{
      {"missing folder", f.output("no/such/folder/o.tif"), {}, {}, "does not exist"},
      {"read-only folder", ro, {}, {}, "cannot create output in", true},
      {"disk full part-way", on_full, {}, {}, "No space left on device", true},
      {"no space at all", on_no_space, {}, {}, "", true},
      {"file size limit (EFBIG)", f.output("limited.tif"), {}, {.max_file_bytes = 16 << 10}, "File too large"},
      {"output exists", f.output("exists.tif"), {}, {}, "output already exists (--overwrite replaces it)"},
      {"--overwrite, and the run fails", f.output("exists.tif"), {"--overwrite"}, {.max_file_bytes = 16 << 10}, "File too large"},
      {"output is the input", big, {"--overwrite"}, {}, "is also an input"},
  };
  const std::vector<std::vector<std::string>> base{
      {kIndex, "-q", big, "OUT", "--index", "ndvi,ndwi", "--green", "2", "--red", "3", "--nir", "4"},
      {kSegment, "-q", big, kUnet, "OUT", "--tile", "64"},
      {kClassify, "-q", big, kClassifier, "OUT", "--window", "16", "--stride", "4", "--scores", "SCORES"},
      {kChange, "-q", big, f.file("big.tif"), "OUT", "--threshold", "5"},
  };
  int tried = 0;
  for (const auto& command : base) {
    for (const auto& c : cases) {
      if (c.needs_mount && !(read_only.ok() && full.ok() && no_space.ok())) continue;
      std::vector<std::string> argv;
      const std::string scores = (fs::path(c.output).parent_path() / "scores.tif").string();
      for (const auto& a : command) argv.push_back(a == "OUT" ? c.output : a == "SCORES" ? scores : a);
      argv.insert(argv.end(), c.extra.begin(), c.extra.end());
      INFO(name_of(command[0]) << " / " << c.name);
      const auto out_before = snapshot(f.out);
      const auto full_before = full.ok() ? snapshot(f.dir.path() / "full") : decltype(out_before){};
      const ProgramResult r = run_program(argv, c.limits);
      ++tried;
      INFO(r.err);
      CHECK(r.code == 1);
      check_clean_error(r, command[0], c.needle);
      // The error names the file that could not be written: the output, or classify's scores.
      if (c.name != "output is the input")
        CHECK((r.err.find(fs::path(c.output).filename().string()) != std::string::npos ||
               (command[0] == kClassify && r.err.find("scores.tif") != std::string::npos)));
      CHECK(snapshot(f.out) == out_before);
      if (full.ok()) CHECK(snapshot(f.dir.path() / "full") == full_before);
    }
  }
  CHECK(read_file(f.output("exists.tif")) == "keep me");
  CHECK(snapshot(f.in) == inputs_before);
  WARN("output faults: " << tried << " program runs");
}
