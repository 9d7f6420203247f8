#pragma once
// A point cloud as an ASPRS LAS 1.4 file (point data record format 6, the CRS as an OGC WKT
// record), the format surveying software reads point clouds in. Debian 12 packages no LAS
// library (no PDAL, no LASzip, no liblas), and uncompressed LAS is a fixed binary layout, so
// luojia writes it itself; LAZ needs LASzip and is refused rather than written as LAS.
// Written as rasters are: into a temporary beside the target, put in place by commit().
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

namespace luojia::detail {

class LasWriter {
public:
  // Refuses an existing target unless overwrite, and a CRS that is not projected (the DSM's
  // always is). Coordinates are stored as integers of 1 mm (or 1/1000 foot) from offset (x, y, z).
  LasWriter(const std::string& target, bool overwrite, const std::string& crs_wkt, std::array<double, 3> offset);
  ~LasWriter();
  LasWriter(const LasWriter&) = delete;
  LasWriter& operator=(const LasWriter&) = delete;

  void add(double x, double y, double z);
  std::uint64_t count() const { return count_; }
  // Writes the header (counts, bounds) and closes; the file stays a temporary until commit().
  void finish();
  void commit();

private:
  void write_header();

  std::string target_, temp_, wkt_;
  std::FILE* file_ = nullptr;
  std::array<double, 3> scale_{}, offset_{};
  std::array<double, 3> min_{}, max_{};
  std::uint64_t count_ = 0;
  bool finished_ = false, committed_ = false;
};

// Whether path names a LAS point cloud (.las); throws UsageError for .laz, which needs LASzip.
bool is_las_path(const std::string& path);

}  // namespace luojia::detail
