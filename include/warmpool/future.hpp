#pragma once
/// @file future.hpp
/// @brief `Future<R>`: the `std::future<R>` that `Pool::submit` returns, whose waits spin
/// briefly before they sleep.

#include <chrono>
#include <future>
#include <utility>

#include "detail/spin_mutex.hpp"

namespace warmpool {

/// @brief A `std::future<R>` (its public base) whose `get()` and `wait()` may spin briefly
/// before sleeping in the kernel.
///
/// A warm worker often ends a short input within a few microseconds; a caller that went
/// to sleep in `std::future::get()` would then pay a kernel wake-up, which costs more than
/// the input itself. Spinning first lets it see the result at once. `Pool::submit` asks
/// for the spin (`spin_limit`) only when the input went straight to a serving thread that
/// was awake; an input that waits for a boot, a free worker or a sleeping thread gets
/// none, since a spinning caller would only hold a core that the woken thread could use.
/// The spin is bounded and yields the core now and then, so it costs about its limit of
/// CPU at most; it is decided at submit, so a `get()` called long after still spins while
/// the input runs. Everything else is `std::future<R>`'s: it converts to one (keeping it
/// as `std::future<R>` only loses the spin); `wait_for`, `wait_until` and `share` do not
/// spin.
///
/// Thread-safety: as `std::future<R>`: one thread at a time uses a given object.
///
/// Example:
/// @code
/// warmpool::Future<float> y = pool.submit([](Model& m) { return m.infer(2.0f); });
/// float value = y.get();                      // may spin briefly, then sleeps
/// std::future<float> plain = pool.submit([](Model& m) { return m.infer(3.0f); });
/// // also fine: a Future is a std::future (only the spin is lost)
/// @endcode
template <class R>
class Future : public std::future<R> {
 public:
  /// @brief The spin `Pool::submit` asks for when a short wait is likely.
  static constexpr std::chrono::microseconds spin_limit{20};

  /// @brief A future with no shared state (`valid()` is false).
  Future() noexcept = default;

  /// @brief Takes over `future`'s shared state; `get()` and `wait()` will spin for up to
  /// `spin` (none when zero) before they sleep.
  explicit Future(std::future<R>&& future, std::chrono::nanoseconds spin = spin_limit) noexcept
      : std::future<R>(std::move(future)), spin_(spin) {}

  /// @brief Waits for the result (spinning first), then returns it as
  /// `std::future<R>::get()` does: the value, or the stored exception rethrown. Without a
  /// shared state it does what `std::future<R>::get()` does (libstdc++ throws
  /// `std::future_error`).
  decltype(auto) get() {
    spin_for_result();
    return std::future<R>::get();
  }

  /// @brief Waits for the result (spinning first) without taking it.
  void wait() const {
    spin_for_result();
    std::future<R>::wait();
  }

  /// @brief How long `get()` and `wait()` spin before they sleep (zero: not at all).
  std::chrono::nanoseconds spin() const noexcept { return spin_; }

 private:
  void spin_for_result() const {
    // No spin asked for, or no shared state to wait on (the base call reports that).
    if (spin_ <= std::chrono::nanoseconds::zero() || !this->valid()) return;
    detail::spin_until(
        [this] { return this->wait_for(std::chrono::seconds(0)) != std::future_status::timeout; },
        spin_);
  }

  std::chrono::nanoseconds spin_{0};
};

}  // namespace warmpool
