#pragma once
/// @file manual_clock.hpp
/// @brief `ManualClock`: virtual time for deterministic tests of time-dependent behaviour.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace warmpool {
namespace detail {

/// Something that must react when a notifying clock moves (a pool's timer).
class ClockListener {
 public:
  virtual ~ClockListener() = default;
  virtual void on_clock_moved() = 0;
};

}  // namespace detail

/// @brief A copyable handle to shared virtual time that only moves when told to.
///
/// Copies share one time line. A `Pool<Worker, ManualClock>` handles everything that
/// became due (idle evictions, input timeouts, `try_acquire_for`, boot backoff) inside
/// `advance()` / `set()` before they return, so a test reads exact `stats()` right after.
/// Do not call `advance()` while holding a lock that pool callbacks need.
///
/// Thread-safety: all members may be called from any thread. Example:
/// @code
/// warmpool::ManualClock clock;
/// warmpool::Pool<Model, warmpool::ManualClock> pool({}, {}, clock);
/// clock.advance(std::chrono::seconds(60));   // the idle worker is evicted now
/// @endcode
class ManualClock {
 public:
  /// @brief Nanosecond ticks.
  using rep = std::int64_t;
  /// @brief Nanosecond ticks.
  using period = std::nano;
  /// @brief Nanoseconds.
  using duration = std::chrono::nanoseconds;
  /// @brief A point on this clock's time line.
  using time_point = std::chrono::time_point<ManualClock, duration>;
  /// @brief Time never goes backwards.
  static constexpr bool is_steady = true;

  /// @brief A new time line starting at `start` (the epoch by default).
  explicit ManualClock(time_point start = time_point{})
      : state_(std::make_shared<State>(start.time_since_epoch().count())) {}

  /// @brief The current virtual time.
  time_point now() const noexcept {
    return time_point(duration(state_->ticks.load(std::memory_order_acquire)));
  }

  /// @brief Moves time forward by `d` (>= 0) and lets pools on this clock act.
  /// @throws std::invalid_argument when `d` is negative.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    if (d < d.zero()) throw std::invalid_argument("ManualClock::advance: duration must be >= 0");
    const auto ticks = std::chrono::duration_cast<duration>(d).count();
    state_->ticks.fetch_add(ticks, std::memory_order_acq_rel);
    notify();
  }

  /// @brief Sets the time to `t` (not earlier than `now()`) and lets pools act.
  /// @throws std::invalid_argument when `t` is earlier than `now()`.
  void set(time_point t) {
    const rep target = t.time_since_epoch().count();
    rep current = state_->ticks.load(std::memory_order_acquire);
    do {
      if (target < current) throw std::invalid_argument("ManualClock::set: time must not go back");
    } while (!state_->ticks.compare_exchange_weak(current, target, std::memory_order_acq_rel));
    notify();
  }

  /// @brief Registers a listener told after every move (used by `Pool`; held weakly).
  void subscribe(std::weak_ptr<detail::ClockListener> listener) const {
    std::lock_guard lock(state_->mutex);
    std::erase_if(state_->listeners, [](const auto& l) { return l.expired(); });
    state_->listeners.push_back(std::move(listener));
  }

 private:
  struct State {
    explicit State(rep start) : ticks(start) {}
    std::atomic<rep> ticks;
    std::mutex mutex;
    std::vector<std::weak_ptr<detail::ClockListener>> listeners;
  };

  void notify() const {
    std::vector<std::weak_ptr<detail::ClockListener>> listeners;
    {
      std::lock_guard lock(state_->mutex);
      listeners = state_->listeners;
    }
    for (const auto& weak : listeners) {
      if (const auto listener = weak.lock()) listener->on_clock_moved();
    }
  }

  std::shared_ptr<State> state_;
};

}  // namespace warmpool
