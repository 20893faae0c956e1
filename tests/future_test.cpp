// warmpool::Future: a std::future whose get() and wait() spin before they sleep. Its
// results and errors are those of the std::future it wraps, whether they arrive during
// the spin or long after it; it converts to std::future; Pool::submit returns one.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using warmpool::Future;

struct Plain {};

/// Sets `promise` from another thread once the caller is about to wait, well after the
/// caller's spin has given up (the value must still arrive through the sleep).
template <class SetValue>
std::thread set_later(std::atomic<bool>& waiting, SetValue set_value) {
  return std::thread([&waiting, set_value = std::move(set_value)]() mutable {
    while (!waiting.load()) std::this_thread::yield();
    std::this_thread::sleep_for(Future<int>::spin_limit * 1000);
    set_value();
  });
}

}  // namespace

TEST_CASE("future: get returns a value that is ready before it is called") {
  std::promise<std::string> promise;
  Future<std::string> future(promise.get_future());
  promise.set_value("ready");
  CHECK(future.get() == "ready");
  CHECK_FALSE(future.valid());
}

TEST_CASE("future: get waits past its spin for a value set later on another thread") {
  std::chrono::nanoseconds spin{};
  SUBCASE("with the spin submit asks for when a short wait is likely") {
    spin = Future<int>::spin_limit;
  }
  SUBCASE("with no spin") { spin = 0ns; }
  std::promise<int> promise;
  Future<int> future(promise.get_future(), spin);
  std::atomic<bool> waiting{false};
  std::thread setter = set_later(waiting, [&promise] { promise.set_value(42); });
  waiting = true;
  CHECK(future.get() == 42);
  setter.join();
}

TEST_CASE("future: wait returns once the result is there and leaves it to get") {
  std::promise<void> promise;
  Future<void> future(promise.get_future());
  std::atomic<bool> waiting{false};
  std::thread setter = set_later(waiting, [&promise] { promise.set_value(); });
  waiting = true;
  future.wait();
  CHECK(test_support::is_ready(future));
  CHECK(future.valid());
  CHECK_NOTHROW(future.get());
  setter.join();
}

TEST_CASE("future: get rethrows the stored exception") {
  std::promise<int> promise;
  Future<int> future(promise.get_future());
  promise.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  CHECK_THROWS_WITH_AS(future.get(), "boom", std::runtime_error);
}

TEST_CASE("future: an empty future's get fails as std::future's does (libstdc++: no_state)") {
  Future<int> future;
  CHECK_FALSE(future.valid());
  try {
    future.get();
    FAIL("get() on an empty future returned");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
}

TEST_CASE("future: converts to std::future and keeps its result") {
  std::promise<std::unique_ptr<int>> promise;
  std::future<std::unique_ptr<int>> plain = Future<std::unique_ptr<int>>(promise.get_future());
  promise.set_value(std::make_unique<int>(7));
  CHECK(*plain.get() == 7);
}

TEST_CASE("future: a moved-from future is empty and the moved-to one keeps the spin") {
  std::promise<int> promise;
  Future<int> first(promise.get_future(), 5us);
  Future<int> second = std::move(first);
  CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): that is the point
  CHECK(second.spin() == 5us);
  promise.set_value(3);
  CHECK(second.get() == 3);
}

TEST_CASE("future: get returns what std::future<R>::get returns, for any R") {
  static_assert(std::is_same_v<decltype(std::declval<Future<void>&>().get()), void>);
  static_assert(std::is_same_v<decltype(std::declval<Future<int&>&>().get()), int&>);
  static_assert(std::is_same_v<decltype(std::declval<Future<std::unique_ptr<int>>&>().get()),
                               std::unique_ptr<int>>);
  int cell = 1;
  std::promise<int&> promise;
  Future<int&> future(promise.get_future());
  promise.set_value(cell);
  CHECK(&future.get() == &cell);
}

TEST_CASE("future: Pool::submit returns a Future, usable as a std::future") {
  warmpool::Pool<Plain> pool;
  auto future = pool.submit([](Plain&) { return 5; });
  static_assert(std::is_same_v<decltype(future), Future<int>>);
  static_assert(std::is_base_of_v<std::future<int>, decltype(future)>);
  CHECK(future.get() == 5);
  std::future<int> plain = pool.submit([](Plain&) { return 6; });
  CHECK(plain.get() == 6);
}

// ------------------------------------------------------------ when submit asks for a spin

namespace {

/// A pool of at most one worker.
warmpool::Options one_worker() {
  warmpool::Options o;
  o.autoscaler.max_workers = 1;
  return o;
}

}  // namespace

TEST_CASE("future: an input that waits for a boot gets no spin") {
  warmpool::Pool<Plain> pool(one_worker());
  Future<int> cold = pool.submit([](Plain&) { return 1; });
  CHECK(cold.spin() == 0ns);
  CHECK(cold.get() == 1);
}

TEST_CASE("future: an input queued behind a busy worker gets no spin") {
  warmpool::Pool<Plain> pool(one_worker());
  test_support::Gate started;
  test_support::Gate gate;
  auto blocker = test_support::submit_blocker(pool, started, gate);
  REQUIRE(started.wait());
  Future<int> queued = pool.submit([](Plain&) { return 2; });
  CHECK(queued.spin() == 0ns);
  gate.open();
  CHECK(blocker.get());
  CHECK(queued.get() == 2);
}

TEST_CASE(
    "future: an input handed to an awake serving thread gets the spin, whatever a "
    "submit nested in the meantime gets") {
  // The outer submit runs in a post's callback, on the only worker's serving thread: the
  // worker is free and its thread awake. While the outer submit carries out its start, a
  // listener submits again; that inner input queues behind the outer one, which runs
  // until the inner one is in. (Another thread may be delivering events just then; the
  // listener then runs there, not nested, and the checks still hold.)
  std::atomic<int> started{0};  // the post's input starts first, the outer one second
  warmpool::Pool<Plain>* pool_of_listener = nullptr;
  std::optional<Future<int>> inner;
  std::promise<void> inner_submitted;
  const std::shared_future<void> inner_in = inner_submitted.get_future().share();
  warmpool::Options o = one_worker();
  o.on_event = [&](const warmpool::Event& event) {
    if (event.kind == warmpool::EventKind::input_started && ++started == 2) {
      inner.emplace(pool_of_listener->submit([](Plain&) { return 4; }));
      inner_submitted.set_value();
    }
  };
  warmpool::Pool<Plain> pool(o);
  pool_of_listener = &pool;
  std::optional<Future<int>> outer;
  std::promise<void> submitted;
  pool.post([](Plain&) {},
            [&](warmpool::Result<void>&&) {
              outer.emplace(pool.submit([&](Plain&) {
                (void)test_support::ready_soon(inner_in);
                return 3;
              }));
              submitted.set_value();
            });
  REQUIRE(test_support::ready_soon(submitted.get_future()));
  REQUIRE(test_support::ready_soon(inner_in));
  REQUIRE(outer.has_value());
  REQUIRE(inner.has_value());
  CHECK(outer->spin() == Future<int>::spin_limit);
  CHECK(inner->spin() == 0ns);
  CHECK(outer->get() == 3);
  CHECK(inner->get() == 4);
}
