#include "cli/distributed.hpp"

#include "cli/cli.hpp"

#include <luojia/error.hpp>
#include <luojia/products/merge.hpp>
#include <luojia/products/polygonize.hpp>

#include <cpl_conv.h>
#include <cpl_string.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#ifdef LUOJIA_WITH_MPI
#include <mpi.h>
#endif

namespace luojia::cli {
namespace {

namespace fs = std::filesystem;

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name)) return true;
  return false;
}

// Shard k's file for output, beside it (one file system, so merging never crosses one): hidden
// and removed after the merge, or, under a VRT that keeps pointing at them, visible and kept.
std::string shard_path(const std::string& output, int k, int n, bool kept) {
  const fs::path p(output);
  // Vector shards are GeoPackages whatever the output's format: detection shards must be (they
  // carry their border candidates in a second layer), and any shard is only read by the merge.
  const std::string ext = is_vector_path(output) ? ".gpkg" : ".tif";
  const std::string part = "shard-" + std::to_string(k + 1) + "-of-" + std::to_string(n);
  if (kept) return (p.parent_path() / (p.stem().string() + "." + part + ext)).string();
  return (p.parent_path() / ("." + p.filename().string() + ".luojia-" + part + ext)).string();
}

void remove_files(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(path + ".aux.xml", ec);
  if (fs::path(path).extension() == ".shp")
    for (const char* e : {".shx", ".dbf", ".prj", ".cpg"}) fs::remove(fs::path(path).replace_extension(e), ec);
}

constexpr int kMessage = 1024;

}  // namespace

Distributed::Distributed(int* argc, char*** argv) {
#ifdef LUOJIA_WITH_MPI
  if (launched_by_mpi()) {
    MPI_Init(argc, argv);
    initialised_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    set_reporting(rank_ == 0);
  }
#else
  (void)argc;
  (void)argv;
#endif
}

Distributed::~Distributed() {
#ifdef LUOJIA_WITH_MPI
  if (initialised_) MPI_Finalize();
#endif
}

std::vector<std::string> Distributed::run(StreamOptions& stream, const std::vector<std::string*>& outputs, OutputOptions& format,
                                          const std::function<void()>& body, const std::string& pixel_boxes) {
  std::vector<std::string> asked;
  for (const std::string* o : outputs)
    if (!o->empty()) asked.push_back(*o);
  if (!pixel_boxes.empty()) asked.push_back(pixel_boxes);
  if (!active()) {
    body();
    return asked;
  }
#ifdef LUOJIA_WITH_MPI
  const OutputOptions final_format = format;
  const StreamOptions final_stream = stream;
  if (!stream.shard.whole()) throw Error("--shard and an MPI launch exclude each other: the launch decides the shards");
  // -of VRT: the merge is instant and the shards stay, as NAME.shard-K-of-N.tif beside the VRT.
  const bool vrt = EQUAL(final_format.driver.c_str(), "VRT");
  const auto kept = [&](const std::string& output) { return vrt && !is_vector_path(output); };
  for (const std::string* o : outputs) check_output_path(*o, final_format.overwrite);
  check_output_path(pixel_boxes, final_format.overwrite);
  std::vector<std::string> finals;
  for (std::string* o : outputs) finals.push_back(*o);
  for (std::string* o : outputs)
    if (!o->empty()) {
      *o = shard_path(*o, rank_, size_, kept(*o));
      remove_files(*o);  // left by a run that was killed outright
    }
  stream.shard = Shard{rank_, size_};
  format = OutputOptions{"GTiff", {}, true};  // shards: plain tiled GTiff; the merge writes the format asked for
  if (rank_ != 0) stream.progress = [](double, const char*, void*) { return 1; };  // one progress bar

  // Every rank reports how its shard went; rank 0 then merges or reports the first failure.
  const auto exchange = [&](const std::string& failure, std::string& first) {
    char mine[kMessage] = {};
    std::strncpy(mine, failure.c_str(), kMessage - 1);
    std::vector<char> all(static_cast<std::size_t>(kMessage) * static_cast<std::size_t>(size_));
    MPI_Allgather(mine, kMessage, MPI_CHAR, all.data(), kMessage, MPI_CHAR, MPI_COMM_WORLD);
    for (int r = 0; r < size_; ++r) {
      const char* m = all.data() + static_cast<std::size_t>(r) * kMessage;
      if (*m) {
        first = r == rank_ ? std::string(m) : "rank " + std::to_string(r) + ": " + m;
        return false;
      }
    }
    return true;
  };
  const auto cleanup = [&](bool succeeded) {
    for (std::size_t i = 0; i < outputs.size(); ++i)
      if (!outputs[i]->empty() && !(succeeded && kept(finals[i]))) remove_files(*outputs[i]);
  };
  std::string failure;
  bool cancelled = false;
  try {
    body();
  } catch (const Cancelled& e) {
    failure = e.what();
    cancelled = true;
  } catch (const std::exception& e) {
    failure = e.what();
    if (failure.empty()) failure = "failed";
  }
  format = final_format;
  stream = final_stream;
  std::string first;
  if (!exchange(failure, first)) {
    cleanup(false);
    if (cancelled) throw Cancelled();
    throw Error(first);
  }
  // Rank 0 merges while the others wait; then everyone learns how it went and removes its shard.
  std::string merge_failure;
  if (rank_ == 0) {
    try {
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (finals[i].empty()) continue;
        std::vector<std::string> shards;
        for (int k = 0; k < size_; ++k) shards.push_back(shard_path(finals[i], k, size_, kept(finals[i])));
        MergeOptions mo;
        mo.output = final_format;
        mo.memory_budget = stream.memory_budget;
        if (i == 0) mo.pixel_boxes = pixel_boxes;
        if (is_vector_path(finals[i])) merge_vector_shards(shards, finals[i], mo);
        else merge_raster_shards(shards, finals[i], mo);
      }
    } catch (const std::exception& e) {
      merge_failure = e.what();
    }
  }
  std::string merged;
  const bool ok = exchange(merge_failure, merged);
  cleanup(ok);
  for (std::size_t i = 0; i < outputs.size(); ++i) *outputs[i] = finals[i];
  if (!ok) throw Error(merged);
#endif
  return asked;
}

}  // namespace luojia::cli
