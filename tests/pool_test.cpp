// Tests of the threaded body, Pool<Worker, Clock>: lifecycle rules as seen through
// real worker threads. Every duration under test runs on a ManualClock; real time
// appears only as the generous bound of `eventually` / `ready_soon`.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::error_of;
using test_support::eventually;
using test_support::Gate;
using test_support::holds;
using test_support::is_ready;
using test_support::Life;
using test_support::ready_soon;
using test_support::submit_blocker;
using test_support::TestPool;
using test_support::tracked;
using test_support::Tracked;
using test_support::with_max_workers;
using warmpool::Drain;
using warmpool::ManualClock;
using warmpool::Options;

/// A worker with no hooks.
struct Plain {
  int value = 0;
};

/// A pool of one worker on virtual time, kept busy by an input that waits for `gate`:
/// what comes next waits for it. The gate opens at the latest when the fixture ends.
struct OneBusyWorker {
  OneBusyWorker() { REQUIRE(started.wait()); }
  ~OneBusyWorker() { gate.open(); }  // the pool's destructor waits for the busy input
  OneBusyWorker(const OneBusyWorker&) = delete;
  OneBusyWorker& operator=(const OneBusyWorker&) = delete;

  ManualClock clock;
  Gate started;
  Gate gate;
  TestPool<Plain> pool{with_max_workers(1), {}, clock};
  std::future<bool> blocker = submit_blocker(pool, started, gate);  // true once let go
};

template <class E, class Future>
bool fails_with(Future& f) {
  return holds<E>(error_of(f));
}

}  // namespace

// ------------------------------------------------------------------ warm reuse

TEST_CASE("pool: the first input boots one worker, the next one reuses it warm") {
  ManualClock clock;
  Life life;
  TestPool<Tracked> pool(with_max_workers(2), tracked(life), clock);
  CHECK(pool.stats().boots == 0);

  auto first = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(first));
  CHECK(first.get() == 0);
  warmpool::Stats s = pool.stats();  // exact right after get()
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs == 1);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_running == 0);
  CHECK(s.workers_idle == 1);
  CHECK(s.workers_busy == 0);
  CHECK(s.workers_booting == 0);

  auto second = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(second));
  CHECK(second.get() == 0);  // the same Worker object
  s = pool.stats();
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs == 1);
  CHECK(s.inputs_completed == 2);
  CHECK(s.workers_idle == 1);
  CHECK(life.constructed == 1);

  // Repeated, so that a future completed before the counters moved would show.
  int inexact = 0;
  for (std::uint64_t n = 3; n <= 300; ++n) {
    auto f = pool.submit([](Tracked& w) { return w.id; });
    if (!ready_soon(f) || f.get() != 0) {
      ++inexact;
      break;
    }
    s = pool.stats();
    if (s.inputs_completed != n || s.workers_idle != 1 || s.inputs_running != 0 || s.boots != 1) {
      ++inexact;
    }
  }
  CHECK(inexact == 0);
}

TEST_CASE("pool: the default clock and factory work") {
  warmpool::Pool<Plain> pool;
  auto f = pool.submit([](Plain& w) { return ++w.value; });
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1);
  CHECK(pool.stats().boots == 1);
}

// ------------------------------------------------------------------ keep_warm

namespace {

/// Each enter() arrives at a latch of 3 and waits (bounded) for all three: sequential
/// boots would never see three arrivals, so the wait runs out and enter throws.
struct Rendezvous {
  struct Meeting {
    std::latch arrived{3};
    std::atomic<int> gave_up{0};
  };
  explicit Rendezvous(Meeting& m) : meeting(&m) {}
  void enter() {
    meeting->arrived.count_down();
    if (!eventually([this] { return meeting->arrived.try_wait(); })) {
      ++meeting->gave_up;
      throw std::runtime_error("boots ran one after another");
    }
  }
  Meeting* meeting;
};

}  // namespace

TEST_CASE("pool: keep_warm(3) with no inputs boots 3 workers in parallel") {
  ManualClock clock;
  Rendezvous::Meeting meeting;
  TestPool<Rendezvous> pool(
      with_max_workers(3), [&meeting] { return std::make_unique<Rendezvous>(meeting); }, clock);
  CHECK(pool.stats().boots == 0);

  pool.keep_warm(3);
  CHECK(pool.keep_warm() == 3);
  const warmpool::Stats booting = pool.stats();
  CHECK(booting.boots == 3);
  CHECK(booting.target_workers == 3);
  CHECK(booting.workers_booting + booting.workers_idle == 3);

  CHECK(eventually([&] { return pool.stats().workers_idle == 3; }));
  CHECK(meeting.gave_up == 0);
  const warmpool::Stats warm = pool.stats();
  CHECK(warm.boot_failures == 0);
  CHECK(warm.boots == 3);
  CHECK(warm.inputs_submitted == 0);
}

// ------------------------------------------------------------------ idle eviction

TEST_CASE("pool: an idle worker is evicted at idle_timeout, not a tick before") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.idle_timeout = 10s;
  TestPool<Tracked> pool(o, tracked(life), clock);

  auto f = pool.submit([](Tracked&) {});
  REQUIRE(ready_soon(f));
  f.get();
  CHECK(pool.stats().workers_idle == 1);

  clock.advance(10s - 1ns);
  warmpool::Stats s = pool.stats();
  CHECK(s.evictions == 0);
  CHECK(s.workers_idle == 1);

  clock.advance(1ns);
  s = pool.stats();  // exact right after advance() returns
  CHECK(s.evictions == 1);
  CHECK(s.workers_idle == 0);
  CHECK(s.workers_busy == 0);
  CHECK(s.workers_booting == 0);
  CHECK(eventually([&] { return life.exited == 1; }));
  CHECK(eventually([&] { return life.destroyed == 1; }));

  // The next input is cold again.
  auto g = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(g));
  CHECK(g.get() == 1);
  CHECK(pool.stats().boots == 2);
  CHECK(pool.stats().cold_inputs == 2);
}

TEST_CASE("pool: the min_warm floor is never evicted however far the clock moves") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(3);
  o.autoscaler.min_warm = 2;
  o.autoscaler.idle_timeout = 1s;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 2; }));

  clock.advance(std::chrono::hours(24 * 365));
  CHECK(pool.stats().evictions == 0);
  CHECK(pool.stats().workers_idle == 2);

  auto f = pool.submit([](Tracked&) {});
  REQUIRE(ready_soon(f));
  f.get();
  clock.advance(std::chrono::hours(1));
  const warmpool::Stats s = pool.stats();
  CHECK(s.evictions == 0);
  CHECK(s.workers_idle == 2);
  CHECK(s.boots == 2);
  CHECK(life.exited == 0);
}

TEST_CASE("pool: lowering keep_warm evicts nothing early, then each worker at its timeout") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.min_warm = 2;
  o.autoscaler.idle_timeout = 10s;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 2; }));  // idle since t=0

  clock.advance(4s);  // t=4s: one worker runs an input and is idle since t=4s
  auto f = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(f));
  const int recent = f.get();

  clock.advance(1s);  // t=5s
  pool.keep_warm(0);
  CHECK(pool.keep_warm() == 0);
  warmpool::Stats s = pool.stats();
  CHECK(s.target_workers == 0);
  CHECK(s.evictions == 0);
  CHECK(s.workers_idle == 2);

  clock.advance(5s - 1ns);  // t=10s-1ns
  CHECK(pool.stats().evictions == 0);
  clock.advance(1ns);  // t=10s: the worker idle since t=0
  s = pool.stats();
  CHECK(s.evictions == 1);
  CHECK(s.workers_idle == 1);
  REQUIRE(eventually([&] { return life.exited == 1; }));
  {
    std::lock_guard lock(life.mutex);
    CHECK(life.exit_order.at(0) != recent);  // least recently used first
  }

  clock.advance(4s - 1ns);  // t=14s-1ns
  CHECK(pool.stats().evictions == 1);
  clock.advance(1ns);  // t=14s: the worker idle since t=4s
  s = pool.stats();
  CHECK(s.evictions == 2);
  CHECK(s.workers_idle == 0);
  REQUIRE(eventually([&] { return life.exited == 2; }));
  std::lock_guard lock(life.mutex);
  CHECK(life.exit_order.at(1) == recent);
}

TEST_CASE("pool: raising keep_warm boots the difference at once") {
  ManualClock clock;
  TestPool<Plain> pool(with_max_workers(4), {}, clock);
  pool.keep_warm(1);
  CHECK(pool.stats().boots == 1);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  pool.keep_warm(3);
  CHECK(pool.stats().boots == 3);
  CHECK(eventually([&] { return pool.stats().workers_idle == 3; }));
}

TEST_CASE("pool: lowering max_workers evicts surplus idle workers at once") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(3);
  o.autoscaler.min_warm = 3;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 3; }));

  const warmpool::Autoscaler now = pool.update_autoscaler({.min_warm = 1, .max_workers = 1});
  CHECK(now.max_workers == 1);
  CHECK(now.min_warm == 1);
  const warmpool::Stats s = pool.stats();
  CHECK(s.evictions == 2);
  CHECK(s.workers_idle == 1);
  CHECK(eventually([&] { return life.exited == 2; }));
}

// ------------------------------------------------------------------ buffer

TEST_CASE("pool: buffer workers exist only while inputs are active") {
  ManualClock clock;
  Options o = with_max_workers(4);
  o.autoscaler.min_warm = 1;
  o.autoscaler.buffer = 2;
  o.autoscaler.idle_timeout = 10s;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  CHECK(pool.stats().boots == 1);  // no buffer while nothing is active

  Gate started;
  Gate gate;
  auto f = submit_blocker(pool, started, gate);
  warmpool::Stats s = pool.stats();
  CHECK(s.boots == 3);  // 1 running + 2 buffer
  CHECK(s.target_workers == 3);
  CHECK(s.cold_inputs == 0);  // the warm floor worker took it
  REQUIRE(started.wait());
  REQUIRE(eventually([&] {
    const warmpool::Stats t = pool.stats();
    return t.workers_idle == 2 && t.workers_busy == 1;
  }));

  clock.advance(100s);  // the buffer stays while the input runs
  CHECK(pool.stats().evictions == 0);
  CHECK(pool.stats().workers_idle == 2);

  gate.open();
  REQUIRE(ready_soon(f));
  CHECK(f.get());
  // The buffer workers have been idle for 100s > idle_timeout: they go at once.
  s = pool.stats();
  CHECK(s.target_workers == 1);
  CHECK(s.evictions == 2);
  CHECK(s.workers_idle == 1);
  CHECK(s.workers_booting + s.workers_busy == 0);

  // Second round: the new buffer goes after idle_timeout, not before.
  Gate started2;
  Gate gate2;
  auto g = submit_blocker(pool, started2, gate2);
  CHECK(pool.stats().boots == 5);
  REQUIRE(started2.wait());
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 2; }));
  gate2.open();
  REQUIRE(ready_soon(g));
  g.get();
  CHECK(pool.stats().workers_idle == 3);
  clock.advance(10s - 1ns);
  CHECK(pool.stats().evictions == 2);
  clock.advance(1ns);
  s = pool.stats();
  CHECK(s.evictions == 4);
  CHECK(s.workers_idle == 1);
}

// ------------------------------------------------------------------ max_workers / queue

TEST_CASE("pool: max_workers caps the pool and the rest queue in submission order") {
  OneBusyWorker busy;

  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::future<void>> queued;
  for (int i = 1; i <= 6; ++i) {
    queued.push_back(busy.pool.submit([&, i](Plain&) {
      std::lock_guard lock(mutex);
      order.push_back(i);
    }));
  }
  warmpool::Stats s = busy.pool.stats();
  CHECK(s.inputs_pending == 6);
  CHECK(s.inputs_running == 1);
  CHECK(s.boots == 1);
  CHECK(s.workers_booting == 0);

  busy.gate.open();
  for (auto& f : queued) {
    REQUIRE(ready_soon(f));
    f.get();
  }
  CHECK(order == std::vector<int>{1, 2, 3, 4, 5, 6});
  s = busy.pool.stats();
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs == 1);
  CHECK(s.inputs_completed == 7);
}

TEST_CASE("pool: an input goes to the most recently idle worker") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.min_warm = 2;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 2; }));
  Gate started_a, gate_a, started_b, gate_b;
  auto run_until = [](Gate& started, Gate& gate) {
    return [&started, &gate](Tracked& w) {
      started.open();
      return gate.wait() ? w.id : -1;
    };
  };
  auto a = pool.submit(run_until(started_a, gate_a));
  auto b = pool.submit(run_until(started_b, gate_b));
  REQUIRE(started_a.wait());
  REQUIRE(started_b.wait());
  gate_b.open();  // b's worker goes idle first ...
  REQUIRE(ready_soon(b));
  const int first_idle = b.get();
  gate_a.open();  // ... then a's
  REQUIRE(ready_soon(a));
  const int last_idle = a.get();
  REQUIRE(first_idle != last_idle);
  auto c = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(c));
  CHECK(c.get() == last_idle);
}

TEST_CASE("pool: a burst boots no more workers than needed") {
  ManualClock clock;
  TestPool<Plain> pool(with_max_workers(8), {}, clock);
  Gate gate;
  std::vector<std::future<bool>> fs;
  for (int i = 0; i < 3; ++i) fs.push_back(pool.submit([&gate](Plain&) { return gate.wait(); }));
  CHECK(pool.stats().boots == 3);
  gate.open();
  for (auto& f : fs) {
    REQUIRE(ready_soon(f));
    CHECK(f.get());
  }
  CHECK(pool.stats().boots == 3);
}

// ------------------------------------------------------------------ hooks

namespace {

struct HookLog {
  std::mutex mutex;
  std::vector<std::string> events;
  std::vector<std::thread::id> threads;
  void add(std::string event) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(event));
    threads.push_back(std::this_thread::get_id());
  }
};

struct Hooked {
  explicit Hooked(HookLog& l) : log(&l) { log->add("construct"); }
  void enter_snapshot() { log->add("enter_snapshot"); }
  void enter() { log->add("enter"); }
  void exit() { log->add("exit"); }
  HookLog* log;
};

}  // namespace

TEST_CASE("pool: hooks run in order on the worker's own thread") {
  ManualClock clock;
  HookLog log;
  Options o = with_max_workers(1);
  o.enter_hooks = {[&log] { log.add("enter_hook_1"); }, [&log] { log.add("enter_hook_2"); }};
  o.exit_hooks = {[&log] { log.add("exit_hook_1"); }, [&log] { log.add("exit_hook_2"); }};
  {
    TestPool<Hooked> pool(
        o, [&log] { return std::make_unique<Hooked>(log); }, clock);
    auto f = pool.submit([](Hooked& w) { w.log->add("input"); });
    REQUIRE(ready_soon(f));
    f.get();
  }  // shutdown: exit hooks
  const std::vector<std::string> expected{"construct",    "enter_snapshot", "enter",
                                          "enter_hook_1", "enter_hook_2",   "input",
                                          "exit",         "exit_hook_1",    "exit_hook_2"};
  CHECK(log.events == expected);
  REQUIRE(log.threads.size() == expected.size());
  const std::thread::id worker_thread = log.threads.front();
  CHECK(worker_thread != std::this_thread::get_id());
  for (const std::thread::id id : log.threads) CHECK(id == worker_thread);
}

TEST_CASE("pool: exit runs exactly once per warm worker, on eviction and on shutdown") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(3);
  o.autoscaler.min_warm = 3;
  o.autoscaler.idle_timeout = 5s;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 3; }));

  pool.keep_warm(1);
  clock.advance(5s);
  CHECK(pool.stats().evictions == 2);
  CHECK(eventually([&] { return life.exited == 2; }));

  pool.shutdown();
  // shutdown() returns once every worker is gone: the exit hook already ran.
  CHECK(life.exited == 3);
  CHECK(life.destroyed == 3);
  CHECK(life.entered == 3);
  CHECK(pool.stats().boots == 3);
  CHECK(pool.stats().evictions == 3);
  std::lock_guard lock(life.mutex);
  std::vector<int> ids = life.exit_order;
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<int>{0, 1, 2});
}

namespace {

/// The first worker's enter() throws; later ones boot fine.
struct FirstEnterThrows {
  explicit FirstEnterThrows(Life& l) : life(&l), id(l.constructed++) {}
  void enter() {
    if (id == 0) throw std::runtime_error("first boot fails");
    ++life->entered;
  }
  void exit() { ++life->exited; }
  Life* life;
  int id;
};

}  // namespace

TEST_CASE("pool: exit never runs for a worker whose enter threw") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  o.boot_backoff.initial_delay = 1s;
  {
    TestPool<FirstEnterThrows> pool(
        o, [&life] { return std::make_unique<FirstEnterThrows>(life); }, clock);
    REQUIRE(eventually([&] { return pool.stats().boot_failures == 1; }));
    CHECK(pool.stats().boots == 1);
    clock.advance(1s);  // backoff over: boot again
    CHECK(pool.stats().boots == 2);
    REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
    CHECK(life.exited == 0);
  }
  CHECK(life.constructed == 2);
  CHECK(life.entered == 1);
  CHECK(life.exited == 1);
}

TEST_CASE("pool: an exit hook that throws is counted and the worker still goes") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  o.exit_hooks = {[] { throw std::runtime_error("exit failed"); }};
  std::atomic<int> second_hook{0};
  o.exit_hooks.push_back([&second_hook] { ++second_hook; });
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  pool.shutdown();
  CHECK(pool.stats().exit_failures == 1);
  CHECK(second_hook == 1);
}

// ------------------------------------------------------------------ input outcomes

TEST_CASE("pool: an input's exception reaches its future and the worker stays warm") {
  ManualClock clock;
  Life life;
  std::exception_ptr error;  // outlives the pool (see error_of)
  TestPool<Tracked> pool(with_max_workers(2), tracked(life), clock);
  auto f = pool.submit([](Tracked&) -> int { throw std::domain_error("boom"); });
  REQUIRE(ready_soon(f));
  error = error_of(f);
  CHECK_THROWS_WITH_AS(std::rethrow_exception(error), "boom", std::domain_error);
  warmpool::Stats s = pool.stats();
  CHECK(s.inputs_failed == 1);
  CHECK(s.inputs_completed == 0);
  CHECK(s.workers_idle == 1);
  CHECK(s.evictions == 0);

  auto g = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(g));
  CHECK(g.get() == 0);
  s = pool.stats();
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs == 1);
  CHECK(s.inputs_failed == 1);
  CHECK(s.inputs_completed == 1);
  CHECK(life.exited == 0);
}

TEST_CASE("pool: move-only results travel through the future") {
  ManualClock clock;
  TestPool<Plain> pool(with_max_workers(1), {}, clock);
  auto f = pool.submit([](Plain&) { return std::make_unique<int>(7); });
  REQUIRE(ready_soon(f));
  CHECK(*f.get() == 7);
}

TEST_CASE("pool: post calls done exactly once with the value or the error") {
  ManualClock clock;
  std::atomic<int> calls_value{0};
  std::atomic<int> calls_error{0};
  std::atomic<int> calls_void{0};
  std::atomic<int> calls_void_error{0};
  std::promise<warmpool::Result<int>> value_p;
  std::promise<warmpool::Result<int>> error_p;
  std::promise<warmpool::Result<void>> void_p;
  std::promise<warmpool::Result<void>> void_error_p;
  auto value_f = value_p.get_future();
  auto error_f = error_p.get_future();
  auto void_f = void_p.get_future();
  auto void_error_f = void_error_p.get_future();
  {
    TestPool<Plain> pool(with_max_workers(2), {}, clock);
    pool.post([](Plain&) { return 42; },
              [&](warmpool::Result<int> r) {
                ++calls_value;
                value_p.set_value(std::move(r));
              });
    pool.post([](Plain&) -> int { throw std::logic_error("bad"); },
              [&](warmpool::Result<int> r) {
                ++calls_error;
                error_p.set_value(std::move(r));
              });
    pool.post([](Plain&) {},
              [&](warmpool::Result<void> r) {
                ++calls_void;
                void_p.set_value(std::move(r));
              });
    pool.post([](Plain&) { throw std::logic_error("void bad"); },
              [&](warmpool::Result<void> r) {
                ++calls_void_error;
                void_error_p.set_value(std::move(r));
              });
    REQUIRE(ready_soon(value_f));
    REQUIRE(ready_soon(error_f));
    REQUIRE(ready_soon(void_f));
    REQUIRE(ready_soon(void_error_f));
    const warmpool::Stats s = pool.stats();  // done ran after the counters moved
    CHECK(s.inputs_completed == 2);
    CHECK(s.inputs_failed == 2);
  }  // pool gone: no late second call possible

  warmpool::Result<int> value = value_f.get();
  CHECK(value.ok());
  CHECK(value.value() == 42);
  CHECK(!value.error());

  warmpool::Result<int> error = error_f.get();
  CHECK(!error.ok());
  CHECK(error.error());
  CHECK_THROWS_WITH_AS(error.value(), "bad", std::logic_error);

  warmpool::Result<void> done = void_f.get();
  CHECK(done.ok());
  CHECK_NOTHROW(done.value());

  warmpool::Result<void> failed = void_error_f.get();
  CHECK(!failed.ok());
  CHECK_THROWS_WITH_AS(failed.value(), "void bad", std::logic_error);

  CHECK(calls_value == 1);
  CHECK(calls_error == 1);
  CHECK(calls_void == 1);
  CHECK(calls_void_error == 1);
}

TEST_CASE("pool: inputs posted from many threads at once all run without a later call") {
  // While one thread holds the pool's lock, `post` leaves its input to that thread. If
  // one were left behind, it would wait for the next call to the pool: none comes here
  // until every callback has run.
  ManualClock clock;
  Options o = with_max_workers(2);
  o.autoscaler.min_warm = 2;
  o.max_pending = std::size_t{1} << 20;
  TestPool<Plain> pool(o, {}, clock);
  constexpr int producers = 4;
  constexpr int per_producer = 5'000;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_producer; ++i) {
        pool.post([](Plain&) {},
                  [&done](warmpool::Result<void>&& r) {
                    if (r.ok()) ++done;
                  });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(eventually([&] { return done == producers * per_producer; }));
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_submitted == producers * per_producer);
  CHECK(s.inputs_completed == producers * per_producer);
}

TEST_CASE("pool: a post while the only worker finishes its input is never left waiting") {
  // Regression: a post that came as the only worker ended its input, and found it busy,
  // could be held back after the worker had looked for held inputs, then wait for the
  // next call to the pool. The gap between the two posts varies to hit every moment.
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  const auto spin = [](int rounds) {
    std::atomic<int> round{0};
    while (round.fetch_add(1, std::memory_order_relaxed) < rounds) {
    }
  };
  std::atomic<int> ended{0};
  const auto count = [&ended](warmpool::Result<void>&& r) {
    if (r.ok()) ++ended;
  };
  const auto both_ended = [&ended] {
    const auto deadline = std::chrono::steady_clock::now() + test_support::bound;
    while (ended != 2) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::yield();
    }
    return true;
  };
  constexpr int trials = 20'000;
  int left_waiting = 0;
  for (int trial = 0; trial < trials && left_waiting == 0; ++trial) {
    ended = 0;
    pool.post([&spin](Plain&) { spin(50); }, count);
    spin(trial % 300);
    pool.post([](Plain&) {}, count);
    if (!both_ended()) ++left_waiting;
  }
  CHECK(left_waiting == 0);
}

TEST_CASE("pool: a post to a saturated pool runs when the running input ends") {
  // With every worker busy and none to boot, `post` only queues the input: the end of a
  // running input admits it. No other call to the pool comes in between here.
  OneBusyWorker busy;
  std::promise<int> ran;
  busy.pool.post([](Plain&) { return 7; },
                 [&ran](warmpool::Result<int>&& r) { ran.set_value(r.ok() ? r.value() : -1); });
  busy.gate.open();
  auto value = ran.get_future();
  REQUIRE(ready_soon(value));
  CHECK(value.get() == 7);
  CHECK(busy.blocker.get());
}

TEST_CASE("pool: a post to a saturated pool shows in stats() at once") {
  OneBusyWorker busy;
  busy.pool.post([](Plain&) {}, [](warmpool::Result<void>&&) {});
  const warmpool::Stats s = busy.pool.stats();
  CHECK(s.inputs_submitted == 2);
  CHECK(s.inputs_pending == 1);
  busy.gate.open();
  CHECK(busy.blocker.get());
}

TEST_CASE("pool: a post with a timeout to a saturated pool times out with no other call") {
  // Its deadline needs a timer at once, so it is admitted at once: nothing else ends it
  // while the only worker stays busy.
  warmpool::Pool<Plain> pool(with_max_workers(1));
  Gate started;
  Gate gate;
  auto blocker = submit_blocker(pool, started, gate);
  REQUIRE(started.wait());
  std::promise<std::exception_ptr> ended;
  pool.post([](Plain&) {}, [&ended](warmpool::Result<void>&& r) { ended.set_value(r.error()); },
            {.timeout = 1ms});
  auto error = ended.get_future();
  REQUIRE(ready_soon(error));
  CHECK(holds<warmpool::timeout_error>(error.get()));
  gate.open();
  CHECK(blocker.get());  // the gate outlives its waiter
}

TEST_CASE("pool: a backlog posted to a saturated pool runs in the order it was posted") {
  // The backlog is held back and admitted as workers free up; a post with a timeout (and
  // a submit) admits everything held before it, so neither jumps the queue.
  OneBusyWorker busy;
  std::mutex order_mutex;
  std::vector<int> order;  // appended by the only worker, read once all have run
  const auto record = [&order, &order_mutex](int n) {
    return [&order, &order_mutex, n](Plain&) {
      std::lock_guard lock(order_mutex);
      order.push_back(n);
    };
  };
  std::atomic<int> ended{0};
  const auto count = [&ended](warmpool::Result<void>&& r) {
    if (r.ok()) ++ended;
  };
  constexpr int backlog = 1'000;
  for (int n = 0; n < backlog; ++n) {
    if (n == backlog / 2) {
      busy.pool.post(record(n), count, {.timeout = std::chrono::hours(1)});
    } else if (n == backlog / 4) {
      busy.pool.submit(record(n));
      ++ended;  // counted here: the future is dropped
    } else {
      busy.pool.post(record(n), count);
    }
  }
  busy.gate.open();
  CHECK(eventually([&] { return ended == backlog; }));
  std::vector<int> expected(backlog);
  std::iota(expected.begin(), expected.end(), 0);
  std::lock_guard lock(order_mutex);
  CHECK(order == expected);
  CHECK(busy.blocker.get());
}

// ------------------------------------------------------------------ SubmitOptions

TEST_CASE("pool: an input not started within its timeout fails with timeout_error") {
  OneBusyWorker busy;

  auto late = busy.pool.submit([](Plain&) { return 1; }, {.timeout = 5s});
  auto patient = busy.pool.submit([](Plain&) { return 2; }, {.timeout = 10s});
  CHECK(busy.pool.stats().inputs_pending == 2);

  busy.clock.advance(5s - 1ms);
  CHECK_FALSE(is_ready(late));
  CHECK(busy.pool.stats().inputs_timed_out == 0);
  CHECK(busy.pool.stats().inputs_pending == 2);

  busy.clock.advance(1ms);
  CHECK(is_ready(late));  // failed inside advance()
  CHECK(fails_with<warmpool::timeout_error>(late));
  warmpool::Stats s = busy.pool.stats();
  CHECK(s.inputs_timed_out == 1);
  CHECK(s.inputs_pending == 1);

  busy.gate.open();  // `patient` starts in time
  REQUIRE(ready_soon(patient));
  CHECK(patient.get() == 2);
  REQUIRE(ready_soon(busy.blocker));
  CHECK(busy.blocker.get());
  s = busy.pool.stats();
  CHECK(s.inputs_timed_out == 1);
  CHECK(s.inputs_completed == 2);
}

TEST_CASE("pool: a stop token cancels a pending input with cancelled") {
  OneBusyWorker busy;

  std::stop_source stop;
  std::atomic<bool> ran{false};
  auto f = busy.pool.submit([&ran](Plain&) { ran = true; }, {.stop = stop.get_token()});
  CHECK(busy.pool.stats().inputs_pending == 1);
  stop.request_stop();
  CHECK(is_ready(f));  // failed inside request_stop()
  CHECK(fails_with<warmpool::cancelled>(f));
  warmpool::Stats s = busy.pool.stats();
  CHECK(s.inputs_cancelled == 1);
  CHECK(s.inputs_pending == 0);

  // A token stopped before submit: accepted, counted, failed at once.
  auto g = busy.pool.submit([&ran](Plain&) { ran = true; }, {.stop = stop.get_token()});
  CHECK(is_ready(g));
  CHECK(fails_with<warmpool::cancelled>(g));
  s = busy.pool.stats();
  CHECK(s.inputs_cancelled == 2);
  CHECK(s.inputs_submitted == 3);

  busy.gate.open();
  REQUIRE(ready_soon(busy.blocker));
  busy.blocker.get();
  CHECK_FALSE(ran);
}

TEST_CASE("pool: a function taking (Worker&, std::stop_token) receives the token") {
  ManualClock clock;
  TestPool<Plain> pool(with_max_workers(1), {}, clock);
  std::stop_source stop;
  Gate started;
  auto f = pool.submit(
      [&started](Plain&, std::stop_token token) {
        Gate seen;
        std::stop_callback on_stop(token, [&seen] { seen.open(); });
        started.open();
        return seen.wait();
      },
      {.stop = stop.get_token()});
  REQUIRE(started.wait());
  stop.request_stop();  // a running input is not cancelled: it sees the request
  REQUIRE(ready_soon(f));
  CHECK(f.get());
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_cancelled == 0);
}

TEST_CASE("pool: max_pending refuses more with queue_full, through submit and post") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.max_pending = 2;
  TestPool<Plain> pool(o, {}, clock);
  Gate started;
  Gate gate;
  auto blocker = submit_blocker(pool, started, gate);
  REQUIRE(started.wait());  // running, not pending

  auto a = pool.submit([](Plain&) { return 1; });
  auto b = pool.submit([](Plain&) { return 2; });
  CHECK(pool.stats().inputs_pending == 2);
  CHECK_THROWS_AS(pool.submit([](Plain&) { return 3; }), warmpool::queue_full);

  int calls = 0;
  bool was_queue_full = false;
  pool.post([](Plain&) { return 4; },
            [&](warmpool::Result<int> r) {
              ++calls;
              try {
                r.value();
              } catch (const warmpool::queue_full&) {
                was_queue_full = true;
              } catch (...) {
              }
            });
  CHECK(calls == 1);  // reported at once, on the caller's thread
  CHECK(was_queue_full);

  warmpool::Stats s = pool.stats();
  CHECK(s.inputs_rejected == 2);
  CHECK(s.inputs_submitted == 3);
  CHECK(s.inputs_pending == 2);

  gate.open();
  REQUIRE(ready_soon(a));
  REQUIRE(ready_soon(b));
  CHECK(a.get() == 1);
  CHECK(b.get() == 2);
  CHECK(calls == 1);
}

// ------------------------------------------------------------------ shutdown

TEST_CASE("pool: shutdown(Drain::finish) runs the pending inputs") {
  OneBusyWorker busy;
  std::vector<std::future<int>> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(busy.pool.submit([i](Plain&) { return i; }));

  std::thread closer([&] { busy.pool.shutdown(Drain::finish); });
  // Once submit is refused, the shutdown has begun with all of them still pending
  // (probes accepted before that are pending too).
  std::size_t probes = 0;
  CHECK(eventually([&] {
    try {
      busy.pool.submit([](Plain&) { return -1; });
      ++probes;
      return false;
    } catch (const warmpool::pool_closed&) {
      return true;
    }
  }));
  CHECK(busy.pool.stats().inputs_pending == 3 + probes);
  busy.gate.open();
  closer.join();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(is_ready(pending[i]));
    CHECK(pending[i].get() == i);
  }
  const warmpool::Stats s = busy.pool.stats();
  CHECK(s.inputs_closed == 0);
  CHECK(s.workers_idle + s.workers_busy + s.workers_booting == 0);
  CHECK_THROWS_AS(busy.pool.submit([](Plain&) { return 0; }), warmpool::pool_closed);
}

TEST_CASE("pool: shutdown(Drain::cancel) fails pending inputs with pool_closed") {
  ManualClock clock;
  Life life;
  TestPool<Tracked> pool(with_max_workers(1), tracked(life), clock);
  Gate started;
  Gate gate;
  auto blocker = submit_blocker(pool, started, gate);
  REQUIRE(started.wait());
  std::atomic<int> ran{0};
  std::vector<std::future<void>> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(pool.submit([&ran](Tracked&) { ++ran; }));

  std::thread closer([&] { pool.shutdown(Drain::cancel); });
  for (auto& f : pending) {
    REQUIRE(ready_soon(f));  // failed before the running input ends
    CHECK(fails_with<warmpool::pool_closed>(f));
  }
  CHECK_FALSE(is_ready(blocker));
  gate.open();  // the running input still finishes
  closer.join();
  REQUIRE(is_ready(blocker));
  CHECK(blocker.get());
  CHECK(ran == 0);
  CHECK(life.exited == 1);
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_closed == 3);
  CHECK(s.inputs_completed == 1);
  CHECK_THROWS_AS(pool.submit([](Tracked&) {}), warmpool::pool_closed);

  bool closed_reported = false;
  pool.post([](Tracked&) {},
            [&](warmpool::Result<void> r) {
              try {
                r.value();
              } catch (const warmpool::pool_closed&) {
                closed_reported = true;
              } catch (...) {
              }
            });
  CHECK(closed_reported);
  CHECK(pool.stats().inputs_rejected == 2);
}

TEST_CASE("pool: the destructor drains like shutdown(Drain::finish)") {
  ManualClock clock;
  Life life;
  Gate started;
  Gate gate;
  std::vector<std::future<int>> pending;
  std::future<bool> blocker;
  std::thread releaser;
  {
    TestPool<Tracked> pool(with_max_workers(1), tracked(life), clock);
    blocker = submit_blocker(pool, started, gate);
    REQUIRE(started.wait());
    for (int i = 0; i < 3; ++i) pending.push_back(pool.submit([i](Tracked&) { return i; }));
    // Opens the gate only once the destructor has closed the pool (submit refused).
    releaser = std::thread([&pool, &gate] {
      eventually([&pool] {
        try {
          pool.submit([](Tracked&) { return -1; });
          return false;
        } catch (const warmpool::pool_closed&) {
          return true;
        }
      });
      gate.open();
    });
  }
  releaser.join();
  CHECK(blocker.get());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(is_ready(pending[i]));
    CHECK(pending[i].get() == i);
  }
  CHECK(life.exited == 1);
  CHECK(life.destroyed == 1);
}

TEST_CASE("pool: shutdown from inside an input does not deadlock") {
  ManualClock clock;
  Life life;
  TestPool<Tracked> pool(with_max_workers(1), tracked(life), clock);
  auto f = pool.submit([&pool](Tracked&) {
    pool.shutdown();
    return 1;
  });
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1);
  CHECK_THROWS_AS(pool.submit([](Tracked&) {}), warmpool::pool_closed);
  pool.shutdown();  // from outside: waits until every worker is gone
  CHECK(life.exited == 1);
  const warmpool::Stats s = pool.stats();
  CHECK(s.workers_idle + s.workers_busy + s.workers_booting == 0);
}

TEST_CASE("pool: shutdown from a completion callback run by the housekeeper does not deadlock") {
  // With a real clock, timeouts are noticed by the pool's housekeeper thread, which
  // then runs `done`; calling shutdown() there must not wait for (or join) itself.
  Options o = with_max_workers(1);
  warmpool::Pool<Plain> pool(o);
  Gate started;
  Gate gate;
  auto blocker = submit_blocker(pool, started, gate);
  REQUIRE(started.wait());
  Gate done_returned;
  std::atomic<bool> timed_out{false};
  pool.post([](Plain&) {},
            [&](warmpool::Result<void> r) {
              timed_out = !r.ok();
              pool.shutdown();
              done_returned.open();
            },
            {.timeout = 1ms});
  CHECK(done_returned.wait());
  CHECK(timed_out);
  gate.open();
  REQUIRE(ready_soon(blocker));
  CHECK(blocker.get());
}

// ------------------------------------------------------------------ leases

TEST_CASE("pool: a lease holds a warm worker and gives it back on destruction") {
  static_assert(!std::is_copy_constructible_v<warmpool::Lease<Tracked>>);
  static_assert(!std::is_copy_assignable_v<warmpool::Lease<Tracked>>);
  static_assert(std::is_nothrow_move_constructible_v<warmpool::Lease<Tracked>>);
  static_assert(std::is_nothrow_move_assignable_v<warmpool::Lease<Tracked>>);

  ManualClock clock;
  Life life;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  std::future<int> queued;
  {
    warmpool::Lease<Tracked> lease = pool.acquire();
    REQUIRE(lease);
    warmpool::Stats s = pool.stats();
    CHECK(s.workers_busy == 1);
    CHECK(s.workers_idle == 0);
    CHECK(s.inputs_running == 1);
    lease->value = 5;
    CHECK((*lease).id == 0);

    queued = pool.submit([](Tracked& w) { return w.value; });
    CHECK(pool.stats().inputs_pending == 1);
    CHECK_FALSE(is_ready(queued));

    warmpool::Lease<Tracked> moved = std::move(lease);
    CHECK_FALSE(lease);  // NOLINT(bugprone-use-after-move): moved-from is empty
    CHECK(lease.get() == nullptr);
    CHECK(moved);
    CHECK(moved->value == 5);
    CHECK(pool.stats().inputs_running == 1);
  }  // the lease ends: the queued input runs on that worker
  REQUIRE(ready_soon(queued));
  CHECK(queued.get() == 5);
  const warmpool::Stats s = pool.stats();
  CHECK(s.workers_idle == 1);
  CHECK(s.inputs_running == 0);
  CHECK(s.boots == 1);
  CHECK(s.inputs_completed == 2);  // the lease and the input
}

TEST_CASE("pool: discard() evicts the leased worker and keep_warm boots a replacement") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.min_warm = 1;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  warmpool::Lease<Tracked> lease = pool.acquire();
  CHECK(lease->id == 0);
  lease.discard();
  CHECK_FALSE(lease);
  warmpool::Stats s = pool.stats();
  CHECK(s.evictions == 1);
  CHECK(s.boots == 2);
  CHECK(s.inputs_completed == 1);  // the lease ended; only its worker was broken
  CHECK(s.inputs_lost == 0);
  CHECK(s.inputs_running == 0);
  CHECK(eventually([&] { return life.exited == 1; }));
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  auto f = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1);
  pool.shutdown();
  CHECK(life.exited == 2);
}

TEST_CASE("pool: try_acquire_for gives up after its timeout on the pool's clock") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  warmpool::Lease<Plain> held = pool.acquire();

  std::atomic<bool> too_early{false};
  std::thread advancer([&] {
    if (!eventually([&] { return pool.stats().inputs_pending == 1; })) return;
    clock.advance(5s - 1ms);
    too_early = pool.stats().inputs_pending != 1 || pool.stats().inputs_timed_out != 0;
    clock.advance(1ms);
  });
  std::optional<warmpool::Lease<Plain>> got = pool.try_acquire_for(5s);
  advancer.join();
  CHECK_FALSE(got.has_value());
  CHECK_FALSE(too_early);
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_timed_out == 1);
  CHECK(s.inputs_pending == 0);
  CHECK(s.workers_busy == 1);
}

TEST_CASE("pool: try_acquire_for takes a free worker without waiting") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  std::optional<warmpool::Lease<Plain>> got = pool.try_acquire_for(5s);
  CHECK(got.has_value());
  CHECK(pool.stats().workers_busy == 1);
}

TEST_CASE("pool: acquire fails with pool_closed when shutdown(Drain::cancel) comes first") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  warmpool::Lease<Plain> held = pool.acquire();
  std::thread closer([&pool] {
    if (eventually([&pool] { return pool.stats().inputs_pending == 1; })) {
      pool.shutdown(Drain::cancel);  // returns once `held` has ended
    }
  });
  std::exception_ptr error;
  try {
    pool.acquire();
  } catch (...) {
    error = std::current_exception();
  }
  CHECK(holds<warmpool::pool_closed>(error));
  { const warmpool::Lease<Plain> ending = std::move(held); }
  closer.join();
  CHECK(pool.stats().inputs_closed == 1);
}

TEST_CASE("pool: try_acquire_for returns a lease when one frees in time") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  TestPool<Plain> pool(o, {}, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  warmpool::Lease<Plain> held = pool.acquire();
  Plain* const worker = held.get();

  std::thread giver([&pool, &clock, lease = std::move(held)]() mutable {
    if (!eventually([&] { return pool.stats().inputs_pending == 1; })) return;
    clock.advance(4s);  // 1s left of the 5s
    const warmpool::Lease<Plain> ending = std::move(lease);
  });
  std::optional<warmpool::Lease<Plain>> got = pool.try_acquire_for(5s);
  giver.join();
  REQUIRE(got.has_value());
  CHECK(got->get() == worker);
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_timed_out == 0);
  CHECK(s.workers_busy == 1);
  CHECK(s.inputs_completed == 1);
}

// ------------------------------------------------------------------ max_inputs

TEST_CASE("pool: max_inputs = 2 runs two inputs concurrently on one worker") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.max_inputs = 2;
  TestPool<Tracked> pool(o, tracked(life), clock);
  std::latch both(2);  // each input waits (bounded) until both are running
  auto meet = [&both](Tracked& w) {
    both.count_down();
    return eventually([&both] { return both.try_wait(); }) ? w.id : -1;
  };
  auto a = pool.submit(meet);
  auto b = pool.submit(meet);
  CHECK(pool.stats().boots == 1);
  REQUIRE(ready_soon(a));
  REQUIRE(ready_soon(b));
  CHECK(a.get() == 0);
  CHECK(b.get() == 0);
  const warmpool::Stats s = pool.stats();
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs >= 1);  // the second is cold too unless the boot beat its submit
  CHECK(s.workers_idle == 1);
  CHECK(life.constructed == 1);
}

// ------------------------------------------------------------------ failures

namespace {

struct BrokenEnter {
  explicit BrokenEnter(std::atomic<int>& e) : exits(&e) {}
  void enter() { throw std::runtime_error("no gpu"); }
  void exit() { ++*exits; }
  std::atomic<int>* exits;
};

}  // namespace

TEST_CASE("pool: a throwing enter is retried after backoff, then pending inputs fail") {
  ManualClock clock;
  std::atomic<int> exits{0};
  std::exception_ptr error;  // outlives the pool (see error_of)
  Options o = with_max_workers(1);
  o.boot_backoff = {.initial_delay = 100ms, .max_delay = 1s, .multiplier = 2.0};
  o.max_boot_failures = 3;
  TestPool<BrokenEnter> pool(
      o, [&exits] { return std::make_unique<BrokenEnter>(exits); }, clock);
  auto f = pool.submit([](BrokenEnter&) { return 1; });
  CHECK(pool.stats().boots == 1);

  REQUIRE(eventually([&] { return pool.stats().boot_failures == 1; }));
  clock.advance(99ms);
  CHECK(pool.stats().boots == 1);  // backoff: 100ms
  clock.advance(1ms);
  CHECK(pool.stats().boots == 2);

  REQUIRE(eventually([&] { return pool.stats().boot_failures == 2; }));
  clock.advance(199ms);
  CHECK(pool.stats().boots == 2);  // backoff: 200ms
  CHECK_FALSE(is_ready(f));
  clock.advance(1ms);
  CHECK(pool.stats().boots == 3);

  REQUIRE(ready_soon(f));  // the third failure fails the pending input
  error = error_of(f);
  bool nested_found = false;
  try {
    std::rethrow_exception(error);
  } catch (const warmpool::enter_failed& e) {
    try {
      std::rethrow_if_nested(e);
    } catch (const std::runtime_error& inner) {
      nested_found = std::string(inner.what()) == "no gpu";
    }
  }
  CHECK(nested_found);
  warmpool::Stats s = pool.stats();
  CHECK(s.boot_failures == 3);
  CHECK(s.inputs_enter_failed == 1);
  CHECK(s.inputs_pending == 0);
  CHECK(s.evictions == 0);

  clock.advance(1h);  // nothing pending, no floor: no more boots
  CHECK(pool.stats().boots == 3);
  pool.shutdown();
  CHECK(exits == 0);
}

TEST_CASE("pool: a factory that throws or returns null is a failed boot") {
  ManualClock clock;
  std::exception_ptr first_error;  // both outlive the pool (see error_of)
  std::exception_ptr second_error;
  Options o = with_max_workers(1);
  o.max_boot_failures = 1;
  std::atomic<int> calls{0};
  TestPool<Plain> pool(
      o,
      [&calls]() -> std::unique_ptr<Plain> {
        if (++calls == 1) throw std::runtime_error("factory failed");
        return nullptr;
      },
      clock);
  auto f = pool.submit([](Plain&) {});
  REQUIRE(ready_soon(f));
  first_error = error_of(f);
  auto g = pool.submit([](Plain&) {});
  clock.advance(100ms);  // the default backoff
  REQUIRE(ready_soon(g));
  second_error = error_of(g);

  const auto nested_is = [](const std::exception_ptr& error, auto type_tag) {
    using Inner = typename decltype(type_tag)::type;
    try {
      std::rethrow_exception(error);
    } catch (const warmpool::enter_failed& e) {
      try {
        std::rethrow_if_nested(e);
      } catch (const Inner&) {
        return true;
      } catch (...) {
      }
    } catch (...) {
    }
    return false;
  };
  CHECK(nested_is(first_error, std::type_identity<std::runtime_error>{}));
  CHECK(nested_is(second_error, std::type_identity<std::logic_error>{}));
  const warmpool::Stats s = pool.stats();
  CHECK(s.boots == 2);
  CHECK(s.boot_failures == 2);
  CHECK(s.inputs_enter_failed == 2);
}

TEST_CASE("pool: worker_lost re-runs the input on another worker") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  TestPool<Tracked> pool(o, tracked(life), clock);

  // Worker 0 is broken; its replacement (worker 1) serves the input.
  auto f = pool.submit([](Tracked& w) {
    if (w.id == 0) throw warmpool::worker_lost("session dropped");
    return w.id;
  });
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1);
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_rerun == 1);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_lost == 0);
  CHECK(s.evictions == 1);
  CHECK(s.boots == 2);
  CHECK(eventually([&] { return life.exited == 1; }));

  // An input that breaks every worker runs 1 + worker_lost_reruns times, then fails.
  auto g = pool.submit([](Tracked&) -> int { throw warmpool::worker_lost("always"); });
  REQUIRE(ready_soon(g));
  CHECK(fails_with<warmpool::worker_lost>(g));
  CHECK(pool.stats().inputs_rerun == 1 + o.worker_lost_reruns);
  CHECK(pool.stats().inputs_lost == 1);
  CHECK(pool.stats().evictions == 2 + o.worker_lost_reruns);
}

TEST_CASE("pool: worker_lost ends the input and replaces the worker") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.min_warm = 1;
  o.worker_lost_reruns = 0;
  TestPool<Tracked> pool(o, tracked(life), clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  auto f = pool.submit([](Tracked&) -> int { throw warmpool::worker_lost("session dropped"); });
  REQUIRE(ready_soon(f));
  CHECK(fails_with<warmpool::worker_lost>(f));
  warmpool::Stats s = pool.stats();
  CHECK(s.inputs_lost == 1);
  CHECK(s.inputs_failed == 0);
  CHECK(s.evictions == 1);
  CHECK(s.boots == 2);  // keep_warm needs a replacement
  CHECK(eventually([&] { return life.exited == 1; }));
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));
  auto g = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(g));
  CHECK(g.get() == 1);

  // Without a floor, a lost worker is not replaced.
  pool.keep_warm(0);
  auto h = pool.submit([](Tracked&) -> int { throw warmpool::worker_lost("again"); });
  REQUIRE(ready_soon(h));
  CHECK(fails_with<warmpool::worker_lost>(h));
  s = pool.stats();
  CHECK(s.evictions == 2);
  CHECK(s.boots == 2);
  CHECK(s.workers_idle + s.workers_busy + s.workers_booting == 0);
  CHECK(eventually([&] { return life.exited == 2; }));
  CHECK(life.destroyed == 2);
}

namespace {

struct LeaseAware {
  explicit LeaseAware(std::atomic<int>& exits, std::atomic<int>& early)
      : exits_(&exits), early_(&early) {}
  void exit() {
    if (leased) ++*early_;
    ++*exits_;
  }
  std::atomic<bool> leased{false};
  int value = 1;
  std::atomic<int>* exits_;
  std::atomic<int>* early_;
};

}  // namespace

TEST_CASE("pool: a lost worker is not destroyed while a lease still holds it") {
  // max_inputs = 2: a lease in one slot, an input in the other throws worker_lost.
  ManualClock clock;
  std::atomic<int> exits{0};
  std::atomic<int> early{0};
  Options o = with_max_workers(1);
  o.max_inputs = 2;
  o.autoscaler.min_warm = 1;
  o.worker_lost_reruns = 0;
  TestPool<LeaseAware> pool(
      o, [&] { return std::make_unique<LeaseAware>(exits, early); }, clock);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 1; }));

  warmpool::Lease<LeaseAware> lease = pool.acquire();
  lease->leased = true;
  auto f = pool.submit([](LeaseAware&) -> int { throw warmpool::worker_lost("broken"); });
  REQUIRE(ready_soon(f));
  CHECK(fails_with<warmpool::worker_lost>(f));
  CHECK(pool.stats().evictions == 1);
  CHECK(pool.stats().inputs_running == 1);  // the lease
  // The exit hook must wait for the lease (a negative probe: it can only miss a bug).
  CHECK_FALSE(eventually([&] { return exits.load() != 0; }, 100ms));
  CHECK(lease->value == 1);  // still alive (ASan flags a use after free here)
  lease->leased = false;
  { const warmpool::Lease<LeaseAware> ending = std::move(lease); }
  CHECK(eventually([&] { return exits == 1; }));
  CHECK(early == 0);
  pool.shutdown();
  CHECK(exits == 2);  // the replacement too
}

// ------------------------------------------------------------------ stress

namespace {

struct Boom : std::exception {};

struct Counted {
  explicit Counted(std::atomic<int>& e) : exits(&e) {}
  void exit() { ++*exits; }
  std::atomic<int> runs{0};
  std::atomic<int>* exits;
};

struct Tally {
  std::atomic<std::uint64_t> value{0}, failed{0}, timed_out{0}, cancelled{0}, lost{0}, rejected{0},
      leased{0}, discarded{0}, other{0}, unresolved{0};

  void classify(const std::exception_ptr& e) {
    if (!e) {
      ++value;
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const warmpool::timeout_error&) {
      ++timed_out;
    } catch (const warmpool::cancelled&) {
      ++cancelled;
    } catch (const warmpool::worker_lost&) {
      ++lost;
    } catch (const warmpool::queue_full&) {
      ++rejected;
    } catch (const Boom&) {
      ++failed;
    } catch (...) {
      ++other;
    }
  }
};

}  // namespace

TEST_CASE("pool: stress - every input ends exactly once and the counters add up") {
  ManualClock clock;
  std::atomic<int> constructed{0};
  std::atomic<int> exits{0};
  Options o;
  o.autoscaler = {.min_warm = 0, .max_workers = 4, .buffer = 1, .idle_timeout = 2ms};
  o.max_inputs = 2;
  o.max_pending = 64;
  auto factory = [&] {
    ++constructed;
    return std::make_unique<Counted>(exits);
  };

  constexpr int submitters = 4;
  constexpr int per_submitter = 1000;
  constexpr int total = submitters * per_submitter;
  Tally tally;
  std::vector<std::atomic<int>> done_calls(total);
  std::vector<char> posted(total, 0);
  warmpool::Stats s;
  {
    TestPool<Counted> pool(o, factory, clock);
    std::atomic<bool> quiet{false};
    std::thread chaos([&] {
      std::mt19937 rng(12345);
      while (!quiet) {
        if (rng() % 4 == 0) {
          pool.keep_warm(rng() % 5);
        } else {
          clock.advance(std::chrono::microseconds(rng() % 1500));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });

    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t + 1));
        std::vector<std::future<int>> futures;
        std::vector<std::stop_source> stops;
        for (int i = 0; i < per_submitter; ++i) {
          const int id = t * per_submitter + i;
          const unsigned r = rng() % 100;
          try {
            if (r < 45) {
              futures.push_back(pool.submit([id](Counted& c) {
                ++c.runs;
                return id;
              }));
            } else if (r < 55) {
              futures.push_back(pool.submit([](Counted&) -> int { throw Boom{}; }));
            } else if (r < 63) {
              const auto timeout = std::chrono::milliseconds(rng() % 3);
              futures.push_back(pool.submit([id](Counted&) { return id; }, {.timeout = timeout}));
            } else if (r < 71) {
              std::stop_source stop;
              futures.push_back(pool.submit([id](Counted&, std::stop_token) { return id; },
                                            {.stop = stop.get_token()}));
              if (rng() % 2 == 0) {
                stop.request_stop();
              } else {
                stops.push_back(std::move(stop));
              }
            } else if (r < 91) {
              const bool bad = rng() % 5 == 0;
              posted[static_cast<std::size_t>(id)] = 1;
              pool.post(
                  [id, bad](Counted&) -> int {
                    if (bad) throw Boom{};
                    return id;
                  },
                  [&tally, &done_calls, id](warmpool::Result<int> result) {
                    ++done_calls[static_cast<std::size_t>(id)];
                    tally.classify(result.error());
                  });
            } else if (r < 93) {
              futures.push_back(
                  pool.submit([](Counted&) -> int { throw warmpool::worker_lost("lost"); }));
            } else {
              std::optional<warmpool::Lease<Counted>> lease =
                  pool.try_acquire_for(std::chrono::milliseconds(rng() % 3));
              if (!lease) {
                ++tally.timed_out;
              } else {
                ++(*lease)->runs;
                if (rng() % 4 == 0) {
                  lease->discard();
                  ++tally.discarded;
                } else {
                  ++tally.leased;
                }
              }
            }
          } catch (const warmpool::queue_full&) {
            ++tally.rejected;
          }
          if (i % 16 == 0) {
            for (auto& stop : stops) stop.request_stop();
            stops.clear();
          }
        }
        for (auto& stop : stops) stop.request_stop();
        for (auto& f : futures) {
          if (!ready_soon(f)) {
            ++tally.unresolved;
            continue;
          }
          try {
            f.get();
            tally.classify(nullptr);
          } catch (...) {
            tally.classify(std::current_exception());
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    quiet = true;
    chaos.join();
    // Every post's done has been called once all inputs ended.
    CHECK(eventually([&] {
      const warmpool::Stats now = pool.stats();
      return now.inputs_pending == 0 && now.inputs_running == 0;
    }));
    pool.shutdown();
    s = pool.stats();
  }
  CHECK(tally.unresolved == 0);
  CHECK(tally.other == 0);
  for (std::size_t id = 0; id < static_cast<std::size_t>(total); ++id) {
    if (done_calls[id] != (posted[id] != 0 ? 1 : 0)) {
      FAIL_CHECK("done called " << done_calls[id] << " times for input " << id);
      break;
    }
  }
  CHECK(s.inputs_pending == 0);
  CHECK(s.inputs_running == 0);
  CHECK(s.inputs_submitted == s.inputs_completed + s.inputs_failed + s.inputs_cancelled +
                                  s.inputs_timed_out + s.inputs_closed + s.inputs_lost +
                                  s.inputs_enter_failed);
  CHECK(s.inputs_submitted + s.inputs_rejected == static_cast<std::uint64_t>(total));
  CHECK(s.inputs_completed == tally.value + tally.leased + tally.discarded);
  CHECK(s.inputs_failed == tally.failed);
  CHECK(s.inputs_timed_out == tally.timed_out);
  CHECK(s.inputs_cancelled == tally.cancelled);
  CHECK(s.inputs_lost == tally.lost);
  CHECK(s.inputs_rejected == tally.rejected);
  CHECK(s.inputs_closed == 0);
  CHECK(s.inputs_enter_failed == 0);
  CHECK(s.boot_failures == 0);
  CHECK(s.boots == static_cast<std::uint64_t>(constructed.load()));
  CHECK(s.evictions == s.boots);
  CHECK(exits == constructed);
}
