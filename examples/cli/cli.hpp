#pragma once
// The command-line side of luojia's programs: GDAL-style options, progress on stderr, signals,
// and the one place where exceptions become messages and exit codes.
#include <luojia/engine.hpp>
#include <luojia/raster_writer.hpp>

#include <functional>
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

// Options are declared once, with their help; the same table parses argv and prints --help.
class ArgParser {
public:
  ArgParser(std::string program, std::string synopsis, std::string description);

  // names: "-q,--quiet" style aliases.
  void flag(const std::string& names, const std::string& help, bool& target);
  void value(const std::string& names, const std::string& metavar, const std::string& help,
             std::string& target);
  void value(const std::string& names, const std::string& metavar, const std::string& help, int& target);
  void value(const std::string& names, const std::string& metavar, const std::string& help,
             std::int64_t& target);
  void value(const std::string& names, const std::string& metavar, const std::string& help,
             double& target);
  // Repeatable: every occurrence appends.
  void list(const std::string& names, const std::string& metavar, const std::string& help,
            std::vector<std::string>& target);
  void positional(const std::string& metavar, const std::string& help, std::string& target);
  // Every argument after the fixed positionals, in order.
  void rest(const std::string& metavar, const std::string& help, std::vector<std::string>& target);

  // Throws UsageError. Returns false when --help or --version was answered (exit 0).
  bool parse(int argc, char** argv);
  std::string help() const;
  const std::string& program() const { return program_; }

private:
  struct Option {
    std::vector<std::string> names;
    std::string metavar;  // empty for flags
    std::string help;
    std::function<void(const std::string&)> apply;
  };
  struct Positional {
    std::string metavar;
    std::string help;
    std::string* target;
  };
  const Option* find(const std::string& name) const;

  std::string program_;
  std::string synopsis_;
  std::string description_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
  std::vector<std::string>* rest_ = nullptr;
  std::string rest_metavar_, rest_help_;
};

// Flags every streaming program shares: output format and options, tiles, threads, memory, quiet.
struct CommonFlags {
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

  void add_to(ArgParser& parser);
  // INPUT, or with --ortho the virtual orthorectified raster showing it.
  std::string placed_input(const std::string& input) const;
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
void check_input(const std::string& path);

// check_input on every raster, then refuses an output that is one of the rasters or other inputs
// (even through another path or a link), or is named twice: --overwrite must never replace what
// is being read. Empty paths are options not given.
void check_paths(const std::vector<std::string>& rasters, const std::vector<std::string>& other_inputs,
                 const std::vector<std::string>& outputs);

// Whether this process prints errors and warnings (in an MPI job only rank 0 does; the job's
// outcome is the same on every rank).
void set_reporting(bool on);

int parse_int(const std::string& text, const std::string& what);
double parse_double(const std::string& text, const std::string& what);
// "a,b,,c" -> {"a", "b", "c"}: the comma lists of --bands, --classes, ...
std::vector<std::string> split_list(const std::string& text);
// A comma list of numbers ("" -> none); what names the flag in the error.
std::vector<double> parse_numbers(const std::string& text, const std::string& what);

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
    for (const auto& b : split_list(bands)) o.bands.push_back(parse_int(b, "--bands"));
    o.scale = parse_numbers(scale, "--scale");
    o.mean = parse_numbers(mean, "--mean");
    o.std = parse_numbers(std_dev, "--std");
    if (halo != "auto") o.halo = parse_int(halo, "--halo");
  }
};

}  // namespace luojia::cli
