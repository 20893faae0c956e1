#pragma once
// Helpers shared by the threaded-body tests (pool, recycling, reliability, manual clock,
// settings, chaos).
//
// Rules they serve: every duration under test runs on a ManualClock; real time is
// used only as a generous upper bound ("eventually") for work other threads do.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <warmpool/warmpool.hpp>

namespace test_support {

using namespace std::chrono_literals;

/// The real-time bound for anything another thread must do "soon".
inline constexpr std::chrono::seconds bound{10};

/// Polls `pred` with short sleeps until it holds or `limit` (real time) passes.
/// Returns the final value of `pred`, so `CHECK(eventually(...))` fails at the bound.
template <class Pred>
bool eventually(Pred&& pred, std::chrono::steady_clock::duration limit = bound) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

/// True when the future already holds its result (no waiting).
template <class Future>
bool is_ready(const Future& f) {
  return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

/// True when the future holds its result within the real-time bound.
template <class Future>
bool ready_soon(const Future& f) {
  return f.wait_for(bound) == std::future_status::ready;
}

/// The exception a future ended with, or null when it holds a value.
///
/// Keep the pointer in a variable that outlives the pool before reading the exception
/// (its what(), a nested exception): a worker thread may drop its own references to
/// the exception concurrently, and ThreadSanitizer cannot see libstdc++'s (not
/// instrumented) exception reference count, so if a worker freed the exception after
/// the test read it, TSan would report a false race. Outliving the pool makes the test
/// thread the one that frees it.
template <class Future>
std::exception_ptr error_of(Future& f) {
  try {
    f.get();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

/// A one-shot event: inputs wait for the test to open it, or the test waits for an
/// input to open it (waits are bounded, so a failed test cannot hang forever).
class Gate {
 public:
  void open() {
    std::call_once(once_, [this] { promise_.set_value(); });
  }
  /// Waits until opened; false if the bound passed first.
  bool wait() const { return future_.wait_for(bound) == std::future_status::ready; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
  std::once_flag once_;
};

/// A pool on virtual time.
template <class Worker>
using TestPool = warmpool::Pool<Worker, warmpool::ManualClock>;

/// Options with only `autoscaler.max_workers` changed.
inline warmpool::Options with_max_workers(std::size_t max_workers) {
  warmpool::Options o;
  o.autoscaler.max_workers = max_workers;
  return o;
}

/// Submits an input that reports when it started and then waits for `gate`.
template <class Pool>
auto submit_blocker(Pool& pool, Gate& started, Gate& gate) {
  return pool.submit([&started, &gate](auto&) {
    started.open();
    return gate.wait();
  });
}

/// Counts what happens to the workers of one pool. Worker ids count from 0 in the order
/// the factory ran.
struct Life {
  std::atomic<int> constructed{0};
  std::atomic<int> entered{0};
  std::atomic<int> exited{0};
  std::atomic<int> destroyed{0};
  /// Workers numbered at least this wait in enter() for `boot_gate` (-1: none waits).
  std::atomic<int> hold_from{-1};
  Gate boot_gate;
  std::mutex mutex;
  std::vector<int> exit_order;  // worker ids, in the order their exit() ran

  std::vector<int> exits() {
    std::lock_guard lock(mutex);
    return exit_order;
  }
};

/// A worker with enter/exit hooks that reports to a Life.
struct Tracked {
  explicit Tracked(Life& l) : life(&l), id(l.constructed++) {}
  ~Tracked() { ++life->destroyed; }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  void enter() {
    ++life->entered;
    const int from = life->hold_from.load();
    if (from >= 0 && id >= from) life->boot_gate.wait();
  }
  void exit() {
    std::lock_guard lock(life->mutex);
    life->exit_order.push_back(id);
    ++life->exited;
  }
  Life* life;
  int id;
  int value = 0;
};

/// A factory of Tracked workers reporting to `life`.
inline TestPool<Tracked>::Factory tracked(Life& life) {
  return [&life] { return std::make_unique<Tracked>(life); };
}

/// True when `error` holds an `E`. Reads nothing of the exception (only its type), so it
/// is safe on exceptions another thread may still release (see error_of).
template <class E>
bool holds(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
  }
  return false;
}

/// The number of threads of this process (Linux: /proc/self/status), or -1 if unknown.
/// A joined thread may stay listed for a moment, so compare with `eventually`.
/// Threads of this process, or -1 when unknown: no /proc, or ThreadSanitizer, whose
/// runtime starts a background thread of its own at a time of its choosing.
inline int live_threads() {
#if defined(__SANITIZE_THREAD__)
  return -1;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return -1;
#endif
#endif
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int n = -1;
      status >> n;
      return n;
    }
  }
  return -1;
}

/// Runs `fn` on its own thread and waits for it up to `limit` (real time). A call that
/// does not return by then is a deadlock: the test binary aborts instead of hanging.
template <class Fn>
void finishes_within(Fn&& fn, std::chrono::steady_clock::duration limit = bound) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread runner([&fn, &done] {
    fn();
    done.set_value();
  });
  if (finished.wait_for(limit) != std::future_status::ready) {
    std::fputs("finishes_within: the call did not return in time (deadlock?)\n", stderr);
    std::abort();
  }
  runner.join();
}

}  // namespace test_support
