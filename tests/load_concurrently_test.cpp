// Tests of warmpool::load_concurrently: results in order, real concurrency, waiting for
// every loader before rethrowing the first failure, the stop token, and thread-start
// failures. Loaders meet through bounded waits (real time is only an upper bound), so a
// broken implementation fails a check instead of hanging.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include <warmpool/load_concurrently.hpp>

namespace {

using namespace std::chrono_literals;
using warmpool::load_concurrently;

/// The real-time bound for anything other threads must do "soon".
constexpr auto bound = 10s;

/// Lets `parties` loaders wait until all of them are running at once. Waits are bounded:
/// loaders run one after another would each give up after `bound` and report false.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}

  /// Arrives and waits for the others; true when all arrived within the bound.
  bool arrive_and_wait() {
    std::unique_lock lock(mutex_);
    ++arrived_;
    all_arrived_.notify_all();
    return all_arrived_.wait_for(lock, bound, [this] { return arrived_ >= parties_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  int parties_;
  int arrived_ = 0;
};

/// Waits until `stop` is stopped; false if the bound passed first.
bool stopped_soon(const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  stopped.wait_for(lock, stop, bound, [] { return false; });
  return stop.stop_requested();
}

/// The message of the exception `call` throws, or "" when it returns.
template <class Call>
std::string failure_of(Call&& call) {
  try {
    std::forward<Call>(call)();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

/// A move-only result that counts its live instances.
class Counted {
 public:
  explicit Counted(std::atomic<int>& live, int value) : live_(&live), value_(value) { ++live; }
  Counted(Counted&& other) noexcept : live_(other.live_), value_(other.value_) { ++*live_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { --*live_; }
  int value() const { return value_; }

 private:
  std::atomic<int>* live_;
  int value_;
};

/// Starts no thread at all: every start fails as when the system is out of threads.
struct NoThreads {
  template <class Task>
  std::jthread operator()(Task /*task*/) const {
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
  }
};

/// Starts threads normally except the `fail_at`-th one (counting from 0).
struct FailOneStart {
  std::size_t fail_at;
  std::shared_ptr<std::size_t> starts = std::make_shared<std::size_t>(0);

  template <class Task>
  std::jthread operator()(Task task) const {
    if ((*starts)++ == fail_at)
      throw std::system_error(std::make_error_code(std::errc::no_space_on_device));
    return std::jthread(std::move(task));
  }
};

}  // namespace

TEST_CASE("load_concurrently returns every result in argument order, void as nothing") {
  int void_calls = 0;
  auto [number, text, pointer, none] =
      load_concurrently([] { return 42; }, [] { return std::string("weights"); },
                        [] { return std::make_unique<int>(7); }, [&void_calls] { ++void_calls; });

  static_assert(std::is_same_v<decltype(number), int>);
  static_assert(std::is_same_v<decltype(text), std::string>);
  static_assert(std::is_same_v<decltype(pointer), std::unique_ptr<int>>);
  static_assert(std::is_same_v<decltype(none), warmpool::nothing>);
  CHECK(number == 42);
  CHECK(text == "weights");
  REQUIRE(pointer != nullptr);
  CHECK(*pointer == 7);
  CHECK(none == warmpool::nothing{});
  CHECK(void_calls == 1);
}

TEST_CASE("load_concurrently copies a returned reference and forwards each loader as passed") {
  const std::string kept = "vocabulary";
  struct CountsCalls {  // not copyable: only a reference to it can be used
    int calls = 0;
    CountsCalls() = default;
    CountsCalls(const CountsCalls&) = delete;
    CountsCalls& operator=(const CountsCalls&) = delete;
    int operator()() & { return ++calls; }
  };
  struct RvalueOnly {
    int operator()() && { return 5; }
  };
  CountsCalls counter;

  auto [copy, count, once] =
      load_concurrently([&kept]() -> const std::string& { return kept; }, counter, RvalueOnly{});

  static_assert(std::is_same_v<decltype(copy), std::string>);
  CHECK(copy == "vocabulary");
  CHECK(&copy != &kept);
  CHECK(count == 1);
  CHECK(counter.calls == 1);  // the caller's object was invoked, exactly once
  CHECK(once == 5);
}

TEST_CASE("load_concurrently runs all loaders at the same time, the first on the caller") {
  constexpr int loaders = 3;
  Rendezvous all_running(loaders);
  auto meet = [&all_running] {
    const bool met = all_running.arrive_and_wait();
    return std::pair(met, std::this_thread::get_id());
  };

  auto [a, b, c] = load_concurrently(meet, meet, meet);

  CHECK(a.first);  // each one saw all three running at once
  CHECK(b.first);
  CHECK(c.first);
  CHECK(a.second == std::this_thread::get_id());
  CHECK(b.second != a.second);
  CHECK(c.second != a.second);
  CHECK(c.second != b.second);
}

TEST_CASE("load_concurrently runs a single loader on the calling thread") {
  auto [id] = load_concurrently([] { return std::this_thread::get_id(); });
  CHECK(id == std::this_thread::get_id());
}

TEST_CASE("load_concurrently rethrows a failure only after every loader has finished") {
  std::atomic<int> calls{0};
  std::atomic<bool> slow_done{false};

  const std::string error = failure_of([&] {
    load_concurrently(
        [&calls] {
          ++calls;
          throw std::runtime_error("encoder file missing");
        },
        [&](const std::stop_token& stop) {
          ++calls;
          stopped_soon(stop);                 // returns only once the failure above is recorded,
          std::this_thread::sleep_for(20ms);  // and then still takes a while
          slow_done = true;
          return 1;
        },
        [&calls] { return ++calls; });
  });

  CHECK(error == "encoder file missing");
  CHECK(slow_done);  // the slow loader's side effect is visible after the throw
  CHECK(calls == 3);
}

TEST_CASE("load_concurrently rethrows the failure that happened first, not the first loader's") {
  // The first loader (on the calling thread) fails only after the third one's failure
  // was recorded, so the third one's is first in time.
  const std::string error = failure_of([] {
    load_concurrently(
        [](const std::stop_token& stop) {
          const bool was_stopped = stopped_soon(stop);
          throw std::runtime_error(was_stopped ? "second in time" : "no failure was recorded");
        },
        [] { return 1; }, [] { throw std::runtime_error("first in time"); });
  });
  CHECK(error == "first in time");

  // And the other way round: the last loader waits for the first one's failure.
  const std::string reversed = failure_of([] {
    load_concurrently([] { throw std::runtime_error("first in time"); },
                      [](const std::stop_token& stop) {
                        stopped_soon(stop);
                        throw std::runtime_error("second in time");
                      });
  });
  CHECK(reversed == "first in time");
}

TEST_CASE("load_concurrently stops the loaders' token at the first failure, and only then") {
  std::stop_token seen;
  bool stopped_in_time = false;

  const std::string error = failure_of([&] {
    load_concurrently(
        [&](std::stop_token stop) {
          stopped_in_time = stopped_soon(stop);  // without a stop, this waits out the bound
          seen = std::move(stop);
          return std::string("partial");
        },
        [] { throw std::runtime_error("tokenizer corrupt"); });
  });

  CHECK(error == "tokenizer corrupt");
  CHECK(stopped_in_time);
  CHECK(seen.stop_requested());

  std::stop_token after_success;
  bool stoppable = false;
  load_concurrently(
      [&](std::stop_token stop) {
        stoppable = stop.stop_possible();
        after_success = std::move(stop);
      },
      [] { return 1; });
  CHECK(stoppable);
  CHECK_FALSE(after_success.stop_requested());
}

TEST_CASE("load_concurrently destroys the results of the others when one loader fails") {
  std::atomic<int> live{0};

  SUBCASE("on failure nothing leaks") {
    const std::string error = failure_of([&live] {
      load_concurrently([&live] { return Counted(live, 1); },
                        [&live] { return std::make_unique<Counted>(live, 2); },
                        [] { throw std::runtime_error("out of memory"); });
    });
    CHECK(error == "out of memory");
    CHECK(live == 0);
  }
  SUBCASE("on success move-only results are moved out, not copied") {
    {
      auto [first, second] = load_concurrently([&live] { return Counted(live, 1); },
                                               [&live] { return Counted(live, 2); });
      CHECK(first.value() == 1);
      CHECK(second.value() == 2);
      CHECK(live == 2);
    }
    CHECK(live == 0);
  }
}

TEST_CASE("load_concurrently runs a loader whose thread cannot start on the calling thread") {
  const auto caller = std::this_thread::get_id();
  auto where = [] { return std::this_thread::get_id(); };

  SUBCASE("no thread starts") {
    auto [a, b, c] = warmpool::detail::load_concurrently_with(NoThreads{}, where, where, where);
    CHECK(a == caller);
    CHECK(b == caller);
    CHECK(c == caller);
  }
  SUBCASE("one of two threads fails to start; the other still runs concurrently") {
    Rendezvous two(2);
    auto meet = [&two] { return std::pair(two.arrive_and_wait(), std::this_thread::get_id()); };
    auto [a, b, c] =
        warmpool::detail::load_concurrently_with(FailOneStart{.fail_at = 0}, meet, where, meet);
    CHECK(a.first);  // the first and the third met while running at once
    CHECK(c.first);
    CHECK(a.second == caller);
    CHECK(b == caller);  // its thread failed to start: it ran on the caller, after the first
    CHECK(c.second != caller);
  }
  SUBCASE("a failure is still rethrown") {
    const std::string error = failure_of([] {
      warmpool::detail::load_concurrently_with(
          NoThreads{}, [] { return 1; }, [] { throw std::runtime_error("disk error"); });
    });
    CHECK(error == "disk error");
  }
}
