#pragma once
/// @file result.hpp
/// @brief `Result<R>`: the value or the error an input ended with (for `Pool::post`).

#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace warmpool {

/// @brief The outcome of one input: a value of type `R`, or an exception.
///
/// `R` may be `void`. Thread-safety: a plain value; not synchronised. Example:
/// @code
/// pool.post([](Model& m) { return m.infer(x); },
///           [](warmpool::Result<float> r) {
///             if (r.ok()) use(r.value()); else log_error(r.error());
///           });
/// @endcode
template <class R>
class Result {
 public:
  /// @brief A result holding `value`.
  static Result success(R value) { return Result(std::move(value)); }
  /// @brief A result holding the error `e` (must not be null).
  static Result failure(std::exception_ptr e) { return Result(std::move(e)); }

  /// @brief True when it holds a value.
  bool ok() const noexcept { return value_.has_value(); }
  /// @brief The value; rethrows the error when `!ok()`.
  R& value() & {
    if (!ok()) std::rethrow_exception(error_);
    return *value_;
  }
  /// @brief The value; rethrows the error when `!ok()`.
  const R& value() const& {
    if (!ok()) std::rethrow_exception(error_);
    return *value_;
  }
  /// @brief Moves the value out; rethrows the error when `!ok()`.
  R&& value() && {
    if (!ok()) std::rethrow_exception(error_);
    return std::move(*value_);
  }
  /// @brief The error, or null when `ok()`.
  std::exception_ptr error() const noexcept { return error_; }

 private:
  explicit Result(R value) : value_(std::move(value)) {}
  explicit Result(std::exception_ptr e) : error_(std::move(e)) {}
  std::optional<R> value_;
  std::exception_ptr error_;
};

/// @brief The outcome of an input whose function returns `void`.
template <>
class Result<void> {
 public:
  /// @brief A successful result.
  static Result success() { return Result(nullptr); }
  /// @brief A result holding the error `e` (must not be null).
  static Result failure(std::exception_ptr e) { return Result(std::move(e)); }

  /// @brief True when the input succeeded.
  bool ok() const noexcept { return !error_; }
  /// @brief Returns when `ok()`; rethrows the error otherwise.
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  /// @brief The error, or null when `ok()`.
  std::exception_ptr error() const noexcept { return error_; }

 private:
  explicit Result(std::exception_ptr e) : error_(std::move(e)) {}
  std::exception_ptr error_;
};

}  // namespace warmpool
