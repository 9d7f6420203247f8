#pragma once
// The command-line side of luojia's programs: GDAL-style options, progress on stderr, signals,
// and the one place where exceptions become messages and exit codes.
#include <luojia/engine/engine.hpp>
#include <luojia/io/ortho.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/nn/model.hpp>

#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace luojia::cli {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// What a path option or positional holds: the QGIS provider and --json-usage show it, so a form
// can offer a layer picker or a file destination instead of a text field.
enum class PathRole { None, InputRaster, InputVector, InputFile, OutputRaster, OutputVector, OutputFile };

// One declared option: its names, how its value is read and checked, the help, the default, and
// the library field it fills. The same table parses argv, prints --help and --json-usage, and
// turns the library's field names in error messages back into flags.
class OptionSpec {
public:
  // The library option field this fills ("memory_budget"); by default the flag's own name
  // without dashes ("--box-reach" -> "box_reach").
  OptionSpec& fills(std::string field);
  OptionSpec& role(PathRole role);
  // Values outside [low, high] are refused with a usage error naming the flag.
  OptionSpec& range(double low, double high);
  // The only values accepted (also what a form offers); a metavar "a|b|c" declares them too.
  OptionSpec& choices(std::vector<std::string> values);

private:
  friend class ArgParser;
  std::vector<std::string> names;
  std::string metavar;    // empty for flags
  std::string help;
  std::string type;       // flag, integer, number, string, list
  std::string default_text;
  std::string field;
  PathRole role_ = PathRole::None;
  std::vector<std::string> choices_;
  double low_ = 0.0, high_ = 0.0;
  bool has_range_ = false;
  std::function<void(const std::string&)> apply;
  void check(const std::string& value) const;
};

// Options are declared once, with their help; the same table parses argv and prints --help.
class ArgParser {
public:
  ArgParser(std::string program, std::string synopsis, std::string description);

  // names: "-q,--quiet" style aliases.
  OptionSpec& flag(const std::string& names, const std::string& help, bool& target);
  OptionSpec& value(const std::string& names, const std::string& metavar, const std::string& help,
                    std::string& target);
  OptionSpec& value(const std::string& names, const std::string& metavar, const std::string& help, int& target);
  OptionSpec& value(const std::string& names, const std::string& metavar, const std::string& help,
                    std::int64_t& target);
  OptionSpec& value(const std::string& names, const std::string& metavar, const std::string& help,
                    double& target);
  // Repeatable: every occurrence appends.
  OptionSpec& list(const std::string& names, const std::string& metavar, const std::string& help,
                   std::vector<std::string>& target);
  void positional(const std::string& metavar, const std::string& help, std::string& target,
                  PathRole role = PathRole::None);
  // Every argument after the fixed positionals, in order.
  void rest(const std::string& metavar, const std::string& help, std::vector<std::string>& target,
            PathRole role = PathRole::None);

  // Throws UsageError. Returns false when --help, --json-usage or --version was answered (exit 0).
  bool parse(int argc, char** argv);
  std::string help() const;
  // The table as JSON (GDAL's --json-usage): program, synopsis, description, positionals and
  // options with names, type, metavar, default, choices, range, role, help and library field.
  std::string json_usage() const;
  const std::string& program() const { return program_; }

private:
  struct Positional {
    std::string metavar;
    std::string help;
    std::string* target;
    PathRole role;
  };
  OptionSpec& add(const std::string& names, std::string metavar, std::string help, std::string type,
                  std::string default_text, std::function<void(const std::string&)> apply);
  const OptionSpec* find(const std::string& name) const;

  std::string program_;
  std::string synopsis_;
  std::string description_;
  std::deque<OptionSpec> options_;  // deque: references handed out stay valid
  std::vector<Positional> positionals_;
  std::vector<std::string>* rest_ = nullptr;
  std::string rest_metavar_, rest_help_;
  PathRole rest_role_ = PathRole::None;
};

// The library names option fields in its messages, between backquotes ("`bands`"); a program
// shows them as its flags ("--bands") through the parser that last parsed argv.
std::string with_flags(const std::string& message);

// Flags every streaming program shares: output format and options, tiles, threads, memory, quiet.
struct CommonFlags {
  // A program whose product is a vector layer (luojia-detect) takes -of as ogr2ogr's -f and
  // -lco for its layer instead of a raster's -co; set before add_to.
  bool vector_product = false;
  // A program that cannot shard or read through an orthorectified view (a stereo pair must stay
  // in its epipolar geometry) clears these before add_to: --shard, --ortho and --dem are not declared.
  bool shards = true;
  bool ortho_views_allowed = true;
  std::string format = "GTiff";
  std::vector<std::string> creation_options;
  bool overwrite = false;
  bool quiet = false;
  std::int64_t tile = 512;
  int threads = 0;
  std::string memory = "256M";
  std::string shard;  // K/N, empty for the whole raster
  bool ortho = false;  // read RPC/GCP imagery through a warped virtual raster on a map grid
  std::string dem;     // --dem: heights for the RPCs
  std::vector<OrthoView> ortho_views;  // what placed_input() made, one per input

  void add_to(ArgParser& parser);
  // INPUT, or with --ortho the virtual orthorectified raster showing it (removed with these flags).
  std::string placed_input(const std::string& input);
  OutputOptions output() const;
  // Threads, memory budget and the progress callback (a bar on stderr unless -q).
  StreamOptions stream() const;
};

// GDAL's "0...10...20...30" bar on stderr. Returns 0 (cancel) once SIGINT or SIGTERM arrived.
int terminal_progress(double complete, const char* message, void* data);
// No output; still cancels on SIGINT/SIGTERM.
int silent_progress(double complete, const char* message, void* data);
// The SIGINT or SIGTERM received since run() started, or 0.
int pending_signal();

// Runs a program's body: usage errors exit 2, luojia and other errors exit 1 with one line
// "PROGRAM: error: ..." on stderr, an interrupt exits 128 + signal number.
int run(const std::string& program, const std::function<int()>& body);

// Opens INPUT once before the run: a missing or unreadable file fails here with luojia's
// one-line error, and what is odd but processable (no CRS, no geotransform, a nodata value the
// band's type cannot hold) is said as a warning on stderr, then the run goes on.
// sensor_model_expected: a program that works in the sensor's geometry (stereo from RPCs) does not
// say that a raster without a geotransform has RPCs or GCPs.
void check_input(const std::string& path, bool sensor_model_expected = false);

// check_input on every raster, then refuses an output that is one of the rasters or other inputs
// (even through another path or a link), or is named twice: --overwrite must never replace what
// is being read. Empty paths are options not given.
void check_paths(const std::vector<std::string>& rasters, const std::vector<std::string>& other_inputs,
                 const std::vector<std::string>& outputs, bool sensor_model_expected = false);

// Whether this process prints errors and warnings (in an MPI job only rank 0 does; the job's
// outcome is the same on every rank).
void set_reporting(bool on);

int parse_int(const std::string& text, const std::string& what);
double parse_double(const std::string& text, const std::string& what);
// "a,b,,c" -> {"a", "b", "c"}: the comma lists of --bands, --classes, ...
std::vector<std::string> split_list(const std::string& text);
// A comma list of numbers ("" -> none); what names the flag in the error.
std::vector<double> parse_numbers(const std::string& text, const std::string& what);

// Which network kernels a model program loads: --isa (instruction set) and --winograd, into an
// nn::LoadOptions (the task options' `load`).
struct KernelFlags {
  std::string isa, winograd = "auto";

  void add_to(ArgParser& parser);
  void apply(nn::LoadOptions& load) const {
    load.isa = isa;
    load.winograd = winograd;
  }
};

// How a model program reads its input: --bands, --scale, --mean, --std (add_to) and --halo
// (add_halo_to, declared apart so each program's help keeps its order).
struct ModelInputFlags {
  std::string bands, scale, mean, std_dev, halo = "auto";

  void add_to(ArgParser& parser);
  void add_halo_to(ArgParser& parser);
  // Into an options struct with bands, scale, mean, std and halo fields (SegmentOptions,
  // PredictOptions, DetectOptions).
  template <typename Options>
  void apply(Options& o) const {
    apply_without_halo(o);
    if (halo != "auto") o.halo = parse_int(halo, "--halo");
  }
  // For a program without --halo (luojia-classify reads whole windows).
  template <typename Options>
  void apply_without_halo(Options& o) const {
    for (const auto& b : split_list(bands)) o.bands.push_back(parse_int(b, "--bands"));
    o.scale = parse_numbers(scale, "--scale");
    o.mean = parse_numbers(mean, "--mean");
    o.std = parse_numbers(std_dev, "--std");
  }
};

}  // namespace luojia::cli
