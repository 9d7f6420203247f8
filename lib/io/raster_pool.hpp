#pragma once
// Dataset handles for parallel readers: GDAL handles are not thread-safe, so each read borrows one
// for itself. A handle the caller already has can be the first; more are opened as needed.
#include <luojia/io/raster.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace luojia::detail {

class RasterPool {
public:
  explicit RasterPool(std::string path) : path_(std::move(path)) {}
  explicit RasterPool(Raster& first) : path_(first.path()) { free_.push_back(&first); }
  RasterPool(const RasterPool&) = delete;
  RasterPool& operator=(const RasterPool&) = delete;

  class Lease {
  public:
    Lease(RasterPool& pool, Raster* raster) : pool_(pool), raster_(raster) {}
    ~Lease() { pool_.release(raster_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Raster& operator*() const { return *raster_; }
    Raster* operator->() const { return raster_; }

  private:
    RasterPool& pool_;
    Raster* raster_;
  };

  Lease acquire() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return Lease(*this, owned_.emplace_back(std::make_unique<Raster>(Raster::open(path_))).get());
    Raster* raster = free_.back();
    free_.pop_back();
    return Lease(*this, raster);
  }

private:
  void release(Raster* raster) {
    std::lock_guard lock(mutex_);
    free_.push_back(raster);
  }

  std::string path_;
  std::mutex mutex_;
  std::vector<Raster*> free_;
  std::vector<std::unique_ptr<Raster>> owned_;
};

}  // namespace luojia::detail
