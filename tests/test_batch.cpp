// luojia-batch: many scenes as one job that resumes (finished products verified and skipped,
// damaged ones redone), splits by scene for job arrays, reports failures without stopping, and
// stops cleanly on SIGTERM.
#include "product_compare.hpp"
#include "program_runner.hpp"
#include "program_paths.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using namespace luojia::test;

namespace {


std::vector<std::string> batch(const std::vector<std::string>& options, const std::string& scenes, const std::string& out) {
  std::vector<std::string> argv{kBatch};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {scenes, out, "--", kIndex, "-q", "{input}", "{output}", "--index", "ndvi", "--red", "3", "--nir", "4"});
  return argv;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("luojia-batch runs every scene once, resumes, and splits by scene", "[programs][batch]") {
  TempDir dir;
  fs::create_directories(dir.path() / "scenes");
  for (int i = 1; i <= 5; ++i) {
    RasterSpec spec;
    spec.width = 40 + 7 * i;
    spec.height = 30 + 3 * i;
    spec.bands = 4;
    spec.type = GDT_UInt16;
    spec.geotransform[0] += 1000.0 * i;
    make_raster((dir.path() / "scenes" / ("scene" + std::to_string(i) + ".tif")).string(), spec,
                [i](int b, int x, int y) { return 1 + b * 50 + (x * i + y) % 40; });
  }
  const std::string scenes = (dir.path() / "scenes").string(), out = dir.file("out");
  const ProgramResult first = run_program(batch({}, scenes, out));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(count(first.err, ": done in ") == 5);
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "scene" + std::to_string(i);
    run_program({kIndex, "-q", (dir.path() / "scenes" / (name + ".tif")).string(), dir.file(name + "_alone.tif"), "--index", "ndvi", "--red", "3",
                 "--nir", "4"});
    check_same(read_product(dir.file("out/" + name + ".tif")), read_product(dir.file(name + "_alone.tif")));
  }
  // Rerun: everything verifies and is skipped; a damaged product is redone, the rest kept.
  const auto before = fs::last_write_time(dir.file("out/scene1.tif"));
  {
    const std::string bytes = read_file(dir.file("out/scene3.tif"));
    std::ofstream(dir.file("out/scene3.tif"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const ProgramResult again = run_program(batch({}, scenes, out));
  INFO(again.err);
  CHECK(again.code == 0);
  CHECK(count(again.err, "done already, verified") == 4);
  CHECK(again.err.find("scene3.tif: done in") != std::string::npos);
  CHECK(fs::last_write_time(dir.file("out/scene1.tif")) == before);
  check_same(read_product(dir.file("out/scene3.tif")), read_product(dir.file("scene3_alone.tif")));

  // Array tasks 1/2 and 2/2 over a list file: disjoint, and together every scene.
  {
    std::ofstream list(dir.file("scenes.txt"));
    list << "# scenes of the job\n";
    for (int i = 5; i >= 1; --i) list << "scenes/scene" << i << ".tif\n";
  }
  const ProgramResult one = run_program(batch({"--shard", "1/2"}, dir.file("scenes.txt"), dir.file("array")));
  const ProgramResult two = run_program(batch({"--shard", "2/2"}, dir.file("scenes.txt"), dir.file("array")));
  CHECK(one.code == 0);
  CHECK(two.code == 0);
  CHECK(count(one.err, ": done in ") == 3);  // scenes 1, 3, 5 of the sorted list
  CHECK(count(two.err, ": done in ") == 2);
  std::size_t products = 0;
  for (const auto& e : fs::directory_iterator(dir.file("array"))) products += e.path().extension() == ".tif";
  CHECK(products == 5);

  // A scene that fails is reported, the others are done, and the exit code says so.
  std::ofstream(dir.file("scenes/broken.tif")) << "not a raster";
  const ProgramResult broken = run_program(batch({}, scenes, dir.file("with_broken")));
  CHECK(broken.code == 1);
  CHECK(broken.err.find("broken.tif: failed with exit code 1") != std::string::npos);
  CHECK(count(broken.err, ": done in ") == 5);
  CHECK(!fs::exists(dir.file("with_broken/broken.tif")));
  // Usage errors.
  const ProgramResult no_command = run_program({kBatch, scenes, out});
  CHECK(no_command.code == 2);
  const ProgramResult no_output = run_program({kBatch, scenes, out, "--", kIndex, "{input}"});
  CHECK(no_output.code == 2);
  CHECK(no_output.err.find("{output}") != std::string::npos);
}

TEST_CASE("luojia-batch stops on SIGTERM within a second and leaves no partial product", "[programs][batch][signals]") {
  TempDir dir;
  fs::create_directories(dir.path() / "scenes");
  RasterSpec spec;
  spec.width = 100;
  spec.height = 100;
  spec.bands = 4;
  make_raster(dir.file("small.tif"), spec, [](int b, int x, int y) { return b + x % 7 + y % 5 + 1; });
  for (const char* name : {"a.vrt", "b.vrt"})
    write_stretched_vrt((dir.path() / "scenes" / name).string(), dir.file("small.tif"), 100, 30000, 4, "Float32");
  fs::create_directories(dir.file("out"));
  RunningProgram run(batch({"-q"}, (dir.path() / "scenes").string(), dir.file("out")));
  const auto start = std::chrono::steady_clock::now();
  const auto writing = [&] {
    for (const auto& e : fs::directory_iterator(dir.file("out")))
      if (e.path().filename().string().find(".luojia-") != std::string::npos) return true;
    return false;
  };
  while (!writing() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const ProgramResult r = run.stop(SIGTERM);
  CHECK(r.code == 128 + SIGTERM);
#ifndef LUOJIA_SANITIZED
  CHECK(r.seconds < 1.0);
#endif
  CHECK(fs::is_empty(dir.file("out")));
}
