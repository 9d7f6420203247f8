// Instance masks from prototypes. The arithmetic follows PyTorch's upsample_bilinear2d on the
// CPU (source index scale * (x + 0.5) - 0.5, clamped at 0; the upper tap clamped at the grid's
// last cell), so that a pixel's logit is the whole-image run's whatever tile computed it.
#include "products/prototype_masks.hpp"

#include <luojia/error.hpp>

#include "io/gdal_support.hpp"

#include <gdal_alg.h>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace luojia::detail {
namespace {

// One output pixel's two source cells along an axis and their weights.
struct Tap {
  std::int64_t i0 = 0, i1 = 0;
  float w0 = 1, w1 = 0;
};

Tap tap(std::int64_t pixel, std::int64_t cells, std::int64_t scale) {
  const float ratio = 1.0f / static_cast<float>(scale);
  const float src = std::max(0.0f, ratio * (static_cast<float>(pixel) + 0.5f) - 0.5f);
  Tap t;
  t.i0 = static_cast<std::int64_t>(src);
  t.i1 = t.i0 + (t.i0 < cells - 1 ? 1 : 0);
  t.w1 = src - static_cast<float>(t.i0);
  t.w0 = 1.0f - t.w1;
  return t;
}

// The raster pixels [p0, p1) of a box side from lo to hi: p >= lo and p < hi, as crop_mask.
std::pair<std::int64_t, std::int64_t> pixel_span(double lo, double hi, std::int64_t size) {
  const auto p0 = static_cast<std::int64_t>(std::max(0.0, std::ceil(lo)));
  const auto p1 = static_cast<std::int64_t>(std::min(static_cast<double>(size), std::ceil(hi)));
  return {std::min(p0, size), std::max(std::min(p0, size), p1)};
}

}  // namespace

CellRange cells_of_mask(const Detection& b, std::int64_t raster_width, std::int64_t raster_height, std::int64_t grid_rows,
                        std::int64_t grid_cols, std::int64_t scale) {
  const auto [px0, px1] = pixel_span(b.cx - b.width / 2, b.cx + b.width / 2, raster_width);
  const auto [py0, py1] = pixel_span(b.cy - b.height / 2, b.cy + b.height / 2, raster_height);
  CellRange c;
  if (px1 <= px0 || py1 <= py0) return c;
  c.col0 = tap(px0, grid_cols, scale).i0;
  c.col1 = tap(px1 - 1, grid_cols, scale).i1 + 1;
  c.row0 = tap(py0, grid_rows, scale).i0;
  c.row1 = tap(py1 - 1, grid_rows, scale).i1 + 1;
  return c;
}

PrototypeView prototype_view(const float* data, std::int64_t channels, std::int64_t read_x, std::int64_t read_y,
                             std::int64_t read_width, std::int64_t read_height, std::int64_t padded_width,
                             std::int64_t padded_height, std::int64_t scale, std::int64_t radius) {
  PrototypeView v;
  v.data = data;
  v.channels = channels;
  v.scale = scale;
  v.rows = read_height / scale;
  v.cols = read_width / scale;
  v.first_row = read_y / scale;
  v.first_col = read_x / scale;
  v.grid_rows = padded_height / scale;
  v.grid_cols = padded_width / scale;
  // Cell j covers pixels [scale j, scale (j + 1)) and reads radius pixels beyond them; a side on
  // the padded image's edge is the whole run's edge.
  const auto sure = [&](std::int64_t start, std::int64_t size, std::int64_t padded, std::int64_t first, std::int64_t count,
                        std::int64_t& lo, std::int64_t& hi) {
    lo = start == 0 ? first : (start + radius + scale - 1) / scale;
    hi = start + size >= padded ? first + count : std::max<std::int64_t>(0, start + size - radius) / scale;
    lo = std::max(lo, first);
    hi = std::max(lo, std::min(hi, first + count));
  };
  sure(read_x, read_width, padded_width, v.first_col, v.cols, v.sure_col0, v.sure_col1);
  sure(read_y, read_height, padded_height, v.first_row, v.rows, v.sure_row0, v.sure_row1);
  return v;
}

std::optional<MaskLogits> mask_logits(const Detection& b, const PrototypeView& v, std::int64_t raster_width,
                                      std::int64_t raster_height, bool clip) {
  if (static_cast<std::int64_t>(b.coefficients.size()) != v.channels)
    throw Error("internal: a box with " + std::to_string(b.coefficients.size()) + " mask coefficients for " +
                std::to_string(v.channels) + " prototypes");
  MaskLogits m;
  m.grid_rows = v.grid_rows;
  m.grid_cols = v.grid_cols;
  m.scale = v.scale;
  std::tie(m.px0, m.px1) = pixel_span(b.cx - b.width / 2, b.cx + b.width / 2, raster_width);
  std::tie(m.py0, m.py1) = pixel_span(b.cy - b.height / 2, b.cy + b.height / 2, raster_height);
  if (m.px1 <= m.px0 || m.py1 <= m.py0) return m;
  std::int64_t col0 = tap(m.px0, v.grid_cols, v.scale).i0, col1 = tap(m.px1 - 1, v.grid_cols, v.scale).i1 + 1;
  std::int64_t row0 = tap(m.py0, v.grid_rows, v.scale).i0, row1 = tap(m.py1 - 1, v.grid_rows, v.scale).i1 + 1;
  if (col0 < v.sure_col0 || col1 > v.sure_col1 || row0 < v.sure_row0 || row1 > v.sure_row1) {
    if (!clip) return std::nullopt;
    col0 = std::max(col0, v.first_col);
    col1 = std::max(col0, std::min(col1, v.first_col + v.cols));
    row0 = std::max(row0, v.first_row);
    row1 = std::max(row0, std::min(row1, v.first_row + v.rows));
  }
  m.row0 = row0;
  m.col0 = col0;
  m.rows = row1 - row0;
  m.cols = col1 - col0;
  m.logits.assign(static_cast<std::size_t>(m.rows * m.cols), 0.0f);
  for (std::int64_t k = 0; k < v.channels; ++k) {
    const float c = b.coefficients[static_cast<std::size_t>(k)];
    for (std::int64_t r = 0; r < m.rows; ++r) {
      const float* src = v.data + (k * v.rows + (row0 + r - v.first_row)) * v.cols + (col0 - v.first_col);
      float* dst = m.logits.data() + r * m.cols;
      for (std::int64_t q = 0; q < m.cols; ++q) dst[q] += c * src[q];
    }
  }
  return m;
}

InstanceMask draw_mask(const MaskLogits& m) {
  const std::int64_t w = m.px1 - m.px0, h = m.py1 - m.py0;
  if (w <= 0 || h <= 0 || m.rows == 0 || m.cols == 0) return InstanceMask{m.px0, m.py0, 0, 0, {}};
  // [px0, px1) x [py0, py1) is already the crop to the box (pixel_span): every pixel is in it.
  std::vector<Tap> xs;
  xs.reserve(static_cast<std::size_t>(w));
  for (std::int64_t x = m.px0; x < m.px1; ++x) xs.push_back(tap(x, m.grid_cols, m.scale));
  const auto held = [](std::int64_t i, std::int64_t lo, std::int64_t n) { return i >= lo && i < lo + n; };
  InstanceMask out{m.px0, m.py0, w, h, {}};
  bool state = false;
  std::uint32_t run = 0;
  for (std::int64_t y = m.py0; y < m.py1; ++y) {
    const Tap ty = tap(y, m.grid_rows, m.scale);
    const bool row_held = held(ty.i0, m.row0, m.rows) && held(ty.i1, m.row0, m.rows);
    const float* l0 = row_held ? m.logits.data() + (ty.i0 - m.row0) * m.cols : nullptr;
    const float* l1 = row_held ? m.logits.data() + (ty.i1 - m.row0) * m.cols : nullptr;
    for (std::int64_t x = 0; x < w; ++x) {
      bool inside = false;
      if (row_held) {
        const Tap& tx = xs[static_cast<std::size_t>(x)];
        if (held(tx.i0, m.col0, m.cols) && held(tx.i1, m.col0, m.cols)) {
          const std::int64_t a = tx.i0 - m.col0, c = tx.i1 - m.col0;
          inside = ty.w0 * (tx.w0 * l0[a] + tx.w1 * l0[c]) + ty.w1 * (tx.w0 * l1[a] + tx.w1 * l1[c]) > 0.0f;
        }
      }
      if (inside != state) {
        out.runs.push_back(run);
        run = 0;
        state = inside;
      }
      ++run;
    }
  }
  out.runs.push_back(run);
  return out;
}

std::unique_ptr<OGRGeometry> mask_polygons(const InstanceMask& mask) {
  if (mask.pixels() == 0) return nullptr;
  register_gdal();
  GdalErrorTrap trap;
  const int w = static_cast<int>(mask.width), h = static_cast<int>(mask.height);
  DatasetPtr image(GetGDALDriverManager()->GetDriverByName("MEM")->Create("", w, h, 1, GDT_Byte, nullptr));
  if (!image) throw Error("cannot make an in-memory raster for an instance mask: " + trap.message("MEM driver failed"));
  double gt[6] = {static_cast<double>(mask.x0), 1, 0, static_cast<double>(mask.y0), 0, 1};
  image->SetGeoTransform(gt);
  std::vector<std::uint8_t> inside = mask.dense();
  GDALRasterBand* band = image->GetRasterBand(1);
  if (band->RasterIO(GF_Write, 0, 0, w, h, inside.data(), w, h, GDT_Byte, 0, 0, nullptr) != CE_None)
    throw Error("cannot fill an instance mask: " + trap.message("RasterIO failed"));
  DatasetPtr memory(GetGDALDriverManager()->GetDriverByName("Memory")->Create("", 0, 0, 0, GDT_Unknown, nullptr));
  if (!memory) throw Error("cannot make an in-memory layer: " + trap.message("Memory driver failed"));
  OGRLayer* layer = memory->CreateLayer("mask", nullptr, wkbPolygon, nullptr);
  OGRFieldDefn value("value", OFTInteger);
  layer->CreateField(&value);
  // The band is its own mask: only the pixels inside become polygons.
  if (GDALPolygonize(GDALRasterBand::ToHandle(band), GDALRasterBand::ToHandle(band), OGRLayer::ToHandle(layer), 0, nullptr, nullptr,
                     nullptr) != CE_None)
    throw Error("cannot polygonise an instance mask: " + trap.message("GDALPolygonize failed"));
  auto parts = std::make_unique<OGRMultiPolygon>();
  layer->ResetReading();
  for (auto& f : *layer)
    if (OGRGeometry* g = f->GetGeometryRef(); g && wkbFlatten(g->getGeometryType()) == wkbPolygon) parts->addGeometry(g);
  return parts;
}

}  // namespace luojia::detail
