#pragma once
// Internals: a wake-up signal with no lost wake-ups and a lock of its own.
//
// The pool's housekeeper and shutdown waiters sleep on this instead of a condition
// variable on the pool's lock: waiting on that lock would release it inside the wait,
// where the pool cannot re-check its intake of queued inputs (see intake.hpp).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace warmpool::detail {

/// Waiters read `generation()` before checking their condition, then wait for a newer
/// one: a `notify_all()` between the two is never missed.
class Signal {
 public:
  using Generation = std::uint64_t;

  Generation generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
  }

  void notify_all() {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
    }
    changed_.notify_all();
  }

  /// Waits until a notification after `seen`.
  void wait(Generation seen) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return generation_ != seen; });
  }

  /// Waits until a notification after `seen` or until `timeout` has passed.
  template <class Rep, class Period>
  void wait_for(Generation seen, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return generation_ != seen; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Generation generation_ = 0;
};

}  // namespace warmpool::detail
