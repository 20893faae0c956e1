// warmpool::Future: a std::future whose get() and wait() spin before they sleep. Its
// results and errors are those of the std::future it wraps, whether they arrive during
// the spin or long after it; it converts to std::future; Pool::submit returns one.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using warmpool::Future;

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

TEST_CASE("future: without a shared state, get and wait report no_state as std::future does") {
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

TEST_CASE("future: Pool::submit returns a Future, usable as a std::future") {
  struct Plain {};
  warmpool::Pool<Plain> pool;
  auto future = pool.submit([](Plain&) { return 5; });
  static_assert(std::is_same_v<decltype(future), Future<int>>);
  static_assert(std::is_base_of_v<std::future<int>, decltype(future)>);
  CHECK(future.get() == 5);
  std::future<int> plain = pool.submit([](Plain&) { return 6; });
  CHECK(plain.get() == 6);
}
