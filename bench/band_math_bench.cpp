// luojia's band-math compiler against muparser (Debian libmuparser-dev), the expression library
// the index issue names: the same ten catalogue formulas over the same rows of pixels, one thread,
// values compared. muparser runs in its bulk mode (variables bound to arrays, one Eval over the
// row) and per pixel (scalar variables, its bytecode); luojia evaluates exactly as luojia-index does, row by row.
//
// Usage: luojia-band-math-bench [ROW_WIDTH [ROWS]]   (defaults 512 and 65536: 32 Mpixel)
#include <luojia/products/index_catalogue.hpp>

#include "products/band_math.hpp"

#include <muParser.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

const std::vector<std::string> kIndices = {"NDVI", "SAVI", "MSAVI", "GEMI", "IPVI", "NDWI", "MNDWI", "NDMI", "NDTI", "SR"};
const std::vector<std::string> kBands = {"B", "G", "R", "N", "S1", "S2"};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string python_to_muparser(std::string formula) {
  for (std::size_t at; (at = formula.find("**")) != std::string::npos;) formula.replace(at, 2, "^");
  return formula;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t width = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
  const std::size_t rows = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 65536;
  const luojia::IndexCatalogue& catalogue = luojia::IndexCatalogue::builtin();

  // Reflectance-like rows, a few distinct ones cycled so that the data stay in cache for both.
  constexpr std::size_t kDistinct = 16;
  std::mt19937 rng(14);
  std::uniform_real_distribution<double> reflectance(0.01, 0.6);
  std::vector<std::vector<std::vector<double>>> data(kDistinct, std::vector<std::vector<double>>(kBands.size(), std::vector<double>(width)));
  for (auto& row : data)
    for (auto& band : row)
      for (double& v : band) v = reflectance(rng);

  std::map<std::string, double> constants;
  for (const auto& name : kIndices)
    for (const auto& symbol : luojia::detail::BandExpression::symbols(catalogue.find(name)->formula))
      if (const luojia::IndexConstant* c = catalogue.constant(symbol); c && c->value) constants[symbol] = *c->value;

  // luojia
  std::vector<luojia::detail::BandExpression> compiled;
  for (const auto& name : kIndices)
    compiled.emplace_back(catalogue.find(name)->formula, [&](const std::string& symbol) {
      using Kind = luojia::detail::SymbolBinding::Kind;
      const auto band = std::find(kBands.begin(), kBands.end(), symbol);
      if (band != kBands.end()) return luojia::detail::SymbolBinding{Kind::Row, static_cast<int>(band - kBands.begin()), 0, {}};
      return luojia::detail::SymbolBinding{Kind::Scalar, 0, constants.at(symbol), {}};
    });

  // muparser, bulk mode: each band symbol bound to the array of the row being evaluated.
  std::vector<std::vector<double>> bound(kBands.size(), std::vector<double>(width));
  std::vector<mu::Parser> parsers(kIndices.size());
  for (std::size_t i = 0; i < kIndices.size(); ++i) {
    mu::Parser& p = parsers[i];
    for (std::size_t b = 0; b < kBands.size(); ++b) p.DefineVar(kBands[b], bound[b].data());
    for (const auto& [k, v] : constants) p.DefineConst(k, v);
    p.SetExpr(python_to_muparser(catalogue.find(kIndices[i])->formula));
  }

  std::vector<double> out_luojia(width), out_mu(width), scratch;
  std::vector<std::uint8_t> valid(width);
  std::vector<const double*> inputs(kBands.size());
  double checksum_luojia = 0, checksum_mu = 0, max_relative = 0;

  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t r = 0; r < rows; ++r) {
    const auto& row = data[r % kDistinct];
    for (std::size_t b = 0; b < kBands.size(); ++b) inputs[b] = row[b].data();
    for (const auto& e : compiled) {
      std::fill(valid.begin(), valid.end(), std::uint8_t{1});
      e.evaluate(inputs.data(), width, out_luojia.data(), valid.data(), scratch);
      checksum_luojia += out_luojia[r % width];
    }
  }
  const double t_luojia = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  for (std::size_t r = 0; r < rows; ++r) {
    const auto& row = data[r % kDistinct];
    for (std::size_t b = 0; b < kBands.size(); ++b) std::copy(row[b].begin(), row[b].end(), bound[b].begin());
    for (auto& p : parsers) {
      p.Eval(out_mu.data(), static_cast<int>(width));
      checksum_mu += out_mu[r % width];
    }
  }
  const double t_mu = seconds_since(t0);

  // muparser per pixel: variables bound to scalars, Eval() of the compiled bytecode (how OTB's
  // BandMath uses it). Its bulk Eval above re-creates the bytecode on every call (muparser 2.3.3).
  std::vector<double> scalar(kBands.size());
  std::vector<mu::Parser> pixel_parsers(kIndices.size());
  for (std::size_t i = 0; i < kIndices.size(); ++i) {
    mu::Parser& p = pixel_parsers[i];
    for (std::size_t b = 0; b < kBands.size(); ++b) p.DefineVar(kBands[b], &scalar[b]);
    for (const auto& [k, v] : constants) p.DefineConst(k, v);
    p.SetExpr(python_to_muparser(catalogue.find(kIndices[i])->formula));
    p.Eval();
  }
  double checksum_pixel = 0;
  t0 = std::chrono::steady_clock::now();
  for (std::size_t r = 0; r < rows; ++r) {
    const auto& row = data[r % kDistinct];
    for (std::size_t i = 0; i < pixel_parsers.size(); ++i) {
      mu::Parser& p = pixel_parsers[i];
      for (std::size_t x = 0; x < width; ++x) {
        for (std::size_t b = 0; b < kBands.size(); ++b) scalar[b] = row[b][x];
        out_mu[x] = p.Eval();
      }
      checksum_pixel += out_mu[r % width];
    }
  }
  const double t_pixel = seconds_since(t0);

  // The two agree on every pixel of every distinct row.
  for (const auto& row : data) {
    for (std::size_t b = 0; b < kBands.size(); ++b) {
      inputs[b] = row[b].data();
      std::copy(row[b].begin(), row[b].end(), bound[b].begin());
    }
    for (std::size_t i = 0; i < compiled.size(); ++i) {
      compiled[i].evaluate(inputs.data(), width, out_luojia.data(), valid.data(), scratch);
      parsers[i].Eval(out_mu.data(), static_cast<int>(width));
      for (std::size_t x = 0; x < width; ++x)
        max_relative = std::max(max_relative, std::abs(out_luojia[x] - out_mu[x]) / std::max(1e-12, std::abs(out_mu[x])));
    }
  }

  const double mpix = static_cast<double>(width * rows) / 1e6;
  std::printf("ten catalogue formulas over %zu rows of %zu pixels (%.1f Mpixel each), one thread\n", rows, width, mpix);
  std::printf("| evaluator | seconds | Mpixel-index/s | ratio to luojia |\n|---|---:|---:|---:|\n");
  std::printf("| luojia band math (row operations) | %.3f | %.0f | 1.00 |\n", t_luojia, 10 * mpix / t_luojia);
  std::printf("| muparser %s bulk Eval | %.3f | %.0f | %.2f |\n", mu::ParserVersion.c_str(), t_mu, 10 * mpix / t_mu, t_mu / t_luojia);
  std::printf("| muparser %s Eval per pixel | %.3f | %.0f | %.2f |\n", mu::ParserVersion.c_str(), t_pixel, 10 * mpix / t_pixel, t_pixel / t_luojia);
  std::printf("largest relative difference: %.3g (checksums %.9g, %.9g, %.9g)\n", max_relative, checksum_luojia, checksum_mu, checksum_pixel);
  return max_relative < 1e-12 ? 0 : 1;
}
