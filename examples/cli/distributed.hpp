#pragma once
// One job over many processes (mpirun, srun): rank K of N runs shard K+1/N of the tile grid into
// its own files, then rank 0 merges them into the outputs the user named. Without an MPI build, or
// when not started by an MPI launcher, this is one process doing the whole job.
#include <luojia/engine/engine.hpp>
#include <luojia/io/raster_writer.hpp>

#include <functional>
#include <string>
#include <vector>

namespace luojia::cli {

class Distributed {
public:
  // Initialises MPI when built with it (LUOJIA_MPI) and launched by an MPI launcher.
  Distributed(int* argc, char*** argv);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool active() const { return size_ > 1; }

  // Runs body with stream.shard set to this rank's shard, every non-empty *output replaced by a
  // shard file beside it and format set to plain tiled GTiff; then rank 0 merges the shard files
  // into the outputs (rasters in the format asked for, polygons joined across borders) and every
  // rank removes its shard files (-of VRT keeps them, for the VRT). A failure on any rank fails
  // the job on every rank, and rank 0 reports it. The arguments are as they were on return.
  // Returns the outputs asked for (the non-empty ones), as the user named them. pixel_boxes:
  // detection shards' merged boxes as COCO-style pixel boxes, written by rank 0's merge of the
  // first output (shards cannot write them); listed last among the outputs.
  std::vector<std::string> run(StreamOptions& stream, const std::vector<std::string*>& outputs, OutputOptions& format,
                               const std::function<void()>& body, const std::string& pixel_boxes = {});

private:
  int rank_ = 0;
  int size_ = 1;
  bool initialised_ = false;
};

}  // namespace luojia::cli
