#include <luojia/spectral_index.hpp>

#include <luojia/error.hpp>
#include <luojia/shard_layout.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

namespace luojia {
namespace {

struct KindName {
  IndexKind kind;
  std::string_view name;
};
constexpr KindName kNames[] = {
    {IndexKind::NDVI, "ndvi"},   {IndexKind::NDWI, "ndwi"}, {IndexKind::MNDWI, "mndwi"},
    {IndexKind::NDBI, "ndbi"},   {IndexKind::SAVI, "savi"}, {IndexKind::EVI, "evi"},
    {IndexKind::NormalizedDifference, "nd"},
};

// The roles an index reads, as (role name, band number) pairs in formula order.
std::vector<std::pair<std::string, int>> inputs_of(const IndexSpec& spec, const BandRoles& roles) {
  switch (spec.kind) {
    case IndexKind::NDVI: return {{"nir", roles.nir}, {"red", roles.red}};
    case IndexKind::NDWI: return {{"green", roles.green}, {"nir", roles.nir}};
    case IndexKind::MNDWI: return {{"green", roles.green}, {"swir", roles.swir}};
    case IndexKind::NDBI: return {{"swir", roles.swir}, {"nir", roles.nir}};
    case IndexKind::SAVI: return {{"nir", roles.nir}, {"red", roles.red}};
    case IndexKind::EVI: return {{"nir", roles.nir}, {"red", roles.red}, {"blue", roles.blue}};
    case IndexKind::NormalizedDifference: return {{"a", spec.band_a}, {"b", spec.band_b}};
  }
  return {};
}

// One index over one tile. a, b, c are the planes of the formula's inputs in inputs_of order;
// the formulas are written so that every index is numerator / denominator.
template <class Formula>
void evaluate(const InputTile& in, const std::vector<int>& planes, float* out, float nodata,
              Formula formula) {
  // Up to three inputs; an absent third repeats the first so the loop has no branches.
  const int p0 = planes[0], p1 = planes[1], p2 = planes.size() > 2 ? planes[2] : planes[0];
  const float* a = in.pixels.band(p0).data();
  const float* b = in.pixels.band(p1).data();
  const float* c = in.pixels.band(p2).data();
  // Valid where every input of this index holds data, whatever other bands read hold.
  const std::uint8_t* ma = in.mask_plane(p0);
  const std::uint8_t* mb = in.mask_plane(p1);
  const std::uint8_t* mc = in.mask_plane(p2);
  const Tile& t = in.tile;
  const std::int64_t stride = in.pixels.width();
  for (std::int64_t y = 0; y < t.core.height; ++y) {
    const std::int64_t row = (y + in.core_y()) * stride + in.core_x();
    float* dst = out + y * t.core.width;
#pragma omp simd
    for (std::int64_t x = 0; x < t.core.width; ++x) {
      const std::int64_t i = row + x;
      float num = 0.0f, den = 0.0f;
      formula(a[i], b[i], c[i], num, den);
      const float value = num / den;
      dst[x] = ((ma[i] & mb[i] & mc[i]) && den != 0.0f && std::isfinite(value)) ? value : nodata;
    }
  }
}

}  // namespace

IndexKind parse_index_kind(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& k : kNames)
    if (k.name == lower) return k.kind;
  raise("unknown index '" + std::string(text) + "' (ndvi, ndwi, mndwi, ndbi, savi, evi, nd)");
}

std::string_view name(IndexKind kind) {
  for (const auto& k : kNames)
    if (k.kind == kind) return k.name;
  return "?";
}

IndexPlan plan_indices(const std::vector<IndexSpec>& specs, const BandRoles& roles, float nodata) {
  if (specs.empty()) raise("no index requested");
  IndexPlan plan;
  // Each index's input planes as positions in plan.bands, which lists every band once.
  std::vector<std::vector<int>> planes;
  for (const auto& spec : specs) {
    std::vector<int> positions;
    for (const auto& [role, band] : inputs_of(spec, roles)) {
      if (band <= 0 && spec.kind == IndexKind::NormalizedDifference)
        raise("band " + std::to_string(band) + " is out of range for --nd: bands are numbered from 1");
      if (band <= 0)
        raise(std::string(name(spec.kind)) + " needs the " + role + " band" +
              (spec.kind == IndexKind::NormalizedDifference ? " (--nd A,B)" : " (--" + role + " N)"));
      auto it = std::find(plan.bands.begin(), plan.bands.end(), band);
      if (it == plan.bands.end()) it = plan.bands.insert(plan.bands.end(), band);
      positions.push_back(static_cast<int>(it - plan.bands.begin()));
    }
    planes.push_back(positions);
  }
  plan.kernel = [specs, planes, nodata](const InputTile& in, OutputTile& out) {
    for (std::size_t k = 0; k < specs.size(); ++k) {
      const IndexSpec& s = specs[k];
      float* dst = out.pixels.band(static_cast<int>(k)).data();
      switch (s.kind) {
        case IndexKind::NDVI: case IndexKind::NDWI: case IndexKind::MNDWI: case IndexKind::NDBI:
        case IndexKind::NormalizedDifference:
          evaluate(in, planes[k], dst, nodata, [](float p, float q, float, float& num, float& den) {
            num = p - q;
            den = p + q;
          });
          break;
        case IndexKind::SAVI: {
          const auto l = static_cast<float>(s.savi_l);
          evaluate(in, planes[k], dst, nodata, [l](float nir, float red, float, float& num, float& den) {
            num = (1.0f + l) * (nir - red);
            den = nir + red + l;
          });
          break;
        }
        case IndexKind::EVI: {
          const auto g = static_cast<float>(s.evi_g), c1 = static_cast<float>(s.evi_c1),
                     c2 = static_cast<float>(s.evi_c2), l = static_cast<float>(s.evi_l);
          evaluate(in, planes[k], dst, nodata,
                   [=](float nir, float red, float blue, float& num, float& den) {
                     num = g * (nir - red);
                     den = nir + c1 * red - c2 * blue + l;
                   });
          break;
        }
      }
    }
  };
  return plan;
}

StreamStats compute_indices(const std::string& input, const std::string& output, const IndexJob& job) {
  Raster raster = Raster::open(input);
  const RasterInfo& info = raster.info();
  const ErrorContext where{input, {}, {}, {}};
  IndexPlan plan;
  try {
    plan = plan_indices(job.indices, job.roles, job.nodata);
  } catch (const Error& e) {
    raise(e.message(), where);
  }
  for (int band : plan.bands) {
    if (band > info.band_count())
      raise("band " + std::to_string(band) + " is out of range: the raster has " +
                std::to_string(info.band_count()) + " band" + (info.band_count() == 1 ? "" : "s"),
            where);
    if (is_complex(info.band(band).type))
      raise("complex data type " + std::string(name(info.band(band).type)) + " is not supported",
            ErrorContext{input, band, {}, {}});
  }

  // Whole source blocks per tile where blocks are not much wider than a tile (strips, tiles).
  TileGridOptions grid_options;
  grid_options.tile_width = grid_options.tile_height = job.tile_size;
  const BandInfo& first = info.band(plan.bands.front());
  if (first.block_width <= 4 * job.tile_size) grid_options.align_width = first.block_width;
  if (first.block_height <= 4 * job.tile_size) grid_options.align_height = first.block_height;
  const TileGrid grid = TileGrid(info.width, info.height, grid_options).shard(job.stream.shard);

  RasterLayout layout = layout_like(info, DataType::Float32, static_cast<int>(job.indices.size()));
  layout.nodata = job.nodata;
  layout = shard_layout(layout, grid.extent(), job.stream.shard);
  RasterWriter writer(output, layout, job.output);
  for (std::size_t k = 0; k < job.indices.size(); ++k) {
    const IndexSpec& s = job.indices[k];
    std::string label(name(s.kind));
    if (s.kind == IndexKind::NormalizedDifference)
      label += '(' + std::to_string(s.band_a) + ',' + std::to_string(s.band_b) + ')';
    std::transform(label.begin(), label.end(), label.begin(), [](unsigned char c) { return std::toupper(c); });
    writer.set_band_description(static_cast<int>(k) + 1, label);
  }

  StreamOptions stream_options = job.stream;
  stream_options.read.mask_per_band = true;  // each index is judged by its own bands
  StreamStats stats = stream(raster, plan.bands, grid, writer, static_cast<int>(job.indices.size()),
                             plan.kernel, stream_options);
  writer.commit();
  return stats;
}

}  // namespace luojia
