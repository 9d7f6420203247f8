// luojia-batch: one program over many scenes as one resumable job, shardable by scene for job
// arrays (Slurm, PBS): finished products are verified and skipped, so a rerun does what is left.
#include "cli/cli.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/tiling/tile_grid.hpp>

#include <cpl_error.h>
#include <gdal_alg.h>
#include <gdal_priv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

using namespace luojia;
namespace fs = std::filesystem;

namespace {

bool is_raster_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".tif", ".tiff", ".vrt", ".img", ".jp2", ".nc", ".hdf", ".h5", ".dat", ".bil"})
    if (ext == e) return true;
  return false;
}

// The scenes: a folder's rasters, or the paths a text file lists (one per line, # comments),
// sorted so that every array task sees the same list.
std::vector<std::string> list_scenes(const std::string& source) {
  std::vector<std::string> scenes;
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    for (const auto& e : fs::directory_iterator(source))
      if (e.is_regular_file() && is_raster_name(e.path()) && e.path().filename().string()[0] != '.') scenes.push_back(e.path().string());
  } else {
    if (!fs::exists(source, ec)) raise("no such file or folder", ErrorContext{source, {}, {}, {}});
    std::ifstream in(source);
    const fs::path base = fs::path(source).parent_path();
    for (std::string line; std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty() || line[0] == '#') continue;
      const fs::path p(line);
      scenes.push_back(p.is_absolute() || base.empty() ? p.string() : (base / p).string());
    }
  }
  std::sort(scenes.begin(), scenes.end());
  scenes.erase(std::unique(scenes.begin(), scenes.end()), scenes.end());
  if (scenes.empty()) raise("lists no scenes", ErrorContext{source, {}, {}, {}});
  for (std::size_t i = 1; i < scenes.size(); ++i)
    if (fs::path(scenes[i]).stem() == fs::path(scenes[i - 1]).stem())
      raise("two scenes share the name " + fs::path(scenes[i]).stem().string() + ", so their outputs would too", ErrorContext{source, {}, {}, {}});
  return scenes;
}

std::string substitute(std::string text, const std::string& key, const std::string& value) {
  for (std::size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
  return text;
}

// A finished product: it opens, every block of every band reads back, it lies over its scene
// (same CRS, extent within a pixel) and it is not a shard. Anything else is redone.
bool verified(const std::string& product, const std::string& scene) {
  std::error_code ec;
  if (!fs::exists(product, ec)) return false;
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
  bool ok = false;
  if (GDALDataset* out = GDALDataset::Open(product.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY)) {
    ok = out->GetMetadataItem("LUOJIA_SHARD") == nullptr;
    for (int b = 1; ok && b <= out->GetRasterCount(); ++b) {
      GDALChecksumImage(GDALRasterBand::ToHandle(out->GetRasterBand(b)), 0, 0, out->GetRasterXSize(), out->GetRasterYSize());
      ok = CPLGetLastErrorType() < CE_Failure;
    }
    if (ok) {
      if (GDALDataset* in = GDALDataset::Open(scene.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY)) {
        double a[6], b[6];
        const bool ga = in->GetGeoTransform(a) == CE_None, gb = out->GetGeoTransform(b) == CE_None;
        if (ga && gb) {
          const double pixel = std::max(std::fabs(b[1]), std::fabs(b[5]));
          const double ax = a[0] + in->GetRasterXSize() * a[1], ay = a[3] + in->GetRasterYSize() * a[5];
          const double bx = b[0] + out->GetRasterXSize() * b[1], by = b[3] + out->GetRasterYSize() * b[5];
          ok = std::fabs(a[0] - b[0]) < 1e-6 * pixel + 1e-9 && std::fabs(a[3] - b[3]) < 1e-6 * pixel + 1e-9 &&
               std::fabs(ax - bx) <= pixel && std::fabs(ay - by) <= pixel;
        } else {
          ok = ga == gb && in->GetRasterXSize() == out->GetRasterXSize() && in->GetRasterYSize() == out->GetRasterYSize();
        }
        const OGRSpatialReference* sa = in->GetSpatialRef();
        const OGRSpatialReference* sb = out->GetSpatialRef();
        if ((sa == nullptr) != (sb == nullptr) || (sa && !sa->IsSame(sb))) ok = false;
        GDALClose(in);
      }
    }
    GDALClose(out);
  }
  CPLPopErrorHandler();
  return ok;
}

// Runs argv as a child and waits; SIGINT/SIGTERM sent to luojia-batch are passed on to it.
int run_child(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t child = fork();
  if (child < 0) raise("cannot start " + argv[0] + ": fork failed");
  if (child == 0) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    execvp(args[0], args.data());
    std::cerr << "luojia-batch: error: cannot run " << argv[0] << ": " << std::strerror(errno) << "\n";
    _exit(127);
  }
  int status = 0;
  bool forwarded = false;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) raise("lost the child process running " + argv[0]);
    if (cli::pending_signal() && !forwarded) {
      kill(child, cli::pending_signal());
      forwarded = true;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int batch_main(int argc, char** argv) {
  // Everything after "--" is the command, passed through untouched.
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  cli::ArgParser args("luojia-batch", "[options] SCENES OUTPUT_FOLDER -- PROGRAM [ARGS...]",
                      "Runs PROGRAM once per scene as one job. SCENES is a folder (its rasters) or a text file of\n"
                      "paths, one per line. In ARGS, {input} is the scene, {output} is OUTPUT_FOLDER/NAME.tif (NAME: the\n"
                      "scene's file name without extension; --suffix changes .tif), {name} is NAME and {folder} is\n"
                      "OUTPUT_FOLDER. A scene whose {output} exists and verifies (every block reads, it lies over the\n"
                      "scene, it is not a shard) is skipped, so rerunning an interrupted job finishes it. --shard K/N\n"
                      "takes scenes K, K+N, K+2N, ... of the sorted list: one task of a job array.");
  std::string scenes_source, folder, suffix = ".tif", shard_text;
  bool quiet = false, stop_on_error = false;
  args.positional("SCENES", "A folder of rasters, or a text file listing them", scenes_source);
  args.positional("OUTPUT_FOLDER", "Where the products go (created if missing)", folder);
  args.value("--suffix", "SUFFIX", "Ending of {output} after the scene's name (default .tif)", suffix);
  args.value("--shard", "K/N", "Only scenes K, K+N, ... (1-based): task K of an N-task job array", shard_text);
  args.flag("--stop-on-error", "Stop at the first scene that fails (default: go on, report at the end)", stop_on_error);
  args.flag("-q,--quiet", "No line per scene", quiet);
  if (!args.parse(split, argv)) return 0;
  if (split >= argc - 1) throw cli::UsageError("give the command after --, e.g. -- luojia-index -q {input} {output} --index ndvi ...");
  std::vector<std::string> command(argv + split + 1, argv + argc);
  if (std::none_of(command.begin(), command.end(), [](const std::string& a) { return a.find("{output}") != std::string::npos; }))
    throw cli::UsageError("the command must write {output}: that is how finished scenes are recognised");
  Shard shard;
  if (!shard_text.empty()) {
    try {
      shard = parse_shard(shard_text);
    } catch (const Error& e) {
      throw cli::UsageError("--shard: " + e.message());
    }
  }
  const std::vector<std::string> scenes = list_scenes(scenes_source);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (!fs::is_directory(folder, ec)) raise("cannot create the output folder", ErrorContext{folder, {}, {}, {}});
  GDALAllRegister();

  std::vector<std::size_t> mine;
  for (std::size_t i = static_cast<std::size_t>(shard.index); i < scenes.size(); i += static_cast<std::size_t>(shard.count)) mine.push_back(i);
  int done = 0, skipped = 0;
  std::vector<std::string> failed;
  for (std::size_t n = 0; n < mine.size(); ++n) {
    const std::string& scene = scenes[mine[n]];
    const std::string name = fs::path(scene).stem().string();
    const std::string output = (fs::path(folder) / (name + suffix)).string();
    const std::string progress = "[" + std::to_string(n + 1) + "/" + std::to_string(mine.size()) + "] " + scene;
    if (verified(output, scene)) {
      ++skipped;
      if (!quiet) std::cerr << progress << ": done already, verified\n";
      continue;
    }
    std::vector<std::string> argv_child;
    for (const auto& a : command)
      argv_child.push_back(substitute(substitute(substitute(substitute(a, "{input}", scene), "{output}", output), "{name}", name), "{folder}", folder));
    // A product that failed verification is replaced: the programs' --overwrite is atomic.
    if (fs::exists(output, ec) && std::find(argv_child.begin(), argv_child.end(), "--overwrite") == argv_child.end())
      argv_child.push_back("--overwrite");
    if (!quiet) std::cerr << progress << " -> " << output << "\n";
    const auto start = std::chrono::steady_clock::now();
    const int code = run_child(argv_child);
    if (cli::pending_signal()) throw Cancelled();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (code == 0 && verified(output, scene)) {
      ++done;
      if (!quiet) std::cerr << progress << ": done in " << seconds << " s\n";
      continue;
    }
    failed.push_back(scene);
    std::cerr << "luojia-batch: " << scene << ": " << (code == 0 ? "the product does not verify" : "failed with exit code " + std::to_string(code)) << "\n";
    if (stop_on_error) break;
  }
  if (!quiet || !failed.empty())
    std::cerr << "luojia-batch: " << done << " done, " << skipped << " already done, " << failed.size() << " failed, of " << mine.size()
              << " scene" << (mine.size() == 1 ? "" : "s") << (shard.whole() ? "" : " in shard " + shard_text) << "\n";
  if (!failed.empty()) raise(std::to_string(failed.size()) + " scene" + (failed.size() == 1 ? "" : "s") + " failed, the first " + failed.front() + "; rerun to retry them");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run("luojia-batch", [&] { return batch_main(argc, argv); });
}
