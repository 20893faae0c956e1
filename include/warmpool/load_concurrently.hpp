#pragma once
/// @file load_concurrently.hpp
/// @brief `load_concurrently(loaders...)`: runs independent loaders (the large files of an
/// enter hook) on parallel threads and returns their results as one tuple.

#include <array>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

namespace warmpool {

/// @brief The value `load_concurrently` puts in its tuple for a loader that returns `void`.
///
/// An empty value type; all `nothing`s are equal. Thread-safety: a plain value. Example:
/// @code
/// auto [weights, done] = warmpool::load_concurrently(read_weights, fill_cache);
/// static_assert(std::is_same_v<decltype(done), warmpool::nothing>);
/// @endcode
struct nothing {
  /// @brief All `nothing`s are equal.
  friend bool operator==(nothing, nothing) = default;
};

namespace detail {

/// A loader that accepts the call's stop token gets it.
template <class Loader>
concept loader_takes_stop_token = std::invocable<Loader, std::stop_token>;

/// A callable `load_concurrently` accepts: `loader()` or `loader(std::stop_token)`.
template <class Loader>
concept loader = loader_takes_stop_token<Loader> || std::invocable<Loader>;

/// Invokes `loader` (once), with `stop` when it accepts a token.
template <class Loader>
decltype(auto) call_loader(Loader&& loader, std::stop_token stop) {
  if constexpr (loader_takes_stop_token<Loader>) {
    return std::invoke(std::forward<Loader>(loader), std::move(stop));
  } else {
    return std::invoke(std::forward<Loader>(loader));
  }
}

/// What the loader returns, as written (possibly a reference or `void`).
template <class Loader>
using loader_result_t = decltype(call_loader(std::declval<Loader>(), std::stop_token{}));

}  // namespace detail

/// @brief The tuple element `load_concurrently` gives for a loader of type `Loader`: its
/// result by value (a copy when it returns a reference), or `nothing` when it returns `void`.
template <class Loader>
using loaded_t = std::conditional_t<std::is_void_v<detail::loader_result_t<Loader>>, nothing,
                                    std::remove_cvref_t<detail::loader_result_t<Loader>>>;

namespace detail {

/// Where the loaders' failures meet. It keeps the first one in time, the one whose
/// `record` call wins the atomic exchange, and then stops the shared stop token.
/// `record` may run on any loader's thread at once; `first()` is read only after every
/// loader thread was joined (which orders the write before the read).
class FirstFailure {
 public:
  std::stop_token token() const noexcept { return stop_.get_token(); }

  void record(std::exception_ptr error) noexcept {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return;
    first_ = std::move(error);
    stop_.request_stop();
  }

  const std::exception_ptr& first() const noexcept { return first_; }

 private:
  std::stop_source stop_;
  std::atomic<bool> claimed_{false};
  std::exception_ptr first_;
};

/// One loader to run, seen without its type (so the threads are started in a plain loop).
class LoaderRun {
 public:
  /// Runs the loader; never throws (a failure goes to `failure`).
  virtual void run(FirstFailure& failure) noexcept = 0;

 protected:
  ~LoaderRun() = default;
};

/// One loader, by reference, and the slot its result goes to. Built in place, never moved.
template <class Loader>
class LoaderSlot final : public LoaderRun {
 public:
  explicit LoaderSlot(Loader&& loader) noexcept : loader_(std::addressof(loader)) {}
  LoaderSlot(const LoaderSlot&) = delete;
  LoaderSlot& operator=(const LoaderSlot&) = delete;

  void run(FirstFailure& failure) noexcept override {
    try {
      if constexpr (std::is_void_v<loader_result_t<Loader>>) {
        call_loader(std::forward<Loader>(*loader_), failure.token());
        result_.emplace();
      } else {
        result_.emplace(call_loader(std::forward<Loader>(*loader_), failure.token()));
      }
    } catch (...) {
      failure.record(std::current_exception());
    }
  }

  /// The result; only after `run` succeeded.
  loaded_t<Loader> take() { return std::move(*result_); }

 private:
  std::remove_reference_t<Loader>* loader_;
  std::optional<loaded_t<Loader>> result_;
};

/// How `load_concurrently` starts a thread; tests replace it to simulate a failed start.
struct start_thread {
  template <class Task>
  std::jthread operator()(Task task) const {
    return std::jthread(std::move(task));
  }
};

/// Runs `runs[0]` on the calling thread and every other on a thread of its own; a run
/// whose thread cannot be started runs on the calling thread after `runs[0]`. Returns
/// once every run has finished: the threads are joined when `threads` goes out of scope.
template <class Start, std::size_t N>
void run_loaders(const Start& start, const std::array<LoaderRun*, N>& runs, FirstFailure& failure) {
  std::array<std::jthread, N - 1> threads;
  for (std::size_t i = 1; i < N; ++i) {
    try {
      threads[i - 1] = start([run = runs[i], &failure] { run->run(failure); });
    } catch (...) {
      // No thread (std::system_error, or out of memory): run it below, on this thread.
    }
  }
  runs[0]->run(failure);
  for (std::size_t i = 1; i < N; ++i) {
    if (!threads[i - 1].joinable()) runs[i]->run(failure);
  }
}

/// `load_concurrently` with the way threads are started as a parameter.
template <class Start, class... Loaders>
auto load_concurrently_with(const Start& start, Loaders&&... loaders)
    -> std::tuple<loaded_t<Loaders>...> {
  FirstFailure failure;
  std::tuple<LoaderSlot<Loaders>...> slots(std::forward<Loaders>(loaders)...);
  std::apply(
      [&](auto&... slot) {
        run_loaders(start, std::array<LoaderRun*, sizeof...(slot)>{&slot...}, failure);
      },
      slots);
  if (failure.first()) std::rethrow_exception(failure.first());
  return std::apply([](auto&... slot) { return std::tuple<loaded_t<Loaders>...>(slot.take()...); },
                    slots);
}

}  // namespace detail

/// @brief Runs the loaders on parallel threads and returns their results, in argument
/// order, as a `std::tuple` — for an enter hook that loads several independent large files
/// in about the time of the slowest, not the sum.
///
/// Each loader is a callable taking no argument, or a `std::stop_token`. Each is invoked
/// exactly once, as the value category it was passed with (it is taken by reference, never
/// copied), including when another loader fails. The first loader runs on the calling
/// thread; every other one runs on a new `std::thread` of its own (so one loader starts no
/// thread). If a thread cannot be started (`std::system_error`, or out of memory), its
/// loader runs on the calling thread after the first: the call gets slower, not wrong.
/// The call returns or throws only after every loader has finished and every thread has
/// been joined; no thread outlives it.
///
/// Results: element `i` is `loaded_t` of loader `i`: the returned value (moved; it may be
/// move-only; a returned reference is copied), or `nothing` for a `void` loader.
///
/// Failures: when loaders throw, the call waits for all of them, then rethrows the first
/// failure in time: the exception of the loader that finished by throwing first (decided
/// by an atomic exchange, so exactly one wins), unchanged. The other results are destroyed.
/// At that first failure the stop token handed to the loaders that accept one is stopped,
/// so they can give up early (their results are discarded anyway).
///
/// Thread-safety: may be called from any thread, for example a worker's enter hook. The
/// loaders run concurrently with each other (the first on the caller's thread, the others
/// on threads of their own, or on the caller's thread too when a thread cannot be
/// started), so they must not share unsynchronised state.
///
/// @param loaders the callables to run; at least one.
/// @return `std::tuple<loaded_t<Loaders>...>`, in the order of the loaders.
/// @throws the first loader failure, after every loader has finished.
///
/// Example:
/// @code
/// struct Translator {
///   void enter() {
///     std::tie(encoder, decoder) = warmpool::load_concurrently(
///         [] { return load_weights("encoder.bin"); },      // on the calling thread
///         [](std::stop_token stop) {                       // on a thread of its own
///           return load_weights("decoder.bin", stop);      // stops early if encoder fails
///         });
///   }
///   Weights encoder, decoder;
/// };
/// @endcode
template <class... Loaders>
requires(sizeof...(Loaders) > 0 &&
         (detail::loader<Loaders> && ...)) auto load_concurrently(Loaders&&... loaders)
    -> std::tuple<loaded_t<Loaders>...> {
  return detail::load_concurrently_with(detail::start_thread{}, std::forward<Loaders>(loaders)...);
}

}  // namespace warmpool
