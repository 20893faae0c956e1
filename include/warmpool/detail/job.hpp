#pragma once
// Internals: one accepted input as the Pool holds it (a task or a lease request).

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "../controller.hpp"
#include "../errors.hpp"
#include "../lease.hpp"
#include "../result.hpp"
#include "../settings.hpp"
#include "intake.hpp"
#include "slab.hpp"

namespace warmpool::detail {

/// Whether `F` wants the input's stop token as a second argument.
template <class F, class Worker>
inline constexpr bool takes_stop_token = std::is_invocable_v<F&, Worker&, std::stop_token>;

template <class F, class Worker, bool = takes_stop_token<F, Worker>>
struct call_result {
  using type = std::remove_cvref_t<std::invoke_result_t<F&, Worker&, std::stop_token>>;
};
template <class F, class Worker>
struct call_result<F, Worker, false> {
  static_assert(
      std::is_invocable_v<F&, Worker&>,
      "warmpool: the input must be callable as f(Worker&) or f(Worker&, std::stop_token)");
  using type = std::remove_cvref_t<std::invoke_result_t<F&, Worker&>>;
};

/// The value type an input function returns.
template <class F, class Worker>
using call_result_t = typename call_result<std::decay_t<F>, Worker>::type;

/// Cancels a pending input when its stop token fires (implemented by Pool).
class Canceller {
 public:
  virtual void cancel(InputId input) noexcept = 0;

 protected:
  ~Canceller() = default;
};

/// The callback registered on an input's stop token. It touches nothing of the job, so
/// the job may be destroyed while the callback waits for the pool's lock.
struct CancelOnStop {
  Canceller* canceller;
  InputId input;
  void operator()() const noexcept { canceller->cancel(input); }
};

/// One accepted input. Owned by the Pool from acceptance until it ends; destroyed
/// outside the pool's lock (its stop callback may be waiting for that lock).
template <class Worker>
class Job {
 public:
  enum class Kind { task, lease };

  Job(Kind kind, InputId id) : kind_(kind), id_(id) {}
  virtual ~Job() = default;
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  Kind kind() const noexcept { return kind_; }
  InputId id() const noexcept { return id_; }

  /// Ends the input with `error` without running it.
  virtual void fail(std::exception_ptr error) noexcept = 0;

  /// Starts watching `stop`: a stop request cancels the input while it waits and keeps a
  /// running one from being run again.
  void watch(const std::stop_token& stop, Canceller& canceller) {
    if (stop.stop_possible()) {
      on_stop_ =
          std::make_unique<std::stop_callback<CancelOnStop>>(stop, CancelOnStop{&canceller, id_});
    }
  }

  /// Makes a `J` in memory from `slab` (jobs are made only this way).
  template <class J, class... Args>
  static std::unique_ptr<J> make(Slab& slab, Args&&... args) {
    SlabHome home;
    void* memory = slab.allocate(sizeof(J), alignof(J), home);
    try {
      J* job = ::new (memory) J(std::forward<Args>(args)...);
      job->home_ = home;
      return std::unique_ptr<J>(job);
    } catch (...) {
      home.release(memory);
      throw;
    }
  }

  /// `delete job` destroys it and gives its memory back to where `make` took it from.
  static void operator delete(Job* job, std::destroying_delete_t /*tag*/) noexcept {
    const SlabHome home = job->home_;
    void* memory = dynamic_cast<void*>(job);  // the whole object, whatever its type
    job->~Job();
    home.release(memory);
  }

 private:
  Kind kind_;
  InputId id_;
  SlabHome home_;
  // Last member: destroyed first, so a running callback never sees a half-dead job.
  // Allocated only for a token that can stop, so an input without one stays small.
  std::unique_ptr<std::stop_callback<CancelOnStop>> on_stop_;
};

/// Delivers a result through a std::promise (for `submit`).
template <class R>
class PromiseSink {
 public:
  explicit PromiseSink(std::promise<R> promise) : promise_(std::move(promise)) {}
  void deliver(Result<R>&& result) noexcept {
    if (!result.ok()) return promise_.set_exception(result.error());
    if constexpr (std::is_void_v<R>) {
      promise_.set_value();
    } else {
      promise_.set_value(std::move(result).value());
    }
  }

 private:
  std::promise<R> promise_;
};

/// Delivers a result to a completion callback (for `post`); the callback must not throw.
template <class R, class Done>
class CallbackSink {
 public:
  explicit CallbackSink(Done done) : done_(std::move(done)) {}
  void deliver(Result<R>&& result) noexcept { done_(std::move(result)); }

 private:
  Done done_;
};

/// Requests stop on the token a running function sees (a copy shares the stop state).
struct ForwardStop {
  std::stop_source target;
  void operator()() const noexcept { target.request_stop(); }
};

/// An input that runs a function on a worker's thread.
template <class Worker>
class TaskBase : public Job<Worker>, public QueuedNode {
 public:
  explicit TaskBase(InputId id) : Job<Worker>(Job<Worker>::Kind::task, id) {}
  /// Runs the function on the worker's thread and keeps its result for `settle()`.
  virtual Outcome run(Worker& worker) noexcept = 0;
  /// Hands the kept result to the caller.
  virtual void settle() noexcept = 0;
  /// The stop state of the token the function sees; none when it takes no token.
  const std::stop_source& stop_source() const noexcept { return stop_; }

  /// What `Pool::post` leaves for the lock holder that admits the input later.
  struct Posted {
    Controller::Time at{};
    SubmitOptions options;
  };
  Posted posted;

 protected:
  std::stop_source stop_{std::nostopstate};
};

template <class Worker, class F, class Sink>
class Task final : public TaskBase<Worker> {
 public:
  using R = call_result_t<F, Worker>;

  /// `caller_stop` is the token given at submit; a function that takes a token sees one
  /// that stops when `caller_stop` does or when the pool asks (deadline, cancel shutdown).
  Task(InputId id, F fn, Sink sink, const std::stop_token& caller_stop)
      : TaskBase<Worker>(id), fn_(std::move(fn)), sink_(std::move(sink)) {
    if constexpr (takes_stop_token<F, Worker>) {
      this->stop_ = std::stop_source();
      if (caller_stop.stop_possible()) {
        forward_ = std::make_unique<std::stop_callback<ForwardStop>>(caller_stop,
                                                                     ForwardStop{this->stop_});
      }
    }
  }

  Outcome run(Worker& worker) noexcept override {
    try {
      result_.emplace(call(worker));
      return Outcome::value;
    } catch (const worker_lost&) {
      result_.emplace(Result<R>::failure(std::current_exception()));
      return Outcome::lost;
    } catch (...) {
      result_.emplace(Result<R>::failure(std::current_exception()));
      return Outcome::exception;
    }
  }

  void settle() noexcept override { sink_.deliver(std::move(*result_)); }

  void fail(std::exception_ptr error) noexcept override {
    sink_.deliver(Result<R>::failure(std::move(error)));
  }

 private:
  Result<R> call(Worker& worker) {
    if constexpr (std::is_void_v<R>) {
      invoke(worker);
      return Result<R>::success();
    } else {
      return Result<R>::success(invoke(worker));
    }
  }

  decltype(auto) invoke(Worker& worker) {
    if constexpr (takes_stop_token<F, Worker>) {
      return std::invoke(fn_, worker, this->stop_.get_token());
    } else {
      return std::invoke(fn_, worker);
    }
  }

  F fn_;
  Sink sink_;
  std::optional<Result<R>> result_;
  std::unique_ptr<std::stop_callback<ForwardStop>> forward_;  // as `Job::on_stop_`
};

/// A request for a lease: granted with a warm worker instead of running on its thread.
template <class Worker>
class LeaseRequest final : public Job<Worker> {
 public:
  LeaseRequest(InputId id, std::promise<Lease<Worker>> promise)
      : Job<Worker>(Job<Worker>::Kind::lease, id), promise_(std::move(promise)) {}

  void fail(std::exception_ptr error) noexcept override { promise_.set_exception(error); }

  void grant(Lease<Worker> lease) noexcept { promise_.set_value(std::move(lease)); }

 private:
  std::promise<Lease<Worker>> promise_;
};

}  // namespace warmpool::detail
