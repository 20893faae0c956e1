#pragma once
/// @file version.hpp
/// @brief The warmpool version, as macros usable in `#if` (kept equal to the CMake
/// `project(VERSION)` by a test).
///
/// Example:
/// @code
/// #if WARMPOOL_VERSION >= 100  // 0.1.0 or later
/// std::puts("warmpool " WARMPOOL_VERSION_STRING);
/// #endif
/// @endcode

/// @brief Major version: incremented for incompatible API changes.
#define WARMPOOL_VERSION_MAJOR 0
/// @brief Minor version: incremented for backward-compatible additions.
#define WARMPOOL_VERSION_MINOR 1
/// @brief Patch version: incremented for backward-compatible fixes.
#define WARMPOOL_VERSION_PATCH 0

/// @brief The version as one number, `major * 10000 + minor * 100 + patch` (0.1.0 is 100).
#define WARMPOOL_VERSION \
  (WARMPOOL_VERSION_MAJOR * 10000 + WARMPOOL_VERSION_MINOR * 100 + WARMPOOL_VERSION_PATCH)

/// @brief The version as a string literal, `"major.minor.patch"`.
#define WARMPOOL_VERSION_STRING "0.1.0"
