#include "call_guard.hpp"

#include <luojia/error.hpp>

#include <atomic>
#include <thread>

namespace luojia::python {

namespace py = pybind11;

namespace {

// Set by the SIGINT handler while a guarded call runs; read by the progress function on any thread.
std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) { interrupted.store(true); }

bool on_main_thread() {
  // Python delivers signals to its main thread only; only there may a call take SIGINT over.
  return PyThread_get_thread_ident() == py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

}  // namespace

CallGuard::CallGuard(py::object progress) : callback_(std::move(progress)) {
  if (!callback_.is_none() && !PyCallable_Check(callback_.ptr()))
    throw py::type_error("progress must be a callable (fraction, message) or None");
  if (on_main_thread()) {
    // Python's own handler only sets a flag that the interpreter checks between bytecodes, which
    // never happens while C++ runs; ours lets the run stop at its next tile.
    interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
}

CallGuard::~CallGuard() {
  if (installed_) sigaction(SIGINT, &previous_, nullptr);
}

int CallGuard::report(double complete, const char* message, void* data) {
  auto* self = static_cast<CallGuard*>(data);
  if (interrupted.load()) return 0;
  if (self->callback_.is_none()) return 1;
  py::gil_scoped_acquire gil;
  if (self->callback_error_) return 0;
  try {
    py::object answer = self->callback_(complete, message ? message : "");
    if (answer.ptr() == Py_False) return 0;
  } catch (py::error_already_set& e) {
    self->callback_error_.emplace(std::move(e));
    return 0;
  }
  return 1;
}

void CallGuard::run(const std::function<void()>& body) {
  try {
    py::gil_scoped_release release;
    body();
  } catch (const luojia::Cancelled&) {
    if (installed_ && interrupted.load()) {
      // Restore Python's handler first, so the KeyboardInterrupt is the interpreter's usual one.
      sigaction(SIGINT, &previous_, nullptr);
      installed_ = false;
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw py::error_already_set();
    }
    if (callback_error_) {
      std::optional<py::error_already_set> error = std::move(callback_error_);
      callback_error_.reset();
      throw std::move(*error);
    }
    throw;
  }
}

}  // namespace luojia::python
