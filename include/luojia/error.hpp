#pragma once
// luojia::Error and its kinds, each carrying where it happened (file, band, tile, node).
#include <luojia/export.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace luojia {

// Where an error happened. Every field is optional; what() joins the ones that are set.
struct ErrorContext {
  std::string file;
  std::optional<int> band;  // 1-based, as GDAL and the command-line programs count
  std::optional<long long> tile;
  std::string node;  // a layer or graph node, for the neural network engine
};

// The root of every exception luojia throws; programs turn it into a message and an exit code.
// The subclasses below let callers branch on what went wrong without matching strings.
class LUOJIA_API Error : public std::runtime_error {
public:
  Error(std::string message, ErrorContext context = {});
  const char* what() const noexcept override { return what_.c_str(); }
  const ErrorContext& context() const noexcept { return context_; }
  // The message without the context prefix.
  const std::string& message() const noexcept { return message_; }

  // Throws a copy of this error, of the same class, with this context instead: for layers that
  // add where it happened (the tile, the file) without losing what kind of error it is.
  [[noreturn]] virtual void rethrow_with(ErrorContext context) const;

protected:
  template <class Self>
  [[noreturn]] static void throw_copy(const Self& self, ErrorContext context) {
    Self copy = self;
    copy.set_context(std::move(context));
    throw copy;
  }

private:
  void set_context(ErrorContext context);
  ErrorContext context_;
  std::string message_;
  std::string what_;
};

// A raster, vector or other input that cannot be read or does not fit the job (missing bands,
// unsupported types, grids that do not match).
class LUOJIA_API InputError : public Error {
public:
  using Error::Error;
  [[noreturn]] void rethrow_with(ErrorContext context) const override { throw_copy(*this, std::move(context)); }
};

// A model file that cannot be loaded or run, or whose inputs and outputs do not fit the task.
class LUOJIA_API ModelError : public Error {
public:
  using Error::Error;
  [[noreturn]] void rethrow_with(ErrorContext context) const override { throw_copy(*this, std::move(context)); }
};

// A product that cannot be written (existing output, unwritable folder, driver refusal).
class LUOJIA_API OutputError : public Error {
public:
  using Error::Error;
  [[noreturn]] void rethrow_with(ErrorContext context) const override { throw_copy(*this, std::move(context)); }
};

// An option struct's field holds a value the job cannot use. option() names the field as the
// library spells it (tile, min_area); programs map it to their own flag (--tile, --min-area).
class LUOJIA_API UsageError : public Error {
public:
  UsageError(std::string option, std::string message, ErrorContext context = {});
  const std::string& option() const noexcept { return option_; }
  // The message after the option's name.
  const std::string& detail() const noexcept { return detail_; }
  [[noreturn]] void rethrow_with(ErrorContext context) const override { throw_copy(*this, std::move(context)); }

private:
  std::string option_;
  std::string detail_;
};

// Thrown when a progress callback asked to stop; no product is left behind.
class LUOJIA_API Cancelled : public Error {
public:
  Cancelled();
};

[[noreturn]] LUOJIA_API void raise(std::string message, ErrorContext context = {});

}  // namespace luojia
