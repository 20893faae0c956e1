#pragma once
// Internals: a mutex that spins briefly before it sleeps, and a bounded spin-wait.
//
// The pool's own critical sections last a few hundred nanoseconds; sleeping in the
// kernel on a contended std::mutex (and waking from it) costs microseconds. Spinning a
// little first keeps the warm path out of the kernel; spinning is bounded, so an idle
// pool still uses no CPU.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace warmpool::detail {

/// The cache line size assumed for keeping hot atomics of different threads apart.
inline constexpr std::size_t cache_line = 64;

/// Tells the CPU this is a spin-wait loop (frees the core's resources for a sibling).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Every this many rounds, a spin-wait yields its core instead of pausing.
inline constexpr std::uint32_t rounds_per_yield = 64;

/// Round `round` (from 1) of a spin-wait: a pause, or now and then a yield of the core,
/// so a thread the spinner waits for can run on a busy machine.
inline void spin_round(std::uint32_t round) noexcept {
  if (round % rounds_per_yield == 0) {
    std::this_thread::yield();
  } else {
    cpu_relax();
  }
}

/// Spins until `ready()` holds or about `limit` has passed. Returns `ready()`.
template <class Ready>
bool spin_until(Ready&& ready, std::chrono::nanoseconds limit) noexcept {
  if (ready()) return true;  // no clock read when there is nothing to wait for
  using clock = std::chrono::steady_clock;
  const clock::time_point give_up = clock::now() + limit;
  for (std::uint32_t round = 1;; ++round) {
    if (ready()) return true;
    if (round % rounds_per_yield == 0 && clock::now() >= give_up) return ready();
    spin_round(round);
  }
}

/// A mutex (BasicLockable, Lockable) that spins briefly, then sleeps on a futex-backed
/// `std::atomic::wait`. States: 0 free, 1 locked, 2 locked and someone may sleep.
class SpinMutex {
 public:
  SpinMutex() = default;
  SpinMutex(const SpinMutex&) = delete;
  SpinMutex& operator=(const SpinMutex&) = delete;
  ~SpinMutex() = default;

  void lock() noexcept {
    if (try_lock()) return;
    for (int i = 0; i < spins; ++i) {
      cpu_relax();
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
    }
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      state_.wait(2, std::memory_order_relaxed);
    }
  }

  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  static constexpr int spins = 200;
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace warmpool::detail
