// --mem is honoured: a program's peak RSS on a large raster with many tiles stays under the
// budget plus a stated constant, the RSS of the same program on a 64 x 64 raster (the code, GDAL's
// drivers, the model and its packed weights), which itself must stay under 100 MiB.
#include "program_runner.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>


using namespace luojia::test;

namespace {

// A VRT that stretches a 100 x 100 raster to size x size: large to process, tiny on disk.
std::string stretched(const TempDir& dir, int size) {
  if (!std::filesystem::exists(dir.file("small.tif"))) {
    RasterSpec spec;
    spec.width = 100;
    spec.height = 100;
    spec.bands = 4;
    spec.type = GDT_UInt16;
    make_raster(dir.file("small.tif"), spec, [](int b, int x, int y) { return 1 + (x * (b + 3) + y * 7) % 4000; });
  }
  const std::string path = dir.file("stretched_" + std::to_string(size) + ".vrt");
  write_stretched_vrt(path, dir.file("small.tif"), 100, size, 4, "UInt16");
  return path;
}

constexpr std::int64_t kMiB = 1024;  // ru_maxrss is in KiB

}  // namespace

TEST_CASE("peak memory stays under --mem plus the program's fixed footprint", "[programs][memory]") {
#ifdef LUOJIA_SANITIZED
  WARN("skipped: peak RSS means nothing under AddressSanitizer");
  return;
#endif
  TempDir dir;
  struct Case {
    std::string name;
    std::vector<std::string> command;  // SIZE and OUT replaced
    int large;
    std::int64_t budget_mib;
  };
  const std::vector<Case> cases{
      {"luojia-index, 16384 tiles of 64", {LUOJIA_INDEX_EXE, "-q", "IN", "OUT", "--index", "ndvi,evi", "--blue", "1", "--red", "3", "--nir", "4", "--tile", "64", "--mem", "32M"}, 8192, 32},
      {"luojia-index, 2 threads, tiles of 1024", {LUOJIA_INDEX_EXE, "-q", "IN", "OUT", "--index", "ndvi", "--red", "3", "--nir", "4", "--tile", "1024", "--threads", "2", "--mem", "96M"}, 8192, 96},
      {"luojia-segment, demo model", {LUOJIA_SEGMENT_EXE, "-q", "IN", LUOJIA_SOURCE_DIR "/data/demo_roads.onnx", "OUT", "--bands", "1", "--threads", "2", "--mem", "128M"}, 2048, 128},
      {"luojia-segment, demo model, more memory", {LUOJIA_SEGMENT_EXE, "-q", "IN", LUOJIA_SOURCE_DIR "/data/demo_roads.onnx", "OUT", "--bands", "1", "--threads", "2", "--mem", "256M", "--probabilities", "PROBS"}, 2048, 256},
      {"luojia-stereo, 2 threads", {LUOJIA_STEREO_EXE, "-q", "--rectified", "IN", "IN", "OUT", "--max-disparity", "63", "--threads", "2", "--mem", "128M"}, 2048, 128},
  };
  for (const auto& c : cases) {
    std::int64_t peak[2] = {0, 0};
    int k = 0;
    for (const int size : {64, c.large}) {
      std::vector<std::string> argv;
      for (const auto& a : c.command)
        argv.push_back(a == "IN" ? stretched(dir, size) : a == "OUT" ? dir.file("out.tif") : a == "PROBS" ? dir.file("p.tif") : a);
      argv.push_back("--overwrite");
      const ProgramResult r = run_program(argv);
      INFO(c.name << " at " << size << ": " << r.err);
      REQUIRE(r.code == 0);
      peak[k++] = r.peak_rss_kb;
    }
    INFO(c.name << ": fixed footprint " << peak[0] / kMiB << " MiB, peak " << peak[1] / kMiB << " MiB, budget " << c.budget_mib << " MiB");
    CHECK(peak[0] < 100 * kMiB);
    CHECK(peak[1] <= peak[0] + c.budget_mib * kMiB);
    WARN(c.name << ": " << c.large << "x" << c.large << " peak " << peak[1] / kMiB << " MiB <= " << peak[0] / kMiB << " + " << c.budget_mib);
  }
}
