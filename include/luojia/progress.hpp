#pragma once
// GDAL's progress callback type, which every long call takes (return 0 to cancel), and a C++
// callable in its place.
#include <exception>
#include <functional>
#include <string_view>
#include <utility>

namespace luojia {

// The signature of GDALProgressFunc, so GDAL's own (GDALTermProgress, GDALScaledProgress) plug in.
// Return 0 to cancel.
using ProgressFunc = int (*)(double complete, const char* message, void* user_data);

// A lambda or any callable as a run's progress: it gets the share done (0 to 1) and GDAL's message
// (often empty) and returns false to cancel, after which the run throws Cancelled and leaves no
// output. attach() fills an options struct's progress and progress_data (StreamOptions,
// MergeOptions, ...); the object must outlive the run. GDAL calls progress from its own code too,
// which an exception must not cross: one the callable throws cancels the run the same way, and
// error() holds it (std::rethrow_exception(progress.error()) after catching Cancelled).
//   ProgressFunction progress([&](double done, std::string_view) { bar.set(done); return !stop; });
//   progress.attach(options.stream);
class ProgressFunction {
public:
  using Callback = std::function<bool(double complete, std::string_view message)>;
  explicit ProgressFunction(Callback callback) : callback_(std::move(callback)) {}

  template <class Options>
  void attach(Options& options) const {
    options.progress = &ProgressFunction::call;
    options.progress_data = const_cast<ProgressFunction*>(this);
  }

  // What the callable threw, if it did (the run was then cancelled); null otherwise.
  std::exception_ptr error() const { return error_; }

  static int call(double complete, const char* message, void* data) noexcept {
    auto* self = static_cast<ProgressFunction*>(data);
    if (!self->callback_) return 1;
    try {
      return self->callback_(complete, message ? std::string_view(message) : std::string_view()) ? 1 : 0;
    } catch (...) {
      self->error_ = std::current_exception();
      return 0;
    }
  }

private:
  Callback callback_;
  mutable std::exception_ptr error_;  // set from call(), also on an object attached as const
};

}  // namespace luojia
