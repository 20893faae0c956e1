#pragma once
// Helpers shared by the threaded-body tests (pool, manual clock, settings).
//
// Rules they serve: every duration under test runs on a ManualClock; real time is
// used only as a generous upper bound ("eventually") for work other threads do.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>

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
inline int live_threads() {
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
