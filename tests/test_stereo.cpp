// Stereo matching: the bounded-path aggregation against a naive one written from its definition,
// disparities against pairs whose disparity is known in closed form, tiles against the whole
// scene at awkward sizes, the products' georeferencing and depth, and refusals.
#include "stereo/census.hpp"
#include "stereo/path_aggregation.hpp"

#include "support.hpp"

#include <luojia/error.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/products/stereo.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

using namespace luojia;
using namespace luojia::test;

namespace {

std::int64_t phase(std::int64_t t, std::int64_t g, std::int64_t length) {
  const std::int64_t p = (t - g) % length;
  return p < 0 ? p + length : p;
}

// Semi-global sums from the definition: for each pixel and direction, the grid whose path has
// run longer (half a length or more), the path walked from its start (the grid's restart or the
// window's edge) up to the pixel with Hirschmueller's recursion in plain integers.
std::vector<std::int64_t> naive_sums(const stereo::PairCensus& pair, const MatchOptions& o) {
  const int nd = o.max_disparity - o.min_disparity + 1;
  const std::int64_t w = pair.width, h = pair.height, length = o.path_length, half = length / 2;
  const auto cost = [&](std::int64_t x, std::int64_t y, int k) -> std::int64_t {
    const std::int64_t xr = x - (o.min_disparity + k);
    const std::size_t i = static_cast<std::size_t>(y * w + x);
    if (!pair.left_valid[i] || xr < 0 || xr >= w || !pair.right_valid[static_cast<std::size_t>(y * w + xr)]) return stereo::kNeutralCost;
    return std::popcount(pair.left[i] ^ pair.right[static_cast<std::size_t>(y * w + xr)]);
  };
  std::vector<std::array<int, 2>> directions{{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
  if (o.paths == 8) directions.insert(directions.end(), {{1, 1}, {-1, 1}, {1, -1}, {-1, -1}});
  std::vector<std::int64_t> sums(static_cast<std::size_t>(w * h * nd), 0);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (const auto& [dx, dy] : directions) {
        // Position along the path: y for paths that change rows, x for the horizontal ones.
        const std::int64_t t = dy != 0 ? dy * (pair.origin_y + y) : dx * (pair.origin_x + x);
        const std::int64_t grid = phase(t, 0, length) >= half ? 0 : half;
        std::int64_t back = phase(t, grid, length);
        // The window's edge comes first where it is nearer.
        for (std::int64_t m = 1; m <= back; ++m) {
          const std::int64_t px = x - m * dx, py = y - m * dy;
          if (px < 0 || px >= w || py < 0 || py >= h) {
            back = m - 1;
            break;
          }
        }
        std::vector<std::int64_t> path(static_cast<std::size_t>(nd));
        for (std::int64_t m = back; m >= 0; --m) {
          const std::int64_t px = x - m * dx, py = y - m * dy;
          if (m == back) {
            for (int k = 0; k < nd; ++k) path[static_cast<std::size_t>(k)] = cost(px, py, k);
            continue;
          }
          const std::int64_t prev_min = *std::min_element(path.begin(), path.end());
          std::vector<std::int64_t> next(static_cast<std::size_t>(nd));
          for (int k = 0; k < nd; ++k) {
            std::int64_t best = std::min(path[static_cast<std::size_t>(k)], prev_min + o.p2);
            if (k > 0) best = std::min(best, path[static_cast<std::size_t>(k - 1)] + o.p1);
            if (k + 1 < nd) best = std::min(best, path[static_cast<std::size_t>(k + 1)] + o.p1);
            next[static_cast<std::size_t>(k)] = cost(px, py, k) + best - prev_min;
          }
          path = next;
        }
        for (int k = 0; k < nd; ++k) sums[static_cast<std::size_t>((y * w + x) * nd + k)] += path[static_cast<std::size_t>(k)];
      }
  return sums;
}

// A texture with detail at several scales, as imagery has.
double texture(int x, int y, int seed = 0) {
  return 100.0 + 60.0 * hash01(0, x, y, seed) + 40.0 * hash01(0, x / 3, y / 3, seed + 1) + 30.0 * std::sin(0.21 * x + 0.13 * y);
}

// A pair whose true disparity is known: left(x, y) = right texture at x - d(x, y), integer d.
struct KnownPair {
  int width, height;
  std::vector<int> disparity;
  int at(int x, int y) const { return disparity[static_cast<std::size_t>(y * width + x)]; }
};

KnownPair blocks_pair(int width, int height) {
  KnownPair p{width, height, std::vector<int>(static_cast<std::size_t>(width * height))};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      int d = 4 + (x * 3) / width;                                   // a ramp of ground, 4 to 6
      if (x >= width / 3 && x < width / 2 && y >= height / 4 && y < height / 2) d = 11;  // a building
      p.disparity[static_cast<std::size_t>(y * width + x)] = d;
    }
  return p;
}

void write_pair(const KnownPair& p, const std::string& left, const std::string& right, RasterSpec spec = {}) {
  spec.width = p.width;
  spec.height = p.height;
  make_raster(left, spec, [&](int, int x, int y) { return texture(x - p.at(x, y), y); });
  make_raster(right, spec, [&](int, int x, int y) { return texture(x, y); });
}

MatchOptions small_options() {
  MatchOptions o;
  o.min_disparity = 0;
  o.max_disparity = 15;
  o.path_length = 16;
  o.speckle_size = 12;
  return o;
}

}  // namespace

TEST_CASE("stereo: the aggregation equals its definition, 8- and 16-bit paths, 8 and 4 paths", "[stereo]") {
  const std::int64_t w = 37, h = 23;
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> left(static_cast<std::size_t>(w * h)), right(left.size());
  std::vector<std::uint8_t> left_valid(left.size()), right_valid(left.size());
  for (std::size_t i = 0; i < left.size(); ++i) {
    left[i] = random() >> 2;
    right[i] = random() >> 2;
    left_valid[i] = random() % 10 != 0;
    right_valid[i] = random() % 10 != 0;
  }
  struct Case {
    int min_d, max_d, paths, length, p1, p2;
    std::int64_t origin_x, origin_y;
  };
  const std::vector<Case> cases{
      {0, 15, 8, 8, 10, 120, 0, 0},     // 8-bit paths
      {-3, 12, 8, 7, 10, 120, -5, 13},  // an odd length, negative disparities, the window off the origin
      {2, 40, 4, 10, 20, 300, 3, -8},   // 16-bit paths (p1 + p2 above 193), two 32-lane vectors
      {0, 70, 8, 6, 8, 185, 11, 2},     // 8-bit at the limit, two 64-lane vectors
      {0, 0, 8, 4, 10, 120, 1, 1},      // one disparity
  };
  for (const Case& c : cases) {
    MatchOptions o;
    o.min_disparity = c.min_d;
    o.max_disparity = c.max_d;
    o.paths = c.paths;
    o.path_length = c.length;
    o.p1 = c.p1;
    o.p2 = c.p2;
    INFO("disparities " << c.min_d << ".." << c.max_d << ", " << c.paths << " paths of " << c.length << ", p1 " << c.p1 << " p2 " << c.p2);
    const stereo::PairCensus pair{left.data(), right.data(), left_valid.data(), right_valid.data(), w, h, c.origin_x, c.origin_y};
    std::vector<std::uint16_t> sums;
    stereo::aggregate_paths(pair, o, sums);
    const std::vector<std::int64_t> expected = naive_sums(pair, o);
    const int nd = c.max_d - c.min_d + 1, stride = stereo::padded_disparities(nd);
    std::int64_t differing = 0;
    for (std::int64_t i = 0; i < w * h; ++i)
      for (int k = 0; k < nd; ++k)
        differing += sums[static_cast<std::size_t>(i * stride + k)] != expected[static_cast<std::size_t>(i * nd + k)];
    CHECK(differing == 0);
  }
}

TEST_CASE("stereo: the census transform is the neighbours darker than the centre", "[stereo]") {
  const std::int64_t w = 12, h = 9;
  std::vector<float> pixels(static_cast<std::size_t>(w * h));
  std::vector<std::uint8_t> mask(pixels.size(), 1);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(hash01(0, static_cast<int>(i), 0));
  mask[20] = 0;
  std::vector<std::uint64_t> census;
  std::vector<std::uint8_t> valid;
  stereo::census_transform(pixels.data(), mask.data(), w, h, census, valid);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * w + x);
      std::uint64_t expected = 0;
      int bit = 0;
      for (int dy = -3; dy <= 3; ++dy)
        for (int dx = -4; dx <= 4; ++dx) {
          if (!dx && !dy) continue;
          const std::int64_t nx = x + dx, ny = y + dy;
          const bool inside = nx >= 0 && nx < w && ny >= 0 && ny < h && mask[static_cast<std::size_t>(ny * w + nx)];
          if (inside && pixels[static_cast<std::size_t>(ny * w + nx)] < pixels[i]) expected |= std::uint64_t{1} << bit;
          ++bit;
        }
      CHECK(valid[i] == mask[i]);
      CHECK(census[i] == (mask[i] ? expected : 0));
    }
}

TEST_CASE("stereo: a pair of known disparity is matched", "[stereo]") {
  const KnownPair truth = blocks_pair(96, 64);
  std::vector<float> left(static_cast<std::size_t>(96 * 64)), right(left.size()), disparity(left.size());
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 96; ++x) {
      left[static_cast<std::size_t>(y * 96 + x)] = static_cast<float>(texture(x - truth.at(x, y), y));
      right[static_cast<std::size_t>(y * 96 + x)] = static_cast<float>(texture(x, y));
    }
  const std::vector<std::uint8_t> mask(left.size(), 1);
  for (const int paths : {8, 4}) {
    MatchOptions o = small_options();
    o.paths = paths;
    MatchCounts counts;
    match_window(left.data(), mask.data(), right.data(), mask.data(), 96, 64, 0, 0, o, -9999.0f, disparity.data(), nullptr, &counts);
    // Away from the left edge (whose matches lie outside the right view) and the building's
    // borders (occlusions), every pixel is matched within half a pixel.
    int inside = 0, close = 0, matched = 0;
    for (int y = 0; y < 64; ++y)
      for (int x = 16; x < 96; ++x) {
        const float d = disparity[static_cast<std::size_t>(y * 96 + x)];
        matched += d != -9999.0f;
        bool near_edge = false;
        for (int e = -2; e <= 2; ++e) near_edge |= x + e >= 0 && x + e < 96 && truth.at(x + e, y) != truth.at(x, y);
        for (int e = -2; e <= 2; ++e) near_edge |= y + e >= 0 && y + e < 64 && truth.at(x, y + e) != truth.at(x, y);
        if (near_edge) continue;
        ++inside;
        close += d != -9999.0f && std::abs(d - static_cast<float>(truth.at(x, y))) <= 0.5f;
      }
    INFO(paths << " paths: " << close << " of " << inside << " within half a pixel, " << matched << " matched");
    CHECK(close >= inside * 97 / 100);
    CHECK(counts.valid == 96 * 64);
    CHECK(counts.matched > 96 * 64 * 85 / 100);
  }
}

TEST_CASE("stereo: tiles of any size give the whole scene's disparity bit for bit", "[stereo][exact]") {
  TempDir dir;
  struct Size {
    int width, height;
  };
  for (const Size s : std::vector<Size>{{1, 1}, {40, 1}, {1, 30}, {37, 29}, {83, 45}}) {
    KnownPair truth = blocks_pair(s.width, s.height);
    RasterSpec spec;
    spec.nodata = -1.0;
    const std::string left = dir.file("l.tif"), right = dir.file("r.tif");
    spec.width = s.width;
    spec.height = s.height;
    // Pixels without data in both views (a cloud, a scan gap).
    make_raster(left, spec, [&](int, int x, int y) { return (x * 7 + y * 3) % 31 == 0 ? -1.0 : texture(x - truth.at(x, y), y); });
    make_raster(right, spec, [&](int, int x, int y) { return (x * 5 + y * 11) % 37 == 0 ? -1.0 : texture(x, y); });
    StereoOptions o;
    o.match = small_options();
    o.match.min_disparity = -2;
    o.output.overwrite = true;
    o.tile = 4096;
    match_stereo(left, right, dir.file("whole.tif"), o);
    const std::vector<double> whole = read_band(dir.file("whole.tif"), 1);
    for (const std::int64_t tile : {16, 23, 64}) {
      o.tile = tile;
      INFO(s.width << "x" << s.height << " in tiles of " << tile);
      match_stereo(left, right, dir.file("tiled.tif"), o);
      CHECK(read_band(dir.file("tiled.tif"), 1) == whole);
    }
    // 4 paths and no subpixel, as a user may ask.
    o.match.paths = 4;
    o.match.subpixel = false;
    o.tile = 4096;
    match_stereo(left, right, dir.file("whole4.tif"), o);
    o.tile = 16;
    match_stereo(left, right, dir.file("tiled4.tif"), o);
    CHECK(read_band(dir.file("tiled4.tif"), 1) == read_band(dir.file("whole4.tif"), 1));
  }
}

TEST_CASE("stereo: products carry the left view's georeferencing, depth follows the disparity", "[stereo]") {
  TempDir dir;
  const KnownPair truth = blocks_pair(64, 40);
  RasterSpec spec;
  spec.type = GDT_UInt16;
  write_pair(truth, dir.file("l.tif"), dir.file("r.tif"), spec);
  StereoOptions o;
  o.match = small_options();
  o.depth = dir.file("depth.tif");
  o.baseline = 0.5;
  o.focal = 1000.0;
  o.disparity_offset = 2.0;
  const StereoReport r = match_stereo(dir.file("l.tif"), dir.file("r.tif"), dir.file("d.tif"), o);
  CHECK(r.written == std::vector<std::string>{dir.file("d.tif"), dir.file("depth.tif")});
  CHECK(r.halo.left > r.halo.right);  // the right view's match lies to the left
  const Raster left = Raster::open(dir.file("l.tif")), d = Raster::open(dir.file("d.tif"));
  CHECK(d.info().geotransform->c == left.info().geotransform->c);
  CHECK(d.info().crs_wkt == left.info().crs_wkt);
  CHECK(d.info().band(1).nodata == -9999.0);
  CHECK(d.info().band(1).type == DataType::Float32);
  const std::vector<double> disparity = read_band(dir.file("d.tif"), 1), depth = read_band(dir.file("depth.tif"), 1);
  int matched = 0;
  for (std::size_t i = 0; i < disparity.size(); ++i) {
    if (disparity[i] == -9999.0) {
      CHECK(depth[i] == -9999.0);
      continue;
    }
    ++matched;
    CHECK(depth[i] == Approx(1000.0 * 0.5 / (disparity[i] + 2.0)).epsilon(1e-6));
  }
  CHECK(matched > 64 * 40 / 2);
  CHECK(r.counts.matched == matched);
  // Nothing left behind: the raw disparity of the first pass was a temporary.
  CHECK(dir.entries().size() == 4);
}

TEST_CASE("stereo: refusals name what is wrong and write nothing", "[stereo][errors]") {
  TempDir dir;
  const KnownPair truth = blocks_pair(32, 20);
  write_pair(truth, dir.file("l.tif"), dir.file("r.tif"));
  RasterSpec other;
  other.width = 31;
  other.height = 20;
  make_raster(dir.file("narrow.tif"), other, [](int, int x, int y) { return texture(x, y); });
  const auto refused = [&](const StereoOptions& o, const std::string& right = "r.tif") {
    match_stereo(dir.file("l.tif"), dir.file(right), dir.file("d.tif"), o);
  };
  CHECK_THROWS_WITH(refused({}, "narrow.tif"), Catch::Contains("a rectified pair has one size") && Catch::Contains("32x20") &&
                                                   Catch::Contains("31x20"));
  StereoOptions o;
  o.match.max_disparity = -1;
  CHECK_THROWS_AS(refused(o), UsageError);
  o = {};
  o.match.paths = 6;
  CHECK_THROWS_WITH(refused(o), Catch::Contains("must be 4 or 8"));
  o = {};
  o.baseline = 0.3;
  CHECK_THROWS_WITH(refused(o), Catch::Contains("baseline, focal and disparity_offset would do nothing"));
  o = {};
  o.depth = dir.file("z.tif");
  CHECK_THROWS_WITH(refused(o), Catch::Contains("positive length"));
  o = {};
  o.right_band = 2;
  CHECK_THROWS_WITH(refused(o), Catch::Contains("is band 2, but the raster has 1"));
  o = {};
  o.nodata = 3.0f;
  CHECK_THROWS_WITH(refused(o), Catch::Contains("outside the disparity range"));
  CHECK(dir.entries().size() == 3);
}

TEST_CASE("stereo: a learned matcher (GC-Net-style ONNX) equals PyTorch, tiled as whole", "[stereo][nn]") {
  // tools/make_stereo_model.py: features, a cost volume of 8 shifts (F.pad and a slice), 3-D
  // convolutions, soft-argmin; PyTorch's disparity on the pair in reference.tif.
  const std::string data = LUOJIA_TEST_DATA "/stereo/";
  TempDir dir;
  StereoOptions o;
  o.model = data + "gcnet_tiny.onnx";
  o.tile = 4096;
  const StereoReport whole = match_stereo(data + "left.tif", data + "right.tif", dir.file("whole.tif"), o);
  CHECK(whole.tiles == 1);
  const std::vector<double> w = read_band(dir.file("whole.tif"), 1), reference = read_band(data + "reference.tif", 1);
  REQUIRE(w.size() == reference.size());
  double worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::abs(w[i] - reference[i]));
  CHECK(worst < 1e-4);
  o.tile = 16;
  const StereoReport tiled = match_stereo(data + "left.tif", data + "right.tif", dir.file("tiled.tif"), o);
  CHECK(tiled.tiles > 4);
  // The reach: 7 columns of shifts, 2 feature and 2 volume convolutions of 3.
  CHECK(tiled.halo.left >= 11);
  const std::vector<double> t = read_band(dir.file("tiled.tif"), 1);
  worst = 0;
  for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::abs(w[i] - t[i]));
  CHECK(worst < 1e-5);
  // The matcher's own options mean nothing to a network: refused, not ignored.
  o.match.max_disparity = 20;
  CHECK_THROWS_WITH(match_stereo(data + "left.tif", data + "right.tif", dir.file("x.tif"), o), Catch::Contains("sets the disparities itself"));
}

TEST_CASE("stereo: a GC-Net-shaped network with block matching weights equals PyTorch and finds the pair's shift", "[stereo][nn]") {
  // tools/make_block_matcher.py: 48 shifts, absolute differences averaged over 5 x 5, soft-argmin.
  const std::string data = LUOJIA_TEST_DATA "/stereo/";
  TempDir dir;
  StereoOptions o;
  o.model = data + "block_matcher.onnx";
  o.tile = 32;
  const StereoReport r = match_stereo(data + "block_matcher_left.tif", data + "block_matcher_right.tif", dir.file("d.tif"), o);
  CHECK(r.tiles > 1);
  CHECK(r.halo.left >= 47);
  const std::vector<double> d = read_band(dir.file("d.tif"), 1), reference = read_band(data + "block_matcher_reference.tif", 1);
  REQUIRE(d.size() == reference.size());
  double worst = 0;
  std::size_t found = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    worst = std::max(worst, std::abs(d[i] - reference[i]));
    found += std::abs(d[i] - 3.0) < 0.5;
  }
  CHECK(worst < 1e-3);
  // (the pair is a texture and itself shifted by 3 pixels; its left columns see no match, and
  // the windows of its top and bottom rows reach beyond it)
  CHECK(found > d.size() / 2);
}
