#pragma once
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

// The one exception type luojia throws; programs turn it into a message and an exit code.
class LUOJIA_API Error : public std::runtime_error {
public:
  Error(std::string message, ErrorContext context = {});
  const ErrorContext& context() const noexcept { return context_; }
  // The message without the context prefix.
  const std::string& message() const noexcept { return message_; }

private:
  ErrorContext context_;
  std::string message_;
};

// Thrown when a progress callback asked to stop; no product is left behind.
class LUOJIA_API Cancelled : public Error {
public:
  Cancelled();
};

[[noreturn]] LUOJIA_API void raise(std::string message, ErrorContext context = {});

}  // namespace luojia
