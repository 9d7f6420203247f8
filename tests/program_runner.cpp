#include "program_runner.hpp"

#include "support.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace luojia::test {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

void decode(int status, ProgramResult& r) {
  if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv, const ProgramLimits& limits) {
  char out_name[] = "/tmp/luojia-test-stdout-XXXXXX";
  char err_name[] = "/tmp/luojia-test-stderr-XXXXXX";
  const int out_fd = mkstemp(out_name);
  const int err_fd = mkstemp(err_name);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("test: cannot create capture files");
  const auto args = c_argv(argv);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("test: fork failed");
  if (child == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    if (limits.max_file_bytes) {
      std::signal(SIGXFSZ, SIG_IGN);  // kept across exec: writes then fail with EFBIG
      const rlimit limit{*limits.max_file_bytes, *limits.max_file_bytes};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(child, &status, 0, &usage);
  ProgramResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_kb = usage.ru_maxrss;
  decode(status, r);
  close(out_fd);
  close(err_fd);
  r.out = read_file(out_name);
  r.err = read_file(err_name);
  unlink(out_name);
  unlink(err_name);
  return r;
}

RunningProgram::RunningProgram(const std::vector<std::string>& argv) {
  const auto args = c_argv(argv);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("test: fork failed");
  if (pid_ == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
}

RunningProgram::~RunningProgram() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

ProgramResult RunningProgram::stop(int signal) {
  ProgramResult r;
  kill(pid_, signal);
  const auto sent = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  decode(status, r);
  return r;
}

std::map<std::string, std::string> snapshot(const std::filesystem::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(folder))
    if (e.is_regular_file()) files[std::filesystem::relative(e.path(), folder).string()] = read_file(e.path().string());
  return files;
}

TmpfsMount::TmpfsMount(const std::filesystem::path& folder, std::uint64_t bytes, bool read_only) : folder_(folder) {
  std::filesystem::create_directories(folder);
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0777";
  mounted_ = mount("tmpfs", folder.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, options.c_str()) == 0;
}

TmpfsMount::~TmpfsMount() {
  if (mounted_) umount2(folder_.c_str(), MNT_DETACH);
}

}  // namespace luojia::test
