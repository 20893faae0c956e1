// Recycling and health through the threaded body, Pool<Worker, ManualClock> (issue 4,
// item 6): `max_uses`, `max_lifetime` with `lifetime_jitter`, `health_check_after`.
//
// Every duration under test runs on a ManualClock; real time appears only as the
// generous bound of `eventually` / `ready_soon` for work other threads do.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::eventually;
using test_support::Gate;
using test_support::is_ready;
using test_support::Life;
using test_support::ready_soon;
using test_support::TestPool;
using test_support::tracked;
using test_support::Tracked;
using warmpool::ManualClock;
using warmpool::Options;
using warmpool::Stats;

/// A Life whose workers also answer health checks: answers and who asked.
struct Clinic : Life {
  std::atomic<int> sick{-1};              ///< this worker says it is unhealthy
  bool throw_instead = false;             ///< ... by throwing (set before the pool starts)
  std::vector<int> asked;                 ///< workers asked, in order (guarded by `mutex`)
  std::vector<std::thread::id> asked_on;  ///< on which thread

  std::size_t calls() {
    std::lock_guard lock(mutex);
    return asked.size();
  }
};

/// A Tracked worker with `bool healthy()`.
struct Checked : Tracked {
  explicit Checked(Clinic& c) : Tracked(c), clinic(&c) {}
  bool healthy() {
    {
      std::lock_guard lock(clinic->mutex);
      clinic->asked.push_back(id);
      clinic->asked_on.push_back(std::this_thread::get_id());
    }
    if (clinic->sick.load() != id) return true;
    if (clinic->throw_instead) throw std::runtime_error("health check broke");
    return false;
  }
  Clinic* clinic;
};

TestPool<Checked>::Factory checked(Clinic& clinic) {
  return [&clinic] { return std::make_unique<Checked>(clinic); };
}

/// A worker without `healthy()`.
struct NoCheck {
  int value = 0;
};

/// The lifetime the Controller gives worker `id` (see recycling_controller_test.cpp, which
/// pins it): `max_lifetime` less a splitmix64-fixed fraction in [0, jitter) of it.
std::chrono::nanoseconds lifetime_of(std::chrono::milliseconds max_lifetime, double jitter,
                                     std::uint64_t id) {
  std::uint64_t z = id + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  z ^= z >> 31U;
  const double fraction = static_cast<double>(z >> 11U) / 9007199254740992.0;  // 2^53
  const std::chrono::nanoseconds lifetime = max_lifetime;
  return lifetime -
         std::chrono::duration_cast<std::chrono::nanoseconds>(lifetime * (jitter * fraction));
}

void check_accounting(const Stats& s) {
  REQUIRE(s.inputs_pending == 0);
  REQUIRE(s.inputs_running == 0);
  CHECK(s.inputs_submitted == s.inputs_completed + s.inputs_failed + s.inputs_cancelled +
                                  s.inputs_timed_out + s.inputs_closed + s.inputs_lost +
                                  s.inputs_enter_failed);
}

auto worker_id = [](auto& w) { return w.id; };

}  // namespace

// ================================================================== max_uses

TEST_CASE("recycling pool: max_uses 2 sends the third input to a new worker") {
  ManualClock clock;
  Life life;
  Options o;
  o.autoscaler.max_workers = 2;
  o.max_uses = 2;
  {
    TestPool<Tracked> pool(o, tracked(life), clock);
    auto first = pool.submit(worker_id);
    REQUIRE(ready_soon(first));
    CHECK(first.get() == 0);
    auto second = pool.submit(worker_id);
    REQUIRE(ready_soon(second));
    CHECK(second.get() == 0);
    Stats s = pool.stats();  // exact right after get(): worker 0 retired and replaced
    CHECK(s.evictions == 1);
    CHECK(s.boots == 2);
    CHECK(eventually([&] { return life.exited == 1; }));
    CHECK(life.exits() == std::vector<int>{0});

    auto third = pool.submit(worker_id);
    REQUIRE(ready_soon(third));
    CHECK(third.get() == 1);
    s = pool.stats();
    CHECK(s.boots == 2);
    CHECK(s.evictions == 1);
    CHECK(s.inputs_completed == 3);
    CHECK(life.exited == 1);  // exactly once, and only for worker 0
    check_accounting(s);
  }
  CHECK(life.exited == 2);
  CHECK(life.destroyed == 2);
}

TEST_CASE("recycling pool: with max_uses the replacement is warm while the last input runs") {
  ManualClock clock;
  Life life;
  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 2, .idle_timeout = 1h};
  o.max_uses = 2;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  auto first = pool.submit(worker_id);
  REQUIRE(ready_soon(first));
  CHECK(first.get() == 0);

  Gate started;
  Gate release;
  auto last = pool.submit([&](Tracked& w) {
    started.open();
    release.wait();
    return w.id;
  });
  REQUIRE(started.wait());
  // Worker 0 runs its last input; its replacement boots at once and becomes warm.
  CHECK(eventually([&] {
    const Stats s = pool.stats();
    return s.boots == 2 && s.workers_idle == 1 && s.workers_busy == 1 && s.workers_booting == 0;
  }));
  auto during = pool.submit(worker_id);
  REQUIRE(ready_soon(during));
  CHECK(during.get() == 1);  // served at once by the replacement
  CHECK_FALSE(is_ready(last));
  CHECK(pool.stats().cold_inputs == 0);  // no input ever waited for a boot
  CHECK(pool.stats().evictions == 0);    // worker 0 still runs
  // Two inputs run and the retiring worker 0 does not count: a third worker boots.
  CHECK(pool.stats().boots == 3);

  release.open();
  REQUIRE(ready_soon(last));
  CHECK(last.get() == 0);
  CHECK(pool.stats().evictions == 1);  // exact right after get()
  CHECK(eventually([&] {
    const Stats t = pool.stats();
    return t.workers_idle == 2 && t.workers_booting == 0;
  }));
  const Stats s = pool.stats();
  CHECK(s.evictions == 1);
  CHECK(s.boots == 3);
  CHECK(eventually([&] { return life.exited == 1; }));
  CHECK(life.exits() == std::vector<int>{0});
  check_accounting(s);
}

// ============================================================== max_lifetime

TEST_CASE("recycling pool: max_lifetime replaces a min_warm cohort without a capacity dip") {
  ManualClock clock;
  Life life;
  life.hold_from = 2;  // the replacements' enter() waits for the boot gate
  Options o;
  o.autoscaler = {.min_warm = 2, .max_workers = 4, .idle_timeout = 1h};
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  {
    TestPool<Tracked> pool(o, tracked(life), clock);
    REQUIRE(eventually([&] { return pool.stats().workers_idle == 2; }));

    clock.advance(10s - 1ms);
    CHECK(pool.stats().boots == 2);  // not yet

    clock.advance(1ms);  // both are warm since 0: both retire, two replacements boot
    Stats s = pool.stats();
    CHECK(s.boots == 4);
    CHECK(s.workers_booting == 2);
    CHECK(s.workers_idle == 2);  // the retirees, still there
    CHECK(s.evictions == 0);

    // While the replacements boot, an input runs on a retiree at once (not cold).
    auto during = pool.submit(worker_id);
    REQUIRE(ready_soon(during));
    const int ran_on = during.get();
    CHECK((ran_on == 0 || ran_on == 1));
    s = pool.stats();
    CHECK(s.cold_inputs == 0);
    CHECK(s.workers_booting == 2);
    CHECK(s.evictions == 0);
    CHECK(life.exited == 0);

    life.boot_gate.open();
    CHECK(eventually([&] {
      const Stats t = pool.stats();
      return t.evictions == 2 && t.workers_booting == 0 && t.workers_idle == 2;
    }));
    CHECK(eventually([&] { return life.exited == 2; }));
    std::vector<int> exits = life.exits();
    std::sort(exits.begin(), exits.end());
    CHECK(exits == std::vector<int>{0, 1});
    CHECK(pool.stats().boots == 4);

    auto after = pool.submit(worker_id);
    REQUIRE(ready_soon(after));
    const int now_on = after.get();
    CHECK((now_on == 2 || now_on == 3));
    check_accounting(pool.stats());
  }
  CHECK(life.exited == 4);
}

TEST_CASE("recycling pool: an idle worker past its lifetime leaves at once when not needed") {
  ManualClock clock;
  Life life;
  Options o;
  o.autoscaler = {.min_warm = 0, .max_workers = 2, .idle_timeout = 1h};
  o.max_lifetime = 30s;
  o.lifetime_jitter = 0.0;
  TestPool<Tracked> pool(o, tracked(life), clock);
  auto f = pool.submit(worker_id);
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 0);
  clock.advance(30s);
  const Stats s = pool.stats();  // handled inside advance()
  CHECK(s.evictions == 1);
  CHECK(s.workers_idle == 0);
  CHECK(s.boots == 1);
  CHECK(eventually([&] { return life.exited == 1; }));
}

TEST_CASE("recycling pool: lifetime_jitter spreads the retirement of a cohort") {
  constexpr std::chrono::milliseconds max_lifetime = 100s;
  constexpr double jitter = 0.5;
  ManualClock clock;
  Life life;
  Options o;
  o.autoscaler = {.min_warm = 4, .max_workers = 8, .idle_timeout = 24h};
  o.max_lifetime = max_lifetime;
  o.lifetime_jitter = jitter;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 4; }));  // all warm at 0

  // The Controller numbers the first four boots 1..4; their lifetimes are fixed by id.
  std::vector<std::chrono::nanoseconds> lifetimes;
  for (std::uint64_t id = 1; id <= 4; ++id)
    lifetimes.push_back(lifetime_of(max_lifetime, jitter, id));
  std::sort(lifetimes.begin(), lifetimes.end());
  REQUIRE(lifetimes.front() > std::chrono::nanoseconds(max_lifetime) / 2);
  REQUIRE(lifetimes.back() <= std::chrono::nanoseconds(max_lifetime));
  // The hash spreads them (checked here: the steps below assume four distinct values).
  REQUIRE(std::adjacent_find(lifetimes.begin(), lifetimes.end()) == lifetimes.end());

  // Replacements become warm after 50s, so none of them expires before 100s.
  const auto at = [&](std::chrono::nanoseconds t, std::size_t retired) {
    CAPTURE(t.count());
    CAPTURE(retired);
    clock.set(ManualClock::time_point(t));
    CHECK(pool.stats().boots == 4 + retired);  // each retiree's replacement boots at once
    // Every retiree leaves once the serving workers are back to 4.
    CHECK(eventually([&] {
      const Stats s = pool.stats();
      return s.evictions == retired && s.workers_booting == 0 && s.workers_idle == 4;
    }));
    CHECK(eventually([&] { return life.exited == static_cast<int>(retired); }));
  };
  at(std::chrono::nanoseconds(max_lifetime) / 2, 0);  // nobody before max * (1 - jitter)
  at(lifetimes[0] - 1ns, 0);
  at(lifetimes[0], 1);  // not the whole cohort at once
  at((lifetimes[1] + lifetimes[2]) / 2, 2);
  at(lifetimes[3] - 1ns, 3);
  at(std::chrono::nanoseconds(max_lifetime), 4);  // everyone by max_lifetime
}

// ======================================================== health_check_after

TEST_CASE("health pool: an unhealthy idle worker is evicted and the input runs elsewhere") {
  ManualClock clock;
  Clinic clinic;
  SUBCASE("healthy() returns false") {}
  SUBCASE("healthy() throws") { clinic.throw_instead = true; }
  Options o;
  o.autoscaler = {.min_warm = 0, .max_workers = 2, .idle_timeout = 1h};
  o.health_check_after = 5s;
  o.retries = {
      .max_retries = 2, .initial_delay = 0ms, .backoff_coefficient = 1.0, .max_delay = 0ms};
  {
    TestPool<Checked> pool(o, checked(clinic), clock);
    auto first = pool.submit(worker_id);
    REQUIRE(ready_soon(first));
    CHECK(first.get() == 0);
    CHECK(clinic.calls() == 0);  // a worker just warm is not asked

    clock.advance(5s);
    clinic.sick = 0;
    auto second = pool.submit(worker_id);
    REQUIRE(ready_soon(second));
    CHECK(second.get() == 1);  // worker 0 said no: the input ran on a new worker
    {
      std::lock_guard lock(clinic.mutex);
      CHECK(clinic.asked == std::vector<int>{0});
      // Asked on the worker's own thread, not the submitting one.
      CHECK(clinic.asked_on.at(0) != std::this_thread::get_id());
    }
    Stats s = pool.stats();
    CHECK(s.evictions == 1);
    CHECK(s.boots == 2);
    CHECK(s.inputs_completed == 2);
    CHECK(s.inputs_retried == 0);  // the input did not run: no retry, no re-run used
    CHECK(s.inputs_rerun == 0);
    CHECK(s.inputs_failed == 0);
    CHECK(eventually([&] { return clinic.exited == 1; }));
    {
      std::lock_guard lock(clinic.mutex);
      CHECK(clinic.exit_order == std::vector<int>{0});
    }
    check_accounting(s);
  }
  CHECK(clinic.exited == 2);
}

TEST_CASE("health pool: only a worker idle for health_check_after is asked") {
  ManualClock clock;
  Clinic clinic;
  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 1, .idle_timeout = 1h};
  o.health_check_after = 5s;
  TestPool<Checked> pool(o, checked(clinic), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  clock.advance(5s - 1ms);
  auto a = pool.submit(worker_id);
  REQUIRE(ready_soon(a));
  CHECK(a.get() == 0);
  CHECK(clinic.calls() == 0);  // idle for less than 5s

  clock.advance(5s - 1ms);  // idle again since the input ended
  auto b = pool.submit(worker_id);
  REQUIRE(ready_soon(b));
  CHECK(b.get() == 0);
  CHECK(clinic.calls() == 0);

  clock.advance(5s);
  auto c = pool.submit(worker_id);
  REQUIRE(ready_soon(c));
  CHECK(c.get() == 0);  // healthy: the same worker serves
  CHECK(clinic.calls() == 1);

  auto d = pool.submit(worker_id);  // right after: not asked again
  REQUIRE(ready_soon(d));
  CHECK(d.get() == 0);
  CHECK(clinic.calls() == 1);
  const Stats s = pool.stats();
  CHECK(s.boots == 1);
  CHECK(s.evictions == 0);
  check_accounting(s);
}

TEST_CASE("health pool: a burst after an unhealthy check loses no input") {
  ManualClock clock;
  Clinic clinic;
  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 2, .idle_timeout = 1h};
  o.health_check_after = 5s;
  TestPool<Checked> pool(o, checked(clinic), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  clock.advance(1h);
  clinic.sick = 0;

  std::vector<std::future<int>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(pool.submit(worker_id));
  for (auto& f : futures) {
    REQUIRE(ready_soon(f));
    CHECK(f.get() != 0);  // nothing ran on the unhealthy worker
  }
  const Stats s = pool.stats();
  CHECK(s.inputs_completed == 20);
  CHECK(s.evictions == 1);
  CHECK(clinic.calls() == 1);
  check_accounting(s);
  CHECK(eventually([&] { return clinic.exited == 1; }));
}

TEST_CASE("health pool: acquire() checks an idle worker on the acquiring thread") {
  ManualClock clock;
  Clinic clinic;
  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 2, .idle_timeout = 1h};
  o.health_check_after = 5s;
  {
    TestPool<Checked> pool(o, checked(clinic), clock);
    REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
    clock.advance(5s);
    clinic.sick = 0;
    {
      warmpool::Lease<Checked> lease = pool.acquire();
      CHECK(lease->id == 1);  // worker 0 said no: the lease went to its replacement
      {
        std::lock_guard lock(clinic.mutex);
        CHECK(clinic.asked == std::vector<int>{0});
        CHECK(clinic.asked_on.at(0) == std::this_thread::get_id());
      }
      const Stats s = pool.stats();
      CHECK(s.workers_busy == 1);
      CHECK(s.evictions == 1);
      CHECK(s.boots == 2);
    }
    CHECK(eventually([&] { return clinic.exited == 1; }));

    // A healthy answer keeps the worker; try_acquire_for checks too.
    clock.advance(5s);
    {
      std::optional<warmpool::Lease<Checked>> lease = pool.try_acquire_for(1s);
      REQUIRE(lease.has_value());
      CHECK((*lease)->id == 1);
      CHECK(clinic.calls() == 2);
    }
    const Stats s = pool.stats();
    CHECK(s.evictions == 1);
    CHECK(s.inputs_completed == 2);
    CHECK(s.workers_idle == 1);
    check_accounting(s);
  }
  CHECK(clinic.exited == 2);
}

TEST_CASE("health pool: a lease request queued again after a failed check keeps its timeout") {
  ManualClock clock;
  Clinic clinic;
  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 2, .idle_timeout = 1h};
  o.health_check_after = 5s;
  TestPool<Checked> pool(o, checked(clinic), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  clock.advance(5s);
  clinic.sick = 0;
  clinic.hold_from = 1;  // the replacement boots until the gate opens

  auto lease = std::async(std::launch::async, [&] { return pool.try_acquire_for(1s); });
  // Worker 0 failed its check: the request waits again while the replacement boots.
  REQUIRE(eventually([&] {
    const Stats s = pool.stats();
    return s.evictions == 1 && s.workers_booting == 1 && s.inputs_pending == 1;
  }));
  CHECK_FALSE(is_ready(lease));
  clock.advance(1s);  // its timeout, counted from the acquire
  REQUIRE(ready_soon(lease));
  CHECK_FALSE(lease.get().has_value());
  CHECK(pool.stats().inputs_timed_out == 1);

  clinic.boot_gate.open();
  CHECK(eventually([&] {
    const Stats s = pool.stats();
    return s.workers_booting == 0 && s.workers_idle == 1;
  }));
  check_accounting(pool.stats());
}

TEST_CASE("health pool: the constructor refuses health_check_after without healthy()") {
  ManualClock clock;
  Options o;
  o.health_check_after = 1s;
  CHECK_THROWS_AS(TestPool<NoCheck>(o, {}, clock), std::invalid_argument);
  CHECK_THROWS_WITH_AS(TestPool<NoCheck>(o, {}, clock),
                       "health_check_after is set but Worker has no bool healthy()",
                       std::invalid_argument);
  o.health_check_after = -1ms;  // the range comes first, for any Worker
  Clinic clinic;
  CHECK_THROWS_WITH_AS(TestPool<Checked>(o, checked(clinic), clock),
                       "health_check_after (-1ms) must be >= 0ms", std::invalid_argument);
  o.health_check_after.reset();
  CHECK_NOTHROW(TestPool<NoCheck>(o, {}, clock));
  o.max_lifetime = 0ms;
  CHECK_THROWS_WITH_AS(TestPool<NoCheck>(o, {}, clock), "max_lifetime (0ms) must be > 0ms",
                       std::invalid_argument);
  o.max_lifetime.reset();
  o.lifetime_jitter = 2.0;
  CHECK_THROWS_WITH_AS(TestPool<NoCheck>(o, {}, clock),
                       "lifetime_jitter (2.000000) must be in [0, 1]", std::invalid_argument);
}
