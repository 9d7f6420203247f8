#pragma once
// A long library call made from Python: the GIL released while it runs, progress reported to a
// Python callable, and Ctrl-C turned into the library's cancellation, so an interrupted run leaves
// no partial product and raises KeyboardInterrupt.
#include <luojia/progress.hpp>

#include <pybind11/pybind11.h>

#include <csignal>
#include <exception>
#include <functional>
#include <optional>

namespace luojia::python {

class CallGuard {
public:
  // progress: None, or a callable (fraction in [0, 1], message) whose False return cancels.
  explicit CallGuard(pybind11::object progress);
  CallGuard(const CallGuard&) = delete;
  CallGuard& operator=(const CallGuard&) = delete;
  ~CallGuard();

  // The pair to put into the library's options (StreamOptions::progress / progress_data).
  ProgressFunc function() const { return &CallGuard::report; }
  void* data() { return this; }

  // Runs body without the GIL. A Cancelled thrown because of Ctrl-C becomes KeyboardInterrupt,
  // one thrown because the callback raised becomes that Python exception.
  void run(const std::function<void()>& body);

private:
  static int report(double complete, const char* message, void* data);
  pybind11::object callback_;
  std::optional<pybind11::error_already_set> callback_error_;
  bool installed_ = false;
  struct sigaction previous_ {};
};

}  // namespace luojia::python
