#pragma once
/// @file events.hpp
/// @brief `Event`: one lifecycle step, passed to `Options::on_event`.

#include <chrono>
#include <string_view>
#include <vector>

#include "lifecycle.hpp"
#include "settings.hpp"

namespace warmpool {

/// @brief The kinds of lifecycle step an `Event` reports.
enum class EventKind {
  boot_started,   ///< the Controller decided to boot `worker`
  worker_warm,    ///< `worker` finished its enter hooks after `boot_time`
  boot_failed,    ///< `worker`'s factory or an enter hook threw after `boot_time`
  input_queued,   ///< `input` waits in the queue (also again after a retry delay or re-run)
  input_started,  ///< `input` started on `worker` after `queue_wait`; see `cold`, `first_on_worker`
  input_finished,    ///< a run of `input` on `worker` ended with `outcome` after `run_time`
  input_failed,      ///< `input` ended without running, for `fail_reason`
  worker_evicted,    ///< `worker` was told to stop, for `evict_reason`
  settings_changed,  ///< the autoscaler settings are now `settings`
};

/// @brief One lifecycle step. Only the fields named for its `kind` are meaningful.
///
/// Times are the pool clock's time since its epoch, as the Controller saw them. Example:
/// @code
/// options.on_event = [](const warmpool::Event& e) {
///   if (e.kind == warmpool::EventKind::input_started && e.cold)
///     std::printf("input %llu waited %lld us for a boot\n", (unsigned long long)e.input,
///                 (long long)(e.queue_wait.count() / 1000));
/// };
/// @endcode
struct Event {
  /// @brief What happened.
  EventKind kind{};
  /// @brief When it happened (the pool clock's time since its epoch).
  std::chrono::nanoseconds time{};
  /// @brief The worker (boot_started, worker_warm, boot_failed, input_started,
  /// input_finished, worker_evicted).
  WorkerId worker = 0;
  /// @brief The input (input_queued, input_started, input_finished, input_failed).
  InputId input = 0;
  /// @brief worker_warm, boot_failed: time since the boot started.
  std::chrono::nanoseconds boot_time{};
  /// @brief worker_warm (Pool only): time each enter hook took, in the order they ran
  /// (`enter_snapshot()`, `enter()`, then `Options::enter_hooks`; only those that ran:
  /// with `Options::snapshot`, boots that copied the snapshot did not run `enter_snapshot()`).
  std::vector<std::chrono::nanoseconds> enter_hook_times{};
  /// @brief input_started: time since the input arrived (its first start) or since it was
  /// queued again (later starts).
  std::chrono::nanoseconds queue_wait{};
  /// @brief input_started: the input waited for this worker's boot (a cold input).
  bool cold = false;
  /// @brief input_started: this is the first input the worker serves (amortized work).
  bool first_on_worker = false;
  /// @brief input_finished: how the run ended.
  Outcome outcome{};
  /// @brief input_finished: the input has ended (false: it will run again or fails later).
  bool ended = false;
  /// @brief input_finished: time from its start to the end of the run.
  std::chrono::nanoseconds run_time{};
  /// @brief input_failed: why.
  FailReason fail_reason{};
  /// @brief worker_evicted: why.
  EvictReason evict_reason{};
  /// @brief settings_changed: the autoscaler settings now in force.
  Autoscaler settings{};
};

/// @brief The lower-case name of an event kind, e.g. `"input_started"`.
constexpr std::string_view to_string(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::boot_started: return "boot_started";
    case EventKind::worker_warm: return "worker_warm";
    case EventKind::boot_failed: return "boot_failed";
    case EventKind::input_queued: return "input_queued";
    case EventKind::input_started: return "input_started";
    case EventKind::input_finished: return "input_finished";
    case EventKind::input_failed: return "input_failed";
    case EventKind::worker_evicted: return "worker_evicted";
    case EventKind::settings_changed: return "settings_changed";
  }
  return "unknown";
}

}  // namespace warmpool
