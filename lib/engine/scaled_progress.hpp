#pragma once
// One step of a run made of several streamed steps: the caller's progress callback scaled to the
// step's share, through GDAL's scaled progress (owned here).
#include <luojia/engine/engine.hpp>

#include <cpl_progress.h>

namespace luojia::detail {

class ScaledProgress {
public:
  ScaledProgress(const StreamOptions& so, double from, double to) {
    if (so.progress) scaled_ = GDALCreateScaledProgress(from, to, so.progress, so.progress_data);
  }
  ~ScaledProgress() {
    if (scaled_) GDALDestroyScaledProgress(scaled_);
  }
  ScaledProgress(const ScaledProgress&) = delete;
  ScaledProgress& operator=(const ScaledProgress&) = delete;

  // so, reporting into this step's share.
  StreamOptions apply(StreamOptions so) const {
    if (scaled_) {
      so.progress = GDALScaledProgress;
      so.progress_data = scaled_;
    }
    return so;
  }
  // Reports the step at `at` (0 to 1) of its share; false when the caller asks to cancel.
  bool tick(double at) const { return !scaled_ || GDALScaledProgress(at, nullptr, scaled_) != 0; }

private:
  void* scaled_ = nullptr;
};

}  // namespace luojia::detail
