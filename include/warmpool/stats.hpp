#pragma once
/// @file stats.hpp
/// @brief `Stats`: a consistent snapshot of a pool's gauges, counters, time totals and
/// latency summaries; `WorkerInfo`: one worker in `Pool::workers()`.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"
#include "lifecycle.hpp"
#include "settings.hpp"

namespace warmpool {

/// @brief The time one enter hook took, over every boot that ran it.
struct HookTime {
  /// @brief `"enter_snapshot"`, `"enter"` or `"enter_hooks[i]"` (`Options::enter_hooks`).
  std::string name;
  /// @brief Its durations.
  LatencySummary time;
};

/// @brief A consistent snapshot of one pool, taken under its lock by `Pool::stats()`.
///
/// Gauges describe the moment of the snapshot; counters only grow. Reading it costs the
/// same whatever the number of inputs served (the latency summaries come from
/// fixed-size histograms).
///
/// Queueing or amortized work? `queue_wait` (and `cold_inputs`) show time spent waiting
/// for a worker, `boot_time` what a cold start costs; the gap between `first_input` and
/// `later_input` is the work a fresh worker does on its first input. Every accepted
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

  // --- settings in force ---
  /// @brief The autoscaler settings in force.
  Autoscaler autoscaler{};
  /// @brief `Options::max_inputs`: concurrent inputs per worker.
  std::size_t max_inputs = 1;
  /// @brief `Options::max_pending`: most inputs that may wait.
  std::size_t max_pending = 0;

  // --- counters ---
  /// @brief Boots started.
  std::uint64_t boots = 0;
  /// @brief Boots whose factory or enter hook threw.
  std::uint64_t boot_failures = 0;
  /// @brief Warm workers stopped, for any reason (the sum of the `evicted_*` counters).
  std::uint64_t evictions = 0;
  /// @brief Evicted after `idle_timeout` (or a keep-alive policy's window).
  std::uint64_t evicted_idle = 0;
  /// @brief Evicted above `max_workers` after it was lowered.
  std::uint64_t evicted_surplus = 0;
  /// @brief Evicted because an input threw `worker_lost` or a lease was discarded.
  std::uint64_t evicted_lost = 0;
  /// @brief Evicted by shutdown.
  std::uint64_t evicted_shutdown = 0;
  /// @brief Retired after `Options::max_lifetime`.
  std::uint64_t evicted_lifetime = 0;
  /// @brief Retired after `Options::max_uses` inputs.
  std::uint64_t evicted_uses = 0;
  /// @brief Evicted because `healthy()` said no.
  std::uint64_t evicted_unhealthy = 0;
  /// @brief Inputs accepted.
  std::uint64_t inputs_submitted = 0;
  /// @brief Inputs refused at submit (`queue_full` or `pool_closed`).
  std::uint64_t inputs_rejected = 0;
  /// @brief Starts of inputs that waited for a boot because no warm worker was free.
  std::uint64_t cold_inputs = 0;
  /// @brief Starts of inputs on a worker that was already warm.
  std::uint64_t warm_inputs = 0;
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

  // --- time totals ---
  /// @brief Worker-seconds spent warm and idle: the cost of keeping workers warm.
  double idle_worker_seconds = 0;
  /// @brief Worker-seconds spent warm with at least one input running (or leased).
  double busy_worker_seconds = 0;

  // --- latency summaries ---
  /// @brief From an input's arrival (or its queuing again) to its start.
  LatencySummary queue_wait{};
  /// @brief From the decision to boot to warm (construction and every enter hook).
  LatencySummary boot_time{};
  /// @brief Each enter hook's own time, in the order they run (Pool only).
  std::vector<HookTime> enter_hooks{};
  /// @brief Run time of the first input each worker served (includes amortized work).
  LatencySummary first_input{};
  /// @brief Run time of every later input (steady state).
  LatencySummary later_input{};
};

/// @brief One worker, as listed by `Pool::workers()`.
struct WorkerInfo {
  /// @brief Where the worker is in its life.
  enum class State {
    booting,   ///< constructing or running enter hooks
    idle,      ///< warm, no input running
    busy,      ///< warm, at least one input running (or leased)
    retiring,  ///< past `max_lifetime` / `max_uses`: finishing, or a last-resort fallback
  };
  /// @brief Its id (as in events).
  WorkerId id = 0;
  /// @brief Its state.
  State state = State::booting;
  /// @brief Time since its boot started.
  std::chrono::nanoseconds age{};
  /// @brief Inputs started on it.
  std::uint64_t inputs_served = 0;
  /// @brief Inputs running on it now.
  std::size_t inputs_running = 0;
  /// @brief When idle: when it went idle (the pool clock's time since its epoch).
  std::optional<std::chrono::nanoseconds> idle_since{};
};

/// @brief The lower-case name of a worker state, e.g. `"idle"`.
constexpr std::string_view to_string(WorkerInfo::State state) noexcept {
  switch (state) {
    case WorkerInfo::State::booting: return "booting";
    case WorkerInfo::State::idle: return "idle";
    case WorkerInfo::State::busy: return "busy";
    case WorkerInfo::State::retiring: return "retiring";
  }
  return "unknown";
}

}  // namespace warmpool
