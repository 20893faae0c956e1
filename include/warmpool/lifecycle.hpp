#pragma once
/// @file lifecycle.hpp
/// @brief The lifecycle vocabulary shared by the Controller, its bodies and their events:
/// worker and input ids, why a worker was evicted, why an input failed, how a run ended.

#include <cstdint>
#include <string_view>

namespace warmpool {

/// @brief Identifies a worker; assigned by the Controller in its `boot` action.
using WorkerId = std::uint64_t;
/// @brief Identifies an input; chosen by the caller, unique within one Controller.
using InputId = std::uint64_t;

/// @brief Why a warm worker was stopped.
enum class EvictReason {
  idle,       ///< idle for `idle_timeout` while the pool was above its target
  surplus,    ///< above `max_workers` after it was lowered
  lost,       ///< its input reported `worker_lost` (or a lease was discarded)
  shutdown,   ///< the pool is shutting down
  lifetime,   ///< retired after `Options::max_lifetime`
  uses,       ///< retired after `Options::max_uses` inputs
  unhealthy,  ///< `healthy()` returned false before it took an input
};

/// @brief Why the Controller failed an input that never ran.
enum class FailReason {
  timeout,       ///< not started before its deadline
  cancelled,     ///< its stop token was triggered while pending
  pool_closed,   ///< pending at `shutdown(Drain::cancel)`
  enter_failed,  ///< `max_boot_failures` consecutive boots failed while it waited
};

/// @brief How a started input ended, as reported by the body to the Controller.
enum class Outcome {
  value,      ///< returned normally (or a lease was given back)
  exception,  ///< threw an ordinary exception: retried while its `Retries` allow
  lost,       ///< threw `worker_lost`: the worker is evicted, the input re-run elsewhere
  discarded,  ///< a lease was discarded: the worker is evicted, the lease has ended
  unhealthy,  ///< the health check before the run failed: the worker is evicted and the
              ///< input queued again at the front (it did not run)
};

/// @brief The lower-case name of an eviction reason, e.g. `"idle"` (Prometheus labels, logs).
constexpr std::string_view to_string(EvictReason reason) noexcept {
  switch (reason) {
    case EvictReason::idle: return "idle";
    case EvictReason::surplus: return "surplus";
    case EvictReason::lost: return "lost";
    case EvictReason::shutdown: return "shutdown";
    case EvictReason::lifetime: return "lifetime";
    case EvictReason::uses: return "uses";
    case EvictReason::unhealthy: return "unhealthy";
  }
  return "unknown";
}

/// @brief The lower-case name of a failure reason, e.g. `"timeout"`.
constexpr std::string_view to_string(FailReason reason) noexcept {
  switch (reason) {
    case FailReason::timeout: return "timeout";
    case FailReason::cancelled: return "cancelled";
    case FailReason::pool_closed: return "pool_closed";
    case FailReason::enter_failed: return "enter_failed";
  }
  return "unknown";
}

/// @brief The lower-case name of a run's outcome, e.g. `"value"`.
constexpr std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::value: return "value";
    case Outcome::exception: return "exception";
    case Outcome::lost: return "lost";
    case Outcome::discarded: return "discarded";
    case Outcome::unhealthy: return "unhealthy";
  }
  return "unknown";
}

}  // namespace warmpool
