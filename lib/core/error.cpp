#include <luojia/error.hpp>

#include <utility>

namespace luojia {
namespace {

std::string with_context(const std::string& message, const ErrorContext& context) {
  std::string prefix;
  auto add = [&prefix](const std::string& part) {
    if (!prefix.empty()) prefix += ", ";
    prefix += part;
  };
  if (!context.file.empty()) add(context.file);
  if (context.band) add("band " + std::to_string(*context.band));
  if (context.tile) add("tile " + std::to_string(*context.tile));
  if (!context.node.empty()) add("node " + context.node);
  return prefix.empty() ? message : prefix + ": " + message;
}

}  // namespace

Error::Error(std::string message, ErrorContext context)
    : std::runtime_error(message), context_(std::move(context)), message_(std::move(message)), what_(with_context(message_, context_)) {}

void Error::set_context(ErrorContext context) {
  context_ = std::move(context);
  what_ = with_context(message_, context_);
}

void Error::rethrow_with(ErrorContext context) const { throw_copy(*this, std::move(context)); }

UsageError::UsageError(std::string option, std::string message, ErrorContext context)
    : Error(option + " " + message, std::move(context)), option_(std::move(option)), detail_(std::move(message)) {}

Cancelled::Cancelled() : Error("cancelled") {}

void raise(std::string message, ErrorContext context) {
  throw Error(std::move(message), std::move(context));
}

}  // namespace luojia
