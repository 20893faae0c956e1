#pragma once
/// @file controller.hpp
/// @brief `Controller`: the sans-I/O brain that holds every lifecycle rule.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/id_containers.hpp"
#include "events.hpp"
#include "keep_alive.hpp"
#include "lifecycle.hpp"
#include "settings.hpp"
#include "stats.hpp"

namespace warmpool {

/// @brief What the Controller asks its body to do.
struct Action {
  /// @brief The kind of action.
  enum class Kind {
    boot,   ///< construct worker `worker` and run its enter hooks, then report `worker_warm`
    start,  ///< run input `input` on worker `worker`, then report `input_done`
    evict,  ///< run the exit hooks of `worker` (after its running inputs end) and destroy it
    fail,   ///< end input `input` with the error named by `fail_reason`
    stop,   ///< request stop on the token of running input `input` (deadline or cancel)
  };
  Kind kind;            ///< @brief What to do.
  WorkerId worker = 0;  ///< @brief The worker (boot, start, evict).
  InputId input = 0;    ///< @brief The input (start, fail, stop).
  bool cold = false;    ///< @brief For start: the input waited for this worker's boot.
  /// @brief For start: ask the worker's `healthy()` first; report `Outcome::unhealthy` if
  /// it says no (the worker was idle for `Options::health_check_after`).
  bool check_health = false;
  EvictReason evict_reason{};  ///< @brief For evict.
  FailReason fail_reason{};    ///< @brief For fail.
};

/// @brief Extra facts about an arriving input.
struct Arrival {
  /// @brief If set, the input fails with `FailReason::timeout` unless started before it;
  /// if its first run is still going then, a `stop` action asks it to stop.
  std::optional<std::chrono::nanoseconds> deadline{};
  /// @brief Overrides `Options::retries` for this input.
  std::optional<Retries> retries{};
  /// @brief The input was cancelled before it arrived: it is counted and failed at once.
  bool cancelled = false;
  /// @brief The input may be started in a batch (`Controller::start_batch`): the body can
  /// run it on a worker's own serving thread.
  bool batchable = false;
};

/// @brief Whether `Controller::input_arrived` accepted the input.
enum class Admission {
  accepted,    ///< the input is pending or started
  queue_full,  ///< `max_pending` inputs already wait
  closed,      ///< the Controller was shut down
};

/// @brief The lifecycle brain, sans-I/O: no threads, no locks, no clock reads.
///
/// Each event method takes the current time (any monotonic epoch, in nanoseconds) and
/// queues actions that the body collects with `take_actions()`; `next_wakeup()` is
/// the "wake me at T" answer, the moment `tick()` must be called at the latest.
/// Times passed in must not go backwards (earlier ones are treated as the latest seen).
///
/// Thread-safety: none; the body serialises calls (the `Pool` under its mutex).
/// Example:
/// @code
/// warmpool::Controller c(warmpool::Options{});
/// using std::chrono::nanoseconds;
/// c.input_arrived(nanoseconds(0), /*input*/ 1);           // -> boot worker 1
/// std::vector<warmpool::Action> todo;
/// c.take_actions(todo);
/// c.worker_warm(nanoseconds(5), todo[0].worker);           // -> start input 1, cold
/// c.input_done(nanoseconds(9), 1, warmpool::Outcome::value);
/// @endcode
class Controller {
 public:
  /// @brief Controller time: nanoseconds since the body's clock epoch.
  using Time = std::chrono::nanoseconds;

  /// @brief Makes a Controller with the given (validated) options.
  /// @throws std::invalid_argument naming the first bad field.
  explicit Controller(const Options& options)
      : settings_(options.autoscaler),
        max_inputs_(options.max_inputs),
        max_batch_(options.max_batch),
        max_pending_(options.max_pending),
        backoff_(options.boot_backoff),
        max_boot_failures_(options.max_boot_failures),
        retries_(options.retries),
        worker_lost_reruns_(options.worker_lost_reruns),
        max_lifetime_(options.max_lifetime),
        lifetime_jitter_(options.lifetime_jitter),
        max_uses_(options.max_uses),
        health_check_after_(options.health_check_after),
        keep_alive_(options.keep_alive),
        record_events_(static_cast<bool>(options.on_event)) {
    detail::validate(options);
  }

  // ---------------------------------------------------------------- events

  /// @brief An input arrived: it starts on a free warm worker or waits in the FIFO queue.
  ///
  /// An input that finds a free warm worker starts at once whatever its deadline, so a
  /// zero timeout means "start now or fail".
  /// @throws std::invalid_argument (and changes nothing) for invalid `arrival.retries`.
  Admission input_arrived(Time now, InputId input, Arrival arrival = {}) {
    if (arrival.retries) detail::validate(*arrival.retries);
    advance_to(now);
    expire_deadlines();  // an input past its deadline no longer holds a place in the queue
    if (closed_) return reject(Admission::closed);
    if (pending_.size() >= max_pending_) return reject(Admission::queue_full);
    ++counters_.inputs_submitted;
    end_idle_period();
    const Time arrived = std::min(now, now_);  // reported late, it has waited since `now`
    InputRec rec{.id = input,
                 .deadline = arrival.deadline,
                 .retries = arrival.retries,
                 .batchable = arrival.batchable,
                 .queued_at = arrived};
    if (arrival.cancelled) {
      fail(input, FailReason::cancelled);
    } else if (const std::optional<WorkerId> worker = free_worker()) {
      start(rec, *worker, /*cold=*/false);
    } else {
      enqueue(rec, arrived);
    }
    reconcile();
    return Admission::accepted;
  }

  /// @brief Worker `worker` finished booting: it is warm and takes pending inputs (cold).
  void worker_warm(Time now, WorkerId worker) {
    advance_to(now);
    WorkerRec& rec = workers_.at(worker);
    rec.state = WorkerState::warm;
    --booting_;
    ++warm_;
    consecutive_boot_failures_ = 0;
    boot_time_.record_serialized(now_ - rec.boot_at);
    if (record_events_) {
      emit({.kind = EventKind::worker_warm, .worker = worker, .boot_time = now_ - rec.boot_at});
    }
    if (max_lifetime_) {
      rec.retire_at = now_ + lifetime_of(worker);
      lifetimes_.emplace(rec.retire_at, worker);
    }
    make_idle(rec);
    reconcile(/*warmed=*/worker);
  }

  /// @brief Worker `worker` failed to boot (factory or enter hook threw); it is gone.
  void boot_failed(Time now, WorkerId worker) {
    advance_to(now);
    if (record_events_) {
      const Time boot_time = now_ - workers_.at(worker).boot_at;
      emit({.kind = EventKind::boot_failed, .worker = worker, .boot_time = boot_time});
    }
    workers_.erase(worker);
    --booting_;
    ++counters_.boot_failures;
    ++consecutive_boot_failures_;
    next_boot_at_ = now_ + backoff_delay(backoff_.initial_delay, backoff_.multiplier,
                                         backoff_.max_delay, consecutive_boot_failures_);
    if (consecutive_boot_failures_ % max_boot_failures_ == 0) {
      fail_all_pending(FailReason::enter_failed);
    }
    reconcile();
  }

  /// @brief A run of started input `input` ended; its worker slot is free again.
  ///
  /// With `Outcome::lost` or `discarded` the worker is evicted (reason `lost`) and
  /// replaced if the target needs it. A lost input is queued again, ahead of the others,
  /// up to `Options::worker_lost_reruns` times; one that threw is retried after a delay
  /// while its `Retries` allow (not after `shutdown(Drain::cancel)`).
  /// @return true when the input has ended with this run's result (the body delivers it);
  /// false when it will run again (the body keeps it for a later `start`) or was ended by
  /// a `fail` action.
  bool input_done(Time now, InputId input, Outcome outcome) {
    advance_to(now);
    if (!running_.contains(input)) return true;
    RunningRec run = running_.take(input);
    if (const auto at = std::exchange(run.input.stop_at, std::nullopt)) {
      stop_deadlines_.erase({*at, input});
    }
    const Time run_time = now_ - ran_from(run);
    if (outcome != Outcome::unhealthy) {  // an unhealthy "run" never ran the input
      (run.first_on_worker ? first_input_ : later_input_).record_serialized(run_time);
    }
    const std::size_t finished_event = events_.size();
    if (record_events_) {
      emit({.kind = EventKind::input_finished,
            .worker = run.worker,
            .input = input,
            .outcome = outcome,
            .run_time = run_time});
    }
    vacate(run.worker, outcome);
    const bool ended = conclude(run.input, outcome, run.cancelled);
    if (record_events_) events_[finished_event].ended = ended;
    reconcile();
    return ended;
  }

  /// @brief The input's stop token fired: fails it with `cancelled` if it waits (pending
  /// or between retries). A running input is marked: if this run fails it is not run
  /// again but fails with `cancelled`.
  /// @return true when it was waiting (and is now failed); false when it is running or
  /// has ended.
  bool cancel(Time now, InputId input) {
    advance_to(now);
    if (pending_.contains(input)) {
      remove_pending(input);
    } else if (retrying_.contains(input)) {
      remove_retrying(input);
    } else {
      if (RunningRec* run = running_.find(input)) run->cancelled = true;
      return false;
    }
    fail(input, FailReason::cancelled);
    reconcile();
    return true;
  }

  /// @brief Batching (`Options::max_batch`): busy worker `worker` also starts up to
  /// `count` pending inputs from the front of the queue, which its serving thread runs
  /// one after another once its current input ends.
  ///
  /// Only while no other worker is free and the worker is warm and not retiring; it stops
  /// at an input that is not batchable or has a deadline, and at `max_batch` inputs
  /// running on the worker.
  /// @return How many inputs it started.
  std::size_t start_batch(Time now, WorkerId worker, std::size_t count) {
    advance_to(now);
    const auto w = workers_.find(worker);
    if (w == workers_.end() || w->second.state != WorkerState::warm) return 0;
    const WorkerRec& rec = w->second;
    std::size_t started = 0;
    while (started < count && rec.running < max_batch_ && !rec.retiring && !free_worker() &&
           !pending_.empty() && pending_.front().batchable && !pending_.front().deadline) {
      start(remove_pending(pending_.front().id), worker, /*cold=*/false, /*batched=*/true);
      ++started;
    }
    reconcile();
    return started;
  }

  /// @brief Time passed: applies due timeouts, idle evictions and delayed boots.
  void tick(Time now) {
    advance_to(now);
    reconcile();
  }

  /// @brief Changes the autoscaler settings; takes effect at once.
  /// @throws std::invalid_argument (and changes nothing) when the result is invalid.
  /// @return The settings now in force.
  const Autoscaler& update(Time now, const AutoscalerUpdate& update) {
    Autoscaler next = detail::merged(settings_, update);
    advance_to(now);
    settings_ = next;
    if (record_events_) emit({.kind = EventKind::settings_changed, .settings = settings_});
    reconcile();
    return settings_;
  }

  /// @brief Stops accepting inputs; with `Drain::cancel` fails the waiting ones (pending
  /// or between retries) with `pool_closed` and asks the running ones to stop.
  ///
  /// Idle workers are evicted at once, busy ones when they finish, booting ones when warm
  /// (after taking pending inputs under `Drain::finish`).
  void shutdown(Time now, Drain drain) {
    advance_to(now);
    closed_ = true;
    if (drain == Drain::cancel && !cancelling_) {
      cancelling_ = true;
      fail_all_pending(FailReason::pool_closed);
      while (!retrying_.empty()) {
        const InputId input = retrying_.begin()->first;
        remove_retrying(input);
        fail(input, FailReason::pool_closed);
      }
      running_.for_each([this](InputId input, RunningRec& run) {
        if (const auto at = std::exchange(run.input.stop_at, std::nullopt)) {
          stop_deadlines_.erase({*at, input});  // asked now: not again at the deadline
        }
        stop(input, run);
      });
    }
    reconcile();
  }

  // --------------------------------------------------------------- queries

  /// @brief Moves the queued actions into `out` (which is cleared first).
  void take_actions(std::vector<Action>& out) {
    out.clear();
    out.swap(actions_);
  }

  /// @brief The latest time at which `tick()` must be called, if anything is due.
  std::optional<Time> next_wakeup() const {
    std::optional<Time> at;
    const auto consider = [&at](Time t) { at = at ? std::min(*at, t) : t; };
    for (const auto* timers : {&deadlines_, &stop_deadlines_, &retry_at_, &lifetimes_}) {
      if (!timers->empty()) consider(timers->begin()->first);
    }
    const std::size_t target = target_size();
    if (!idle_.empty() && live() > target) {
      consider(idle_.front().idle_since + idle_timeout());
    }
    if (const std::optional<Time> change = next_policy_change()) consider(*change);
    // A boot held back by backoff; due now if an event that changed nothing moved time on.
    if (live() < target) consider(std::max(next_boot_at_, now_));
    return at;
  }

  /// @brief True after `shutdown` once no worker is live and no input is left.
  bool finished() const {
    return closed_ && booting_ + warm_ == 0 && pending_.empty() && running_.empty() &&
           retrying_.empty();
  }

  /// @brief How many arrivals a body may hold back now and report later, in order and
  /// with their own times, changing no outcome: while an arrival could only wait in the
  /// queue (no warm worker free, none may boot) and a running input is sure to end, the
  /// room left in the queue; otherwise 0. Arrivals with a deadline should not be held
  /// back. A held-back arrival reported once it can start waits from its own time (its
  /// queue wait counts) but starts at once, so it has no `input_queued` event.
  /// Example: `Pool::post` holds inputs back while this is positive.
  std::size_t deferrable_arrivals() const {
    const bool saturated = !closed_ && !free_worker() && live() >= settings_.max_workers;
    if (!saturated || running_.empty() || pending_.size() >= max_pending_) return 0;
    return max_pending_ - pending_.size();
  }

  /// @brief True once `shutdown` was called.
  bool closed() const { return closed_; }

  /// @brief The autoscaler settings in force.
  const Autoscaler& autoscaler() const { return settings_; }

  /// @brief The number of live workers the rules aim for now.
  std::size_t target_size() const {
    const std::size_t work = running_.size() + pending_.size();
    const std::size_t demand = work / max_inputs_ + (work % max_inputs_ != 0 ? 1 : 0);
    if (closed_) return std::min(settings_.max_workers, demand);
    const std::size_t wanted = demand == 0 ? 0 : saturating_add(demand, settings_.buffer);
    return std::min(settings_.max_workers, std::max({settings_.min_warm, wanted, policy_floor()}));
  }

  /// @brief Gauges, counters, time totals (up to `now`) and latency summaries.
  ///
  /// `enter_hooks` stays empty: only the body sees the hooks.
  Stats stats(Time now) const {
    Stats s = counters_;
    s.workers_booting = booting_;
    s.workers_idle = idle_count();
    s.workers_busy = warm_ - s.workers_idle;
    s.target_workers = target_size();
    s.inputs_pending = pending_.size();
    s.inputs_running = running_.size();
    s.inputs_retrying = retrying_.size();
    s.autoscaler = settings_;
    s.max_inputs = max_inputs_;
    s.max_pending = max_pending_;
    const double unaccounted = std::chrono::duration<double>(std::max(now - now_, Time{0})).count();
    s.idle_worker_seconds += unaccounted * static_cast<double>(s.workers_idle);
    s.busy_worker_seconds += unaccounted * static_cast<double>(s.workers_busy);
    s.queue_wait = queue_wait_.summary();
    s.boot_time = boot_time_.summary();
    s.first_input = first_input_.summary();
    s.later_input = later_input_.summary();
    return s;
  }

  /// @brief `stats(now)` as of the last event.
  Stats stats() const { return stats(now_); }

  /// @brief Every live worker (booting, warm or retiring), by id.
  std::vector<WorkerInfo> workers(Time now) const {
    std::vector<WorkerInfo> out;
    out.reserve(workers_.size());
    for (const auto& [id, rec] : workers_) out.push_back(describe(id, rec, std::max(now, now_)));
    std::sort(out.begin(), out.end(),
              [](const WorkerInfo& a, const WorkerInfo& b) { return a.id < b.id; });
    return out;
  }

  /// @brief Moves the events recorded since the last call into `out` (cleared first).
  /// Events are recorded only when `Options::on_event` is set.
  void take_events(std::vector<Event>& out) {
    out.clear();
    out.swap(events_);
  }

 private:
  enum class WorkerState { booting, warm };
  enum class Shelf { none, idle, partial, retired };

  struct WorkerRec {
    WorkerState state = WorkerState::booting;
    std::size_t running = 0;
    Time idle_since{};
    Shelf shelf = Shelf::none;
    WorkerRec* prev = nullptr;  // links on its shelf (records never move: map nodes)
    WorkerRec* next = nullptr;
    WorkerId id = 0;
    Time boot_at{};                         // when its boot was decided
    std::size_t uses = 0;                   // inputs started on it
    Time retire_at{};                       // end of its lifetime (with max_lifetime)
    std::optional<EvictReason> retiring{};  // lifetime or uses, once due
    Time last_done_at{};                    // when its last run ended
  };

  /// A shelf of workers, linked through their records: moving a worker between shelves
  /// (on every start and end of an input) allocates nothing.
  class WorkerList {
   public:
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    WorkerRec& front() const { return *head_; }
    WorkerRec& back() const { return *tail_; }

    void push_back(WorkerRec& rec) {
      rec.prev = tail_;
      rec.next = nullptr;
      (tail_ != nullptr ? tail_->next : head_) = &rec;
      tail_ = &rec;
      ++size_;
    }

    void erase(WorkerRec& rec) {
      (rec.prev != nullptr ? rec.prev->next : head_) = rec.next;
      (rec.next != nullptr ? rec.next->prev : tail_) = rec.prev;
      rec.prev = rec.next = nullptr;
      --size_;
    }

   private:
    WorkerRec* head_ = nullptr;
    WorkerRec* tail_ = nullptr;
    std::size_t size_ = 0;
  };

  /// What the Controller keeps of one accepted input across its runs.
  struct InputRec {
    InputId id = 0;
    std::optional<Time> deadline{};    // fails it while pending (first run only)
    std::optional<Retries> retries{};  // overrides the pool's policy
    std::optional<Time> stop_at{};     // asks its first run to stop (set when it starts)
    std::size_t failures = 0;          // runs that threw so far
    std::size_t reruns = 0;            // runs lost with their worker so far
    bool started = false;
    bool batchable = false;
    Time queued_at{};  // when it last joined the queue
  };

  struct RunningRec {
    WorkerId worker;
    InputRec input;
    Time started_at{};
    bool first_on_worker = false;
    bool batched = false;    // started in a batch: it ran after the worker's run before it
    bool stopped = false;    // this run was asked to stop (at most once per run)
    bool cancelled = false;  // its caller cancelled it while it ran: it does not run again
  };

  struct RetryRec {
    Time at;
    InputRec input;
  };

  static std::size_t saturating_add(std::size_t a, std::size_t b) {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                           : a + b;
  }

  /// Warm workers that are not retiring: the ones that count toward the target.
  std::size_t serving() const { return warm_ - retiring_; }
  std::size_t live() const { return booting_ + serving(); }

  /// Moves time on, adding the interval to the idle and busy worker-seconds.
  void advance_to(Time now) {
    if (now <= now_) return;
    const double seconds = std::chrono::duration<double>(now - now_).count();
    const std::size_t idle = idle_count();
    counters_.idle_worker_seconds += seconds * static_cast<double>(idle);
    counters_.busy_worker_seconds += seconds * static_cast<double>(warm_ - idle);
    now_ = now;
  }

  std::size_t idle_count() const { return idle_.size() + retired_.size(); }

  void emit(Event event) {
    event.time = now_;
    events_.push_back(std::move(event));
  }

  static WorkerInfo describe(WorkerId id, const WorkerRec& rec, Time now) {
    WorkerInfo info{.id = id,
                    .age = now - rec.boot_at,
                    .inputs_served = rec.uses,
                    .inputs_running = rec.running};
    if (rec.state == WorkerState::booting) {
      info.state = WorkerInfo::State::booting;
    } else if (rec.retiring) {
      info.state = WorkerInfo::State::retiring;
    } else {
      info.state = rec.running > 0 ? WorkerInfo::State::busy : WorkerInfo::State::idle;
    }
    if (rec.state == WorkerState::warm && rec.running == 0) info.idle_since = rec.idle_since;
    return info;
  }

  // ---- keep-alive policy: idle periods of the whole pool

  /// A drained pool (nothing running, pending or retrying) and what the policy decided
  /// for it: release capacity until `prewarm_after`, hold `capacity` until `keep_until`.
  struct IdlePeriod {
    Time since;
    std::optional<KeepAliveWindows> windows;
    std::size_t capacity;
  };

  /// Starts an idle period once the pool has drained (only with a policy).
  void note_drained() {
    if (!keep_alive_ || idle_period_ || closed_ || counters_.inputs_submitted == 0) return;
    if (!running_.empty() || !pending_.empty() || !retrying_.empty()) return;
    idle_period_ = IdlePeriod{now_, keep_alive_->windows(), live()};
  }

  /// An arrival ends the idle period; the policy learns its length.
  void end_idle_period() {
    if (!idle_period_) return;
    keep_alive_->record_idle_gap(now_ - idle_period_->since);
    idle_period_.reset();
  }

  /// The capacity the policy holds now (0 outside its window or without a decision).
  std::size_t policy_floor() const {
    if (!idle_period_ || !idle_period_->windows) return 0;
    const Time elapsed = now_ - idle_period_->since;
    const KeepAliveWindows& w = *idle_period_->windows;
    return elapsed >= w.prewarm_after && elapsed < w.keep_until ? idle_period_->capacity : 0;
  }

  /// When the policy floor changes next, if it still will.
  std::optional<Time> next_policy_change() const {
    if (!idle_period_ || !idle_period_->windows) return std::nullopt;
    for (const Time offset :
         {idle_period_->windows->prewarm_after, idle_period_->windows->keep_until}) {
      const Time at = idle_period_->since + std::min<Time>(offset, longest_span);  // no overflow
      if (at > now_) return at;
    }
    return std::nullopt;
  }

  /// The idle timeout in force: while a policy's decision governs an idle period, the
  /// policy floor alone keeps workers, so those above it go at once.
  Time idle_timeout() const {
    if (idle_period_ && idle_period_->windows) return Time{0};
    return span(settings_.idle_timeout);
  }

  Admission reject(Admission why) {
    ++counters_.inputs_rejected;
    return why;
  }

  /// Settings are in milliseconds and may be huge (`milliseconds::max()` means "never");
  /// as Controller time they are capped at a century so that nanoseconds cannot overflow.
  static constexpr std::chrono::hours longest_span{24 * 365 * 100};

  static Time span(std::chrono::milliseconds setting) {
    return std::chrono::duration_cast<Time>(
        std::min<std::chrono::milliseconds>(setting, longest_span));
  }

  /// `min(max_delay, initial * coefficient^(n-1))` for the n-th consecutive failure.
  static Time backoff_delay(std::chrono::milliseconds initial, double coefficient,
                            std::chrono::milliseconds max, std::size_t n) {
    if (initial.count() == 0) return Time{0};  // else 0 * inf (many failures) = NaN
    using ms = std::chrono::duration<double, std::milli>;
    const double factor = std::pow(coefficient, static_cast<double>(n - 1));
    const ms delay = std::min({ms(initial) * factor, ms(max), ms(longest_span)});
    return std::chrono::duration_cast<Time>(delay);
  }

  /// When a run began: a batched one after the run before it on its worker ended.
  Time ran_from(const RunningRec& run) const {
    if (!run.batched) return run.started_at;
    const auto w = workers_.find(run.worker);
    return w == workers_.end() ? run.started_at : std::max(run.started_at, w->second.last_done_at);
  }

  /// Frees the worker's slot, or evicts it when the run broke it.
  void vacate(WorkerId worker, Outcome outcome) {
    const auto w = workers_.find(worker);
    if (w == workers_.end()) return;  // already evicted (lost in another slot)
    w->second.last_done_at = now_;
    if (outcome == Outcome::lost || outcome == Outcome::discarded) {
      evict(worker, EvictReason::lost);
    } else if (outcome == Outcome::unhealthy) {
      evict(worker, EvictReason::unhealthy);
    } else {
      release_slot(worker, w->second);
    }
  }

  /// Counts how a run ended; returns false when the input runs again or was failed
  /// instead (a run that would be repeated for a caller who cancelled it is not).
  bool conclude(InputRec rec, Outcome outcome, bool cancelled) {
    switch (outcome) {
      case Outcome::value:
      case Outcome::discarded: ++counters_.inputs_completed; return true;
      case Outcome::unhealthy:  // it did not run: it waits again
        if (cancelled || cancelling_) return withdraw(rec, cancelled);
        // Unless it ran before, its deadline still applies while it waits.
        if (rec.failures == 0 && rec.reruns == 0) rec.started = false;
        enqueue(rec, now_, /*first=*/true);
        return false;
      case Outcome::exception:
        if (!may_retry(rec)) {
          ++counters_.inputs_failed;
          return true;
        }
        if (cancelled) return withdraw(rec, cancelled);
        schedule_retry(rec);
        return false;
      case Outcome::lost:
        if (rec.reruns >= worker_lost_reruns_ || cancelling_) {
          ++counters_.inputs_lost;
          return true;
        }
        if (cancelled) return withdraw(rec, cancelled);
        ++rec.reruns;
        ++counters_.inputs_rerun;
        enqueue(rec, now_, /*first=*/true);
        return false;
    }
    return true;
  }

  /// Ends an input that would wait again: `cancelled` if its caller gave up, else
  /// `pool_closed` (the pool is cancelling). Returns false: a `fail` action ends it.
  bool withdraw(const InputRec& rec, bool cancelled) {
    fail(rec.id, cancelled ? FailReason::cancelled : FailReason::pool_closed);
    return false;
  }

  // ---- retries

  bool may_retry(const InputRec& rec) const {
    return !cancelling_ && rec.failures < rec.retries.value_or(retries_).max_retries;
  }

  void schedule_retry(InputRec rec) {
    const Retries& policy = rec.retries.value_or(retries_);
    ++rec.failures;
    ++counters_.inputs_retried;
    const Time at = now_ + backoff_delay(policy.initial_delay, policy.backoff_coefficient,
                                         policy.max_delay, rec.failures);
    retry_at_.emplace(at, rec.id);
    retrying_.emplace(rec.id, RetryRec{at, rec});
  }

  InputRec remove_retrying(InputId input) {
    auto node = retrying_.extract(input);
    retry_at_.erase({node.mapped().at, input});
    return node.mapped().input;
  }

  void release_due_retries() {
    while (!retry_at_.empty() && retry_at_.begin()->first <= now_) {
      enqueue(remove_retrying(retry_at_.begin()->second), now_);
    }
  }

  // ---- pending queue

  /// Queues an input at the back (or, for a re-run after a lost worker, at the front);
  /// it has waited since `since`.
  void enqueue(InputRec rec, Time since, bool first = false) {
    const InputId input = rec.id;
    rec.queued_at = since;
    if (record_events_) emit({.kind = EventKind::input_queued, .input = input});
    if (!rec.started && rec.deadline) deadlines_.emplace(*rec.deadline, input);
    if (first) {
      pending_.push_front(rec);
    } else {
      pending_.push_back(rec);
    }
  }

  InputRec remove_pending(InputId input) {
    InputRec rec = pending_.take(input);
    if (!rec.started && rec.deadline) deadlines_.erase({*rec.deadline, input});
    return rec;
  }

  void stop(InputId input, RunningRec& run) {
    if (std::exchange(run.stopped, true)) return;
    actions_.push_back({.kind = Action::Kind::stop, .input = input});
  }

  void fail(InputId input, FailReason why) {
    switch (why) {
      case FailReason::timeout: ++counters_.inputs_timed_out; break;
      case FailReason::cancelled: ++counters_.inputs_cancelled; break;
      case FailReason::pool_closed: ++counters_.inputs_closed; break;
      case FailReason::enter_failed: ++counters_.inputs_enter_failed; break;
    }
    if (record_events_) emit({.kind = EventKind::input_failed, .input = input, .fail_reason = why});
    actions_.push_back({.kind = Action::Kind::fail, .input = input, .fail_reason = why});
  }

  void fail_all_pending(FailReason why) {
    while (!pending_.empty()) {
      const InputId input = pending_.front().id;
      remove_pending(input);
      fail(input, why);
    }
  }

  /// Fails pending inputs past their deadline and asks first runs past it to stop.
  void expire_deadlines() {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_) {
      const InputId input = deadlines_.begin()->second;
      remove_pending(input);
      fail(input, FailReason::timeout);
    }
    while (!stop_deadlines_.empty() && stop_deadlines_.begin()->first <= now_) {
      const InputId input = stop_deadlines_.begin()->second;
      stop_deadlines_.erase(stop_deadlines_.begin());
      RunningRec& run = *running_.find(input);
      run.input.stop_at.reset();
      stop(input, run);
    }
  }

  // ---- worker shelves: `idle_` (least recently idle first) and `partial_`

  WorkerList* shelf_list(Shelf shelf) {
    switch (shelf) {
      case Shelf::idle: return &idle_;
      case Shelf::partial: return &partial_;
      case Shelf::retired: return &retired_;
      case Shelf::none: break;
    }
    return nullptr;
  }

  void shelve(WorkerRec& rec, Shelf shelf) {
    unshelve(rec);
    shelf_list(shelf)->push_back(rec);
    rec.shelf = shelf;
  }

  void unshelve(WorkerRec& rec) {
    if (WorkerList* list = shelf_list(rec.shelf)) list->erase(rec);
    rec.shelf = Shelf::none;
  }

  /// Idle workers wait on `idle_`; idle retirees on `retired_`, where they only serve
  /// when no other worker is free, until `evict_down_to_target` lets them go.
  void make_idle(WorkerRec& rec) {
    rec.idle_since = now_;
    shelve(rec, rec.retiring ? Shelf::retired : Shelf::idle);
  }

  // ---- recycling

  /// The worker's lifetime: `max_lifetime` shortened by a fraction in [0, jitter) that is
  /// fixed per worker (a hash of its id), so a cohort booted together retires spread out.
  Time lifetime_of(WorkerId worker) const {
    std::uint64_t z = worker + 0x9e3779b97f4a7c15ULL;  // splitmix64
    z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
    z ^= z >> 31U;
    const double fraction = static_cast<double>(z >> 11U) * 0x1.0p-53;
    const Time lifetime = span(*max_lifetime_);
    return lifetime - std::chrono::duration_cast<Time>(lifetime * (lifetime_jitter_ * fraction));
  }

  /// Marks a worker retiring: it stops counting toward the target (a replacement boots if
  /// needed) and takes new inputs only as a last resort (lifetime) or never (uses).
  void retire(WorkerId worker, WorkerRec& rec, EvictReason why) {
    if (rec.retiring) {
      if (why == EvictReason::uses) rec.retiring = why;  // used up: no fallback input either
      return;
    }
    rec.retiring = why;
    ++retiring_;
    lifetimes_.erase({rec.retire_at, worker});
    if (rec.shelf == Shelf::idle) shelve(rec, Shelf::retired);
    if (rec.shelf == Shelf::partial) unshelve(rec);
  }

  void expire_lifetimes() {
    while (!lifetimes_.empty() && lifetimes_.begin()->first <= now_) {
      const WorkerId worker = lifetimes_.begin()->second;
      retire(worker, workers_.at(worker), EvictReason::lifetime);
    }
  }

  void release_slot(WorkerId worker, WorkerRec& rec) {
    --rec.running;
    if (rec.retiring == EvictReason::uses) {
      if (rec.running == 0) evict(worker, EvictReason::uses);
    } else if (rec.retiring) {
      if (rec.running == 0) make_idle(rec);
    } else if (rec.running == 0) {
      make_idle(rec);
    } else if (rec.running < max_inputs_ && rec.shelf != Shelf::partial) {
      shelve(rec, Shelf::partial);  // (a worker still running a batch is not free)
    }
  }

  /// A free warm worker: a partly busy one first (fill before spreading), else the most
  /// recently idle one (hot caches stay hot; the least recently used decay and go), else
  /// an idle retiree whose replacement is not warm yet (capacity does not dip).
  /// None while more workers are warm than `max_workers` allows: after it was lowered,
  /// surplus workers finish what they run and go, they take no new input.
  std::optional<WorkerId> free_worker() const {
    if (serving() > settings_.max_workers) return std::nullopt;
    if (!partial_.empty()) return partial_.front().id;
    if (!idle_.empty()) return idle_.back().id;
    if (!retired_.empty()) return retired_.back().id;
    return std::nullopt;
  }

  void dispatch(std::optional<WorkerId> warmed) {
    while (!pending_.empty()) {
      const std::optional<WorkerId> worker = free_worker();
      if (!worker) return;
      start(remove_pending(pending_.front().id), *worker, /*cold=*/worker == warmed);
    }
  }

  void start(const InputRec& input, WorkerId worker, bool cold, bool batched = false) {
    const InputId id = input.id;
    WorkerRec& rec = workers_.at(worker);
    const bool check_health = health_check_after_ && rec.running == 0 &&
                              now_ - rec.idle_since >= span(*health_check_after_);
    const bool first_on_worker = rec.uses == 0;
    RunningRec& run = running_.emplace(id, RunningRec{.worker = worker,
                                                      .input = input,
                                                      .started_at = now_,
                                                      .first_on_worker = first_on_worker,
                                                      .batched = batched});
    if (!input.started && input.deadline && *input.deadline > now_) {
      run.input.stop_at = input.deadline;
      stop_deadlines_.emplace(*input.deadline, id);
    }
    run.input.started = true;
    ++rec.running;
    if (++rec.uses >= max_uses_ && max_uses_ != 0) retire(worker, rec, EvictReason::uses);
    if (rec.retiring || rec.running >= max_inputs_) {
      unshelve(rec);
    } else if (rec.shelf != Shelf::partial) {
      shelve(rec, Shelf::partial);
    }
    const Time queue_wait = now_ - input.queued_at;
    queue_wait_.record_serialized(queue_wait);
    ++(cold ? counters_.cold_inputs : counters_.warm_inputs);
    if (record_events_) {
      emit({.kind = EventKind::input_started,
            .worker = worker,
            .input = id,
            .queue_wait = queue_wait,
            .cold = cold,
            .first_on_worker = first_on_worker});
    }
    actions_.push_back({.kind = Action::Kind::start,
                        .worker = worker,
                        .input = id,
                        .cold = cold,
                        .check_health = check_health});
  }

  // ---- sizing

  /// Applies due deadlines before dispatching (an input is never started at or after its
  /// deadline); inputs started now on `warmed`, the worker that just finished booting,
  /// waited for its boot (cold); a retry falling due then may start on another, not cold.
  void reconcile(std::optional<WorkerId> warmed = std::nullopt) {
    expire_deadlines();
    release_due_retries();
    expire_lifetimes();
    evict_surplus();
    dispatch(warmed);
    note_drained();
    boot_up_to_target();
    evict_down_to_target();
  }

  void boot_up_to_target() {
    const std::size_t target = target_size();
    if (live() >= target || now_ < next_boot_at_) return;
    while (live() < target) {
      const WorkerId worker = next_worker_id_++;
      workers_.emplace(worker, WorkerRec{.id = worker, .boot_at = now_});
      ++booting_;
      ++counters_.boots;
      if (record_events_) emit({.kind = EventKind::boot_started, .worker = worker});
      actions_.push_back({.kind = Action::Kind::boot, .worker = worker});
    }
  }

  /// Evicts idle workers while more are warm than `max_workers` allows (they could take no
  /// input), so that the workers left within the cap can take pending inputs at once.
  void evict_surplus() {
    while (!idle_.empty() && serving() > settings_.max_workers) {
      evict(idle_.front().id, EvictReason::surplus);
    }
  }

  /// Evicts idle workers, least recently used first, while the pool is above its target:
  /// at once above `max_workers` or when closed, otherwise after `idle_timeout`. Idle
  /// retirees go as soon as the serving workers meet the target.
  void evict_down_to_target() {
    const std::size_t target = target_size();
    while (!retired_.empty() && (closed_ || serving() >= target)) {
      evict(retired_.front().id, EvictReason::lifetime);
    }
    while (!idle_.empty() && live() > target) {
      const WorkerId worker = idle_.front().id;
      const WorkerRec& rec = workers_.at(worker);
      if (live() > settings_.max_workers) {
        evict(worker, EvictReason::surplus);
      } else if (closed_) {
        evict(worker, EvictReason::shutdown);
      } else if (now_ - rec.idle_since >= idle_timeout()) {
        evict(worker, EvictReason::idle);
      } else {
        return;
      }
    }
  }

  std::uint64_t& evicted_counter(EvictReason why) {
    switch (why) {
      case EvictReason::idle: return counters_.evicted_idle;
      case EvictReason::surplus: return counters_.evicted_surplus;
      case EvictReason::lost: return counters_.evicted_lost;
      case EvictReason::shutdown: return counters_.evicted_shutdown;
      case EvictReason::lifetime: return counters_.evicted_lifetime;
      case EvictReason::uses: return counters_.evicted_uses;
      case EvictReason::unhealthy: break;
    }
    return counters_.evicted_unhealthy;
  }

  void evict(WorkerId worker, EvictReason why) {
    WorkerRec& rec = workers_.at(worker);
    unshelve(rec);
    if (rec.retiring) --retiring_;
    lifetimes_.erase({rec.retire_at, worker});
    workers_.erase(worker);
    --warm_;
    ++counters_.evictions;
    ++evicted_counter(why);
    if (record_events_) {
      emit({.kind = EventKind::worker_evicted, .worker = worker, .evict_reason = why});
    }
    actions_.push_back({.kind = Action::Kind::evict, .worker = worker, .evict_reason = why});
  }

  Autoscaler settings_;
  std::size_t max_inputs_;
  std::size_t max_batch_;
  std::size_t max_pending_;
  BootBackoff backoff_;
  std::size_t max_boot_failures_;
  Retries retries_;
  std::size_t worker_lost_reruns_;
  std::optional<std::chrono::milliseconds> max_lifetime_;
  double lifetime_jitter_;
  std::size_t max_uses_;
  std::optional<std::chrono::milliseconds> health_check_after_;
  std::shared_ptr<KeepAlivePolicy> keep_alive_;
  bool record_events_;

  Time now_{};
  bool closed_ = false;
  bool cancelling_ = false;  // shut down with Drain::cancel
  WorkerId next_worker_id_ = 1;
  std::size_t consecutive_boot_failures_ = 0;
  Time next_boot_at_{std::numeric_limits<Time::rep>::min()};

  std::unordered_map<WorkerId, WorkerRec> workers_;
  std::size_t booting_ = 0;
  std::size_t warm_ = 0;
  WorkerList idle_;
  WorkerList partial_;
  WorkerList retired_;        // idle retirees, least recently idle first
  std::size_t retiring_ = 0;  // warm workers marked retiring
  std::set<std::pair<Time, WorkerId>> lifetimes_;

  detail::IdQueue<InputRec> pending_;
  std::set<std::pair<Time, InputId>> deadlines_;  // pending inputs' deadlines
  detail::IdMap<RunningRec> running_;
  std::set<std::pair<Time, InputId>> stop_deadlines_;  // running first runs' deadlines
  std::unordered_map<InputId, RetryRec> retrying_;     // waiting to run again
  std::set<std::pair<Time, InputId>> retry_at_;

  std::optional<IdlePeriod> idle_period_;  // with a keep-alive policy, while drained

  Stats counters_;
  Histogram queue_wait_;
  Histogram boot_time_;
  Histogram first_input_;
  Histogram later_input_;
  std::vector<Action> actions_;
  std::vector<Event> events_;
};

}  // namespace warmpool
