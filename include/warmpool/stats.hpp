#pragma once
/// @file stats.hpp
/// @brief `Stats`: a consistent snapshot of a pool's gauges and counters.

#include <cstddef>
#include <cstdint>

namespace warmpool {

/// @brief A consistent snapshot of one pool, taken under its lock by `Pool::stats()`.
///
/// Gauges describe the moment of the snapshot; counters only grow. Every accepted
/// input ends exactly once, so once nothing is pending, running or retrying:
/// `inputs_submitted == inputs_completed + inputs_failed + inputs_cancelled +
/// inputs_timed_out + inputs_closed + inputs_lost + inputs_enter_failed`.
/// Inputs refused at submit are counted in `inputs_rejected` only. Example:
/// @code
/// auto s = pool.stats();
/// std::printf("%zu warm, %llu cold inputs\n", s.workers_idle + s.workers_busy,
///             static_cast<unsigned long long>(s.cold_inputs));
/// @endcode
struct Stats {
  // --- gauges ---
  /// @brief Workers constructing or running enter hooks.
  std::size_t workers_booting = 0;
  /// @brief Warm workers with no running input.
  std::size_t workers_idle = 0;
  /// @brief Warm workers with at least one running input (a leased worker counts here).
  std::size_t workers_busy = 0;
  /// @brief The number of live workers the autoscaler aims for right now.
  std::size_t target_workers = 0;
  /// @brief Accepted inputs not started yet.
  std::size_t inputs_pending = 0;
  /// @brief Inputs started and not finished (leases included).
  std::size_t inputs_running = 0;
  /// @brief Inputs that threw and wait for their retry delay to pass.
  std::size_t inputs_retrying = 0;

  // --- counters ---
  /// @brief Boots started.
  std::uint64_t boots = 0;
  /// @brief Boots whose factory or enter hook threw.
  std::uint64_t boot_failures = 0;
  /// @brief Warm workers stopped (idle timeout, surplus, lost or shutdown).
  std::uint64_t evictions = 0;
  /// @brief Inputs accepted.
  std::uint64_t inputs_submitted = 0;
  /// @brief Inputs refused at submit (`queue_full` or `pool_closed`).
  std::uint64_t inputs_rejected = 0;
  /// @brief Inputs that waited for a boot because no warm worker was free.
  std::uint64_t cold_inputs = 0;
  /// @brief Retries scheduled after an input threw (an input may be retried several times).
  std::uint64_t inputs_retried = 0;
  /// @brief Re-runs on another worker after an input's worker was lost.
  std::uint64_t inputs_rerun = 0;
  /// @brief Inputs that ended with a value (a discarded lease counts here too).
  std::uint64_t inputs_completed = 0;
  /// @brief Inputs that ended with the function's own exception, after their retries.
  std::uint64_t inputs_failed = 0;
  /// @brief Inputs cancelled through their stop token while pending.
  std::uint64_t inputs_cancelled = 0;
  /// @brief Inputs that did not start before their timeout.
  std::uint64_t inputs_timed_out = 0;
  /// @brief Pending inputs failed with `pool_closed` by `shutdown(Drain::cancel)`.
  std::uint64_t inputs_closed = 0;
  /// @brief Inputs that ended with `worker_lost` after their re-runs.
  std::uint64_t inputs_lost = 0;
  /// @brief Pending inputs failed with `enter_failed` after repeated boot failures.
  std::uint64_t inputs_enter_failed = 0;
  /// @brief Exit hooks that threw (the worker was destroyed all the same).
  std::uint64_t exit_failures = 0;
};

}  // namespace warmpool
