// Reliability of the threaded body (issue 4): retries with backoff, timeouts that stop
// running inputs, cancellation, enter failures with crash-loop backoff, overload,
// shutdown under load and from inside an input, and nothing outliving the pool.
//
// Every duration under test runs on a ManualClock. A failure or a boot is reported by a
// worker thread, so the test first waits (bounded, real time) until the pool's stats show
// it, and only then advances the clock: the delay is measured from that report.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::error_of;
using test_support::eventually;
using test_support::finishes_within;
using test_support::Gate;
using test_support::holds;
using test_support::is_ready;
using test_support::ready_soon;
using test_support::submit_blocker;
using test_support::TestPool;
using test_support::with_max_workers;
using warmpool::Drain;
using warmpool::ManualClock;
using warmpool::Options;
using warmpool::Retries;
using warmpool::Stats;

struct Plain {
  int value = 0;
};

/// The input's own exception (no what(): see error_of).
struct Boom : std::exception {
  explicit Boom(int r = 0) : run(r) {}
  int run;
};

/// The enter hook's own exception.
struct HookError : std::exception {
  explicit HookError(int c) : code(c) {}
  int code;
};

/// Declared right after a pool: when a failed REQUIRE unwinds the test, it cancels what
/// the pool still has waiting, so that the pool's destructor (Drain::finish) cannot wait
/// forever for a retry or a boot backoff that only a ManualClock advance would release.
template <class Pool>
class CancelOnFailure {
 public:
  explicit CancelOnFailure(Pool& pool) : pool_(&pool), uncaught_(std::uncaught_exceptions()) {}
  CancelOnFailure(const CancelOnFailure&) = delete;
  CancelOnFailure& operator=(const CancelOnFailure&) = delete;
  ~CancelOnFailure() {
    if (std::uncaught_exceptions() > uncaught_) pool_->shutdown(Drain::cancel);
  }

 private:
  Pool* pool_;
  int uncaught_;
};

/// Waits until `pred(pool.stats())` holds (bounded).
template <class Pool, class Pred>
bool stats_reach(const Pool& pool, Pred pred) {
  return eventually([&] { return pred(pool.stats()); });
}

/// What happened to each worker of one pool, by worker id (ids count from 0).
struct Census {
  struct Record {
    bool warm = false;  // enter() returned
    bool enter_threw = false;
    int exits = 0;
    bool destroyed = false;
  };
  mutable std::mutex mutex;
  std::vector<Record> records;
  std::atomic<int> constructed{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> exits{0};
  std::atomic<int> fail_enters{0};  // the next this many enter() calls throw

  int add() {
    std::lock_guard lock(mutex);
    records.emplace_back();
    ++constructed;
    return static_cast<int>(records.size()) - 1;
  }
  template <class Fn>
  void edit(int id, Fn fn) {
    std::lock_guard lock(mutex);
    fn(records[static_cast<std::size_t>(id)]);
  }
  /// Every worker is gone; warm ones ran exit exactly once, the others never.
  bool all_accounted() const {
    std::lock_guard lock(mutex);
    for (const Record& r : records) {
      if (!r.destroyed || r.exits != (r.warm ? 1 : 0)) return false;
      if (r.enter_threw && r.exits != 0) return false;
    }
    return constructed == destroyed;
  }
  int warm_count() const {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const Record& r : records) n += r.warm ? 1 : 0;
    return n;
  }
};

/// A worker that reports its life to a Census; enter() throws while `fail_enters` > 0.
struct Counted {
  explicit Counted(Census& c) : census(&c), id(c.add()) {}
  ~Counted() {
    census->edit(id, [](Census::Record& r) { r.destroyed = true; });
    ++census->destroyed;
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  void enter() {
    if (census->fail_enters.fetch_sub(1) > 0) {
      census->edit(id, [](Census::Record& r) { r.enter_threw = true; });
      throw HookError(id);
    }
    census->edit(id, [](Census::Record& r) { r.warm = true; });
  }
  void exit() {
    census->edit(id, [](Census::Record& r) { ++r.exits; });
    ++census->exits;
  }
  Census* census;
  int id;
};

TestPool<Counted>::Factory counted(Census& census) {
  return [&census] { return std::make_unique<Counted>(census); };
}

/// An input taking a stop token: publishes the token, then waits (bounded, real time)
/// until stop is requested. Returns whether it saw the request.
struct WaitForStop {
  Gate* started;
  std::optional<std::stop_token>* seen;
  template <class W>
  bool operator()(W&, std::stop_token token) const {
    *seen = token;
    started->open();
    return eventually([&token] { return token.stop_requested(); });
  }
};

}  // namespace

// ------------------------------------------------------------------ retries

TEST_CASE("reliability: retries run exactly at initial_delay * coefficient^(n-1)") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 60s};
  std::atomic<int> runs{0};
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);
  auto f = pool.submit([&runs](Plain&) {
    const int run = ++runs;
    if (run <= 2) throw Boom(run);
    return 7;
  });

  // 1st failure: the retry waits 1s.
  REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
  CHECK(runs == 1);
  clock.advance(999ms);
  Stats s = pool.stats();
  CHECK(s.inputs_retrying == 1);
  CHECK(s.inputs_pending == 0);
  CHECK(s.inputs_running == 0);
  CHECK(runs == 1);
  CHECK_FALSE(is_ready(f));
  clock.advance(1ms);
  // Released inside advance(): running, or (already) failed again and waiting anew.
  s = pool.stats();
  CHECK((s.inputs_retrying == 0 || s.inputs_retried == 2));
  CHECK(eventually([&] { return runs == 2; }));
  // 2nd failure: the retry waits 2s.
  REQUIRE(stats_reach(
      pool, [](const Stats& x) { return x.inputs_retried == 2 && x.inputs_retrying == 1; }));
  CHECK(runs == 2);
  clock.advance(1999ms);
  s = pool.stats();
  CHECK(s.inputs_retrying == 1);
  CHECK(s.inputs_running == 0);
  CHECK(runs == 2);
  CHECK_FALSE(is_ready(f));
  clock.advance(1ms);
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 7);
  CHECK(runs == 3);
  s = pool.stats();
  CHECK(s.inputs_retried == 2);
  CHECK(s.inputs_retrying == 0);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_failed == 0);
  CHECK(s.inputs_submitted == 1);
  CHECK(s.boots == 1);  // the worker stayed warm through the failures
  CHECK(s.evictions == 0);
}

TEST_CASE("reliability: when max_retries are used up the future gets the last exception") {
  ManualClock clock;
  std::exception_ptr error;  // outlives the pool (see error_of)
  std::atomic<int> runs{0};
  {
    Options o = with_max_workers(1);
    o.retries = {
        .max_retries = 2, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 60s};
    TestPool<Plain> pool(o, {}, clock);
    const CancelOnFailure guard(pool);
    auto f = pool.submit([&runs](Plain&) -> int { throw Boom(++runs); });
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
    clock.advance(1s);
    REQUIRE(stats_reach(
        pool, [](const Stats& s) { return s.inputs_retried == 2 && s.inputs_retrying == 1; }));
    CHECK_FALSE(is_ready(f));
    clock.advance(2s);
    REQUIRE(ready_soon(f));
    error = error_of(f);
    const Stats s = pool.stats();
    CHECK(s.inputs_failed == 1);
    CHECK(s.inputs_retried == 2);
    CHECK(s.inputs_retrying == 0);
    CHECK(s.inputs_completed == 0);
    clock.advance(1h);  // no fourth run
  }
  CHECK(runs == 3);
  REQUIRE(holds<Boom>(error));
  try {
    std::rethrow_exception(error);
  } catch (const Boom& boom) {
    CHECK(boom.run == 3);  // the last run's exception
  }
}

TEST_CASE("reliability: SubmitOptions::retries overrides Options::retries") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 60s};
  std::atomic<int> runs{0};
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);

  SUBCASE("no retries for this input") {
    auto f = pool.submit([&runs](Plain&) -> int { throw Boom(++runs); },
                         {.retries = Retries{.max_retries = 0}});
    REQUIRE(ready_soon(f));
    CHECK(holds<Boom>(error_of(f)));
    const Stats s = pool.stats();
    CHECK(s.inputs_retried == 0);
    CHECK(s.inputs_failed == 1);
    CHECK(runs == 1);
  }
  SUBCASE("its own count and delays") {
    auto f = pool.submit(
        [&runs](Plain&) {
          if (++runs == 1) throw Boom(1);
          return runs.load();
        },
        {.retries = Retries{.max_retries = 1,
                            .initial_delay = 300ms,
                            .backoff_coefficient = 1.0,
                            .max_delay = 300ms}});
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
    clock.advance(299ms);
    CHECK(pool.stats().inputs_retrying == 1);
    clock.advance(1ms);  // not the pool's 1s
    REQUIRE(ready_soon(f));
    CHECK(f.get() == 2);
    CHECK(pool.stats().inputs_retried == 1);
  }
  SUBCASE("the pool's policy when none is given") {
    auto f = pool.submit([](Plain&) -> int { throw Boom(0); });
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
    clock.advance(999ms);
    CHECK(pool.stats().inputs_retrying == 1);
    CHECK(pool.stats().inputs_retried == 1);
    pool.shutdown(Drain::cancel);  // the waiting retry ends with pool_closed
    REQUIRE(is_ready(f));
    CHECK(holds<warmpool::pool_closed>(error_of(f)));
  }
}

TEST_CASE("reliability: the retry delay is capped at max_delay") {
  ManualClock clock;
  Options o = with_max_workers(1);
  // Delays: 1s, min(3s, 10s) = 3s, min(3s, 100s) = 3s.
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 10.0, .max_delay = 3s};
  std::atomic<int> runs{0};
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);
  auto f = pool.submit([&runs](Plain&) -> int { throw Boom(++runs); });

  REQUIRE(stats_reach(
      pool, [](const Stats& s) { return s.inputs_retried == 1 && s.inputs_retrying == 1; }));
  clock.advance(1s);
  for (std::uint64_t retry = 2; retry <= 3; ++retry) {
    REQUIRE(stats_reach(pool, [retry](const Stats& s) {
      return s.inputs_retried == retry && s.inputs_retrying == 1;
    }));
    clock.advance(2999ms);
    CHECK(pool.stats().inputs_retrying == 1);
    CHECK(runs == static_cast<int>(retry));
    clock.advance(1ms);
    const Stats s = pool.stats();  // released inside advance() (and maybe failed again)
    CHECK((s.inputs_retrying == 0 || s.inputs_retried == retry + 1));
    CHECK(eventually([&] { return runs == static_cast<int>(retry) + 1; }));
  }
  REQUIRE(ready_soon(f));
  CHECK(holds<Boom>(error_of(f)));
  CHECK(runs == 4);
  CHECK(pool.stats().inputs_failed == 1);
}

TEST_CASE("reliability: a stop token cancels an input waiting between retries") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.retries = {.max_retries = 5, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 60s};
  std::atomic<int> runs{0};
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);
  std::stop_source stop;
  auto f = pool.submit([&runs](Plain&) -> int { throw Boom(++runs); }, {.stop = stop.get_token()});
  REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
  clock.advance(500ms);
  stop.request_stop();
  REQUIRE(is_ready(f));  // failed inside request_stop()
  CHECK(holds<warmpool::cancelled>(error_of(f)));
  Stats s = pool.stats();
  CHECK(s.inputs_cancelled == 1);
  CHECK(s.inputs_retrying == 0);
  CHECK(s.inputs_retried == 1);
  CHECK(s.inputs_failed == 0);
  clock.advance(1h);
  CHECK(runs == 1);
  s = pool.stats();
  CHECK(s.inputs_running == 0);
  CHECK(s.inputs_pending == 0);
}

TEST_CASE("reliability: an input whose token stopped while it ran does not run again") {
  // The stop request arrives while the input runs (so it is forwarded, not a cancel);
  // the run then throws. Waiting for a retry (or, after worker_lost, pending for a
  // re-run) with its token already stopped, the input must end as cancelled rather than
  // run again.
  ManualClock clock;
  Options o = with_max_workers(1);
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 60s};
  std::atomic<int> runs{0};
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);
  bool lose_worker = false;
  SUBCASE("retry") { lose_worker = false; }
  SUBCASE("worker_lost re-run") { lose_worker = true; }
  std::stop_source stop;
  auto f = pool.submit(
      [&runs, stop, lose_worker](Plain&) mutable -> int {
        ++runs;
        stop.request_stop();
        if (lose_worker) throw warmpool::worker_lost("gone");
        throw Boom(1);
      },
      {.stop = stop.get_token()});
  REQUIRE(ready_soon(f));
  CHECK(holds<warmpool::cancelled>(error_of(f)));
  clock.advance(1h);
  CHECK(runs == 1);
  const Stats s = pool.stats();
  CHECK(s.inputs_cancelled == 1);
  CHECK(s.inputs_retrying == 0);
  CHECK(s.inputs_pending == 0);
  CHECK(s.inputs_running == 0);
  CHECK(s.inputs_submitted == s.inputs_cancelled);
}

// ------------------------------------------------------------------ timeouts and stop

TEST_CASE("reliability: a running input sees stop requested at its timeout and its value is kept") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.autoscaler.min_warm = 1;
  Gate started;  // these outlive the pool, so a failed test cannot leave a dangling input
  std::optional<std::stop_token> seen;
  TestPool<Plain> pool(o, {}, clock);
  const CancelOnFailure guard(pool);
  REQUIRE(stats_reach(pool, [](const Stats& s) { return s.workers_idle == 1; }));
  auto f = pool.submit(WaitForStop{&started, &seen}, {.timeout = 5s});
  REQUIRE(started.wait());
  REQUIRE(seen.has_value());
  clock.advance(4999ms);
  CHECK_FALSE(seen->stop_requested());
  CHECK_FALSE(is_ready(f));
  clock.advance(1ms);
  CHECK(seen->stop_requested());  // requested inside advance()
  REQUIRE(ready_soon(f));
  CHECK(f.get());  // it saw the request and returned normally
  const Stats s = pool.stats();
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_timed_out == 0);
}

TEST_CASE("reliability: the stop token given at submit is forwarded to the running input") {
  ManualClock clock;
  std::stop_source stop;
  Gate started;
  std::optional<std::stop_token> seen;
  TestPool<Plain> pool(with_max_workers(1), {}, clock);
  const CancelOnFailure guard(pool);
  auto f = pool.submit(WaitForStop{&started, &seen}, {.stop = stop.get_token()});
  REQUIRE(started.wait());
  CHECK_FALSE(seen->stop_requested());
  stop.request_stop();
  CHECK(seen->stop_requested());
  REQUIRE(ready_soon(f));
  CHECK(f.get());
  const Stats s = pool.stats();
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_cancelled == 0);
}

TEST_CASE("reliability: Drain::cancel stops running inputs and fails the waiting ones") {
  ManualClock clock;
  Census census;
  Options o = with_max_workers(1);
  o.retries = {.max_retries = 1, .initial_delay = 1s, .backoff_coefficient = 1.0, .max_delay = 1s};
  std::vector<std::future<int>> pending;
  std::future<int> retrying;
  std::future<bool> running;
  Gate started;
  std::optional<std::stop_token> seen;
  std::atomic<int> ran{0};
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    retrying = pool.submit([](Counted&) -> int { throw Boom(0); });
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.inputs_retrying == 1; }));
    running = pool.submit(WaitForStop{&started, &seen});
    REQUIRE(started.wait());
    for (int i = 0; i < 3; ++i) {
      pending.push_back(pool.submit([&ran](Counted&) { return ++ran; }));
    }
    CHECK(pool.stats().inputs_pending == 3);
    CHECK_FALSE(seen->stop_requested());

    finishes_within([&pool] { pool.shutdown(Drain::cancel); });
    CHECK(seen->stop_requested());
    REQUIRE(is_ready(running));
    CHECK(running.get());  // the running input saw the stop and returned normally
    for (auto& f : pending) {
      REQUIRE(is_ready(f));
      CHECK(holds<warmpool::pool_closed>(error_of(f)));
    }
    REQUIRE(is_ready(retrying));
    CHECK(holds<warmpool::pool_closed>(error_of(retrying)));
    CHECK(ran == 0);
    const Stats s = pool.stats();
    CHECK(s.inputs_closed == 4);
    CHECK(s.inputs_completed == 1);
    CHECK(s.inputs_retrying == 0);
    CHECK(s.workers_booting + s.workers_idle + s.workers_busy == 0);
  }
  CHECK(census.all_accounted());
  CHECK(census.exits == 1);
}

// ------------------------------------------------------------------ enter failures

TEST_CASE("reliability: failed boots back off on the pool's clock, then the input runs") {
  ManualClock clock;
  Census census;
  census.fail_enters = 2;
  Options o = with_max_workers(1);
  o.boot_backoff = {.initial_delay = 1s, .max_delay = 10s, .multiplier = 3.0};
  o.max_boot_failures = 5;
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    auto f = pool.submit([](Counted& w) { return w.id; });
    CHECK(pool.stats().boots == 1);
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.boot_failures == 1; }));
    clock.advance(999ms);
    CHECK(pool.stats().boots == 1);  // backoff 1s
    CHECK(pool.stats().inputs_pending == 1);
    clock.advance(1ms);
    CHECK(pool.stats().boots == 2);
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.boot_failures == 2; }));
    clock.advance(2999ms);
    CHECK(pool.stats().boots == 2);  // backoff 3s
    CHECK_FALSE(is_ready(f));
    clock.advance(1ms);
    CHECK(pool.stats().boots == 3);
    REQUIRE(ready_soon(f));
    CHECK(f.get() == 2);  // the third worker is the first warm one
    const Stats s = pool.stats();
    CHECK(s.boot_failures == 2);
    CHECK(s.inputs_enter_failed == 0);
    CHECK(s.inputs_completed == 1);
    CHECK(s.cold_inputs == 1);
    CHECK(census.exits == 0);
  }
  CHECK(census.constructed == 3);
  CHECK(census.exits == 1);  // only the warm one
  CHECK(census.all_accounted());
}

TEST_CASE("reliability: after max_boot_failures pending inputs fail with enter_failed") {
  ManualClock clock;
  Census census;
  census.fail_enters = 1'000'000;
  std::exception_ptr first;  // both outlive the pool (see error_of)
  std::exception_ptr second;
  Options o = with_max_workers(1);
  o.boot_backoff = {.initial_delay = 1s, .max_delay = 4s, .multiplier = 2.0};
  o.max_boot_failures = 2;
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    auto f = pool.submit([](Counted& w) { return w.id; });
    auto g = pool.submit([](Counted& w) { return w.id; });
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.boot_failures == 1; }));
    CHECK_FALSE(is_ready(f));
    clock.advance(1s);
    REQUIRE(ready_soon(f));  // the second failure fails every pending input
    REQUIRE(ready_soon(g));
    first = error_of(f);
    second = error_of(g);
    Stats s = pool.stats();
    CHECK(s.boots == 2);
    CHECK(s.boot_failures == 2);
    CHECK(s.inputs_enter_failed == 2);
    CHECK(s.inputs_pending == 0);
    CHECK(census.exits == 0);

    // Later inputs start new boot attempts (after the backoff) and succeed once enter
    // stops failing.
    census.fail_enters = 0;
    auto h = pool.submit([](Counted& w) { return w.id; });
    clock.advance(4s);  // the longest backoff
    REQUIRE(ready_soon(h));
    CHECK(h.get() == 2);
    s = pool.stats();
    CHECK(s.boots == 3);
    CHECK(s.inputs_completed == 1);
    CHECK(s.inputs_enter_failed == 2);
  }
  for (const std::exception_ptr& error : {first, second}) {
    REQUIRE(holds<warmpool::enter_failed>(error));
    int code = -1;
    try {
      std::rethrow_exception(error);
    } catch (const warmpool::enter_failed& e) {
      try {
        std::rethrow_if_nested(e);
      } catch (const HookError& hook) {
        code = hook.code;
      } catch (...) {
      }
    }
    CHECK(code == 1);  // the last failed boot's exception
  }
  CHECK(census.exits == 1);
  CHECK(census.all_accounted());
}

TEST_CASE("reliability: an Options::enter_hook that throws fails the boot and exit never runs") {
  ManualClock clock;
  Census census;
  std::atomic<int> hook_calls{0};
  Options o = with_max_workers(1);
  o.boot_backoff.initial_delay = 1s;
  o.enter_hooks = {[&hook_calls] {
    if (++hook_calls == 1) throw HookError(-1);
  }};
  std::atomic<int> exit_hooks{0};
  o.exit_hooks = {[&exit_hooks] { ++exit_hooks; }};
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    auto f = pool.submit([](Counted& w) { return w.id; });
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.boot_failures == 1; }));
    clock.advance(1s);
    REQUIRE(ready_soon(f));
    CHECK(f.get() == 1);
  }
  // Worker 0's own enter() returned, but the boot failed: it never became warm.
  CHECK(census.constructed == 2);
  CHECK(census.destroyed == 2);
  CHECK(census.exits == 1);
  CHECK(exit_hooks == 1);
  std::lock_guard lock(census.mutex);
  CHECK(census.records[0].exits == 0);
  CHECK(census.records[1].exits == 1);
}

// ------------------------------------------------------------------ overload

TEST_CASE(
    "reliability: beyond max_pending, post reports queue_full once and nothing is half-accepted") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.max_pending = 2;
  std::atomic<int> calls{0};
  std::atomic<int> full{0};
  std::atomic<int> rejected_ran{0};
  std::stop_source stop;
  Gate started;
  Gate gate;
  {
    TestPool<Plain> pool(o, {}, clock);
    const CancelOnFailure guard(pool);
    auto blocker = submit_blocker(pool, started, gate);
    REQUIRE(started.wait());
    auto a = pool.submit([](Plain&) { return 1; });
    auto b = pool.submit([](Plain&) { return 2; });

    pool.post([&rejected_ran](Plain&) { return ++rejected_ran; },
              [&](warmpool::Result<int> r) {
                ++calls;
                if (holds<warmpool::queue_full>(r.error())) ++full;
              },
              {.timeout = 1s, .stop = stop.get_token()});
    CHECK(calls == 1);  // reported at once, on this thread
    CHECK(full == 1);
    CHECK_THROWS_AS(
        pool.submit([&rejected_ran](Plain&) { return ++rejected_ran; }, {.stop = stop.get_token()}),
        warmpool::queue_full);

    Stats s = pool.stats();
    CHECK(s.inputs_submitted == 3);
    CHECK(s.inputs_rejected == 2);
    CHECK(s.inputs_pending == 2);
    // The refused inputs hold no place: their token and timeout do nothing now.
    stop.request_stop();
    clock.advance(1h);
    s = pool.stats();
    CHECK(s.inputs_cancelled == 0);
    CHECK(s.inputs_timed_out == 0);
    CHECK(s.inputs_pending == 2);

    gate.open();
    REQUIRE(ready_soon(a));
    REQUIRE(ready_soon(b));
    CHECK(a.get() == 1);
    CHECK(b.get() == 2);
    REQUIRE(ready_soon(blocker));
    CHECK(blocker.get());
    // Room again: accepted.
    auto c = pool.submit([](Plain&) { return 3; });
    REQUIRE(ready_soon(c));
    CHECK(c.get() == 3);
    s = pool.stats();
    CHECK(s.inputs_submitted == 4);
    CHECK(s.inputs_completed == 4);
    CHECK(s.inputs_rejected == 2);
  }
  CHECK(calls == 1);
  CHECK(rejected_ran == 0);
}

// ------------------------------------------------------------------ shutdown

TEST_CASE("reliability: submitters racing shutdown get pool_closed or a normal result") {
  Drain drain = Drain::finish;
  SUBCASE("Drain::finish") { drain = Drain::finish; }
  SUBCASE("Drain::cancel") { drain = Drain::cancel; }
  ManualClock clock;
  Census census;
  Options o = with_max_workers(2);
  o.max_inputs = 2;
  o.max_pending = 64;
  constexpr int submitters = 4;
  std::atomic<int> accepted{0};
  std::atomic<int> values{0};
  std::atomic<int> closed{0};
  std::atomic<int> full{0};
  std::atomic<int> refused_closed{0};
  std::atomic<int> other{0};
  std::atomic<int> unresolved{0};
  Stats s;
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    std::vector<std::thread> threads;
    for (int t = 0; t < submitters; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::future<int>> futures;
        for (int i = 0; i < 200'000; ++i) {  // bounded: ends at pool_closed long before
          try {
            futures.push_back(pool.submit([t](Counted&) { return t; }));
            ++accepted;
          } catch (const warmpool::queue_full&) {
            ++full;
            std::this_thread::yield();
          } catch (const warmpool::pool_closed&) {
            ++refused_closed;
            break;
          }
        }
        for (auto& f : futures) {
          if (!ready_soon(f)) {
            ++unresolved;
            continue;
          }
          const std::exception_ptr e = error_of(f);
          if (!e) {
            ++values;
          } else if (holds<warmpool::pool_closed>(e)) {
            ++closed;
          } else {
            ++other;
          }
        }
      });
    }
    REQUIRE(eventually([&] { return accepted >= 2000; }));
    finishes_within([&pool, drain] { pool.shutdown(drain); });
    for (auto& t : threads) t.join();
    s = pool.stats();
  }
  CHECK(unresolved == 0);
  CHECK(other == 0);
  CHECK(refused_closed == submitters);
  CHECK(values + closed == accepted);
  if (drain == Drain::finish) CHECK(closed == 0);
  CHECK(s.inputs_submitted == static_cast<std::uint64_t>(accepted.load()));
  CHECK(s.inputs_completed == static_cast<std::uint64_t>(values.load()));
  CHECK(s.inputs_closed == static_cast<std::uint64_t>(closed.load()));
  CHECK(s.inputs_rejected == static_cast<std::uint64_t>(full + refused_closed));
  CHECK(census.all_accounted());
}

TEST_CASE("reliability: shutdown from inside an input, then destruction, does not deadlock") {
  Drain drain = Drain::finish;
  SUBCASE("Drain::finish") { drain = Drain::finish; }
  SUBCASE("Drain::cancel") { drain = Drain::cancel; }
  ManualClock clock;
  Census census;
  Gate go;
  std::atomic<bool> refused_inside{false};
  auto pool = std::make_unique<TestPool<Counted>>(with_max_workers(1), counted(census), clock);
  auto f = pool->submit([&](Counted&) {
    go.wait();
    pool->shutdown(drain);  // returns at once on the pool's own thread
    try {
      pool->submit([](Counted&) { return 0; });
    } catch (const warmpool::pool_closed&) {
      refused_inside = true;
    }
    return 1;
  });
  auto queued = pool->submit([](Counted&) { return 2; });
  go.open();
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1);
  CHECK(refused_inside);
  REQUIRE(ready_soon(queued));
  if (drain == Drain::finish) {
    CHECK(queued.get() == 2);
  } else {
    CHECK(holds<warmpool::pool_closed>(error_of(queued)));
  }
  finishes_within([&pool] { pool.reset(); });  // the destructor waits for the rest
  CHECK(census.exits == 1);
  CHECK(census.all_accounted());
}

TEST_CASE("reliability: shutdown from a post callback on a worker thread does not deadlock") {
  ManualClock clock;
  Census census;
  Gate called;
  auto pool = std::make_unique<TestPool<Counted>>(with_max_workers(1), counted(census), clock);
  pool->post([](Counted&) { return 1; },
             [&](warmpool::Result<int>) {
               pool->shutdown(Drain::cancel);
               called.open();
             });
  REQUIRE(called.wait());
  finishes_within([&pool] { pool.reset(); });
  CHECK(census.all_accounted());
}

TEST_CASE("reliability: no thread or worker outlives the pool") {
  const int threads_before = test_support::live_threads();
  ManualClock clock;
  Census census;
  census.fail_enters = 1;  // the first boot fails
  Options o = with_max_workers(4);
  o.max_inputs = 2;
  o.autoscaler.min_warm = 2;
  o.autoscaler.idle_timeout = 10s;
  o.boot_backoff.initial_delay = 1s;
  o.worker_lost_reruns = 1;
  Gate gate;  // outlives the pool: inputs wait on it until the pool is gone
  {
    TestPool<Counted> pool(o, counted(census), clock);
    const CancelOnFailure guard(pool);
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.boot_failures == 1; }));
    clock.advance(1s);
    REQUIRE(stats_reach(pool, [](const Stats& s) { return s.workers_idle == 2; }));
    // A lost worker (its replacement boots for the floor), then a burst and idle evictions.
    auto lost = pool.submit([](Counted&) -> int { throw warmpool::worker_lost("gone"); });
    REQUIRE(ready_soon(lost));
    CHECK(holds<warmpool::worker_lost>(error_of(lost)));
    std::vector<std::future<int>> burst;
    for (int i = 0; i < 20; ++i) burst.push_back(pool.submit([](Counted& w) { return w.id; }));
    for (auto& f : burst) REQUIRE(ready_soon(f));
    pool.keep_warm(0);
    clock.advance(10s);
    // Leave some workers running and some inputs pending for the destructor.
    for (int i = 0; i < 10; ++i) {
      pool.post([&gate](Counted&) { return gate.wait(); }, [](warmpool::Result<bool>) {});
    }
    gate.open();
  }
  CHECK(census.constructed == census.destroyed);
  CHECK(census.exits == census.warm_count());
  CHECK(census.all_accounted());
  if (threads_before > 0) {
    CHECK(eventually([&] { return test_support::live_threads() <= threads_before; }));
  }
}
