#include "io/las_writer.hpp"

#include "io/file_names.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/version.hpp>

#include <ogr_spatialref.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <vector>

namespace luojia::detail {

namespace fs = std::filesystem;

namespace {

// LAS 1.4's header (375 bytes), one variable-length record's header (54 bytes) and point data
// record format 6 (30 bytes): ASPRS LAS Specification 1.4 R15, tables 3, 4 and 14.
constexpr std::uint16_t kHeaderSize = 375, kVlrHeaderSize = 54, kPointSize = 30;
constexpr std::uint16_t kWktRecordId = 2112;  // LASF_Projection: OGC coordinate system WKT
constexpr std::uint16_t kGlobalEncodingWkt = 1u << 4;

// A little-endian field at `at`, as the specification lays them out.
template <class T>
unsigned char* store(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(at, at + sizeof(T));
  return at + sizeof(T);
}

// Fields one after the other into a byte buffer.
class Bytes {
public:
  template <class T>
  void put(T value) {
    unsigned char b[sizeof(T)];
    store(b, value);
    data_.append(reinterpret_cast<const char*>(b), sizeof(T));
  }
  // A fixed-size character field, NUL-padded.
  void text(const std::string& s, std::size_t size) {
    data_.append(s, 0, std::min(s.size(), size));
    data_.append(size - std::min(s.size(), size), '\0');
  }
  const std::string& data() const { return data_; }

private:
  std::string data_;
};

std::string lower_extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

}  // namespace

bool is_las_path(const std::string& path) {
  const std::string e = lower_extension(path);
  if (e == ".laz")
    throw UsageError("point_cloud", "LAZ needs LASzip, which Debian 12 does not package: write .las (and compress it with laszip if "
                                    "you need), or a vector format (.fgb, .gpkg)",
                     ErrorContext{path, {}, {}, {}});
  return e == ".las";
}

LasWriter::LasWriter(const std::string& target, bool overwrite, const std::string& crs_wkt, std::array<double, 3> offset)
    : target_(target), offset_(offset) {
  check_output_path(target, overwrite);
  OGRSpatialReference srs;
  if (crs_wkt.empty() || srs.importFromWkt(crs_wkt.c_str()) != OGRERR_NONE)
    throw UsageError("point_cloud", "a LAS point cloud needs the points' CRS", ErrorContext{target, {}, {}, {}});
  // WKT1 as LAS 1.4 readers (PDAL, LAStools, QGIS) expect it, compound CRSs included.
  char* wkt = nullptr;
  const char* options[] = {"FORMAT=WKT1_GDAL", "MULTILINE=NO", nullptr};
  if (srs.exportToWkt(&wkt, options) != OGRERR_NONE || !wkt) {
    CPLFree(wkt);
    throw UsageError("point_cloud", "the points' CRS has no WKT1 form for a LAS file", ErrorContext{target, {}, {}, {}});
  }
  wkt_ = wkt;
  CPLFree(wkt);
  if (!srs.IsProjected()) throw UsageError("point_cloud", "a LAS point cloud here is on a projected CRS", ErrorContext{target, {}, {}, {}});
  scale_ = {0.001, 0.001, 0.001};
  min_.fill(std::numeric_limits<double>::max());
  max_.fill(std::numeric_limits<double>::lowest());
  temp_ = temporary_path(target, "las");
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) throw OutputError("cannot create the point cloud: " + std::string(std::strerror(errno)), ErrorContext{target, {}, {}, {}});
  write_header();  // a placeholder: finish() writes it again with the counts and bounds
}

LasWriter::~LasWriter() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void LasWriter::write_header() {
  Bytes h;
  h.text("LASF", 4);
  h.put<std::uint16_t>(0);                  // file source ID
  h.put<std::uint16_t>(kGlobalEncodingWkt);  // the CRS is WKT
  h.text("", 16);                           // project GUID
  h.put<std::uint8_t>(1);
  h.put<std::uint8_t>(4);
  h.text("luojia stereo", 32);  // system identifier: how the points were made
  h.text("luojia " + std::string(version()), 32);
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  h.put<std::uint16_t>(static_cast<std::uint16_t>(utc.tm_yday + 1));
  h.put<std::uint16_t>(static_cast<std::uint16_t>(utc.tm_year + 1900));
  h.put<std::uint16_t>(kHeaderSize);
  const auto wkt_bytes = static_cast<std::uint16_t>(wkt_.size() + 1);
  h.put<std::uint32_t>(kHeaderSize + kVlrHeaderSize + wkt_bytes);  // offset to the points
  h.put<std::uint32_t>(1);                                          // one VLR: the WKT
  h.put<std::uint8_t>(6);                                           // point data record format
  h.put<std::uint16_t>(kPointSize);
  h.put<std::uint32_t>(0);                                  // legacy count: 0 for formats 6-10
  for (int i = 0; i < 5; ++i) h.put<std::uint32_t>(0);      // legacy counts by return
  for (double s : scale_) h.put<double>(s);
  for (double o : offset_) h.put<double>(o);
  const bool any = count_ > 0;
  for (std::size_t k = 0; k < 3; ++k) {
    h.put<double>(any ? max_[k] : 0.0);
    h.put<double>(any ? min_[k] : 0.0);
  }
  h.put<std::uint64_t>(0);  // waveform data
  h.put<std::uint64_t>(0);  // first extended VLR
  h.put<std::uint32_t>(0);  // extended VLRs
  h.put<std::uint64_t>(count_);
  h.put<std::uint64_t>(count_);  // all first returns: one return per point
  for (int i = 1; i < 15; ++i) h.put<std::uint64_t>(0);
  // The WKT record.
  h.put<std::uint16_t>(0);  // reserved
  h.text("LASF_Projection", 16);
  h.put<std::uint16_t>(kWktRecordId);
  h.put<std::uint16_t>(wkt_bytes);
  h.text("OGC coordinate system WKT", 32);
  h.text(wkt_, wkt_bytes);
  if (std::fwrite(h.data().data(), 1, h.data().size(), file_) != h.data().size())
    throw OutputError("cannot write the point cloud: " + std::string(std::strerror(errno)), ErrorContext{target_, {}, {}, {}});
}

void LasWriter::add(double x, double y, double z) {
  const double v[3] = {x, y, z};
  unsigned char record[kPointSize] = {};  // intensity, flags, class 0 (never classified), ... all 0
  unsigned char* at = record;
  for (std::size_t k = 0; k < 3; ++k) {
    const double units = std::round((v[k] - offset_[k]) / scale_[k]);
    if (!(std::abs(units) <= 2147483647.0))
      throw OutputError("a point lies too far from the LAS file's offset for its scale", ErrorContext{target_, {}, {}, {}});
    at = store<std::int32_t>(at, static_cast<std::int32_t>(units));
    // The bounds of what is stored, not of what was given: readers check points against them.
    const double stored = units * scale_[k] + offset_[k];
    min_[k] = std::min(min_[k], stored);
    max_[k] = std::max(max_[k], stored);
  }
  record[14] = 0x11;  // return 1 of 1 (after 12 bytes of X, Y, Z and 2 of intensity)
  if (std::fwrite(record, 1, kPointSize, file_) != kPointSize)
    throw OutputError("cannot write the point cloud: " + std::string(std::strerror(errno)), ErrorContext{target_, {}, {}, {}});
  ++count_;
}

void LasWriter::finish() {
  if (finished_) return;
  if (std::fseek(file_, 0, SEEK_SET) != 0)
    throw OutputError("cannot finish the point cloud: " + std::string(std::strerror(errno)), ErrorContext{target_, {}, {}, {}});
  write_header();
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!closed) throw OutputError("cannot finish the point cloud: " + std::string(std::strerror(errno)), ErrorContext{target_, {}, {}, {}});
  finished_ = true;
}

void LasWriter::commit() {
  finish();
  std::error_code ec;
  fs::rename(temp_, target_, ec);
  if (ec) throw OutputError("cannot move the point cloud into place: " + ec.message(), ErrorContext{target_, {}, {}, {}});
  committed_ = true;
}

}  // namespace luojia::detail
