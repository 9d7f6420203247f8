#include "support.hpp"

#include <luojia/engine/engine.hpp>
#include <luojia/products/spectral_index.hpp>
#include <luojia/progress.hpp>
#include <luojia/error.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace luojia;
using luojia::test::TempDir;

namespace {

// Copies the core of every input band to the output: the engine must then reproduce the input.
void identity(const InputTile& in, OutputTile& out) {
  for (int b = 0; b < out.pixels.bands(); ++b)
    for (std::int64_t y = 0; y < in.tile.core.height; ++y)
      std::memcpy(&out.pixels.at(b, y, 0), in.pixels.band(b).data() + (y + in.core_y()) * in.pixels.width() + in.core_x(),
                  static_cast<std::size_t>(in.tile.core.width) * sizeof(float));
}

// Sum over a (2r+1)^2 neighbourhood, edges replicated: needs a halo of r to be exact.
TileKernel box_sum(int r) {
  return [r](const InputTile& in, OutputTile& out) {
    for (std::int64_t y = 0; y < in.tile.core.height; ++y)
      for (std::int64_t x = 0; x < in.tile.core.width; ++x) {
        double sum = 0.0;
        for (int dy = -r; dy <= r; ++dy)
          for (int dx = -r; dx <= r; ++dx) sum += in.pixels.at(0, y + in.core_y() + dy, x + in.core_x() + dx);
        out.pixels.at(0, y, x) = static_cast<float>(sum);
      }
  };
}

}  // namespace

TEST_CASE("an identity kernel reproduces the input bit for bit", "[engine]") {
  TempDir dir;
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 37}, std::pair{41, 1}, std::pair{64, 64}, std::pair{131, 77}}) {
    luojia::test::RasterSpec spec;
    spec.width = w;
    spec.height = h;
    spec.bands = 3;
    const std::string in_path = dir.file("in.tif");
    luojia::test::make_raster(in_path, spec, [](int b, int x, int y) {
      return (luojia::test::hash01(b, x, y) - 0.5) * 1e6;
    });
    for (std::int64_t tile : {1, 7, 32, 512})
      for (std::int64_t halo : {0, 3})
        for (int threads : {1, 2, 3}) {
          if (tile == 1 && w * h > 2000) continue;
          INFO(w << "x" << h << " tile " << tile << " halo " << halo << " threads " << threads);
          Raster raster = Raster::open(in_path);
          TileGridOptions go;
          go.tile_width = go.tile_height = tile;
          go.halo = halo;
          const TileGrid grid(w, h, go);
          const std::string out_path = dir.file("out.tif");
          RasterLayout layout = layout_like(raster.info(), DataType::Float32, 3);
          OutputOptions oo;
          oo.overwrite = true;
          RasterWriter writer(out_path, layout, oo);
          StreamOptions so;
          so.threads = threads;
          so.read.edge = EdgeMode::Reflect;
          const StreamStats stats = stream(raster, {1, 2, 3}, grid, writer, 3, identity, so);
          writer.commit();
          CHECK(stats.tiles == grid.size());
          for (int b = 1; b <= 3; ++b) REQUIRE(luojia::test::read_band(out_path, b) == luojia::test::read_band(in_path, b));
        }
  }
}

TEST_CASE("tiled processing with a halo equals whole-image processing", "[engine]") {
  TempDir dir;
  const int w = 53, h = 29, r = 2;
  luojia::test::RasterSpec spec;
  spec.width = w;
  spec.height = h;
  const std::string in_path = dir.file("in.tif");
  luojia::test::make_raster(in_path, spec, [](int, int x, int y) { return std::floor(luojia::test::hash01(0, x, y) * 1000); });
  const std::vector<double> src = luojia::test::read_band(in_path, 1);
  for (std::int64_t tile : {4, 9, 16, 64}) {
    Raster raster = Raster::open(in_path);
    TileGridOptions go;
    go.tile_width = go.tile_height = tile;
    go.halo = r;
    const TileGrid grid(w, h, go);
    const std::string out_path = dir.file("sum.tif");
    OutputOptions oo;
    oo.overwrite = true;
    RasterWriter writer(out_path, layout_like(raster.info(), DataType::Float32, 1), oo);
    StreamOptions so;
    so.read.edge = EdgeMode::Replicate;
    stream(raster, {1}, grid, writer, 1, box_sum(r), so);
    writer.commit();
    const std::vector<double> out = luojia::test::read_band(out_path, 1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double expected = 0.0;
        for (int dy = -r; dy <= r; ++dy)
          for (int dx = -r; dx <= r; ++dx)
            expected += src[static_cast<std::size_t>(std::clamp(y + dy, 0, h - 1) * w + std::clamp(x + dx, 0, w - 1))];
        REQUIRE(out[static_cast<std::size_t>(y * w + x)] == expected);
      }
  }
}

TEST_CASE("cancellation stops the run and leaves no output", "[engine]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 200;
  spec.height = 200;
  const std::string in_path = dir.file("in.tif");
  luojia::test::make_raster(in_path, spec, [](int, int x, int y) { return x + y; });
  Raster raster = Raster::open(in_path);
  TileGridOptions go;
  go.tile_width = go.tile_height = 20;
  const TileGrid grid(200, 200, go);
  int calls = 0;
  StreamOptions so;
  so.progress = [](double complete, const char*, void* data) -> int {
    ++*static_cast<int*>(data);
    return complete < 0.5;
  };
  so.progress_data = &calls;
  {
    RasterWriter writer(dir.file("out.tif"), layout_like(raster.info(), DataType::Float32, 1));
    CHECK_THROWS_AS(stream(raster, {1}, grid, writer, 1, identity, so), Cancelled);
    CHECK(calls < 80);  // stopped well before the 100 tiles
  }
  CHECK(dir.entries() == std::vector<std::string>{"in.tif"});
}

TEST_CASE("a lambda as progress sees the run advance to its end, and cancels it by returning false", "[engine]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 120;
  spec.height = 90;
  const std::string in_path = dir.file("in.tif");
  luojia::test::make_raster(in_path, spec, [](int, int x, int y) { return x * y; });
  Raster raster = Raster::open(in_path);
  TileGridOptions go;
  go.tile_width = go.tile_height = 16;
  const TileGrid grid(120, 90, go);
  std::vector<double> seen;
  const ProgressFunction record([&seen](double complete, std::string_view) {
    seen.push_back(complete);
    return true;
  });
  StreamOptions so;
  record.attach(so);
  {
    RasterWriter writer(dir.file("out.tif"), layout_like(raster.info(), DataType::Float32, 1));
    stream(raster, {1}, grid, writer, 1, identity, so);
    writer.commit();
  }
  REQUIRE(seen.size() >= 2);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.front() == 0.0);
  CHECK(seen.back() == 1.0);

  int calls = 0;
  const ProgressFunction stop_half_way([&calls](double complete, std::string_view) {
    ++calls;
    return complete < 0.5;
  });
  stop_half_way.attach(so);
  {
    RasterWriter writer(dir.file("cancelled.tif"), layout_like(raster.info(), DataType::Float32, 1));
    CHECK_THROWS_AS(stream(raster, {1}, grid, writer, 1, identity, so), Cancelled);
  }
  CHECK(calls < static_cast<int>(seen.size()));
  CHECK(!std::filesystem::exists(dir.file("cancelled.tif")));

  // A callable that throws cancels the run (GDAL's code is not crossed by the exception), and the
  // exception is kept for the caller.
  const ProgressFunction throwing([](double complete, std::string_view) -> bool {
    if (complete > 0.3) throw std::runtime_error("the caller's own failure");
    return true;
  });
  throwing.attach(so);
  {
    RasterWriter writer(dir.file("thrown.tif"), layout_like(raster.info(), DataType::Float32, 1));
    CHECK_THROWS_AS(stream(raster, {1}, grid, writer, 1, identity, so), Cancelled);
  }
  CHECK(!std::filesystem::exists(dir.file("thrown.tif")));
  REQUIRE(throwing.error());
  CHECK_THROWS_WITH(std::rethrow_exception(throwing.error()), "the caller's own failure");

  // A product's options take it the same way.
  seen.clear();
  IndexJob job;
  job.indices = {IndexSpec{"NDVI", "", {}}};
  job.bands = {{"R", 1}, {"N", 1}};
  record.attach(job.stream);
  compute_indices(in_path, dir.file("ndvi.tif"), job);
  REQUIRE(!seen.empty());
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.back() == 1.0);
}

TEST_CASE("kernel errors carry the tile and leave no output", "[engine]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 50;
  spec.height = 50;
  const std::string in_path = dir.file("in.tif");
  luojia::test::make_raster(in_path, spec, [](int, int x, int) { return x; });
  Raster raster = Raster::open(in_path);
  TileGridOptions go;
  go.tile_width = go.tile_height = 10;
  const TileGrid grid(50, 50, go);
  {
    RasterWriter writer(dir.file("out.tif"), layout_like(raster.info(), DataType::Float32, 1));
    const TileKernel failing = [](const InputTile& in, OutputTile&) {
      if (in.tile.index == 7) raise("kernel refused");
    };
    CHECK_THROWS_WITH(stream(raster, {1}, grid, writer, 1, failing, {}), in_path + ", tile 7: kernel refused");
  }
  CHECK(dir.entries() == std::vector<std::string>{"in.tif"});
}

TEST_CASE("the memory budget bounds tiles in flight and GDAL's cache", "[engine]") {
  TileGridOptions go;
  go.tile_width = go.tile_height = 512;
  const TileGrid grid(100000, 100000, go);
  StreamOptions so;
  so.memory_budget = 256u << 20;
  const MemoryPlan plan = plan_memory(grid, 4, 1, 2, so);
  CHECK(plan.gdal_cache_bytes == (16u << 20));
  CHECK(plan.tiles_in_flight == 3);  // threads + 1 fit easily
  CHECK(plan.gdal_cache_bytes + plan.tiles_in_flight * plan.bytes_per_tile <= so.memory_budget);
  so.memory_budget = 24u << 20;
  const MemoryPlan tight = plan_memory(grid, 4, 1, 8, so);
  CHECK(tight.tiles_in_flight >= 1);
  CHECK(tight.gdal_cache_bytes + tight.tiles_in_flight * tight.bytes_per_tile <= so.memory_budget);
  so.memory_budget = 5u << 20;
  CHECK_THROWS_AS(plan_memory(grid, 4, 1, 2, so), Error);
}

TEST_CASE("sizes and thread counts parse", "[engine]") {
  CHECK(parse_byte_size("256M") == (256u << 20));
  CHECK(parse_byte_size("1G") == (1u << 30));
  CHECK(parse_byte_size("64MiB") == (64u << 20));
  CHECK(parse_byte_size("512kb") == (512u << 10));
  CHECK(parse_byte_size("300") == (300u << 20));
  CHECK(parse_byte_size("1048576B") == (1u << 20));
  CHECK_THROWS_AS(parse_byte_size("lots"), Error);
  CHECK_THROWS_AS(parse_byte_size("-5M"), Error);
  CHECK_THROWS_AS(parse_byte_size("5X"), Error);
  CHECK(resolve_threads(3) == 3);
  CHECK(resolve_threads(0) >= 1);
  CHECK_THROWS_AS(resolve_threads(-1), Error);
}

TEST_CASE("typed tile results reach the sink in tile order, once each, whatever the threads", "[engine]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 97;
  spec.height = 61;
  spec.nodata = -1.0;
  const std::string in_path = dir.file("in.tif");
  luojia::test::make_raster(in_path, spec, [](int, int x, int y) { return (x * 7 + y) % 13 == 0 ? -1.0 : x + 1000.0 * y; });
  // The reference: the sum of the valid pixels and their count, from GDAL's own read.
  double want_sum = 0.0;
  std::int64_t want_count = 0;
  for (double v : luojia::test::read_band(in_path, 1))
    if (v != -1.0) {
      want_sum += v;
      ++want_count;
    }
  // A move-only result, as a detection buffer is: the core's valid pixels and where they lie.
  struct Partial {
    std::int64_t index;
    std::unique_ptr<std::vector<double>> values;
  };
  for (int threads : {1, 2, 4}) {
    INFO("threads " << threads);
    Raster raster = Raster::open(in_path);
    TileGridOptions go;
    go.tile_width = 16;
    go.tile_height = 9;
    go.halo = 2;
    const TileGrid grid(spec.width, spec.height, go);
    std::vector<std::int64_t> order;
    double sum = 0.0;
    std::int64_t count = 0;
    StreamOptions so;
    so.threads = threads;
    const std::function<Partial(const InputTile&)> kernel = [](const InputTile& in) {
      Partial p{in.tile.index, std::make_unique<std::vector<double>>()};
      for (std::int64_t y = 0; y < in.tile.core.height; ++y)
        for (std::int64_t x = 0; x < in.tile.core.width; ++x) {
          const std::size_t i = static_cast<std::size_t>((y + in.core_y()) * in.pixels.width() + x + in.core_x());
          if (in.mask[i]) p.values->push_back(in.pixels.data()[i]);
        }
      return p;
    };
    const std::function<void(const Tile&, Partial&&)> sink = [&](const Tile& tile, Partial&& p) {
      CHECK(p.index == tile.index);
      order.push_back(tile.index);
      for (double v : *p.values) sum += v;
      count += static_cast<std::int64_t>(p.values->size());
    };
    const StreamStats stats = stream_results<Partial>(raster, {1}, grid, kernel, sink, so);
    CHECK(stats.tiles == grid.size());
    REQUIRE(order.size() == static_cast<std::size_t>(grid.size()));
    for (std::size_t i = 0; i < order.size(); ++i) CHECK(order[i] == static_cast<std::int64_t>(i));
    CHECK(count == want_count);
    CHECK(sum == want_sum);
  }
}

TEST_CASE("stream() runs the shard its options name: cut from a whole grid, or a grid that is that shard", "[engine][shards]") {
  TempDir dir;
  luojia::test::RasterSpec spec;
  spec.width = 50;
  spec.height = 70;
  luojia::test::make_raster(dir.file("in.tif"), spec, [](int, int x, int y) { return x + 100.0 * y; });
  Raster input = Raster::open(dir.file("in.tif"));
  TileGridOptions go;
  go.tile_width = go.tile_height = 16;  // 5 rows of tiles
  const TileGrid whole(50, 70, go);
  StreamOptions o;
  o.threads = 2;
  o.shard = Shard{1, 3};
  const auto rows_streamed = [&](const TileGrid& grid) {
    std::vector<std::int64_t> rows;
    stream(input, {1}, grid, 1, identity, [&](const Tile& t, const Image&) { rows.push_back(t.row); }, o);
    return rows;
  };
  // Shard 2 of 3 of five tile rows is row 1 to row 2 (rows 5/3 .. 10/3), four tiles each.
  const std::vector<std::int64_t> want{1, 1, 1, 1, 2, 2, 2, 2};
  CHECK(rows_streamed(whole) == want);
  CHECK(rows_streamed(whole.shard(Shard{1, 3})) == want);
  // The writer's output covers the shard's rows.
  RasterLayout layout = layout_like(input.info(), DataType::Float32, 1);
  layout.height = whole.shard(Shard{1, 3}).extent().height;
  RasterWriter writer(dir.file("part.tif"), layout, {});
  stream(input, {1}, whole, writer, 1, identity, o);
  writer.commit();
  const std::vector<double> part = luojia::test::read_band(dir.file("part.tif"), 1);
  CHECK(part.front() == 100.0 * 16);  // the shard starts at tile row 1: pixel row 16
  // Another shard's grid is a mistake, not a silent mix.
  CHECK_THROWS_WITH(stream(input, {1}, whole.shard(Shard{2, 3}), 1, identity, [](const Tile&, const Image&) {}, o),
                    Catch::Contains("was streamed as shard 2/3"));
}
