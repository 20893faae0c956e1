// The version macros of include/warmpool/version.hpp must equal CMake's project(VERSION),
// which CMakeLists.txt passes to this target as WARMPOOL_CMAKE_VERSION_*.
#include <warmpool/version.hpp>

#include <doctest/doctest.h>

#include <string>

#ifndef WARMPOOL_CMAKE_VERSION_STRING
#error "WARMPOOL_CMAKE_VERSION_* must be defined by CMakeLists.txt"
#endif

TEST_CASE("version macros equal the CMake project version") {
  CHECK(WARMPOOL_VERSION_MAJOR == WARMPOOL_CMAKE_VERSION_MAJOR);
  CHECK(WARMPOOL_VERSION_MINOR == WARMPOOL_CMAKE_VERSION_MINOR);
  CHECK(WARMPOOL_VERSION_PATCH == WARMPOOL_CMAKE_VERSION_PATCH);
  CHECK(std::string(WARMPOOL_VERSION_STRING) == std::string(WARMPOOL_CMAKE_VERSION_STRING));
}

TEST_CASE("WARMPOOL_VERSION is major * 10000 + minor * 100 + patch") {
  static_assert(WARMPOOL_VERSION_MINOR < 100 && WARMPOOL_VERSION_PATCH < 100,
                "WARMPOOL_VERSION cannot encode a minor or patch number above 99");
  CHECK(WARMPOOL_VERSION == WARMPOOL_CMAKE_VERSION_MAJOR * 10000 +
                                WARMPOOL_CMAKE_VERSION_MINOR * 100 + WARMPOOL_CMAKE_VERSION_PATCH);
  CHECK(std::string(WARMPOOL_VERSION_STRING) == std::to_string(WARMPOOL_VERSION_MAJOR) + "." +
                                                    std::to_string(WARMPOOL_VERSION_MINOR) + "." +
                                                    std::to_string(WARMPOOL_VERSION_PATCH));
}
