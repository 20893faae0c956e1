// Batching of short inputs (Options::max_batch): the Controller's start_batch rules, and a
// saturated pool that takes waiting posts in batches, keeps their order, delivers each
// result after the Controller has counted it, and stops a batch at a lost worker.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::eventually;
using test_support::Gate;
using test_support::TestPool;
using warmpool::Action;
using warmpool::Arrival;
using warmpool::Controller;
using warmpool::Event;
using warmpool::EventKind;
using warmpool::InputId;
using warmpool::Outcome;
using warmpool::WorkerId;
using Time = Controller::Time;

/// One worker, warm, taking batches of up to `max_batch` (events recorded).
struct OneWorker {
  explicit OneWorker(std::size_t max_batch, std::size_t max_uses = 0)
      : c(options(max_batch, max_uses)) {
    c.tick(Time{0});
    worker = starts_and_boots().second.at(0);
    c.worker_warm(Time{0}, worker);
    starts_and_boots();
  }

  static warmpool::Options options(std::size_t max_batch, std::size_t max_uses) {
    warmpool::Options o;
    o.autoscaler.min_warm = 1;
    o.autoscaler.max_workers = 1;
    o.max_batch = max_batch;
    o.max_uses = max_uses;
    o.on_event = [](const Event&) {};
    return o;
  }

  /// The inputs started on `worker` and the workers booted since the last call.
  std::pair<std::vector<InputId>, std::vector<WorkerId>> starts_and_boots() {
    std::vector<Action> actions;
    c.take_actions(actions);
    std::pair<std::vector<InputId>, std::vector<WorkerId>> out;
    for (const Action& a : actions) {
      if (a.kind == Action::Kind::start && a.worker == worker) out.first.push_back(a.input);
      if (a.kind == Action::Kind::boot) out.second.push_back(a.worker);
    }
    return out;
  }

  std::vector<InputId> starts() { return starts_and_boots().first; }

  /// Run times of the runs reported since the last call, by input.
  std::map<InputId, Time> run_times() {
    std::vector<Event> events;
    c.take_events(events);
    std::map<InputId, Time> out;
    for (const Event& e : events) {
      if (e.kind == EventKind::input_finished) out[e.input] = e.run_time;
    }
    return out;
  }

  Controller c;
  WorkerId worker = 0;
};

constexpr Arrival batchable{.batchable = true};

}  // namespace

TEST_CASE("Controller: start_batch starts waiting inputs behind a busy worker's, oldest first") {
  OneWorker w(4);
  for (InputId id = 1; id <= 6; ++id) w.c.input_arrived(Time{0}, id, batchable);
  CHECK(w.starts() == std::vector<InputId>{1});

  CHECK(w.c.start_batch(Time{1}, w.worker, 10) == 3);  // 4 running at most
  CHECK(w.starts() == std::vector<InputId>{2, 3, 4});
  warmpool::Stats s = w.c.stats(Time{1});
  CHECK(s.inputs_running == 4);
  CHECK(s.inputs_pending == 2);
  CHECK(s.workers_busy == 1);

  SUBCASE("the worker takes nothing else until its batch is reported") {
    CHECK(w.c.input_done(Time{10}, 1, Outcome::value));
    w.c.input_arrived(Time{10}, 7, batchable);
    CHECK(w.starts().empty());
    CHECK(w.c.stats(Time{10}).inputs_pending == 3);
    CHECK(w.c.input_done(Time{15}, 2, Outcome::value));
    CHECK(w.c.input_done(Time{20}, 3, Outcome::value));
    CHECK(w.starts().empty());
    CHECK(w.c.input_done(Time{30}, 4, Outcome::value));
    CHECK(w.starts() == std::vector<InputId>{5});  // free again: the oldest waiting one
  }

  SUBCASE("each batched run is timed from the end of the run before it") {
    w.c.input_done(Time{10}, 1, Outcome::value);
    w.c.input_done(Time{15}, 2, Outcome::value);
    w.c.input_done(Time{20}, 3, Outcome::value);
    w.c.input_done(Time{30}, 4, Outcome::value);
    const std::map<InputId, Time> times = w.run_times();
    CHECK(times.at(1) == Time{10});
    CHECK(times.at(2) == Time{5});
    CHECK(times.at(3) == Time{5});
    CHECK(times.at(4) == Time{10});
  }

  SUBCASE("the counters add up once all are reported") {
    for (InputId id = 1; id <= 6; ++id) {
      w.c.input_done(Time{static_cast<Time::rep>(id)}, id, Outcome::value);
      w.starts();
    }
    s = w.c.stats(Time{10});
    CHECK(s.inputs_completed == 6);
    CHECK(s.inputs_running == 0);
    CHECK(s.workers_idle == 1);
  }
}

TEST_CASE("Controller: start_batch stops at an input that is not batchable or has a deadline") {
  OneWorker w(8);
  w.c.input_arrived(Time{0}, 1, batchable);
  w.c.input_arrived(Time{0}, 2, batchable);
  w.c.input_arrived(Time{0}, 3, Arrival{.deadline = Time{100}, .batchable = true});
  w.c.input_arrived(Time{0}, 4, batchable);
  w.c.input_arrived(Time{0}, 5, Arrival{});  // not batchable (a lease, say)
  w.starts();
  CHECK(w.c.start_batch(Time{1}, w.worker, 8) == 1);
  CHECK(w.starts() == std::vector<InputId>{2});
  CHECK(w.c.start_batch(Time{1}, w.worker, 8) == 0);      // 3 is first now
  CHECK(w.c.start_batch(Time{1}, w.worker + 1, 8) == 0);  // no such worker
  CHECK(w.c.stats(Time{1}).inputs_pending == 3);
}

TEST_CASE("Controller: start_batch stops once the worker is used up (max_uses)") {
  OneWorker w(8, /*max_uses=*/3);
  for (InputId id = 1; id <= 5; ++id) w.c.input_arrived(Time{0}, id, batchable);
  w.starts();
  CHECK(w.c.start_batch(Time{1}, w.worker, 8) == 2);  // its 2nd and 3rd (last) inputs
  CHECK(w.starts() == std::vector<InputId>{2, 3});
}

TEST_CASE("Options: max_batch is at least 1, and 1 when max_inputs > 1") {
  warmpool::Options o;
  o.max_batch = 0;
  CHECK_THROWS_WITH_AS(warmpool::detail::validate(o), "max_batch (0) must be >= 1",
                       std::invalid_argument);
  o.max_batch = 2;
  o.max_inputs = 2;
  CHECK_THROWS_WITH_AS(warmpool::detail::validate(o),
                       "max_batch (2) must be 1 when max_inputs (2) > 1", std::invalid_argument);
}

namespace {

struct Plain {};

/// A one-worker pool whose worker is busy until `gate` opens (at the latest when this
/// goes), so that posts wait.
template <class Worker>
struct BusyPool {
  BusyPool(warmpool::Options options, warmpool::ManualClock& clock)
      : pool(std::move(options), {}, clock) {
    REQUIRE(started.wait());
  }
  ~BusyPool() { gate.open(); }
  BusyPool(const BusyPool&) = delete;
  BusyPool& operator=(const BusyPool&) = delete;

  Gate started;
  Gate gate;
  TestPool<Worker> pool;
  std::future<bool> blocker = test_support::submit_blocker(pool, started, gate);
};

/// What a backlog of posts to a saturated one-worker pool showed.
struct Backlog {
  std::vector<int> order;           // the inputs, in the order they ran
  std::size_t most_running = 0;     // most inputs started and not yet finished at once
  std::size_t counted_in_time = 0;  // callbacks that found their input counted
  warmpool::Stats stats{};
};

/// Posts `count` inputs to a pool whose only worker is busy, then lets it go.
Backlog run_backlog(std::size_t max_batch, int count) {
  Backlog seen;
  std::mutex mutex;
  std::size_t running = 0;  // updated by the listener, one event at a time
  warmpool::Options o = test_support::with_max_workers(1);
  o.max_batch = max_batch;
  o.on_event = [&](const Event& e) {
    if (e.kind == EventKind::input_started)
      seen.most_running = std::max(seen.most_running, ++running);
    if (e.kind == EventKind::input_finished) --running;
  };
  warmpool::ManualClock clock;
  std::atomic<int> ended{0};
  {
    BusyPool<Plain> busy(o, clock);
    auto& pool = busy.pool;
    for (int n = 0; n < count; ++n) {
      pool.post(
          [&, n](Plain&) {
            std::lock_guard lock(mutex);
            seen.order.push_back(n);
          },
          [&, n](warmpool::Result<void>&& r) {
            // The blocker and inputs 0..n have all completed by now.
            const bool counted = pool.stats().inputs_completed >= static_cast<std::uint64_t>(n) + 2;
            std::lock_guard lock(mutex);
            if (r.ok() && counted) ++seen.counted_in_time;
            ++ended;
          });
    }
    busy.gate.open();
    CHECK(eventually([&] { return ended == count; }));
    seen.stats = pool.stats();
  }
  return seen;
}

}  // namespace

TEST_CASE("pool: with max_batch a saturated worker takes posts in batches, in their order") {
  constexpr int count = 200;
  const Backlog batched = run_backlog(8, count);
  std::vector<int> expected(count);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(batched.order == expected);
  CHECK(batched.most_running > 1);  // one worker, one input at a time: only a batch does this
  CHECK(batched.most_running <= 8);
  CHECK(batched.counted_in_time == count);
  CHECK(batched.stats.inputs_completed == count + 1);
  CHECK(batched.stats.inputs_running == 0);

  const Backlog plain = run_backlog(1, count);  // the default: no batches
  CHECK(plain.order == expected);
  CHECK(plain.most_running == 1);
  CHECK(plain.counted_in_time == count);
}

namespace {

/// A worker that knows which one it is.
struct Numbered {
  static inline std::atomic<int> made{0};
  int id = made++;
};

}  // namespace

TEST_CASE("pool: a batch stops at a run that loses its worker; the rest run once, elsewhere") {
  warmpool::Options o = test_support::with_max_workers(1);
  o.max_batch = 8;
  warmpool::ManualClock clock;
  std::mutex mutex;
  std::vector<std::pair<int, int>> runs;  // (input, worker), in the order they ran
  std::atomic<bool> lose{true};
  std::atomic<int> ended{0};
  constexpr int count = 40;
  constexpr int lost = 20;
  {
    BusyPool<Numbered> busy(o, clock);
    auto& pool = busy.pool;
    for (int n = 0; n < count; ++n) {
      pool.post(
          [&, n](Numbered& w) {
            {
              std::lock_guard lock(mutex);
              runs.emplace_back(n, w.id);
            }
            if (n == lost && lose.exchange(false)) throw warmpool::worker_lost("broken");
          },
          [&](warmpool::Result<void>&& r) {
            if (r.ok()) ++ended;
          });
    }
    busy.gate.open();
    CHECK(eventually([&] { return ended == count; }));
    CHECK(pool.stats().evicted_lost == 1);
  }
  std::lock_guard lock(mutex);
  std::map<int, int> times_run;
  for (const auto& [input, worker] : runs) ++times_run[input];
  for (int n = 0; n < count; ++n) CHECK(times_run[n] == (n == lost ? 2 : 1));
  const auto loss = std::find(runs.begin(), runs.end(), std::pair{lost, runs.front().second});
  REQUIRE(loss != runs.end());
  const int broken = loss->second;
  CHECK(std::none_of(loss + 1, runs.end(), [&](const auto& run) { return run.second == broken; }));
}
