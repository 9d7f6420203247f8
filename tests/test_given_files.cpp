// Products that read two rasters through one stacked VRT in memory name the user's files in errors.
#include <luojia/error.hpp>

#include "io/band_stack.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace luojia;

TEST_CASE("an error about a stacked virtual raster names the files the user gave, other errors pass as they are", "[io]") {
  const std::string stacked = detail::unique_vsimem("dates");
  const auto failing = [&](const Error& error) {
    return [&]() -> int {
      error.rethrow_with(error.context());
      return 0;
    };
  };
  try {
    detail::naming_given_files("before.tif", "after.tif", failing(InputError("band 3 unreadable", ErrorContext{stacked, 3, {}, {}})));
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.context().file == "before.tif or after.tif");
    CHECK_FALSE(e.context().band.has_value());
  }
  try {
    detail::naming_given_files("same.tif", "same.tif", failing(InputError("unreadable", ErrorContext{stacked, {}, {}, {}})));
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.context().file == "same.tif");
  }
  try {
    detail::naming_given_files("before.tif", "after.tif", failing(OutputError("disk full", ErrorContext{"out.tif", {}, {}, {}})));
    FAIL("no error");
  } catch (const OutputError& e) {
    CHECK(e.context().file == "out.tif");
  }
  CHECK_THROWS_AS(detail::naming_given_files("a.tif", "b.tif", [&]() -> int { throw Cancelled(); }), Cancelled);
  CHECK(detail::naming_given_files("a.tif", "b.tif", [] { return 7; }) == 7);
}
