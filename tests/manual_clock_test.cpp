// Tests of ManualClock: shared virtual time, and pools that act inside advance().

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::eventually;
using test_support::Gate;
using test_support::is_ready;
using test_support::ready_soon;
using warmpool::ManualClock;

struct Plain {};

ManualClock::time_point at(ManualClock::duration d) { return ManualClock::time_point(d); }

}  // namespace

TEST_CASE("manual clock: starts at the epoch or at the given time") {
  static_assert(std::is_same_v<ManualClock::duration, std::chrono::nanoseconds>);
  static_assert(ManualClock::is_steady);
  const ManualClock clock;
  CHECK(clock.now() == at(0ns));
  const ManualClock later(at(5s));
  CHECK(later.now() == at(5s));
}

TEST_CASE("manual clock: advance moves time by the given amount, in any unit") {
  ManualClock clock;
  clock.advance(1s);
  CHECK(clock.now() == at(1s));
  clock.advance(250ms);
  clock.advance(3us);
  clock.advance(7ns);
  CHECK(clock.now().time_since_epoch() == 1s + 250ms + 3us + 7ns);
  clock.advance(0s);
  CHECK(clock.now().time_since_epoch() == 1s + 250ms + 3us + 7ns);
  clock.advance(std::chrono::duration<double>(0.5));
  CHECK(clock.now().time_since_epoch() == 1750ms + 3us + 7ns);
}

TEST_CASE("manual clock: copies share one time line") {
  ManualClock a;
  ManualClock b = a;
  ManualClock c;
  c = b;
  b.advance(2s);
  CHECK(a.now() == at(2s));
  CHECK(c.now() == at(2s));
  a.set(at(10s));
  CHECK(b.now() == at(10s));
  CHECK(c.now() == at(10s));

  const ManualClock independent;
  CHECK(independent.now() == at(0s));
}

TEST_CASE("manual clock: set moves forward or stays, backwards throws and changes nothing") {
  ManualClock clock;
  clock.set(at(3s));
  CHECK(clock.now() == at(3s));
  clock.set(at(3s));  // same time is fine
  CHECK(clock.now() == at(3s));
  CHECK_THROWS_AS(clock.set(at(3s - 1ns)), std::invalid_argument);
  CHECK(clock.now() == at(3s));
}

TEST_CASE("manual clock: a negative advance throws and changes nothing") {
  ManualClock clock;
  clock.advance(1s);
  CHECK_THROWS_AS(clock.advance(-1ns), std::invalid_argument);
  CHECK_THROWS_AS(clock.advance(std::chrono::duration<double>(-0.1)), std::invalid_argument);
  CHECK(clock.now() == at(1s));
}

TEST_CASE("manual clock: concurrent advances all count") {
  ManualClock clock;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([clock]() mutable {
      for (int i = 0; i < 1000; ++i) clock.advance(1ns);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(clock.now() == at(4000ns));
}

TEST_CASE("manual clock: a pool on a copy acts on advance() and set() of the original") {
  ManualClock clock;
  warmpool::Options o;
  o.autoscaler.max_workers = 1;
  o.autoscaler.idle_timeout = 10s;
  warmpool::Pool<Plain, ManualClock> pool(o, {}, ManualClock(clock));
  auto f = pool.submit([](Plain&) {});
  REQUIRE(ready_soon(f));
  f.get();
  CHECK(pool.stats().workers_idle == 1);

  clock.set(at(10s - 1ns));
  CHECK(pool.stats().evictions == 0);
  clock.set(at(10s));
  CHECK(pool.stats().evictions == 1);  // handled inside set()
}

TEST_CASE("manual clock: every pool on the time line acts inside one advance()") {
  ManualClock clock;
  warmpool::Options o;
  o.autoscaler.max_workers = 1;
  o.autoscaler.idle_timeout = 1s;
  warmpool::Pool<Plain, ManualClock> first(o, {}, clock);
  o.autoscaler.idle_timeout = 2s;
  warmpool::Pool<Plain, ManualClock> second(o, {}, clock);
  auto a = first.submit([](Plain&) {});
  auto b = second.submit([](Plain&) {});
  REQUIRE(ready_soon(a));
  REQUIRE(ready_soon(b));
  a.get();
  b.get();
  clock.advance(1s);
  CHECK(first.stats().evictions == 1);
  CHECK(second.stats().evictions == 0);
  clock.advance(1s);
  CHECK(second.stats().evictions == 1);
}

TEST_CASE("manual clock: the clock outlives its pools") {
  ManualClock clock;
  {
    warmpool::Pool<Plain, ManualClock> pool({}, {}, clock);
    pool.keep_warm(1);
    REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  }
  clock.advance(1h);  // the pool's listener is gone: nothing to call
  CHECK(clock.now() == at(1h));
}

TEST_CASE("manual clock: a callback run inside advance() may advance the clock again") {
  ManualClock clock;
  warmpool::Options o;
  o.autoscaler.max_workers = 1;
  warmpool::Pool<Plain, ManualClock> pool(o, {}, clock);
  Gate started;
  Gate gate;
  auto blocker = pool.submit([&](Plain&) {
    started.open();
    return gate.wait();
  });
  REQUIRE(started.wait());

  // The first input times out inside advance(1s); its callback advances once more,
  // which times out the second input before the outer advance() returns.
  bool first_timed_out = false;
  pool.post([](Plain&) {},
            [&](warmpool::Result<void> r) {
              first_timed_out = !r.ok();
              clock.advance(1s);
            },
            {.timeout = 1s});
  auto second = pool.submit([](Plain&) {}, {.timeout = 2s});
  clock.advance(1s);
  CHECK(first_timed_out);
  CHECK(clock.now() == at(2s));
  CHECK(is_ready(second));
  CHECK_THROWS_AS(second.get(), warmpool::timeout_error);
  CHECK(pool.stats().inputs_timed_out == 2);
  gate.open();
  REQUIRE(ready_soon(blocker));
  CHECK(blocker.get());
}
