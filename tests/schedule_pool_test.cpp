// A Pool following a keep_warm Schedule: the time of day comes from a wall clock that
// moves with the pool's ManualClock, so a whole day passes deterministically.

#include <doctest/doctest.h>

#include <chrono>
#include <optional>

#include "test_support.hpp"

namespace {

using namespace test_support;
using warmpool::ManualClock;
using warmpool::Options;
using warmpool::Schedule;

struct Plain {};

/// 2024-03-04 05:00 UTC plus however far `clock` has been advanced.
warmpool::WallClock wall_clock_of(const ManualClock& clock) {
  using namespace std::chrono;
  const sys_seconds start = sys_days{year{2024} / 3 / 4} + 5h;
  return [clock, start] {
    return system_clock::time_point(start) +
           duration_cast<system_clock::duration>(clock.now().time_since_epoch());
  };
}

Options business_hours(const ManualClock& clock, std::size_t max_workers = 4) {
  Options o = with_max_workers(max_workers);
  o.schedule = Schedule::utc().between("06:00", "18:00", 3).otherwise(0);
  o.wall_clock = wall_clock_of(clock);
  return o;
}

std::size_t warm(const warmpool::Stats& s) { return s.workers_idle + s.workers_busy; }

}  // namespace

TEST_CASE("schedule: min_warm follows the time of day, booting and evicting at boundaries") {
  ManualClock clock;
  TestPool<Plain> pool(business_hours(clock), {}, clock);
  CHECK(pool.keep_warm() == 0);  // 05:00
  CHECK(pool.stats().boots == 0);

  clock.advance(1h - 1s);  // 05:59:59
  CHECK(pool.keep_warm() == 0);
  clock.advance(1s);  // 06:00
  CHECK(pool.keep_warm() == 3);
  CHECK(pool.stats().boots == 3);
  CHECK(eventually([&] { return warm(pool.stats()) == 3; }));

  clock.advance(12h - 1s);  // 17:59:59: idle for hours, but kept by the floor
  CHECK(warm(pool.stats()) == 3);
  clock.advance(1s);  // 18:00: the floor drops; idle far longer than idle_timeout, they go
  CHECK(pool.keep_warm() == 0);
  CHECK(pool.stats().evicted_idle == 3);
}

TEST_CASE("schedule: a manual keep_warm holds until the next scheduled boundary") {
  ManualClock clock;
  TestPool<Plain> pool(business_hours(clock), {}, clock);
  clock.advance(2h);  // 07:00, scheduled 3
  pool.keep_warm(1);
  CHECK(pool.keep_warm() == 1);
  clock.advance(10h);  // 17:00: still the manual value
  CHECK(pool.keep_warm() == 1);
  clock.advance(1h);  // 18:00: the schedule takes over again
  CHECK(pool.keep_warm() == 0);
  clock.advance(12h);  // 06:00 next day
  CHECK(pool.keep_warm() == 3);
}

TEST_CASE("schedule: set at run time, replaced, and removed") {
  ManualClock clock;
  Options o = with_max_workers(4);
  o.wall_clock = wall_clock_of(clock);
  TestPool<Plain> pool(o, {}, clock);
  CHECK_FALSE(pool.schedule().has_value());

  pool.set_schedule(Schedule::utc().between("04:00", "06:00", 2));  // 05:00: inside
  CHECK(pool.keep_warm() == 2);
  REQUIRE(pool.schedule().has_value());
  CHECK(pool.schedule()->min_warm_at(wall_clock_of(clock)()) == 2);

  pool.keep_warm(4);
  pool.set_schedule(Schedule::utc().otherwise(1));  // drops the manual value
  CHECK(pool.keep_warm() == 1);

  pool.set_schedule(std::nullopt);  // min_warm stays; nothing changes at 06:00
  clock.advance(2h);
  CHECK(pool.keep_warm() == 1);
  CHECK_FALSE(pool.schedule().has_value());
}

TEST_CASE("schedule: the scheduled floor is clamped to max_workers and follows its changes") {
  ManualClock clock;
  Options o = business_hours(clock, 2);
  TestPool<Plain> pool(o, {}, clock);
  clock.advance(1h);  // 06:00: scheduled 3, at most 2
  CHECK(pool.keep_warm() == 2);
  pool.update_autoscaler({.max_workers = 4});  // room for the whole scheduled floor
  CHECK(pool.keep_warm() == 3);
  pool.update_autoscaler({.max_workers = 1});  // no complaint about a min_warm never set
  CHECK(pool.keep_warm() == 1);
}

TEST_CASE("schedule: the real clocks work too") {
  Options o = with_max_workers(2);
  o.schedule = Schedule::utc().otherwise(1);
  warmpool::Pool<Plain> pool(o);
  CHECK(pool.keep_warm() == 1);
  CHECK(eventually([&] { return pool.stats().workers_idle == 1; }));
}
