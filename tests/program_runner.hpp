#pragma once
// Running the command-line programs as a user (or a scheduler) does: a child process with its own
// stdout and stderr, optional resource limits, its exit status and its peak memory.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace luojia::test {

struct ProgramLimits {
  // RLIMIT_FSIZE with SIGXFSZ ignored: writes past this size fail with EFBIG, as on a full disk.
  std::optional<std::uint64_t> max_file_bytes;
};

struct ProgramResult {
  int code = -1;    // exit status, or -1 when a signal ended the process
  int signal = 0;   // the signal that ended it, if any
  std::string out;
  std::string err;
  double seconds = 0.0;
  std::int64_t peak_rss_kb = 0;  // getrusage's ru_maxrss of the child
};

ProgramResult run_program(const std::vector<std::string>& argv, const ProgramLimits& limits = {});

// A started child whose stdout and stderr go to /dev/null; stop() sends a signal and waits.
class RunningProgram {
public:
  explicit RunningProgram(const std::vector<std::string>& argv);
  ~RunningProgram();
  RunningProgram(const RunningProgram&) = delete;
  RunningProgram& operator=(const RunningProgram&) = delete;
  pid_t pid() const { return pid_; }
  // Sends signal, waits, and returns the exit status and the seconds from signal to exit.
  ProgramResult stop(int signal);

private:
  pid_t pid_ = -1;
};

// Every regular file under folder (recursively) with its bytes: inputs must come out unchanged
// and failed runs must leave nothing new behind.
std::map<std::string, std::string> snapshot(const std::filesystem::path& folder);

// A small tmpfs mounted on a folder for the life of the object, when the process may mount
// (root in a container usually may). ok() says whether it worked.
class TmpfsMount {
public:
  TmpfsMount(const std::filesystem::path& folder, std::uint64_t bytes, bool read_only = false);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool ok() const { return mounted_; }

private:
  std::filesystem::path folder_;
  bool mounted_ = false;
};

}  // namespace luojia::test
