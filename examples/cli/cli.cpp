#include "cli/cli.hpp"

#include <algorithm>
#include <luojia/error.hpp>
#include <luojia/io/ortho.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/version.hpp>

#include <nlohmann/json.hpp>

#include <cpl_error.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <malloc.h>
#include <sstream>

namespace luojia::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int number) { g_signal = number; }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::vector<std::string> split_names(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream in(names);
  for (std::string name; std::getline(in, name, ',');) out.push_back(name);
  return out;
}

std::string g_program;
bool g_reporting = true;

// GDAL's warnings reach the user as one line each in our voice; its errors become exceptions.
void CPL_STDCALL report_gdal(CPLErr level, CPLErrorNum, const char* text) {
  if (level == CE_Warning && text && g_reporting) std::cerr << g_program << ": warning: " << text << "\n";
  // CPL_DEBUG=ON (or =luojia): GDAL's and luojia's debug lines, as GDAL's own programs print them.
  if (level == CE_Debug && text && g_reporting) std::cerr << text << "\n";
}

}  // namespace

void set_reporting(bool on) { g_reporting = on; }

void check_input(const std::string& path, bool sensor_model_expected) {
  const Raster raster = Raster::open(path);
  const RasterInfo& info = raster.info();
  const auto warn = [&](const std::string& text) {
    if (g_reporting) std::cerr << g_program << ": warning: " << path << ": " << text << "\n";
  };
  const bool sensor_model = !info.geotransform && (!info.rpc.empty() || info.gcps.size() >= 3);
  if (sensor_model) {
    if (!sensor_model_expected)
      warn(std::string("has no geotransform but ") + (info.rpc.empty() ? "GCPs" : "RPCs") + ": raster products carry them (gdalwarp -" +
         (info.rpc.empty() ? "tps" : "rpc") + " places them) and vector products are placed through them");
  } else if (info.crs_wkt.empty()) {
    warn("has no CRS; the outputs will have none either");
  } else {
    // An unknown EPSG code in a GeoTIFF comes back as a local (engineering) CRS, without a word.
    OGRSpatialReference srs;
    if (srs.importFromWkt(info.crs_wkt.c_str()) != OGRERR_NONE)
      warn("has a CRS GDAL cannot read; the outputs carry it as it is");
    else if (srs.IsLocal())
      warn(std::string("has a local CRS (\"") + (srs.GetName() ? srs.GetName() : "unnamed") +
           "\"), not a geographic or projected one: often an EPSG code GDAL does not know; the outputs carry it as it is");
  }
  if (!info.geotransform && !sensor_model) warn("has no geotransform; the outputs are in pixel coordinates");
  // One line for every band whose nodata the type cannot hold (it is usually all of them).
  std::ostringstream first;
  std::string numbers;
  int count = 0;
  for (int b = 1; b <= info.band_count(); ++b) {
    const BandInfo& band = info.band(b);
    if (!band.nodata || fits(band.type, *band.nodata)) continue;
    if (count++ == 0) first << "nodata " << *band.nodata << " is outside the range of " << name(band.type);
    numbers += (numbers.empty() ? "" : ",") + std::to_string(b);
  }
  if (count > 0) warn(first.str() + ", so no pixel is nodata (band" + (count > 1 ? "s " : " ") + numbers + ")");
}

void check_paths(const std::vector<std::string>& rasters, const std::vector<std::string>& other_inputs,
                 const std::vector<std::string>& outputs, bool sensor_model_expected) {
  namespace fs = std::filesystem;
  for (const auto& raster : rasters) check_input(raster, sensor_model_expected);
  std::vector<std::string> inputs = rasters;
  inputs.insert(inputs.end(), other_inputs.begin(), other_inputs.end());
  const auto same = [](const std::string& a, const std::string& b) {
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
    return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
  };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].empty()) continue;
    for (const auto& input : inputs)
      if (!input.empty() && same(outputs[i], input))
        raise("is also an input; write the result to another path", ErrorContext{outputs[i], {}, {}, {}});
    for (std::size_t j = 0; j < i; ++j)
      if (!outputs[j].empty() && same(outputs[i], outputs[j]))
        raise("is given for two outputs", ErrorContext{outputs[i], {}, {}, {}});
  }
}

int parse_int(const std::string& text, const std::string& what) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw UsageError(what + " expects an integer, not '" + text + "'");
  return value;
}

double parse_double(const std::string& text, const std::string& what) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    throw UsageError(what + " expects a number, not '" + text + "'");
  return value;
}

void ModelInputFlags::add_to(ArgParser& parser) {
  parser.value("--bands", "B1,B2,...", "Raster bands for the model's input channels (default: the model's metadata, else 1..C)", bands);
  parser.value("--scale", "S[,S...]", "Multiply raw values by this before mean/std (overrides the model's metadata)", scale);
  parser.value("--mean", "M[,M...]", "Per-channel mean to subtract (overrides the model's metadata)", mean);
  parser.value("--std", "S[,S...]", "Per-channel standard deviation to divide by (overrides the model's metadata)", std_dev);
}

void KernelFlags::add_to(ArgParser& parser) {
  parser.value("--isa", "sse2|avx2|avx512", "Instruction set of the network kernels (default: the best this CPU has; a portable build holds all three)",
               isa);
  parser.value("--winograd", "auto|off|f2|f4",
               "3x3 convolutions through Winograd: auto (where it pays), off (the direct product, closest to PyTorch's sums), f2 or f4 "
               "(everywhere)",
               winograd);
}

void ModelInputFlags::add_halo_to(ArgParser& parser) {
  parser.value("--halo", "auto|N", "Context read around each tile (default auto: exact, from the model's receptive field)", halo);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& what) {
  std::vector<double> out;
  for (const auto& p : split_list(text)) out.push_back(parse_double(p, what));
  return out;
}

namespace {

// Library field -> flag of the table that last parsed argv, for with_flags(). A copy: the parser
// is gone by the time run() reports the error it led to.
std::map<std::string, std::string> g_flag_of_field;

std::string flag_of_field(const std::string& field) {
  const auto found = g_flag_of_field.find(field);
  return found == g_flag_of_field.end() ? "" : found->second;
}

std::string role_name(PathRole role) {
  switch (role) {
    case PathRole::None: return "";
    case PathRole::InputRaster: return "input-raster";
    case PathRole::InputVector: return "input-vector";
    case PathRole::InputFile: return "input-file";
    case PathRole::OutputRaster: return "output-raster";
    case PathRole::OutputVector: return "output-vector";
    case PathRole::OutputFile: return "output-file";
  }
  return "";
}

// "auto|N" declares no choices (N is a placeholder); "hann|triangle" does.
std::vector<std::string> choices_of(const std::string& metavar) {
  if (metavar.find('|') == std::string::npos) return {};
  std::vector<std::string> out;
  std::stringstream in(metavar);
  for (std::string c; std::getline(in, c, '|');) {
    if (c.empty() || std::any_of(c.begin(), c.end(), [](unsigned char ch) { return std::isupper(ch) || ch == '.'; }))
      return {};
    out.push_back(c);
  }
  return out;
}

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

OptionSpec& OptionSpec::fills(std::string name) {
  field = std::move(name);
  return *this;
}

OptionSpec& OptionSpec::role(PathRole r) {
  role_ = r;
  return *this;
}

OptionSpec& OptionSpec::range(double low, double high) {
  low_ = low;
  high_ = high;
  has_range_ = true;
  return *this;
}

OptionSpec& OptionSpec::choices(std::vector<std::string> values) {
  choices_ = std::move(values);
  return *this;
}

void OptionSpec::check(const std::string& value) const {
  const std::string& flag = names.back();
  if (!choices_.empty() && std::find(choices_.begin(), choices_.end(), value) == choices_.end()) {
    std::string list;
    for (const auto& c : choices_) list += (list.empty() ? "" : ", ") + c;
    throw UsageError(flag + " takes one of " + list + ", not '" + value + "'");
  }
  if (has_range_) {
    const double v = parse_double(value, flag);
    if (!(v >= low_ && v <= high_))
      throw UsageError(flag + " must be in " + number_text(low_) + ".." + number_text(high_) + ", not " + value);
  }
}

ArgParser::ArgParser(std::string program, std::string synopsis, std::string description)
    : program_(std::move(program)), synopsis_(std::move(synopsis)), description_(std::move(description)) {}

OptionSpec& ArgParser::add(const std::string& names, std::string metavar, std::string help, std::string type,
                           std::string default_text, std::function<void(const std::string&)> apply) {
  OptionSpec& o = options_.emplace_back();
  o.names = split_names(names);
  o.metavar = std::move(metavar);
  o.help = std::move(help);
  o.type = std::move(type);
  o.default_text = std::move(default_text);
  o.field = o.names.back().substr(o.names.back().find_first_not_of('-'));
  std::replace(o.field.begin(), o.field.end(), '-', '_');
  o.choices_ = choices_of(o.metavar);
  o.apply = std::move(apply);
  return o;
}

OptionSpec& ArgParser::flag(const std::string& names, const std::string& help, bool& target) {
  return add(names, "", help, "flag", target ? "true" : "false", [&target](const std::string&) { target = true; });
}

OptionSpec& ArgParser::value(const std::string& names, const std::string& metavar, const std::string& help,
                             std::string& target) {
  return add(names, metavar, help, "string", target, [&target](const std::string& v) { target = v; });
}

OptionSpec& ArgParser::value(const std::string& names, const std::string& metavar, const std::string& help,
                             int& target) {
  const std::string what = split_names(names).back();
  return add(names, metavar, help, "integer", std::to_string(target),
             [&target, what](const std::string& v) { target = parse_int(v, what); });
}

OptionSpec& ArgParser::value(const std::string& names, const std::string& metavar, const std::string& help,
                             std::int64_t& target) {
  const std::string what = split_names(names).back();
  return add(names, metavar, help, "integer", std::to_string(target),
             [&target, what](const std::string& v) { target = parse_int(v, what); });
}

OptionSpec& ArgParser::value(const std::string& names, const std::string& metavar, const std::string& help,
                             double& target) {
  const std::string what = split_names(names).back();
  return add(names, metavar, help, "number", number_text(target),
             [&target, what](const std::string& v) { target = parse_double(v, what); });
}

OptionSpec& ArgParser::list(const std::string& names, const std::string& metavar, const std::string& help,
                            std::vector<std::string>& target) {
  return add(names, metavar, help, "list", "", [&target](const std::string& v) { target.push_back(v); });
}

void ArgParser::positional(const std::string& metavar, const std::string& help, std::string& target, PathRole role) {
  positionals_.push_back({metavar, help, &target, role});
}

void ArgParser::rest(const std::string& metavar, const std::string& help, std::vector<std::string>& target,
                     PathRole role) {
  rest_metavar_ = metavar;
  rest_help_ = help;
  rest_ = &target;
  rest_role_ = role;
}

const OptionSpec* ArgParser::find(const std::string& name) const {
  for (const auto& o : options_)
    for (const auto& n : o.names)
      if (n == name) return &o;
  return nullptr;
}

bool ArgParser::parse(int argc, char** argv) {
  g_flag_of_field.clear();
  for (const auto& o : options_) g_flag_of_field.emplace(o.field, o.names.back());
  std::size_t next_positional = 0;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!options_done && (arg == "-h" || arg == "--help")) {
      std::cout << help();
      return false;
    }
    if (!options_done && arg == "--json-usage") {
      std::cout << json_usage();
      return false;
    }
    if (!options_done && arg == "--version") {
      std::cout << program_ << " (luojia) " << luojia::version() << ", network kernels: " << luojia::kernel_isa() << "\n";
      return false;
    }
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && arg.size() > 1 && arg[0] == '-' && !(std::isdigit(static_cast<unsigned char>(arg[1])))) {
      std::string inline_value;
      bool has_inline = false;
      if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
      const OptionSpec* option = find(arg);
      if (!option) throw UsageError("unknown option " + arg);
      if (option->metavar.empty()) {
        if (has_inline) throw UsageError(arg + " takes no value");
        option->apply("");
        continue;
      }
      if (!has_inline) {
        if (i + 1 >= argc) throw UsageError(arg + " needs a value (" + option->metavar + ")");
        inline_value = argv[++i];
      }
      option->check(inline_value);
      option->apply(inline_value);
      continue;
    }
    if (next_positional >= positionals_.size()) {
      if (!rest_) throw UsageError("unexpected argument '" + arg + "'");
      rest_->push_back(arg);
      continue;
    }
    *positionals_[next_positional++].target = arg;
  }
  if (next_positional < positionals_.size())
    throw UsageError("missing " + positionals_[next_positional].metavar);
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "Usage: " << program_ << " " << synopsis_ << "\n\n" << description_ << "\n\n";
  for (const auto& p : positionals_) out << "  " << p.metavar << "\n      " << p.help << "\n";
  if (rest_) out << "  " << rest_metavar_ << "\n      " << rest_help_ << "\n";
  out << "\nOptions:\n";
  for (const auto& o : options_) {
    out << "  ";
    for (std::size_t i = 0; i < o.names.size(); ++i) out << (i ? ", " : "") << o.names[i];
    if (!o.metavar.empty()) out << " " << o.metavar;
    out << "\n      " << o.help << "\n";
  }
  out << "  -h, --help\n      Print this help.\n  --json-usage\n      Print these options as JSON.\n"
         "  --version\n      Print the version.\n";
  return out.str();
}

std::string ArgParser::json_usage() const {
  using Json = nlohmann::ordered_json;
  Json doc;
  doc["program"] = program_;
  doc["synopsis"] = synopsis_;
  doc["description"] = description_;
  doc["positionals"] = Json::array();
  const auto positional_json = [](const std::string& metavar, const std::string& help, PathRole role, bool repeated) {
    Json p{{"name", metavar}, {"help", help}, {"repeated", repeated}};
    p["role"] = role == PathRole::None ? Json(nullptr) : Json(role_name(role));
    return p;
  };
  for (const auto& p : positionals_) doc["positionals"].push_back(positional_json(p.metavar, p.help, p.role, false));
  if (rest_) doc["positionals"].push_back(positional_json(rest_metavar_, rest_help_, rest_role_, true));
  doc["options"] = Json::array();
  for (const auto& o : options_) {
    Json j;
    j["names"] = o.names;
    j["type"] = o.type;
    j["metavar"] = o.metavar.empty() ? Json(nullptr) : Json(o.metavar);
    j["default"] = o.default_text;
    j["choices"] = o.choices_;
    j["range"] = o.has_range_ ? Json::array({o.low_, o.high_}) : Json(nullptr);
    j["role"] = o.role_ == PathRole::None ? Json(nullptr) : Json(role_name(o.role_));
    j["field"] = o.field;
    j["help"] = o.help;
    doc["options"].push_back(std::move(j));
  }
  return doc.dump(2) + "\n";
}

std::string with_flags(const std::string& message) {
  std::string out;
  std::size_t at = 0;
  while (true) {
    const std::size_t open = message.find('`', at);
    const std::size_t close = open == std::string::npos ? open : message.find('`', open + 1);
    if (close == std::string::npos) break;
    const std::string field = message.substr(open + 1, close - open - 1);
    const std::string flag = flag_of_field(field);
    out += message.substr(at, open - at) + (flag.empty() ? field : flag);
    at = close + 1;
  }
  return out + message.substr(at);
}

void CommonFlags::add_to(ArgParser& parser) {
  if (vector_product) {
    format.clear();
    parser.value("-of", "FORMAT", "OGR vector format, as ogr2ogr -f takes it (default: from OUTPUT's extension)", format)
        .fills("format");
    parser.list("-lco", "NAME=VALUE", "Creation option for the output's layer (repeatable), as ogr2ogr -lco",
                creation_options)
        .fills("layer_options");
  } else {
    parser.value("-of", "FORMAT", "GDAL output format (GTiff by default; COG and other CreateCopy formats too)", format)
        .fills("driver");
    parser.list("-co", "KEY=VALUE", "Creation option for the output format (repeatable)", creation_options)
        .fills("creation_options");
  }
  parser.flag("--overwrite", "Replace an existing output (atomically, only once the new one is complete)",
              overwrite);
  parser.flag("-q,--quiet", "No progress bar", quiet);
  parser.value("--tile", "N", "Tile size in pixels (default 512)", tile);
  parser.value("--threads", "N", "Worker threads (default: every core)", threads);
  parser.value("--mem", "SIZE", "Memory budget, GDAL's cache included, e.g. 256M, 1G (default 256M)", memory)
      .fills("memory_budget");
  if (shards)
    parser.value("--shard", "K/N", "Process only shard K of N (a band of tile rows) into outputs covering it; luojia-merge joins them",
               shard);
  if (!ortho_views_allowed) return;
  parser.flag("--ortho", "Orthorectify RPC/GCP imagery on the fly (a warped virtual raster in the scene's UTM zone, no copy)",
              ortho);
  parser.value("--dem", "PATH", "With --ortho: a DEM for the RPC heights (default: zero height)", dem).role(cli::PathRole::InputRaster);
}

std::string CommonFlags::placed_input(const std::string& input) {
  if (!dem.empty() && !ortho) throw UsageError("--dem needs --ortho");
  if (!ortho) return input;
  OrthoOptions o;
  o.dem = dem;
  return ortho_views.emplace_back(input, o).path();
}

OutputOptions CommonFlags::output() const {
  OutputOptions options;
  options.driver = format;
  options.creation_options = creation_options;
  options.overwrite = overwrite;
  return options;
}

StreamOptions CommonFlags::stream() const {
  if (tile <= 0) throw UsageError("--tile must be positive");
  if (threads < 0) throw UsageError("--threads must not be negative");
  StreamOptions options;
  options.threads = threads;
  try {
    options.memory_budget = parse_byte_size(memory);
  } catch (const Error& e) {
    throw UsageError("--mem: " + e.message());
  }
  if (!shard.empty()) {
    try {
      options.shard = parse_shard(shard);
    } catch (const Error& e) {
      throw UsageError("--shard: " + e.message());
    }
  }
  options.progress = quiet ? silent_progress : terminal_progress;
  return options;
}

int terminal_progress(double complete, const char*, void* data) {
  // The last tenth printed, kept per run in the caller's int when given, else here.
  static int last_static = -1;
  int& last = data ? *static_cast<int*>(data) : last_static;
  const int now = static_cast<int>(complete * 40.0 + 1e-9);  // 40 steps of 2.5%
  if (complete <= 0.0) last = -1;
  while (last < now) {
    ++last;
    if (last % 4 == 0)
      std::fprintf(stderr, "%d", last / 4 * 10);
    else
      std::fputc('.', stderr);
  }
  if (complete >= 1.0 && last == 40) {
    std::fputs(" - done.\n", stderr);
    last = 41;
  }
  std::fflush(stderr);
  return g_signal == 0;
}

int silent_progress(double, const char*, void*) { return g_signal == 0; }

int pending_signal() { return static_cast<int>(g_signal); }

int run(const std::string& program, const std::function<int()>& body) {
  g_program = program;
  install_signal_handlers();
  // Tile buffers (megabytes each) come from and go back to the system: glibc's dynamic mmap
  // threshold would otherwise rise to their size after the first is freed, serve them from the
  // heap and keep the freed memory (35 MB of 175 in a detection run's peak RSS, at no measurable
  // cost in time). glibc's own environment setting wins.
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 4 << 20);
  CPLSetErrorHandler(report_gdal);
  try {
    return body();
  } catch (const UsageError& e) {
    if (g_reporting) std::cerr << program << ": error: " << e.what() << " (see " << program << " --help)\n";
    return kExitUsage;
  } catch (const luojia::UsageError& e) {
    // The library names option fields (memory_budget); the option table knows their flags (--mem).
    std::string flag = flag_of_field(e.option());
    if (flag.empty()) {
      flag = "--" + e.option();
      std::replace(flag.begin(), flag.end(), '_', '-');
    }
    if (g_reporting)
      std::cerr << program << ": error: " << flag << " " << with_flags(e.detail()) << " (see " << program << " --help)\n";
    return kExitUsage;
  } catch (const Cancelled&) {
    if (g_reporting) std::cerr << "\n" << program << ": interrupted; no output was written\n";
    return 128 + (g_signal ? static_cast<int>(g_signal) : SIGINT);
  } catch (const std::bad_alloc&) {
    if (g_reporting) std::cerr << program << ": error: out of memory (lower --mem, --tile or --threads)\n";
    return kExitError;
  } catch (const std::exception& e) {
    if (g_reporting) std::cerr << program << ": error: " << with_flags(e.what()) << "\n";
    return kExitError;
  }
}

}  // namespace luojia::cli
