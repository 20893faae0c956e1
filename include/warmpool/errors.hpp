#pragma once
/// @file errors.hpp
/// @brief The runtime errors an input can end with.

#include <stdexcept>
#include <string>

namespace warmpool {

/// @brief Base of every runtime failure warmpool reports (a std::runtime_error).
///
/// Contract violations and bad settings are not `error`s: they throw
/// `std::invalid_argument`. Example:
/// @code
/// try { fut.get(); } catch (const warmpool::error& e) { log(e.what()); }
/// @endcode
class error : public std::runtime_error {
 public:
  /// @brief Makes an error with the given message.
  using std::runtime_error::runtime_error;
};

/// @brief The pending queue held `max_pending` inputs: the input was not accepted.
class queue_full : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

/// @brief The pool is shut down: the input was refused, or cancelled by `Drain::cancel`.
class pool_closed : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

/// @brief The input did not start before its `SubmitOptions::timeout` ran out.
class timeout_error : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

/// @brief The input's stop token was triggered while it was still pending.
class cancelled : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

/// @brief Boots kept failing, so pending inputs were failed.
///
/// Thrown with `std::throw_with_nested`, so the enter hook's own exception is
/// reachable through `std::rethrow_if_nested(e)`.
class enter_failed : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

/// @brief Thrown by user code to say "this worker is broken": the worker is replaced.
///
/// Its worker is evicted (its exit hooks run) and a replacement boots when the target
/// needs one; the input runs again on another worker, up to `Options::worker_lost_reruns`
/// times, and then ends with this error. Example:
/// @code
/// pool.submit([](Session& s) { if (!s.alive()) throw warmpool::worker_lost("session dropped"); });
/// @endcode
class worker_lost : public error {
 public:
  /// @brief Makes the error with the given message.
  using error::error;
};

}  // namespace warmpool
