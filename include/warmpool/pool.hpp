#pragma once
/// @file pool.hpp
/// @brief `Pool<Worker, Clock>`: the threaded body that runs workers for the Controller.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "controller.hpp"
#include "detail/id_containers.hpp"
#include "detail/intake.hpp"
#include "detail/job.hpp"
#include "detail/signal.hpp"
#include "detail/spin_mutex.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "future.hpp"
#include "histogram.hpp"
#include "lease.hpp"
#include "manual_clock.hpp"
#include "result.hpp"
#include "schedule.hpp"
#include "settings.hpp"
#include "stats.hpp"

namespace warmpool {
namespace detail {

template <class W>
concept has_enter = requires(W& w) {
  w.enter();
};
template <class W>
concept has_enter_snapshot = requires(W& w) {
  w.enter_snapshot();
};
template <class W>
concept has_exit = requires(W& w) {
  w.exit();
};
template <class W>
concept has_healthy = requires(W& w) {
  { w.healthy() } -> std::convertible_to<bool>;
};

/// A clock that tells listeners when it moves (like ManualClock): pools handle what
/// became due inside its `advance()` instead of sleeping.
template <class Clock>
concept notifying_clock = requires(const Clock& clock, std::weak_ptr<ClockListener> listener) {
  clock.subscribe(listener);
};

/// The pool whose worker or housekeeper thread this is, if any (to detect calls from
/// inside inputs and completion callbacks).
inline thread_local const void* current_pool = nullptr;

}  // namespace detail

/// @brief A pool of warm workers of type `Worker`, booted on demand, evicted when idle.
///
/// Each worker is one `Worker` object served by `Options::max_inputs` threads of its
/// own (with more than one, the handler must be thread-safe). A worker boots on its
/// own thread: the factory constructs it, then `enter_snapshot()`, `enter()` (members
/// found by concepts; both optional) and `Options::enter_hooks` run in order; only then
/// is it warm. With `Options::snapshot`, only the first boot constructs and runs
/// `enter_snapshot()`; later boots copy that snapshot and run the rest. When it is evicted or the
/// pool shuts down, `exit()` and `Options::exit_hooks` run on that thread, exactly once per worker
/// that became warm. All lifecycle decisions are made by a `Controller`; the durations it uses are
/// measured with `Clock` (pass a `ManualClock` for deterministic tests). After an input,
/// a serving thread spins for up to 50 us for the next one before it sleeps, so inputs
/// that follow each other closely skip a wake-up through the kernel; an idle pool uses no
/// CPU.
///
/// Thread-safety: every public member may be called from any thread concurrently,
/// including from inside an input (`shutdown()` from inside an input starts the
/// shutdown and returns without waiting; destroying the pool from inside one of its
/// inputs is not allowed).
///
/// Example:
/// @code
/// struct Model {
///   void enter() { weights = load("model.bin"); }   // runs once per worker, before work
///   float infer(float x) { return x * weights.scale; }
///   Weights weights;
/// };
/// warmpool::Pool<Model> pool;
/// auto y = pool.submit([](Model& m) { return m.infer(2.0f); });  // Future<float>
/// pool.keep_warm(2);                                   // always two warm workers
/// @endcode
template <class Worker, class Clock = std::chrono::steady_clock>
class Pool final : private detail::LeaseHome, private detail::Canceller {
 public:
  /// @brief Makes a worker; called on the new worker's own thread.
  using Factory = std::function<std::unique_ptr<Worker>()>;

  /// @brief Makes a pool; boots `min_warm` workers at once.
  /// @param options settings, validated first.
  /// @param factory makes a worker; when empty, `std::make_unique<Worker>()` is used
  ///        (then `Worker` must be default-constructible).
  /// @param clock the time source for every duration the pool measures.
  /// @throws std::invalid_argument naming the first bad setting, or a missing factory.
  explicit Pool(Options options = {}, Factory factory = {}, Clock clock = Clock{})
      : options_(std::move(options)),
        factory_(default_factory(std::move(factory))),
        clock_(std::move(clock)),
        controller_(options_),
        hook_names_(enter_hook_names(options_)) {
    for (std::size_t i = 0; i < hook_names_.size(); ++i) hook_times_.emplace_back();
    if (options_.health_check_after && !detail::has_healthy<Worker>) {
      throw std::invalid_argument("health_check_after is set but Worker has no bool healthy()");
    }
    if (options_.snapshot && !std::is_copy_constructible_v<Worker>) {
      throw std::invalid_argument("snapshot is set but Worker is not copy-constructible");
    }
    if (options_.schedule) floor_.emplace(*options_.schedule);
    if constexpr (detail::notifying_clock<Clock>) {
      listener_ = std::make_shared<TimeListener>(*this);
      clock_.subscribe(listener_);
    }
    housekeeper_ = std::thread([this] { housekeep(); });
    react([this](Controller& c, Controller::Time now) {
      if (floor_) follow_floor(c, now);  // the scheduled floor before the first boots
      c.tick(now);
    });
  }

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// @brief Same as `shutdown(Drain::finish)`: runs every accepted input, stops every
  /// worker (exit hooks run) and joins every thread. Outstanding leases must end first.
  ~Pool() {
    shutdown(Drain::finish);
    if (listener_) listener_->detach();
  }

  /// @brief Runs `f(worker)` (or `f(worker, stop_token)`) on a warm worker.
  /// @return A future for the value, or for the function's exception or a warmpool error:
  /// a `std::future` whose `get()` spins briefly before it sleeps when the input went
  /// straight to an awake serving thread (see `Future`).
  /// @throws queue_full when `max_pending` inputs already wait; pool_closed after shutdown.
  /// Thread-safety: any thread.
  template <class F>
  auto submit(F&& f) -> Future<detail::call_result_t<F, Worker>> {
    return submit(std::forward<F>(f), SubmitOptions{});
  }

  /// @brief Runs `f` with per-input options: a start timeout and a stop token.
  /// @return As `submit(f)`.
  /// @throws std::invalid_argument for a negative timeout; queue_full; pool_closed.
  template <class F>
  auto submit(F&& f, SubmitOptions options) -> Future<detail::call_result_t<F, Worker>> {
    using R = detail::call_result_t<F, Worker>;
    std::promise<R> promise;
    std::future<R> future = promise.get_future();
    auto task =
        make_task(std::forward<F>(f), detail::PromiseSink<R>(std::move(promise)), options.stop);
    Submitted submitted{.pool = this, .input = task->id()};
    {
      const NoteSubmitted note(submitted);
      if (std::exception_ptr refused = admit(task, options)) std::rethrow_exception(refused);
    }
    return Future<R>(std::move(future), submitted.to_awake_thread
                                            ? Future<R>::spin_limit
                                            : std::chrono::nanoseconds::zero());
  }

  /// @brief Runs `f` on a warm worker and calls `done(Result<R>)` exactly once.
  ///
  /// `post` does not wait for the pool's lock: while another thread holds it, that
  /// thread admits the input; while every worker is busy and none may boot, an input
  /// without a timeout waits behind the queue until a running input ends, and is then
  /// admitted in its turn (any other call to the pool, `stats()` say, admits all such
  /// inputs at once). Inputs are admitted in the order they were posted and wait from
  /// the moment they were posted (one held back and then started at once has no
  /// `input_queued` event). A post that would overfill `max_pending` is refused;
  /// posts racing on several threads may pass the bound by at most one input per thread.
  /// `done` runs on the worker's thread (for an input refused because the queue is full
  /// or the pool is shut down, on the thread that admitted it, usually the caller's; for
  /// one failed by a timeout, cancellation or shutdown, on the thread that noticed). It
  /// must not throw (std::terminate is called if it does).
  /// Thread-safety: any thread. Example:
  /// @code
  /// pool.post([](Model& m) { return m.infer(2.0f); },
  ///           [](warmpool::Result<float>&& y) { if (y.ok()) reply(y.value()); });
  /// @endcode
  template <class F, class Done>
  void post(F&& f, Done&& done) {
    post(std::forward<F>(f), std::forward<Done>(done), SubmitOptions{});
  }

  /// @brief `post` with per-input options.
  /// @throws std::invalid_argument for a negative timeout (and `done` is not called).
  template <class F, class Done>
  void post(F&& f, Done&& done, SubmitOptions options) {
    using R = detail::call_result_t<F, Worker>;
    using Sink = detail::CallbackSink<R, std::decay_t<Done>>;
    detail::validate(options);
    auto task = make_task(std::forward<F>(f), Sink(std::forward<Done>(done)), options.stop);
    task->watch(options.stop, *this);
    task->posted = {.at = now(), .options = std::move(options)};
    queue_for_admission(std::move(task));
  }

  /// @brief Waits for a warm worker and lends it to the caller until the lease ends.
  /// @throws queue_full; pool_closed (also when the pool is cancelled while waiting);
  /// enter_failed when boots keep failing.
  Lease<Worker> acquire() { return request_lease(std::nullopt).get(); }

  /// @brief Like `acquire()`, but gives up after `timeout` (measured with `Clock`).
  /// @return The lease, or no value when no worker became free in time.
  template <class Rep, class Period>
  std::optional<Lease<Worker>> try_acquire_for(std::chrono::duration<Rep, Period> timeout) {
    auto future = request_lease(clamp_timeout(timeout));
    try {
      return future.get();
    } catch (const timeout_error&) {
      return std::nullopt;
    }
  }

  /// @brief Sets the floor of warm workers (Modal's keep_warm / min_containers).
  ///
  /// Raising it boots the difference at once, in parallel; lowering it evicts nothing
  /// before each worker's own idle timeout.
  /// @throws std::invalid_argument when `n > max_workers` (nothing changes).
  void keep_warm(std::size_t n) { update_autoscaler({.min_warm = n}); }

  /// @brief The floor of warm workers in force.
  std::size_t keep_warm() const { return autoscaler().min_warm; }

  /// @brief Changes some autoscaler settings; effective at once. With a schedule, a new
  /// `min_warm` holds until the schedule's next boundary.
  /// @return The settings now in force.
  /// @throws std::invalid_argument naming the bad field (nothing changes).
  Autoscaler update_autoscaler(AutoscalerUpdate update) {
    Autoscaler now_in_force;
    react([&](Controller& c, Controller::Time now) {
      const bool manual_floor = update.min_warm.has_value();
      if (floor_ && !manual_floor && update.max_workers) {
        // The scheduled floor follows the new ceiling (it is clamped to it).
        update.min_warm = std::min(floor_->min_warm_at(wall_now()), *update.max_workers);
      }
      now_in_force = c.update(now, update);
      if (floor_ && manual_floor) {
        floor_->set_manual(*update.min_warm, wall_now());
        plan_floor_change(now);
      }
    });
    return now_in_force;
  }

  /// @brief Sets (or, with no value, removes) the keep_warm schedule; effective at once:
  /// `min_warm` takes the schedule's value for this time of day (clamped to `max_workers`)
  /// and follows it from then on. A manual `keep_warm` in force is dropped. Removing the
  /// schedule leaves `min_warm` as it is.
  /// Thread-safety: any thread. Example:
  /// @code
  /// pool.set_schedule(warmpool::Schedule::utc().between("06:00", "18:00", 3).otherwise(0));
  /// @endcode
  void set_schedule(std::optional<Schedule> schedule) {
    react([&](Controller& c, Controller::Time now) {
      if (!schedule) {
        floor_.reset();
        floor_change_at_.reset();
        return;
      }
      floor_.emplace(std::move(*schedule));
      follow_floor(c, now);
    });
  }

  /// @brief The keep_warm schedule in force, if any.
  std::optional<Schedule> schedule() const {
    std::optional<Schedule> in_force;
    read_locked([&] {
      if (floor_) in_force = floor_->schedule();
    });
    return in_force;
  }

  /// @brief The autoscaler settings in force.
  Autoscaler autoscaler() const {
    Autoscaler in_force;
    read_locked([&] { in_force = controller_.autoscaler(); });
    return in_force;
  }

  /// @brief A consistent snapshot of gauges, counters, time totals (up to now) and
  /// latency summaries, including each enter hook's time. Its cost does not grow with
  /// the number of inputs served.
  Stats stats() const {
    Stats s;
    read_locked([&] { s = controller_.stats(now()); });
    s.exit_failures = exit_failures_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < hook_names_.size(); ++i) {
      s.enter_hooks.push_back({hook_names_[i], hook_times_[i].summary()});
    }
    return s;
  }

  /// @brief A snapshot of every live worker (booting, warm or retiring), by id: its state,
  /// age, inputs served and, when idle, since when.
  /// Thread-safety: any thread.
  std::vector<WorkerInfo> workers() const {
    std::vector<WorkerInfo> live;
    read_locked([&] { live = controller_.workers(now()); });
    return live;
  }

  /// @brief Stops accepting inputs and stops every worker, waiting until all are gone.
  ///
  /// `Drain::finish` runs the pending inputs (and retries) first; `Drain::cancel` fails
  /// them with `pool_closed` and requests stop on the tokens of running inputs. Running
  /// inputs and leases finish either way. A later call with `Drain::cancel` cancels what
  /// a `finish` shutdown still had pending. Called from
  /// inside one of the pool's inputs (or a `post` callback run on one of the pool's own
  /// threads), it starts the shutdown and returns at once.
  void shutdown(Drain drain = Drain::finish) {
    react([drain](Controller& c, Controller::Time now) { c.shutdown(now, drain); });
    if (detail::current_pool == this) return;
    wait_until_finished();
    std::lock_guard join_lock(join_mutex_);
    if (housekeeper_.joinable()) housekeeper_.join();
  }

 private:
  using Time = Controller::Time;
  using Job = detail::Job<Worker>;
  using TaskBase = detail::TaskBase<Worker>;
  using LeaseRequest = detail::LeaseRequest<Worker>;

  /// One worker: its object, its threads and the inputs handed to them.
  struct Host {
    explicit Host(WorkerId worker_id) : id(worker_id) {}
    const WorkerId id;
    std::unique_ptr<Worker> worker;  // set by its first thread once booted
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::pair<TaskBase*, bool>> mailbox;  // a task, and whether to check health
    std::size_t leases = 0;  // leases out on this worker; it is not destroyed before 0
    std::size_t parked = 0;  // serving threads asleep on `wake` (the others spin or run)
    // Read without the lock by serving threads spinning for work; written under it.
    std::atomic<bool> has_mail{false};
    std::atomic<bool> stopping{false};
    std::thread first;                   // boots, serves, runs exit hooks
    std::vector<std::thread> others;     // serve only (max_inputs > 1)
    std::vector<Time> enter_hook_times;  // for the worker_warm event
  };

  /// An input a serving thread has run (or, after a run that broke the worker in a batch,
  /// not run), as it reports it.
  struct Ran {
    TaskBase* task;
    Outcome outcome;
    std::unique_ptr<Job> job{};  // the input's job, given back when it has ended
  };

  /// How many inputs a serving thread takes behind its next one (batching): as many as
  /// fit in `batch_budget` at the pace of its recent inputs, at most `max_batch - 1`.
  class BatchPace {
   public:
    explicit BatchPace(std::size_t max_batch) : most_(max_batch - 1) {}

    std::size_t wanted() const { return wanted_; }

    /// Notes a report at `at` of `runs` runs, the thread's last report being at `before`;
    /// `handed`: they followed that report at once (after a wait for work, the time since
    /// says nothing of run times).
    void measure(Time at, Time before, std::size_t runs, bool handed) {
      if (most_ == 0) return;
      wanted_ = 0;
      if (!handed) return;
      const Time per_input = (at - before) / static_cast<Time::rep>(runs);
      wanted_ = per_input.count() <= 0
                    ? most_
                    : std::min(most_, static_cast<std::size_t>(Time(batch_budget) / per_input));
    }

   private:
    std::size_t most_;
    std::size_t wanted_ = 0;
  };

  /// What `submit` learns of its input while this thread carries out the Controller's
  /// actions: whether it went straight to a serving thread that was awake (then a caller
  /// that waits for it spins briefly first).
  struct Submitted {
    const Pool* pool;
    InputId input;
    bool to_awake_thread = false;
  };

  /// Points this thread's `submitted_` at `record` while it lives. Nests: a submit made
  /// from a callback or listener run meanwhile has its own record and restores this one.
  class NoteSubmitted {
   public:
    explicit NoteSubmitted(Submitted& record) : outer_(std::exchange(submitted_, &record)) {}
    ~NoteSubmitted() { submitted_ = outer_; }
    NoteSubmitted(const NoteSubmitted&) = delete;
    NoteSubmitted& operator=(const NoteSubmitted&) = delete;

   private:
    Submitted* outer_;
  };

  /// A lease request that a worker was given to.
  struct Grant {
    LeaseRequest* request;
    Worker* worker;
    bool check_health;
  };

  /// What actions leave to do once the pool's lock is released (by `finish`): user code
  /// (callbacks, promise continuations, health checks) and job destruction never run
  /// under it.
  struct Aftermath {
    std::vector<std::pair<std::unique_ptr<Job>, std::exception_ptr>> failed;
    std::vector<Grant> granted;
    std::vector<std::stop_source> stopped;  // copies: valid even if the input ends first
  };

  /// How an event admits the posted inputs held back (see "admission of posts").
  enum class Admit {
    all_first,           // all of them, before the event
    as_can_start_after,  // after the event, while the Controller would not hold one back
  };

  /// Lets a notifying clock (ManualClock) drive the pool's timers from `advance()`.
  class TimeListener final : public detail::ClockListener {
   public:
    explicit TimeListener(Pool& pool) : pool_(&pool) {}
    void on_clock_moved() override {
      std::lock_guard lock(mutex_);
      if (pool_ != nullptr) {
        Pool& pool = *pool_;
        pool.react([&pool](Controller& c, Time now) { pool.on_time(c, now); });
      }
    }
    void detach() {
      std::lock_guard lock(mutex_);
      pool_ = nullptr;
    }

   private:
    std::recursive_mutex mutex_;  // a callback run by the pool may advance the clock again
    Pool* pool_;
  };

  static Factory default_factory(Factory factory) {
    if (factory) return factory;
    if constexpr (std::is_default_constructible_v<Worker>) {
      return [] { return std::make_unique<Worker>(); };
    } else {
      throw std::invalid_argument("factory must be set when Worker is not default-constructible");
    }
  }

  template <class Rep, class Period>
  static std::optional<std::chrono::milliseconds> clamp_timeout(
      std::chrono::duration<Rep, Period> timeout) {
    using namespace std::chrono;
    constexpr auto forever = duration<double>(hours(24 * 365 * 100));
    if (duration<double>(timeout) >= forever) return std::nullopt;
    return std::max(milliseconds(0), ceil<milliseconds>(timeout));
  }

  Time now() const { return std::chrono::duration_cast<Time>(clock_.now().time_since_epoch()); }

  // ------------------------------------------------------------ time

  /// Time moved on: a due change of the scheduled floor first, then the Controller's timers.
  void on_time(Controller& c, Time now) {
    if (floor_change_at_ && *floor_change_at_ <= now) follow_floor(c, now);
    c.tick(now);
  }

  /// The earliest moment something is due: a Controller timer or a floor change.
  std::optional<Time> next_due() const {
    std::optional<Time> due = controller_.next_wakeup();
    if (floor_change_at_ && (!due || *floor_change_at_ < *due)) due = floor_change_at_;
    return due;
  }

  std::chrono::system_clock::time_point wall_now() const {
    return options_.wall_clock ? options_.wall_clock() : std::chrono::system_clock::now();
  }

  /// Sets `min_warm` to the scheduled floor's value now and plans its next change.
  void follow_floor(Controller& c, Time now) {
    const std::size_t wanted =
        std::min(floor_->min_warm_at(wall_now()), c.autoscaler().max_workers);
    c.update(now, {.min_warm = wanted});
    plan_floor_change(now);
  }

  /// Converts the floor's next wall-clock change into the pool clock's time.
  void plan_floor_change(Time now) {
    const std::chrono::system_clock::time_point wall = wall_now();
    const auto next = floor_->next_change_after(wall);
    floor_change_at_.reset();
    if (next) floor_change_at_ = now + std::chrono::duration_cast<Time>(*next - wall);
    changed_.notify_all();  // the housekeeper plans its sleep again
  }

  /// The names of the enter hooks a worker runs, in order (for `Stats::enter_hooks`).
  static std::vector<std::string> enter_hook_names(const Options& options) {
    std::vector<std::string> names;
    if constexpr (detail::has_enter_snapshot<Worker>) names.emplace_back("enter_snapshot");
    if constexpr (detail::has_enter<Worker>) names.emplace_back("enter");
    for (std::size_t i = 0; i < options.enter_hooks.size(); ++i) {
      names.push_back("enter_hooks[" + std::to_string(i) + "]");
    }
    return names;
  }

  // ------------------------------------------------------------ the loop

  /// Feeds one event to the Controller under the lock, carries out its actions, then
  /// runs what must happen outside the lock.
  template <class Step>
  void react(Step&& step) {
    react_quietly(std::forward<Step>(step));
    deliver_events();
  }

  /// `react` without delivering events (the caller delivers them once it is done).
  template <class Step>
  void react_quietly(Step&& step) {
    react_quietly(Admit::all_first, std::forward<Step>(step));
  }

  /// `react_quietly`, admitting inputs held back as `admit` says.
  template <class Step>
  void react_quietly(Admit admit, Step&& step) {
    Aftermath after;
    const Time at = now();  // read before locking: a late reader's time is clamped forward
    try {
      locked(after, admit, [&] { step(controller_, at); });
    } catch (...) {
      finish(after);  // inputs admitted on the way are not lost
      throw;
    }
    finish(after);
  }

  /// For const members: readers admit held-back inputs too, so a thread sees its posts.
  /// (A pool is never a const object: its own threads write to it.)
  template <class Read>
  void read_locked(Read&& read) const {
    const_cast<Pool&>(*this).react([&read](Controller&, Time) { read(); });
  }

  // ------------------------------------------------------------ admission of posts
  //
  // `post` does not take the pool's lock. It pushes its input onto `intake_`, then, if
  // the input has no deadline:
  // - while the Controller allows arrivals to be held back (no warm worker free, none may
  //   boot, room in the queue, a running input sure to end: the post's number in the
  //   intake is within `hold_limit_`), it leaves the input for the next event;
  // - while a thread holds the lock (`admitting_`), it leaves the input to that thread,
  //   which admits again after letting go (told so by `left_to_holder_`);
  // otherwise it takes the lock and admits the input itself.
  // Inputs held back wait on the intake, in arrival order, behind the Controller's queue.
  // When a serving thread's input ends, that thread admits only as many as can start, so
  // the Controller's queue stays short under a backlog (so does a thread handing events
  // to the listener); any other event admits all of them first, so each input meets the
  // Controller's rules in arrival order (an input with a deadline, too, admits every one
  // held before it).
  // The holder writes `hold_limit_` only when it must lower it or when half the room is
  // used up, so a producer reads it from its own cache. When the holder stops posts from
  // being held, it admits once more: a post may have read the old limit after the
  // holder's last look at the intake.

  /// Holds the pool's lock; while it is held, `post` leaves its input to the holder.
  class Holding {
   public:
    explicit Holding(Pool& pool) : pool_(pool) {
      pool_.mutex_.lock();
      pool_.admitting_.store(true, std::memory_order_seq_cst);
    }
    ~Holding() {
      pool_.admitting_.store(false, std::memory_order_seq_cst);
      pool_.mutex_.unlock();
    }
    Holding(const Holding&) = delete;
    Holding& operator=(const Holding&) = delete;

   private:
    Pool& pool_;
  };

  /// Runs `f` under the pool's lock, admitting held inputs as `admit` says and carrying
  /// out the Controller's actions before unlocking; what must happen outside the lock is
  /// left in `after`. Inputs posted while the lock was held are taken after unlocking. If
  /// `f` throws, what was decided before (inputs admitted first) is still carried out,
  /// then the exception propagates.
  template <class F>
  void locked(Aftermath& after, Admit admit, F&& f) {
    std::exception_ptr error;
    {
      Holding hold(*this);
      try {
        if (admit == Admit::all_first) admit_held(after, admit);
        f();
        carry_out(after);
        if (admit == Admit::as_can_start_after) admit_held(after, admit);
        if (handoff_.batch_wanted > 0) take_batch(after);
      } catch (...) {
        error = std::current_exception();
        carry_out(after);
      }
      end_hold(after);
    }
    admit_posted_meanwhile(after);
    if (error) std::rethrow_exception(error);
  }

  /// Takes the inputs that posts left to this thread while it held the lock. (A post that
  /// saw `admitting_` set had pushed its input and set `left_to_holder_` before.) The
  /// lock is taken again without setting `admitting_`, so later posts admit themselves
  /// and this thread is not kept here by a busy producer.
  void admit_posted_meanwhile(Aftermath& after) {
    if (!left_to_holder_.load(std::memory_order_seq_cst) ||
        !left_to_holder_.exchange(false, std::memory_order_seq_cst)) {
      return;
    }
    std::lock_guard lock(mutex_);
    admit_held(after, Admit::as_can_start_after);
    end_hold(after);
  }

  /// Pushes a posted input onto the intake and admits it unless another thread will (see
  /// "admission of posts" above).
  void queue_for_admission(std::unique_ptr<TaskBase> task) {
    const bool has_deadline = task->posted.options.timeout.has_value();
    const std::uint64_t number = intake_.push(task.release());
    if (!has_deadline) {
      if (number <= hold_limit_.load(std::memory_order_seq_cst)) return;
      left_to_holder_.store(true, std::memory_order_seq_cst);  // before the check below
      if (admitting_.load(std::memory_order_seq_cst)) return;
    }
    react([](Controller&, Time) {});
  }

  /// Admits held inputs, oldest first, as `admit` says (under the lock).
  void admit_held(Aftermath& after, Admit admit) {
    bool admitted = false;
    intake_.pop_queued(
        [&] { return admit == Admit::all_first || controller_.deferrable_arrivals() == 0; },
        [&](detail::QueuedNode* node) {
          admit_posted(std::unique_ptr<TaskBase>(static_cast<TaskBase*>(node)), after);
          admitted = true;
        });
    if (admitted) carry_out(after);
  }

  /// The last steps under the lock: tells the housekeeper of new timers and sets which
  /// posts may be held back; if none may be now, admits those that raced with that.
  void end_hold(Aftermath& after) {
    tell_housekeeper();
    if (!set_hold_limit()) return;
    admit_held(after, Admit::as_can_start_after);
    tell_housekeeper();
    set_hold_limit();
  }

  /// Lets posts be held back, as many as the Controller's queue has room for (under the
  /// lock). Returns whether it has just stopped posts from being held.
  bool set_hold_limit() {
    constexpr std::uint64_t most = std::uint64_t{1} << 62;  // no overflow
    const std::uint64_t room = std::min<std::uint64_t>(controller_.deferrable_arrivals(), most);
    const std::uint64_t limit = room == 0 ? 0 : intake_.popped() + room;
    const std::uint64_t set = hold_limit_.load(std::memory_order_relaxed);  // ours to write
    const bool lower = limit < set;
    const bool raise = limit > set && limit - set >= (room + 1) / 2;
    if (lower || raise) hold_limit_.store(limit, std::memory_order_seq_cst);
    return lower && limit == 0;
  }

  /// Offers one posted input to the Controller; a refused one is failed after unlocking.
  void admit_posted(std::unique_ptr<TaskBase> task, Aftermath& after) {
    const InputId id = task->id();
    const typename TaskBase::Posted& posted = task->posted;
    Arrival arrival{.retries = posted.options.retries,
                    .cancelled = posted.options.stop.stop_requested(),
                    .batchable = true};
    if (posted.options.timeout) arrival.deadline = posted.at + *posted.options.timeout;
    const Time at = posted.at;
    Admission admission{};
    try {
      jobs_.emplace(id, nullptr) = std::move(task);  // if this throws, `task` is still ours
      admission = controller_.input_arrived(at, id, arrival);
    } catch (...) {
      after.failed.emplace_back(task ? std::move(task) : take_job(id), std::current_exception());
      return;
    }
    if (admission != Admission::accepted) {
      after.failed.emplace_back(take_job(id), refusal(admission));
    }
  }

  void finish(Aftermath& after) {
    for (const Grant& grant : after.granted) {
      const InputId id = grant.request->id();
      if (grant.check_health && !healthy(*grant.worker)) {
        return_lease(id, Outcome::unhealthy);  // the request waits for another worker
      } else {
        grant.request->grant(Lease<Worker>(*this, *grant.worker, id));
      }
    }
    for (std::stop_source& source : after.stopped) source.request_stop();
    for (auto& [job, error] : after.failed) {
      job->fail(error);
      job.reset();
    }
  }

  // ------------------------------------------------------------ events

  /// Moves the Controller's events to the delivery queue (under the lock), adding the
  /// enter hook times the Controller cannot see.
  void queue_events() {
    controller_.take_events(events_);
    for (Event& event : events_) {
      if (event.kind == EventKind::worker_warm) {
        event.enter_hook_times = hosts_.at(event.worker)->enter_hook_times;
      }
      undelivered_.push_back(std::move(event));
    }
  }

  /// Calls the listener for queued events, in order and one at a time, outside the lock.
  /// One thread delivers at a time; a thread that finds another delivering leaves its
  /// events to it (the deliverer checks again after letting go, so none is stranded), and
  /// a listener that causes events (e.g. by calling keep_warm) has them delivered after it
  /// returns.
  void deliver_events() {
    if (!options_.on_event) return;
    while (!delivering_.exchange(true, std::memory_order_acquire)) {
      for (std::deque<Event> batch; take_undelivered(batch);) {
        for (const Event& event : batch) notify_listener(event);
      }
      delivering_.store(false, std::memory_order_release);
      bool more = false;
      react_quietly(Admit::as_can_start_after,
                    [&](Controller&, Time) { more = !undelivered_.empty(); });
      if (!more) return;
    }
  }

  /// A listener must not throw: it would leave the events half delivered.
  void notify_listener(const Event& event) const noexcept { options_.on_event(event); }

  bool take_undelivered(std::deque<Event>& batch) {
    batch.clear();
    react_quietly(Admit::as_can_start_after, [&](Controller&, Time) { batch.swap(undelivered_); });
    return !batch.empty();
  }

  void carry_out(Aftermath& after) {
    controller_.take_actions(actions_);
    for (const Action& action : actions_) {
      switch (action.kind) {
        case Action::Kind::boot: boot(action.worker); break;
        case Action::Kind::start: start(action, after); break;
        case Action::Kind::evict: evict(action.worker); break;
        case Action::Kind::fail: fail(action.input, action.fail_reason, after); break;
        case Action::Kind::stop: stop(action.input, after); break;
      }
    }
    if (options_.on_event) queue_events();
  }

  /// Before the lock is released: wakes the housekeeper if a timer is now due sooner than
  /// it planned (with a real clock), or when the Controller has finished.
  void tell_housekeeper() {
    if constexpr (!detail::notifying_clock<Clock>) {
      const std::optional<Time> wakeup = next_due();
      if (wakeup && (!planned_wakeup_ || *wakeup < *planned_wakeup_)) changed_.notify_all();
    }
    if (!finish_announced_ && controller_.finished()) {
      finish_announced_ = true;  // once: the housekeeper would wake for every later call
      changed_.notify_all();
    }
  }

  void boot(WorkerId id) {
    auto host = std::make_unique<Host>(id);
    Host& h = *host;
    hosts_.emplace(id, std::move(host));
    h.first = std::thread([this, &h] { run_worker(h); });
  }

  void start(const Action& action, Aftermath& after) {
    Job& job = **jobs_.find(action.input);
    Host& host = *hosts_.at(action.worker);
    if (handoff_.host == &host && job.kind() == Job::Kind::task) {
      if (handoff_.task == nullptr) {
        handoff_.task = static_cast<TaskBase*>(&job);  // this serving thread runs it next
        handoff_.check_health = action.check_health;
        return;
      }
      if (handoff_.batching) {
        handoff_.batch->push_back(static_cast<TaskBase*>(&job));  // and these after it
        return;
      }
    }
    std::lock_guard lock(host.mutex);
    if (job.kind() == Job::Kind::lease) {
      ++host.leases;
      lease_hosts_.emplace(action.input, &host);
      after.granted.push_back(
          {static_cast<LeaseRequest*>(&job), host.worker.get(), action.check_health});
      return;
    }
    if (submitted_ != nullptr && submitted_->pool == this && submitted_->input == action.input) {
      submitted_->to_awake_thread = host.parked == 0;
    }
    host.mailbox.emplace_back(static_cast<TaskBase*>(&job), action.check_health);
    host.has_mail.store(true, std::memory_order_release);
    if (host.parked > 0) host.wake.notify_one();  // a spinning thread sees has_mail
  }

  void evict(WorkerId worker) {
    Host& host = *hosts_.at(worker);
    std::lock_guard lock(host.mutex);
    host.stopping = true;
    host.wake.notify_all();
  }

  void stop(InputId input, Aftermath& after) {
    const Job& job = **jobs_.find(input);
    if (job.kind() != Job::Kind::task) return;  // a lease has no token to stop
    const std::stop_source& source = static_cast<const TaskBase&>(job).stop_source();
    if (source.stop_possible()) after.stopped.push_back(source);
  }

  void fail(InputId input, FailReason why, Aftermath& after) {
    after.failed.emplace_back(take_job(input), error_for(why));
  }

  std::unique_ptr<Job> take_job(InputId input) { return jobs_.take(input); }

  std::exception_ptr error_for(FailReason why) const {
    switch (why) {
      case FailReason::timeout:
        return std::make_exception_ptr(timeout_error("input did not start within its timeout"));
      case FailReason::cancelled:
        return std::make_exception_ptr(cancelled("input was cancelled while pending"));
      case FailReason::pool_closed:
        return std::make_exception_ptr(pool_closed("pool was shut down before the input started"));
      case FailReason::enter_failed: return nested_enter_failure();
    }
    return nullptr;
  }

  std::exception_ptr nested_enter_failure() const {
    const enter_failed failure("workers kept failing to boot (" +
                               std::to_string(options_.max_boot_failures) +
                               " in a row); the last error is nested");
    try {
      std::rethrow_exception(last_boot_error_);
    } catch (...) {
      try {
        std::throw_with_nested(failure);
      } catch (...) {
        return std::current_exception();
      }
    }
  }

  // ------------------------------------------------------------ inputs

  template <class F, class Sink>
  std::unique_ptr<TaskBase> make_task(F&& f, Sink sink, const std::stop_token& stop) {
    using Task = detail::Task<Worker, std::decay_t<F>, Sink>;
    return Job::template make<Task>(slab_, next_input_.fetch_add(1, std::memory_order_relaxed),
                                    std::forward<F>(f), std::move(sink), stop);
  }

  /// Offers a job to the Controller. Returns null when accepted (the pool took the job),
  /// or the error to report when refused (the caller keeps the job and reports it).
  template <class J>
  std::exception_ptr admit(std::unique_ptr<J>& job, const SubmitOptions& options) {
    detail::validate(options);
    const InputId id = job->id();
    job->watch(options.stop, *this);
    Admission admission{};
    react([&](Controller& c, Time now) {
      Arrival arrival{.retries = options.retries,
                      .cancelled = options.stop.stop_requested(),
                      .batchable = std::is_same_v<J, TaskBase>};
      if (options.timeout) arrival.deadline = now + *options.timeout;
      jobs_.emplace(id, std::move(job));  // first: if this throws, nothing has changed
      admission = c.input_arrived(now, id, arrival);
      if (admission != Admission::accepted) job.reset(static_cast<J*>(take_job(id).release()));
    });
    return admission == Admission::accepted ? nullptr : refusal(admission);
  }

  /// The error for an input the Controller did not accept.
  std::exception_ptr refusal(Admission admission) const {
    if (admission == Admission::queue_full) {
      return std::make_exception_ptr(queue_full(
          "max_pending (" + std::to_string(options_.max_pending) + ") inputs already wait"));
    }
    return std::make_exception_ptr(pool_closed("pool is shut down"));
  }

  std::future<Lease<Worker>> request_lease(std::optional<std::chrono::milliseconds> timeout) {
    std::promise<Lease<Worker>> promise;
    auto future = promise.get_future();
    auto request = Job::template make<LeaseRequest>(
        slab_, next_input_.fetch_add(1, std::memory_order_relaxed), std::move(promise));
    if (std::exception_ptr refused = admit(request, {.timeout = timeout})) {
      std::rethrow_exception(refused);
    }
    return future;
  }

  void give_back(InputId lease, bool broken) noexcept override {
    return_lease(lease, broken ? Outcome::discarded : Outcome::value);
  }

  /// Ends a lease's hold on its worker; the request ends too unless it is queued again
  /// (`Outcome::unhealthy`).
  void return_lease(InputId lease, Outcome outcome) {
    Host* host = nullptr;
    std::unique_ptr<Job> job;
    react([&](Controller& c, Time now) {
      if (c.input_done(now, lease, outcome)) job = take_job(lease);
      host = lease_hosts_.extract(lease).mapped();
    });
    // The worker may be stopping already (evicted while leased): its thread waits for this.
    std::lock_guard lock(host->mutex);
    --host->leases;
    host->wake.notify_all();
  }

  void cancel(InputId input) noexcept override {
    react([input](Controller& c, Time now) { c.cancel(now, input); });
  }

  /// Reports the runs of `ran`, of which the first `runs` ran: the job of each input that
  /// has ended goes back in `ran` (the caller settles and destroys it outside the lock); a
  /// run that ends nothing (it runs again, or a `fail` action ended it) leaves its input
  /// to the pool. The runs of a batch, taken at `batch_from`, share its time evenly (no
  /// clock read per input). An input started meanwhile on `host` may be handed straight
  /// to this thread, with up to `batch_wanted` more behind it, into `batch` (see
  /// `Handoff`). Returns the time of the report.
  Time end_run(Host& host, std::vector<Ran>& ran, std::size_t runs, Time batch_from,
               std::size_t batch_wanted, std::vector<TaskBase*>& batch) {
    Time reported{};
    handoff_.host = &host;
    handoff_.batch_wanted = batch_wanted;
    handoff_.batch = &batch;
    react_quietly(Admit::as_can_start_after, [&](Controller& c, Time now) {
      reported = handoff_.at = now;
      const Time share = runs > 1 ? (now - batch_from) / static_cast<Time::rep>(runs) : Time{};
      for (std::size_t i = 0; i < ran.size(); ++i) {
        const Time ended = i + 1 < runs ? batch_from + share * static_cast<Time::rep>(i + 1) : now;
        const InputId input = ran[i].task->id();  // once reported, another thread may own it
        if (c.input_done(ended, input, ran[i].outcome)) ran[i].job = take_job(input);
      }
    });
    handoff_.host = nullptr;
    handoff_.batch_wanted = 0;
    handoff_.batch = nullptr;
    return reported;
  }

  /// Batching: while the pool is saturated, admits as many held posts as this serving
  /// thread asked for and lets the Controller start them on its worker, behind the input
  /// just handed to it (under the lock).
  void take_batch(Aftermath& after) {
    const std::size_t wanted = handoff_.batch_wanted;
    if (handoff_.task == nullptr || controller_.deferrable_arrivals() == 0) return;
    std::size_t admitted = 0;
    intake_.pop_queued([&] { return admitted < wanted; },
                       [&](detail::QueuedNode* node) {
                         admit_posted(std::unique_ptr<TaskBase>(static_cast<TaskBase*>(node)),
                                      after);
                         ++admitted;
                       });
    handoff_.batching = true;
    controller_.start_batch(handoff_.at, handoff_.host->id, wanted);
    carry_out(after);
    handoff_.batching = false;
  }

  // ------------------------------------------------------------ worker threads

  /// The whole life of one worker, on its first thread.
  void run_worker(Host& host) {
    detail::current_pool = this;
    if (boot_worker(host)) {
      for (std::size_t i = 1; i < options_.max_inputs; ++i) {
        host.others.emplace_back([this, &host] {
          detail::current_pool = this;
          serve(host);
        });
      }
      react([&host](Controller& c, Time now) { c.worker_warm(now, host.id); });
      serve(host);
      for (std::thread& t : host.others) t.join();
      wait_for_leases(host);
      run_exit_hooks(*host.worker);
      host.worker.reset();
    }
    retire(host);
  }

  bool boot_worker(Host& host) {
    try {
      std::unique_ptr<Worker> worker = options_.snapshot ? copy_of_snapshot(host) : made(host);
      std::size_t hook = detail::has_enter_snapshot<Worker> ? 1 : 0;
      if constexpr (detail::has_enter<Worker>) timed(host, hook++, [&worker] { worker->enter(); });
      for (const auto& extra : options_.enter_hooks) timed(host, hook++, extra);
      host.worker = std::move(worker);
      return true;
    } catch (...) {
      const std::exception_ptr error = std::current_exception();
      react([&](Controller& c, Time now) {
        last_boot_error_ = error;
        c.boot_failed(now, host.id);
      });
      return false;
    }
  }

  /// A worker from the factory, with its `enter_snapshot()` run.
  std::unique_ptr<Worker> made(Host& host) {
    std::unique_ptr<Worker> worker = factory_();
    if (!worker) throw std::logic_error("the worker factory returned null");
    if constexpr (detail::has_enter_snapshot<Worker>) {
      timed(host, 0, [&worker] { worker->enter_snapshot(); });
    }
    return worker;
  }

  /// A copy of the snapshot, made by the first boot that needs it (boots at the same time
  /// wait for it; if making it throws, the next boot tries again). The copies themselves
  /// are made in parallel, from the same const snapshot.
  std::unique_ptr<Worker> copy_of_snapshot(Host& host) {
    if constexpr (std::is_copy_constructible_v<Worker>) {
      std::shared_ptr<const Worker> snapshot;
      {
        std::lock_guard lock(snapshot_mutex_);
        if (!snapshot_) snapshot_ = made(host);
        snapshot = snapshot_;
      }
      return std::make_unique<Worker>(*snapshot);
    } else {
      return made(host);  // not reached: the constructor refuses `snapshot` for this Worker
    }
  }

  /// Runs enter hook number `index` and records its time (outside the pool's lock).
  template <class Hook>
  void timed(Host& host, std::size_t index, const Hook& hook) {
    const Time start = now();
    hook();
    const Time took = now() - start;
    hook_times_[index].record(took);
    if (options_.on_event) host.enter_hook_times.push_back(took);
  }

  void serve(Host& host) {
    bool worked = false;
    std::vector<Ran> ran;
    std::vector<TaskBase*> batch;  // inputs started behind the next one (batching)
    BatchPace pace(options_.max_batch);
    Time last_report{};  // when this thread last reported (and took the batch it ran)
    while (true) {
      auto next = handed_off();
      const bool handed = next.has_value();
      if (!handed && !(next = next_task(host, worked))) return;
      worked = true;
      const std::size_t runs = run_all(host, *next, batch, ran);
      const Time reported = end_run(host, ran, runs, last_report, pace.wanted(), batch);
      pace.measure(reported, last_report, runs, handed);
      last_report = reported;
      for (Ran& run : ran) {
        if (run.job) run.task->settle();
        run.job.reset();
      }
      deliver_events();  // after the results: a listener never delays them
    }
  }

  /// Runs `first`, then the inputs of `batch` (emptied), noting each in `ran` in the order
  /// the Controller is to hear of them; returns how many ran. After a run that broke the
  /// worker the rest do not: they are reported as not run (after those that ran, newest
  /// first, so they wait again in their order).
  std::size_t run_all(Host& host, std::pair<TaskBase*, bool> first, std::vector<TaskBase*>& batch,
                      std::vector<Ran>& ran) {
    ran.clear();
    const auto [task, check_health] = first;
    ran.push_back({task, check_health && !healthy(*host.worker) ? Outcome::unhealthy
                                                                : task->run(*host.worker)});
    std::size_t runs = 1;
    for (TaskBase* later : batch) {
      if (breaks_worker(ran[runs - 1].outcome)) {
        ran.push_back({later, Outcome::unhealthy});  // "it did not run: it waits again"
        continue;
      }
      ran.push_back({later, later->run(*host.worker)});
      ++runs;
    }
    std::reverse(ran.begin() + static_cast<std::ptrdiff_t>(runs), ran.end());
    batch.clear();
    return runs;
  }

  /// Whether a run with this outcome ends its worker (it is evicted when reported).
  static bool breaks_worker(Outcome outcome) {
    return outcome == Outcome::lost || outcome == Outcome::unhealthy;
  }

  /// The input handed to this thread when its last one ended, if any.
  std::optional<std::pair<TaskBase*, bool>> handed_off() {
    if (handoff_.task == nullptr) return std::nullopt;
    return std::pair{std::exchange(handoff_.task, nullptr), handoff_.check_health};
  }

  /// The next task for this serving thread; none once the worker is stopping. Right
  /// after work it spins for a moment before it sleeps, so an input that follows soon
  /// starts without a wake-up through the kernel.
  std::optional<std::pair<TaskBase*, bool>> next_task(Host& host, bool just_worked) {
    if (just_worked) {
      detail::spin_until(
          [&host] {
            return host.has_mail.load(std::memory_order_acquire) ||
                   host.stopping.load(std::memory_order_acquire);
          },
          spin_after_work);
    }
    std::unique_lock lock(host.mutex);
    ++host.parked;
    host.wake.wait(lock, [&host] { return !host.mailbox.empty() || host.stopping; });
    --host.parked;
    if (host.mailbox.empty()) return std::nullopt;
    const auto next = host.mailbox.front();
    host.mailbox.pop_front();
    host.has_mail.store(!host.mailbox.empty(), std::memory_order_release);
    return next;
  }

  /// Asks `Worker::healthy()`; a throwing check counts as unhealthy, and a Worker without
  /// one is always healthy (the constructor refuses `health_check_after` for it anyway).
  static bool healthy(Worker& worker) noexcept {
    if constexpr (detail::has_healthy<Worker>) {
      try {
        return static_cast<bool>(worker.healthy());
      } catch (...) {
        return false;
      }
    } else {
      return true;
    }
  }

  /// An evicted worker may still be leased (a `worker_lost` input in another slot):
  /// exit hooks and destruction wait until every lease on it has ended.
  void wait_for_leases(Host& host) {
    std::unique_lock lock(host.mutex);
    host.wake.wait(lock, [&host] { return host.leases == 0; });
  }

  void run_exit_hooks(Worker& worker) {
    if constexpr (detail::has_exit<Worker>) guarded_exit([&worker] { worker.exit(); });
    for (const auto& hook : options_.exit_hooks) guarded_exit(hook);
  }

  template <class Hook>
  void guarded_exit(const Hook& hook) {
    try {
      hook();
    } catch (...) {
      exit_failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// Hands the finished host to the housekeeper, which joins its threads.
  void retire(Host& host) {
    const WorkerId id = host.id;
    react([this, id](Controller&, Time) {
      retired_.push_back(std::move(hosts_.extract(id).mapped()));
    });
    changed_.notify_all();
  }

  // ------------------------------------------------------------ housekeeper

  /// Joins retired workers and, for real clocks, wakes the Controller when due.
  void housekeep() {
    detail::current_pool = this;  // callbacks it runs may call shutdown()
    while (true) {
      const detail::Signal::Generation seen = changed_.generation();
      std::vector<std::unique_ptr<Host>> retired;
      bool stopping = false;
      std::optional<Time> wake_at;
      react([&](Controller& c, Time now) {
        retired.swap(retired_);
        stopping = stop_housekeeper_;
        if constexpr (!detail::notifying_clock<Clock>) {
          if (planned_wakeup_ && *planned_wakeup_ <= now) on_time(c, now);
          planned_wakeup_ = wake_at = next_due();
        }
      });
      for (auto& host : retired) host->first.join();
      if (!retired.empty()) continue;
      if (stopping) return;
      if (wake_at) {
        changed_.wait_for(seen, *wake_at - now());
      } else {
        changed_.wait(seen);
      }
    }
  }

  /// Waits until every worker is gone, then lets the housekeeper stop.
  void wait_until_finished() {
    while (true) {
      const detail::Signal::Generation seen = changed_.generation();
      bool finished = false;
      react([&](Controller& c, Time) {
        finished = c.finished() && hosts_.empty();
        stop_housekeeper_ = stop_housekeeper_ || finished;
      });
      if (finished) break;
      changed_.wait(seen);
    }
    changed_.notify_all();
  }

  const Options options_;
  const Factory factory_;
  Clock clock_;

  /// How long a serving thread spins for its next input before it sleeps.
  static constexpr std::chrono::microseconds spin_after_work{50};
  /// About how long a batch of short inputs may run (see `Options::max_batch`).
  static constexpr std::chrono::microseconds batch_budget{20};

  // Each thread's hot atomics sit on a cache line of their own (no false sharing).
  detail::Slab slab_;  // memory of every job: declared first, so destroyed last
  alignas(detail::cache_line) detail::SpinMutex mutex_;  // guards all but atomics and intake
  alignas(detail::cache_line) Controller controller_;
  std::vector<Action> actions_;
  detail::IdMap<std::unique_ptr<Job>> jobs_;
  std::unordered_map<WorkerId, std::unique_ptr<Host>> hosts_;
  std::unordered_map<InputId, Host*> lease_hosts_;  // the worker of each lease out
  std::vector<std::unique_ptr<Host>> retired_;
  std::exception_ptr last_boot_error_;
  std::vector<Event> events_;      // taken from the Controller
  std::deque<Event> undelivered_;  // waiting for the listener
  std::optional<Time> planned_wakeup_;
  std::optional<detail::ScheduledFloor> floor_;  // with a schedule
  std::optional<Time> floor_change_at_;          // when the scheduled floor changes next
  bool stop_housekeeper_ = false;
  bool finish_announced_ = false;  // the Controller finished (after shutdown)
  detail::Signal changed_;         // wakes the housekeeper and shutdown waiters

  detail::Intake intake_;  // posts waiting for admission (each end on a line of its own)
  /// Posts numbered up to this in the intake may wait there (written under the lock).
  alignas(detail::cache_line) std::atomic<std::uint64_t> hold_limit_{0};
  alignas(detail::cache_line) std::atomic<bool> admitting_{false};  // a holder will admit
  std::atomic<bool> left_to_holder_{false};  // a post left its input to a lock holder
  alignas(detail::cache_line) std::atomic<InputId> next_input_{1};
  alignas(detail::cache_line) std::atomic<std::uint64_t> exit_failures_{0};
  /// An input started on the worker whose serving thread is ending a run (in `end_run`)
  /// goes straight to that thread, not through the host's mailbox and its mutex.
  struct Handoff {
    const Host* host = nullptr;  // set while this thread reports runs on it
    TaskBase* task = nullptr;    // what to run next
    bool check_health = false;
    std::size_t batch_wanted = 0;             // how many more it would take behind `task`
    bool batching = false;                    // the Controller is starting those now
    std::vector<TaskBase*>* batch = nullptr;  // gets what it started, to run after `task`
    Time at{};                                // the time of the report
  };
  static inline thread_local Handoff handoff_{};  // each serving thread's own
  /// The input this thread is submitting, if any (set by `NoteSubmitted`): `start`
  /// notes there whether it went straight to a serving thread that was awake.
  static inline thread_local Submitted* submitted_ = nullptr;

  std::atomic<bool> delivering_{false};  // a thread is calling the listener
  const std::vector<std::string> hook_names_;
  std::deque<Histogram> hook_times_;  // one per enter hook, recorded without the lock
  std::mutex snapshot_mutex_;
  std::shared_ptr<const Worker> snapshot_;  // with Options::snapshot: what boots copy
  std::shared_ptr<TimeListener> listener_;
  std::thread housekeeper_;
  std::mutex join_mutex_;
};

}  // namespace warmpool
