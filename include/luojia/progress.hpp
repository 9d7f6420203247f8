#pragma once
// GDAL's progress callback type, which every long call takes (return 0 to cancel), and a C++
// callable in its place.
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
// MergeOptions, ...); the object must outlive the run. An exception the callable throws leaves the
// run as any error does.
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

  static int call(double complete, const char* message, void* self) {
    const auto& f = static_cast<const ProgressFunction*>(self)->callback_;
    return f && !f(complete, message ? std::string_view(message) : std::string_view()) ? 0 : 1;
  }

private:
  Callback callback_;
};

}  // namespace luojia
