#pragma once
/// @file settings.hpp
/// @brief Autoscaler settings, pool options and per-input options, with validation.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "schedule.hpp"

namespace warmpool {

struct Event;           // events.hpp
class KeepAlivePolicy;  // keep_alive.hpp

/// @brief How many workers the pool keeps and for how long (Modal's names in brackets).
///
/// Plain value type; read it with `Pool::autoscaler()`, change it with
/// `Pool::update_autoscaler()` or `Pool::keep_warm()`. Example:
/// @code
/// using namespace std::chrono_literals;
/// warmpool::Autoscaler a{.min_warm = 2, .max_workers = 8, .idle_timeout = 30s};
/// @endcode
struct Autoscaler {
  /// @brief Floor of workers kept warm even with no traffic [min_containers / keep_warm].
  std::size_t min_warm = 0;
  /// @brief Ceiling of live (booting + warm) workers [max_containers]; at least 1.
  std::size_t max_workers = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  /// @brief Extra warm workers beyond demand while any input is running or pending
  /// [buffer_containers]; clamped so the target never exceeds `max_workers`.
  std::size_t buffer = 0;
  /// @brief How long a worker may stay idle before it is evicted [scaledown_window].
  std::chrono::milliseconds idle_timeout{60'000};

  /// @brief Field-wise equality.
  friend bool operator==(const Autoscaler&, const Autoscaler&) = default;
};

/// @brief A partial change of `Autoscaler`: unset fields keep their value.
///
/// Example: `pool.update_autoscaler({.buffer = 2, .idle_timeout = std::chrono::seconds(5)});`
struct AutoscalerUpdate {
  /// @brief New `Autoscaler::min_warm`, if set.
  std::optional<std::size_t> min_warm{};
  /// @brief New `Autoscaler::max_workers`, if set.
  std::optional<std::size_t> max_workers{};
  /// @brief New `Autoscaler::buffer`, if set.
  std::optional<std::size_t> buffer{};
  /// @brief New `Autoscaler::idle_timeout`, if set.
  std::optional<std::chrono::milliseconds> idle_timeout{};
};

/// @brief Crash-loop backoff between boots after an enter hook (or the factory) threw.
///
/// After the n-th consecutive failed boot the next boot waits
/// `min(max_delay, initial_delay * multiplier^(n-1))`. Example:
/// @code
/// warmpool::Options o; o.boot_backoff = {.initial_delay = std::chrono::milliseconds(50)};
/// @endcode
struct BootBackoff {
  /// @brief Delay after the first failed boot; >= 0.
  std::chrono::milliseconds initial_delay{100};
  /// @brief Cap of the delay; >= initial_delay.
  std::chrono::milliseconds max_delay{30'000};
  /// @brief Growth factor per consecutive failure; >= 1.
  double multiplier = 2.0;
};

/// @brief How often and when an input that threw is run again (Modal's `Retries`).
///
/// Retry n (1-based) starts `min(max_delay, initial_delay * backoff_coefficient^(n-1))`
/// after the failure, queued behind the inputs already pending. Only the function's own
/// exceptions are retried; `worker_lost` re-runs do not use this budget. Example:
/// @code
/// warmpool::Options o;
/// o.retries = {.max_retries = 3, .initial_delay = std::chrono::milliseconds(100)};
/// @endcode
struct Retries {
  /// @brief Runs after the first failed one; 0 turns retries off.
  std::size_t max_retries = 0;
  /// @brief Delay before the first retry; >= 0.
  std::chrono::milliseconds initial_delay{1'000};
  /// @brief Growth factor of the delay per retry; >= 1.
  double backoff_coefficient = 2.0;
  /// @brief Cap of the delay; >= initial_delay.
  std::chrono::milliseconds max_delay{60'000};
};

/// @brief How `Pool::shutdown` treats inputs that have not started yet.
enum class Drain {
  finish,  ///< run every pending input, then stop the workers
  cancel,  ///< fail pending inputs with `pool_closed`; running ones finish
};

/// @brief Everything a `Pool` is configured with.
///
/// Example:
/// @code
/// warmpool::Options o;
/// o.autoscaler.min_warm = 1;
/// o.max_inputs = 4;   // four concurrent inputs per worker (handler must be thread-safe)
/// warmpool::Pool<Model> pool(o);
/// @endcode
struct Options {
  /// @brief Initial autoscaler settings.
  Autoscaler autoscaler{};
  /// @brief Concurrent inputs per worker; each worker gets this many threads sharing one
  /// `Worker` object, so with more than 1 the handler must be thread-safe. At least 1.
  std::size_t max_inputs = 1;
  /// @brief Most inputs that may wait for a worker; beyond it `submit` throws `queue_full`
  /// (and `post` reports it). At least 1. Default: 1,048,576.
  std::size_t max_pending = std::size_t{1} << 20;
  /// @brief Batching of short inputs, for throughput: 1 (the default) turns it off.
  ///
  /// Above 1 (with `max_inputs` 1), while the pool is saturated (every worker busy, none
  /// may boot, inputs waiting), a serving thread whose inputs run short takes several
  /// waiting inputs at once, as many as fit in about 20 µs of its recent run times and
  /// at most this many, runs them one after another, and reports them to the Controller
  /// together, in one hold of the pool's lock instead of one each. What changes for the
  /// inputs of a batch (and only for them; like Celery's prefetch):
  /// - they start together: their queue wait ends and `input_started` is emitted when the
  ///   batch is taken, and they count as running on that worker until they are reported,
  ///   so `inputs_running` may exceed `workers x max_inputs` meanwhile;
  /// - they are bound to that worker: another worker freeing up meanwhile takes the next
  ///   waiting input, not one of them (the first-in first-out order is kept within a
  ///   worker, and across workers up to a batch);
  /// - each one's result is delivered once the whole batch is reported (the counters
  ///   include it by then, as for any input); its run time is measured from the end of
  ///   the one before it on that worker.
  /// A run that loses the worker (`worker_lost`) ends its batch: the inputs after it wait
  /// again at the front of the queue. Inputs with a timeout and lease requests are never
  /// batched. At least 1; 1 when `max_inputs` > 1.
  std::size_t max_batch = 1;
  /// @brief Delay between boots after failed ones.
  BootBackoff boot_backoff{};
  /// @brief Consecutive failed boots (with no success between) after which every pending
  /// input fails with `enter_failed`; later inputs start new boot attempts. At least 1.
  std::size_t max_boot_failures = 3;
  /// @brief Default retry policy for inputs that throw (none by default).
  Retries retries{};
  /// @brief Times an input whose worker was lost (it threw `worker_lost`) is run again on
  /// another worker before it fails with `worker_lost`; not counted against `retries`.
  std::size_t worker_lost_reruns = 2;
  /// @brief Retire a worker once it has been warm this long, less a per-worker jitter of up
  /// to `lifetime_jitter` of it (so a cohort does not retire at once). A retiring worker
  /// stops counting toward the target, so a replacement boots when one is needed; it
  /// serves only when no other warm worker is free and leaves, once idle, as soon as the
  /// warm workers meet the target. Unset: no limit. When set, > 0.
  std::optional<std::chrono::milliseconds> max_lifetime{};
  /// @brief Largest fraction by which a worker's lifetime is shortened; in [0, 1].
  double lifetime_jitter = 0.1;
  /// @brief Retire a worker after this many inputs (0: no limit): when it starts its last
  /// one, a replacement boots if the target needs it; the worker leaves when it ends.
  std::size_t max_uses = 0;
  /// @brief If set, a worker idle for at least this long is asked `bool healthy()` (a
  /// member `Worker` must have) on its own thread before it takes an input; an unhealthy
  /// worker is evicted and the input goes to the front of the queue. When set, >= 0.
  std::optional<std::chrono::milliseconds> health_check_after{};
  /// @brief Snapshot boots (Modal's memory snapshots with `@enter(snap=True)`): the first
  /// boot constructs a worker with the factory, runs its `enter_snapshot()` and keeps it
  /// as a snapshot; every boot (that one included) copy-constructs its worker from the
  /// snapshot and runs only `enter()` and the enter hooks. Put the costly,
  /// copyable state (parsed files, built tables) in `enter_snapshot()` and what cannot be
  /// copied (threads, sockets, device handles) in `enter()`. Requires a copy-constructible
  /// `Worker`, whose copy constructor only reads its source: boots copy the one snapshot
  /// concurrently. The snapshot itself never becomes warm: no `exit()` runs for it.
  bool snapshot = false;
  /// @brief Extra enter hooks, run in order on the worker's thread after `Worker::enter()`.
  std::vector<std::function<void()>> enter_hooks{};
  /// @brief Extra exit hooks, run in order on the worker's thread after `Worker::exit()`.
  std::vector<std::function<void()>> exit_hooks{};
  /// @brief keep_warm by time of day: while set, `Autoscaler::min_warm` follows the
  /// schedule (clamped to `max_workers`), changing at its boundaries; a manual
  /// `keep_warm(n)` (or `update_autoscaler` with `min_warm`) holds until the schedule's
  /// next boundary. Change it at run time with `Pool::set_schedule`.
  std::optional<Schedule> schedule{};
  /// @brief The time of day for `schedule`; empty: `std::chrono::system_clock::now`.
  /// Tests pass a fake. Called under the pool's lock: it must be quick and not throw.
  WallClock wall_clock{};
  /// @brief Called with one `Event` per lifecycle step (include `events.hpp`). Events are
  /// delivered in the order they happened, one at a time, never under the pool's lock, on
  /// the thread that caused the step or on another pool thread delivering at that moment.
  /// The listener may read the pool (`stats()`, `workers()`) and change its settings, but
  /// must not wait for inputs of the pool, and must not throw (`std::terminate` is
  /// called if it does). Empty (the default): no event is built at all.
  std::function<void(const Event&)> on_event{};
  /// @brief How long capacity is kept once the pool drains (include `keep_alive.hpp`, or
  /// `hybrid_histogram.hpp` for the predictive policy). Null (the default): the fixed
  /// `Autoscaler::idle_timeout`. One policy object serves one pool; the Controller calls
  /// it under the pool's lock, so its members must be quick and must not throw.
  std::shared_ptr<KeepAlivePolicy> keep_alive{};
};

/// @brief Per-input options for `Pool::submit` / `Pool::post`.
///
/// Example:
/// @code
/// std::stop_source stop;
/// auto f = pool.submit(fn, {.timeout = std::chrono::seconds(2), .stop = stop.get_token()});
/// @endcode
struct SubmitOptions {
  /// @brief If set, an input not *started* within this time fails with `timeout_error`;
  /// one still running then sees stop requested on its `std::stop_token`.
  std::optional<std::chrono::milliseconds> timeout{};
  /// @brief Cancels the input while it is pending (it fails with `cancelled`); forwarded to
  /// the function if it accepts `(Worker&, std::stop_token)`.
  std::stop_token stop{};
  /// @brief Overrides `Options::retries` for this input.
  std::optional<Retries> retries{};
};

namespace detail {

inline std::string describe(std::size_t value) { return std::to_string(value); }
inline std::string describe(double value) { return std::to_string(value); }
inline std::string describe(std::chrono::milliseconds value) {
  return std::to_string(value.count()) + "ms";
}

/// Throws `std::invalid_argument("<field> (<value>) must be <rule>")` unless `ok`.
template <class T>
void require(bool ok, const char* field, const T& value, const std::string& rule) {
  if (!ok) {
    throw std::invalid_argument(std::string(field) + " (" + describe(value) + ") must be " + rule);
  }
}

inline void validate(const Autoscaler& a) {
  require(a.max_workers >= 1, "max_workers", a.max_workers, ">= 1");
  require(a.min_warm <= a.max_workers, "min_warm", a.min_warm,
          "<= max_workers (" + describe(a.max_workers) + ")");
  require(a.idle_timeout.count() >= 0, "idle_timeout", a.idle_timeout, ">= 0ms");
}

inline void validate(const Retries& r) {
  require(r.initial_delay.count() >= 0, "retries.initial_delay", r.initial_delay, ">= 0ms");
  require(r.max_delay >= r.initial_delay, "retries.max_delay", r.max_delay,
          ">= retries.initial_delay (" + describe(r.initial_delay) + ")");
  require(r.backoff_coefficient >= 1.0, "retries.backoff_coefficient", r.backoff_coefficient,
          ">= 1");
}

inline void validate(const Options& o) {
  validate(o.autoscaler);
  require(o.max_inputs >= 1, "max_inputs", o.max_inputs, ">= 1");
  require(o.max_pending >= 1, "max_pending", o.max_pending, ">= 1");
  require(o.max_batch >= 1, "max_batch", o.max_batch, ">= 1");
  if (o.max_inputs > 1) {
    require(o.max_batch == 1, "max_batch", o.max_batch,
            "1 when max_inputs (" + describe(o.max_inputs) + ") > 1");
  }
  require(o.max_boot_failures >= 1, "max_boot_failures", o.max_boot_failures, ">= 1");
  const BootBackoff& b = o.boot_backoff;
  require(b.initial_delay.count() >= 0, "boot_backoff.initial_delay", b.initial_delay, ">= 0ms");
  require(b.max_delay >= b.initial_delay, "boot_backoff.max_delay", b.max_delay,
          ">= boot_backoff.initial_delay (" + describe(b.initial_delay) + ")");
  require(b.multiplier >= 1.0, "boot_backoff.multiplier", b.multiplier, ">= 1");
  validate(o.retries);
  if (o.max_lifetime) {
    require(o.max_lifetime->count() > 0, "max_lifetime", *o.max_lifetime, "> 0ms");
  }
  require(o.lifetime_jitter >= 0.0 && o.lifetime_jitter <= 1.0, "lifetime_jitter",
          o.lifetime_jitter, "in [0, 1]");
  if (o.health_check_after) {
    require(o.health_check_after->count() >= 0, "health_check_after", *o.health_check_after,
            ">= 0ms");
  }
}

inline void validate(const SubmitOptions& s) {
  if (s.timeout) require(s.timeout->count() >= 0, "timeout", *s.timeout, ">= 0ms");
  if (s.retries) validate(*s.retries);
}

/// Applies an update to a copy and validates the result; the original is untouched.
inline Autoscaler merged(Autoscaler a, const AutoscalerUpdate& u) {
  if (u.min_warm) a.min_warm = *u.min_warm;
  if (u.max_workers) a.max_workers = *u.max_workers;
  if (u.buffer) a.buffer = *u.buffer;
  if (u.idle_timeout) a.idle_timeout = *u.idle_timeout;
  validate(a);
  return a;
}

}  // namespace detail
}  // namespace warmpool
