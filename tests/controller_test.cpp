// Deterministic unit tests and a randomized property test for warmpool::Controller,
// the sans-I/O brain that holds every lifecycle rule of DESIGN.md.
//
// Every event is stamped with an explicit time; nothing here reads a clock.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <warmpool/controller.hpp>

#include "controller_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace controller_support;

// ------------------------------------------------------------------ helpers

/// The actions one event produced, with filters by kind.
struct Batch {
  std::vector<Action> actions;

  std::vector<Action> of(Kind kind) const {
    std::vector<Action> out;
    for (const Action& a : actions) {
      if (a.kind == kind) out.push_back(a);
    }
    return out;
  }
  std::size_t size() const { return actions.size(); }
  bool empty() const { return actions.empty(); }

  /// Ids of booted workers, in order.
  std::vector<WorkerId> booted() const {
    std::vector<WorkerId> out;
    for (const Action& a : of(Kind::boot)) out.push_back(a.worker);
    return out;
  }
  /// Evicted workers, in order, all with reason `why` (checked).
  std::vector<WorkerId> evicted(EvictReason why) const {
    std::vector<WorkerId> out;
    for (const Action& a : of(Kind::evict)) {
      CHECK(a.evict_reason == why);
      out.push_back(a.worker);
    }
    return out;
  }
  /// Failed inputs, in order, all with reason `why` (checked).
  std::vector<InputId> failed(FailReason why) const {
    std::vector<InputId> out;
    for (const Action& a : of(Kind::fail)) {
      CHECK(a.fail_reason == why);
      out.push_back(a.input);
    }
    return out;
  }
  /// Inputs asked to stop, in order.
  std::vector<InputId> stopped() const {
    std::vector<InputId> out;
    for (const Action& a : of(Kind::stop)) out.push_back(a.input);
    return out;
  }
  /// Started inputs as (input, worker) pairs, in order.
  std::vector<std::pair<InputId, WorkerId>> started() const {
    std::vector<std::pair<InputId, WorkerId>> out;
    for (const Action& a : of(Kind::start)) out.emplace_back(a.input, a.worker);
    return out;
  }
};

/// Takes every action queued since the last call.
Batch drain(Controller& c) {
  Batch b;
  c.take_actions(b.actions);
  return b;
}

/// Input 1 arrives at 0s and boots a worker, which is warm at 1s and starts it. Returns
/// that worker; its actions are drained.
WorkerId start_first_input(Controller& c) {
  c.input_arrived(0s, 1);
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  drain(c);
  return w;
}

using Starts = std::vector<std::pair<InputId, WorkerId>>;
using Ids = std::vector<std::uint64_t>;

/// The counters that differ between two snapshots, as "name got/want" (empty: none).
std::string counter_differences(const Stats& got, const Stats& want) {
  std::string out;
  const auto field = [&](const char* name, std::uint64_t Stats::*member) {
    if (got.*member != want.*member) {
      out += std::string(name) + " " + std::to_string(got.*member) + "/" +
             std::to_string(want.*member) + " ";
    }
  };
  field("boots", &Stats::boots);
  field("boot_failures", &Stats::boot_failures);
  field("evictions", &Stats::evictions);
  field("inputs_submitted", &Stats::inputs_submitted);
  field("inputs_rejected", &Stats::inputs_rejected);
  field("cold_inputs", &Stats::cold_inputs);
  field("inputs_retried", &Stats::inputs_retried);
  field("inputs_rerun", &Stats::inputs_rerun);
  field("inputs_completed", &Stats::inputs_completed);
  field("inputs_failed", &Stats::inputs_failed);
  field("inputs_cancelled", &Stats::inputs_cancelled);
  field("inputs_timed_out", &Stats::inputs_timed_out);
  field("inputs_closed", &Stats::inputs_closed);
  field("inputs_lost", &Stats::inputs_lost);
  field("inputs_enter_failed", &Stats::inputs_enter_failed);
  return out;
}

/// Gauges of a snapshot, compared as one value for readable failures.
struct Gauges {
  std::size_t booting, idle, busy, pending, running;
  std::size_t retrying = 0;
  friend bool operator==(const Gauges&, const Gauges&) = default;
};
Gauges gauges(const Stats& s) {
  return {s.workers_booting, s.workers_idle,   s.workers_busy,
          s.inputs_pending,  s.inputs_running, s.inputs_retrying};
}

/// The target formula of DESIGN.md, written independently of the Controller.
std::size_t expected_target(const Autoscaler& a, std::size_t max_inputs, std::size_t work) {
  const std::size_t demand = (work + max_inputs - 1) / max_inputs;
  const std::size_t wanted = demand > 0 ? demand + a.buffer : 0;
  return std::min(a.max_workers, std::max(a.min_warm, wanted));
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<std::vector<std::uint64_t>> {
  static String convert(const std::vector<std::uint64_t>& ids) {
    std::string out = "{";
    for (const std::uint64_t id : ids) out += (out.size() > 1 ? ", " : "") + std::to_string(id);
    return (out + "}").c_str();
  }
};
template <>
struct StringMaker<std::vector<std::pair<std::uint64_t, std::uint64_t>>> {
  static String convert(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& starts) {
    std::string out = "{";
    for (const auto& [input, worker] : starts) {
      out += (out.size() > 1 ? ", " : "") + std::string("input ") + std::to_string(input) + " on " +
             std::to_string(worker);
    }
    return (out + "}").c_str();
  }
};
template <>
struct StringMaker<Gauges> {
  static String convert(const Gauges& g) {
    return ("{booting " + std::to_string(g.booting) + ", idle " + std::to_string(g.idle) +
            ", busy " + std::to_string(g.busy) + ", pending " + std::to_string(g.pending) +
            ", running " + std::to_string(g.running) + ", retrying " + std::to_string(g.retrying) +
            "}")
        .c_str();
  }
};
}  // namespace doctest

// ------------------------------------------------------------ the seed rule

TEST_CASE("seed rule: first input boots one worker, the next one reuses it warm") {
  Controller c(options({.min_warm = 0, .max_workers = 4, .buffer = 0, .idle_timeout = 60s}));

  CHECK(c.input_arrived(0s, 1) == Admission::accepted);
  Batch b = drain(c);
  REQUIRE(b.size() == 1);
  REQUIRE(b.booted().size() == 1);
  const WorkerId w = b.booted()[0];
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 1, .idle = 0, .busy = 0, .pending = 1, .running = 0});

  c.worker_warm(2s, w);
  b = drain(c);
  REQUIRE(b.size() == 1);
  CHECK(b.started() == Starts{{1, w}});
  CHECK(b.actions[0].cold);
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 0, .idle = 0, .busy = 1, .pending = 0, .running = 1});

  c.input_done(3s, 1, Outcome::value);
  CHECK(drain(c).empty());  // nothing evicted, nothing booted
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 0, .idle = 1, .busy = 0, .pending = 0, .running = 0});

  // Right after the first finishes: same worker, at once, no boot, not cold.
  CHECK(c.input_arrived(3s, 2) == Admission::accepted);
  b = drain(c);
  REQUIRE(b.size() == 1);
  CHECK(b.started() == Starts{{2, w}});
  CHECK_FALSE(b.actions[0].cold);

  c.input_done(4s, 2, Outcome::value);
  const Stats s = c.stats();
  CHECK(s.boots == 1);
  CHECK(s.cold_inputs == 1);
  CHECK(s.inputs_submitted == 2);
  CHECK(s.inputs_completed == 2);
  CHECK(s.evictions == 0);
  check_accounting(s);
}

TEST_CASE("a Controller boots nothing before its first event (the body ticks at start)") {
  Controller c(options({.min_warm = 2, .max_workers = 4}));
  CHECK(drain(c).empty());
  c.tick(0s);
  CHECK(drain(c).booted().size() == 2);
}

// ---------------------------------------------------------- the target size

TEST_CASE("target formula: a burst boots exactly the target, never more") {
  struct Case {
    Autoscaler a;
    std::size_t max_inputs;
    std::size_t burst;
  };
  const Case cases[] = {
      {{.min_warm = 0, .max_workers = 8, .buffer = 0}, 1, 5},   // min(N, max) = 5
      {{.min_warm = 0, .max_workers = 3, .buffer = 0}, 1, 10},  // capped at max_workers
      {{.min_warm = 0, .max_workers = 8, .buffer = 0}, 3, 7},   // ceil(7/3) = 3
      {{.min_warm = 0, .max_workers = 8, .buffer = 0}, 4, 8},   // ceil(8/4) = 2
      {{.min_warm = 2, .max_workers = 8, .buffer = 0}, 1, 1},   // min_warm dominates
      {{.min_warm = 0, .max_workers = 8, .buffer = 2}, 1, 3},   // demand + buffer = 5
      {{.min_warm = 1, .max_workers = 8, .buffer = 2}, 2, 5},   // ceil(5/2) + 2 = 5
      {{.min_warm = 0, .max_workers = 4, .buffer = 10}, 1, 1},  // buffer clamped to max
      {{.min_warm = 3, .max_workers = 4, .buffer = 0}, 1, 1},   // min_warm 3 > demand 1
  };
  for (const Case& k : cases) {
    CAPTURE(k.a.min_warm);
    CAPTURE(k.a.max_workers);
    CAPTURE(k.a.buffer);
    CAPTURE(k.max_inputs);
    CAPTURE(k.burst);
    Controller c(options(k.a, k.max_inputs));
    c.tick(0s);
    std::vector<WorkerId> booting = drain(c).booted();
    CHECK(booting.size() == std::min(k.a.min_warm, k.a.max_workers));

    for (InputId i = 1; i <= k.burst; ++i) {
      c.input_arrived(Time(i), i);
      const std::vector<WorkerId> more = drain(c).booted();
      booting.insert(booting.end(), more.begin(), more.end());
      CHECK(c.stats().target_workers == expected_target(k.a, k.max_inputs, i));
      CHECK(booting.size() == expected_target(k.a, k.max_inputs, i));  // booting counts
    }
    const std::size_t target = expected_target(k.a, k.max_inputs, k.burst);
    CHECK(c.stats().boots == target);

    // Warming every worker starts inputs but boots nothing more.
    std::size_t started = 0;
    for (const WorkerId w : booting) {
      c.worker_warm(1s, w);
      const Batch b = drain(c);
      CHECK(b.booted().empty());
      CHECK(b.started().size() <= k.max_inputs);
      started += b.started().size();
    }
    CHECK(started == std::min(k.burst, target * k.max_inputs));
    CHECK(c.stats().inputs_running == started);
    CHECK(c.stats().inputs_pending == k.burst - started);
    CHECK(c.stats().target_workers == target);
    CHECK(c.stats().boots == target);
  }
}

// --------------------------------------------------------------- dispatching

TEST_CASE("pending inputs start in FIFO order on whichever worker is free first") {
  Controller c(options({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s}));
  for (InputId i = 1; i <= 4; ++i) c.input_arrived(Time(i * 1ms), i);
  const std::vector<WorkerId> workers = drain(c).booted();
  REQUIRE(workers.size() == 2);
  const WorkerId first_booted = workers[0];
  const WorkerId second_booted = workers[1];

  // The worker booted for input 1 is still booting; the other one takes input 1.
  c.worker_warm(10ms, second_booted);
  Batch b = drain(c);
  CHECK(b.started() == Starts{{1, second_booted}});
  CHECK(b.actions.at(0).cold);

  // It frees up before the other worker is warm: it takes input 2 (not cold).
  c.input_done(20ms, 1, Outcome::value);
  b = drain(c);
  CHECK(b.started() == Starts{{2, second_booted}});
  CHECK_FALSE(b.actions.at(0).cold);

  c.worker_warm(30ms, first_booted);
  b = drain(c);
  CHECK(b.started() == Starts{{3, first_booted}});
  CHECK(b.actions.at(0).cold);

  c.input_done(40ms, 3, Outcome::value);
  CHECK(drain(c).started() == Starts{{4, first_booted}});
  CHECK(c.stats().cold_inputs == 2);
  CHECK(c.stats().boots == 2);
}

TEST_CASE("a new input goes to the most recently idle worker") {
  Controller c(options({.min_warm = 0, .max_workers = 3, .idle_timeout = 60s}));
  for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
  const std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 3);
  for (const WorkerId id : w) c.worker_warm(1s, id);
  std::map<InputId, WorkerId> where;
  for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
  REQUIRE(where.size() == 3);

  // Idle since 2s, 3s, 4s for inputs 1, 2, 3.
  c.input_done(2s, 1, Outcome::value);
  c.input_done(3s, 2, Outcome::value);
  c.input_done(4s, 3, Outcome::value);
  CHECK(drain(c).empty());

  c.input_arrived(5s, 4);
  CHECK(drain(c).started() == Starts{{4, where[3]}});
  c.input_done(6s, 4, Outcome::value);  // where[3] is the most recently idle again
  c.input_arrived(7s, 5);
  CHECK(drain(c).started() == Starts{{5, where[3]}});
  c.input_arrived(7s, 6);  // next most recent: idle since 3s
  CHECK(drain(c).started() == Starts{{6, where[2]}});
  c.input_arrived(7s, 7);
  CHECK(drain(c).started() == Starts{{7, where[1]}});
}

TEST_CASE("with max_inputs > 1 a partly busy worker is filled before an idle one") {
  Controller c(options({.min_warm = 2, .max_workers = 2, .idle_timeout = 60s}, 2));
  c.tick(0s);
  const std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(1s, w[0]);
  c.worker_warm(2s, w[1]);
  drain(c);
  c.input_arrived(3s, 1);
  CHECK(drain(c).started() == Starts{{1, w[1]}});  // most recently idle
  c.input_arrived(3s, 2);
  CHECK(drain(c).started() == Starts{{2, w[1]}});  // fill it first
  c.input_arrived(3s, 3);
  CHECK(drain(c).started() == Starts{{3, w[0]}});  // full: the other one
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 0, .idle = 0, .busy = 2, .pending = 0, .running = 3});
}

// ----------------------------------------------------------- idle eviction

TEST_CASE("idle eviction") {
  SUBCASE("at exactly idle_since + idle_timeout, not one nanosecond before") {
    Controller c(options({.min_warm = 0, .max_workers = 2, .idle_timeout = 10s}));
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    c.input_done(2s, 1, Outcome::value);
    drain(c);
    REQUIRE(c.next_wakeup().has_value());
    CHECK(*c.next_wakeup() == Time(12s));

    c.tick(12s - 1ns);
    CHECK(drain(c).empty());
    CHECK(c.stats().workers_idle == 1);

    c.tick(12s);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{w});
    CHECK(c.stats().workers_idle == 0);
    CHECK(c.stats().evictions == 1);
    CHECK_FALSE(c.next_wakeup().has_value());
  }

  SUBCASE("idle_timeout 0 evicts the moment a worker goes idle") {
    Controller c(options({.min_warm = 0, .max_workers = 2, .idle_timeout = 0ms}));
    const WorkerId w = start_first_input(c);
    c.input_done(2s, 1, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{w});
  }

  SUBCASE("the least recently used idle worker goes first") {
    Controller c(options({.min_warm = 0, .max_workers = 3, .idle_timeout = 10s}));
    for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
    for (const WorkerId w : drain(c).booted()) c.worker_warm(0s, w);
    std::map<InputId, WorkerId> where;
    for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
    // Idle since 3s, 1s, 2s for inputs 1, 2, 3.
    c.input_done(1s, 2, Outcome::value);
    c.input_done(2s, 3, Outcome::value);
    c.input_done(3s, 1, Outcome::value);
    CHECK(drain(c).empty());

    CHECK(c.next_wakeup() == Time(11s));
    c.tick(11s);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[2]});
    CHECK(c.next_wakeup() == Time(12s));
    c.tick(12s);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[3]});
    CHECK(c.next_wakeup() == Time(13s));
    c.tick(13s);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[1]});
    CHECK(c.stats().evictions == 3);
  }

  SUBCASE("never below min_warm, however long workers stay idle") {
    Controller c(options({.min_warm = 2, .max_workers = 3, .idle_timeout = 10s}));
    for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
    for (const WorkerId w : drain(c).booted()) c.worker_warm(0s, w);
    std::map<InputId, WorkerId> where;
    for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
    c.input_done(1s, 1, Outcome::value);
    c.input_done(2s, 2, Outcome::value);
    c.input_done(3s, 3, Outcome::value);
    drain(c);

    c.tick(1h);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[1]});
    CHECK_FALSE(c.next_wakeup().has_value());  // nothing else is ever due
    c.tick(1000h);
    CHECK(drain(c).empty());
    CHECK(c.stats().workers_idle == 2);
  }

  SUBCASE("the buffer holds while inputs run, and only then") {
    Controller c(options({.min_warm = 0, .max_workers = 4, .buffer = 1, .idle_timeout = 10s}));
    c.input_arrived(0s, 1);
    const std::vector<WorkerId> w = drain(c).booted();
    REQUIRE(w.size() == 2);  // demand 1 + buffer 1
    c.worker_warm(1s, w[0]);
    CHECK(drain(c).started() == Starts{{1, w[0]}});
    c.worker_warm(2s, w[1]);
    CHECK(drain(c).empty());

    c.tick(1h);  // the buffer worker has been idle far longer than idle_timeout
    CHECK(drain(c).empty());
    CHECK_FALSE(c.next_wakeup().has_value());
    CHECK(c.stats().workers_idle == 1);

    // Work ends: the buffer worker (idle since 2s) goes at once, the other after 10s.
    c.input_done(1h, 1, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{w[1]});
    CHECK(c.next_wakeup() == Time(1h + 10s));
    c.tick(1h + 10s);
    CHECK(drain(c).evicted(EvictReason::idle) == Ids{w[0]});
  }
}

// ------------------------------------------------------------ keep_warm

TEST_CASE("keep_warm: raising boots the difference at once, lowering waits for idle_timeout") {
  Controller c(options({.min_warm = 0, .max_workers = 8, .idle_timeout = 10s}));

  c.update(0s, {.min_warm = 3});
  Batch b = drain(c);
  CHECK(b.size() == 3);  // all in one batch, in parallel
  const std::vector<WorkerId> w = b.booted();
  REQUIRE(w.size() == 3);
  CHECK(c.stats().workers_booting == 3);
  CHECK(c.stats().target_workers == 3);
  CHECK(c.autoscaler().min_warm == 3);

  c.worker_warm(1s, w[0]);
  c.worker_warm(2s, w[1]);
  c.worker_warm(3s, w[2]);
  CHECK(drain(c).empty());

  // Raising again boots only the difference.
  c.update(4s, {.min_warm = 5});
  const std::vector<WorkerId> more = drain(c).booted();
  CHECK(more.size() == 2);
  for (const WorkerId id : more) c.worker_warm(5s, id);
  drain(c);

  // Lowering evicts nothing before each worker's own idle_timeout.
  c.update(6s, {.min_warm = 1});
  CHECK(drain(c).empty());
  CHECK(c.next_wakeup() == Time(11s));
  c.tick(11s - 1ns);
  CHECK(drain(c).empty());
  c.tick(11s);
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{w[0]});
  c.tick(12s);
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{w[1]});
  c.tick(13s);
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{w[2]});
  c.tick(15s);
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{more[0]});  // the floor of 1 stays
  c.tick(100s);
  CHECK(drain(c).empty());
  CHECK(c.stats().workers_idle == 1);
  CHECK(c.stats().evictions == 4);
}

TEST_CASE("a shorter idle_timeout applies from the moment a worker went idle") {
  Controller c(options({.min_warm = 0, .max_workers = 4, .idle_timeout = 60s}));
  c.input_arrived(0s, 1);
  c.input_arrived(0s, 2);
  for (const WorkerId w : drain(c).booted()) c.worker_warm(0s, w);
  std::map<InputId, WorkerId> where;
  for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
  c.input_done(0s, 1, Outcome::value);   // idle since 0s
  c.input_done(25s, 2, Outcome::value);  // idle since 25s
  drain(c);
  CHECK(c.next_wakeup() == Time(60s));

  c.update(30s, {.idle_timeout = 10s});
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[1]});  // idle 30s >= 10s: at once
  CHECK(c.next_wakeup() == Time(35s));
  c.tick(35s - 1ns);
  CHECK(drain(c).empty());
  c.tick(35s);
  CHECK(drain(c).evicted(EvictReason::idle) == Ids{where[2]});
}

// ------------------------------------------------------------ max_workers

TEST_CASE("a huge idle_timeout means never, not an overflow") {
  Controller c(
      options({.min_warm = 0, .max_workers = 1, .idle_timeout = std::chrono::milliseconds::max()}));
  c.input_arrived(0s, 1);
  c.worker_warm(1s, drain(c).booted().at(0));
  c.input_done(2s, 1, Outcome::value);
  drain(c);
  c.tick(std::chrono::hours(24 * 365 * 50));
  CHECK(drain(c).evicted(EvictReason::idle).empty());
  CHECK(c.stats().workers_idle == 1);
}

TEST_CASE("lowering max_workers evicts surplus idle workers at once, busy ones when done") {
  SUBCASE("one input per worker") {
    Controller c(options({.min_warm = 0, .max_workers = 4, .idle_timeout = 60s}));
    for (InputId i = 1; i <= 4; ++i) c.input_arrived(0s, i);
    for (const WorkerId w : drain(c).booted()) c.worker_warm(1s, w);
    std::map<InputId, WorkerId> where;
    for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
    c.input_done(2s, 4, Outcome::value);  // one idle, three busy
    drain(c);

    c.update(3s, {.max_workers = 1});
    CHECK(drain(c).evicted(EvictReason::surplus) == Ids{where[4]});
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 0, .idle = 0, .busy = 3, .pending = 0, .running = 3});

    c.input_done(4s, 1, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::surplus) == Ids{where[1]});

    // A new input waits: no boot above the cap, and a surplus worker that frees up
    // goes away instead of taking it.
    c.input_arrived(5s, 5);
    CHECK(drain(c).empty());
    c.input_done(6s, 2, Outcome::value);
    Batch b = drain(c);
    CHECK(b.evicted(EvictReason::surplus) == Ids{where[2]});
    CHECK(b.started().empty());
    CHECK(c.stats().inputs_pending == 1);

    c.input_done(7s, 3, Outcome::value);  // the last one is within the cap: it takes input 5
    b = drain(c);
    CHECK(b.of(Kind::evict).empty());
    CHECK(b.started() == Starts{{5, where[3]}});
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 0, .idle = 0, .busy = 1, .pending = 0, .running = 1});
    CHECK(c.stats().evictions == 3);
  }

  SUBCASE("several inputs per worker: a surplus worker takes no new input") {
    Controller c(options({.min_warm = 2, .max_workers = 2, .idle_timeout = 60s}, 2));
    c.tick(0s);
    const std::vector<WorkerId> w = drain(c).booted();
    c.worker_warm(1s, w[0]);
    c.worker_warm(2s, w[1]);
    c.input_arrived(3s, 1);
    c.input_arrived(3s, 2);
    c.input_arrived(3s, 3);
    CHECK(drain(c).started() == Starts{{1, w[1]}, {2, w[1]}, {3, w[0]}});

    c.update(4s, {.min_warm = 1, .max_workers = 1});
    CHECK(drain(c).empty());  // both busy
    c.input_arrived(5s, 4);   // w[0] has a free slot, but the pool is above its cap
    CHECK(drain(c).empty());
    c.input_done(6s, 3, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::surplus) == Ids{w[0]});
    c.input_done(7s, 1, Outcome::value);
    CHECK(drain(c).started() == Starts{{4, w[1]}});
  }

  SUBCASE("a surplus worker going idle lets a partly busy one take the pending input") {
    Controller c(options({.min_warm = 3, .max_workers = 3, .idle_timeout = 60s}, 2));
    c.tick(0s);
    const std::vector<WorkerId> w = drain(c).booted();  // x, y, z
    REQUIRE(w.size() == 3);
    for (const WorkerId id : w) c.worker_warm(1s, id);
    for (InputId i = 1; i <= 6; ++i) c.input_arrived(2s, i);
    CHECK(drain(c).started() ==
          Starts{{1, w[2]}, {2, w[2]}, {3, w[1]}, {4, w[1]}, {5, w[0]}, {6, w[0]}});
    c.input_done(3s, 4, Outcome::value);
    c.input_done(3s, 6, Outcome::value);  // x runs 5, y runs 3, z runs 1 and 2

    c.update(4s, {.min_warm = 2, .max_workers = 2});
    c.input_arrived(5s, 7);
    CHECK(drain(c).empty());  // three warm workers for a cap of two: nobody takes 7

    c.input_done(6s, 3, Outcome::value);  // y goes; x is within the cap again
    const Batch b = drain(c);
    CHECK(b.evicted(EvictReason::surplus) == Ids{w[1]});
    CHECK(b.started() == Starts{{7, w[0]}});
  }

  SUBCASE("a worker still booting when the cap drops is evicted when warm") {
    Controller c(options({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s}));
    c.input_arrived(0s, 1);
    c.input_arrived(0s, 2);
    const std::vector<WorkerId> w = drain(c).booted();
    REQUIRE(w.size() == 2);
    c.worker_warm(1s, w[0]);
    CHECK(drain(c).started() == Starts{{1, w[0]}});
    c.update(2s, {.max_workers = 1});
    CHECK(drain(c).empty());
    c.worker_warm(3s, w[1]);
    Batch b = drain(c);
    CHECK(b.evicted(EvictReason::surplus) == Ids{w[1]});
    CHECK(b.started().empty());
    c.input_done(4s, 1, Outcome::value);
    CHECK(drain(c).started() == Starts{{2, w[0]}});
  }
}

// ------------------------------------------------------------------ buffer

TEST_CASE("buffer applies only while inputs run or wait, clamped to max_workers") {
  SUBCASE("idle pool: no buffer workers") {
    Controller c(options({.min_warm = 0, .max_workers = 10, .buffer = 2}));
    c.tick(0s);
    CHECK(drain(c).empty());
    CHECK(c.stats().target_workers == 0);
    c.input_arrived(1s, 1);
    CHECK(drain(c).booted().size() == 3);
    CHECK(c.stats().target_workers == 3);
  }
  SUBCASE("larger than max_workers") {
    Controller c(options({.min_warm = 0, .max_workers = 3, .buffer = 10}));
    c.input_arrived(0s, 1);
    CHECK(drain(c).booted().size() == 3);
    CHECK(c.stats().target_workers == 3);
  }
  SUBCASE("any buffer is valid, even the largest") {
    Controller c(options({.min_warm = 0, .max_workers = 3, .buffer = 0}));
    c.update(0s, {.buffer = std::numeric_limits<std::size_t>::max()});
    c.input_arrived(0s, 1);
    CHECK(drain(c).booted().size() == 3);
    CHECK(c.stats().target_workers == 3);
  }
}

TEST_CASE("next_wakeup reports a due boot after an event that changed nothing") {
  Options o = options({.min_warm = 0, .max_workers = 1});
  o.boot_backoff = {.initial_delay = 100ms, .max_delay = 1s, .multiplier = 2.0};
  Controller c(o);
  c.input_arrived(0s, 1);
  c.boot_failed(1s, drain(c).booted().at(0));
  CHECK(c.next_wakeup() == Time(1s + 100ms));
  CHECK_FALSE(c.cancel(5s, 42));       // unknown input: no state change, but time moved on
  CHECK(c.next_wakeup() == Time(5s));  // the boot is overdue: wake now, not never
  c.tick(5s);
  CHECK(drain(c).booted().size() == 1);
}

TEST_CASE("zero initial_delay never holds a boot back, however many failures") {
  Options o = options({.min_warm = 1, .max_workers = 1});
  o.boot_backoff = {.initial_delay = 0ms, .max_delay = 0ms, .multiplier = 2.0};
  o.max_boot_failures = 1'000'000;
  Controller c(o);
  c.tick(0s);
  WorkerId w = drain(c).booted().at(0);
  for (int i = 1; i <= 1100; ++i) {  // 2^1100 overflows a double
    c.boot_failed(Time(i), w);
    const std::vector<WorkerId> next = drain(c).booted();
    REQUIRE(next.size() == 1);
    w = next[0];
  }
  CHECK(c.stats().boot_failures == 1100);
  CHECK_FALSE(c.next_wakeup().has_value());
}

// ------------------------------------------------------------- max_pending

TEST_CASE("max_pending: beyond it an input is refused whole") {
  Options o = options({.min_warm = 0, .max_workers = 1});
  o.max_pending = 2;
  Controller c(o);
  CHECK(c.input_arrived(0s, 1) == Admission::accepted);
  CHECK(c.input_arrived(0s, 2) == Admission::accepted);
  const WorkerId w = drain(c).booted().at(0);

  CHECK(c.input_arrived(0s, 3) == Admission::queue_full);
  CHECK(drain(c).empty());  // no boot, no fail, nothing half-accepted
  Stats s = c.stats();
  CHECK(s.inputs_rejected == 1);
  CHECK(s.inputs_submitted == 2);
  CHECK(s.inputs_pending == 2);
  CHECK_FALSE(c.cancel(0s, 3));  // unknown to the Controller

  c.worker_warm(1s, w);  // input 1 starts: room for one more
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK(c.input_arrived(2s, 4) == Admission::accepted);
  CHECK(c.input_arrived(2s, 5) == Admission::queue_full);
  s = c.stats();
  CHECK(s.inputs_rejected == 2);
  CHECK(s.inputs_submitted == 3);
  CHECK(s.inputs_pending == 2);
}

TEST_CASE("max_pending: an input past its deadline no longer holds a place") {
  Options o = options({.min_warm = 0, .max_workers = 1});
  o.max_pending = 2;
  Controller c(o);
  c.input_arrived(0s, 1);
  c.input_arrived(0s, 2, {.deadline = 5s});
  drain(c);
  CHECK(c.input_arrived(1s, 9) == Admission::queue_full);
  // The body is late to tick at 5s; an arrival at 6s still finds the place free.
  CHECK(c.input_arrived(6s, 3) == Admission::accepted);
  CHECK(drain(c).failed(FailReason::timeout) == Ids{2});
  CHECK(c.stats().inputs_rejected == 1);
  CHECK(c.stats().inputs_pending == 2);
}

// --------------------------------------------------- deadlines and cancel

TEST_CASE("deadlines and cancellation") {
  Controller c(options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s}));

  SUBCASE("a pending input fails with timeout at exactly its deadline") {
    c.input_arrived(0s, 1);
    c.input_arrived(0s, 2, {.deadline = 5s});
    const WorkerId w = drain(c).booted().at(0);
    CHECK(c.next_wakeup() == Time(5s));
    c.tick(5s - 1ns);
    CHECK(drain(c).empty());
    c.tick(5s);
    CHECK(drain(c).failed(FailReason::timeout) == Ids{2});
    CHECK(c.stats().inputs_timed_out == 1);
    CHECK(c.stats().inputs_pending == 1);
    CHECK_FALSE(c.next_wakeup().has_value());
    c.worker_warm(6s, w);
    CHECK(drain(c).started() == Starts{{1, w}});
    c.input_done(7s, 1, Outcome::value);
    check_accounting(c.stats());
  }

  SUBCASE("a started input is never failed by its deadline (it is asked to stop instead)") {
    c.input_arrived(0s, 1, {.deadline = 5s});
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    CHECK(drain(c).started() == Starts{{1, w}});
    c.tick(10s);
    const Batch b = drain(c);
    CHECK(b.of(Kind::fail).empty());
    CHECK(b.stopped() == Ids{1});
    c.input_done(11s, 1, Outcome::value);
    CHECK(c.stats().inputs_completed == 1);
    CHECK(c.stats().inputs_timed_out == 0);
  }

  SUBCASE("a worker warm at (or after) the deadline does not start the input") {
    c.input_arrived(0s, 1, {.deadline = 5s});
    c.input_arrived(0s, 2, {.deadline = 9s});
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(5s, w);  // the body did not tick at 5s
    Batch b = drain(c);
    CHECK(b.failed(FailReason::timeout) == Ids{1});
    CHECK(b.started() == Starts{{2, w}});
  }

  SUBCASE("an input arriving past its deadline fails at once") {
    c.tick(10s);
    c.input_arrived(10s, 1, {.deadline = 10s});
    const Batch b = drain(c);
    CHECK(b.failed(FailReason::timeout) == Ids{1});
    CHECK(b.booted().empty());
    check_accounting(c.stats());
  }

  SUBCASE("an input that finds a free warm worker starts even with a zero timeout") {
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    c.input_done(2s, 1, Outcome::value);
    drain(c);
    c.input_arrived(3s, 2, {.deadline = 3s});
    const Batch b = drain(c);
    CHECK(b.started() == Starts{{2, w}});
    CHECK(b.failed(FailReason::timeout).empty());
  }

  SUBCASE("cancel fails a pending input, not a running one") {
    c.input_arrived(0s, 1);
    c.input_arrived(0s, 2);
    const WorkerId w = drain(c).booted().at(0);
    CHECK(c.cancel(1s, 2));
    CHECK(drain(c).failed(FailReason::cancelled) == Ids{2});
    CHECK_FALSE(c.cancel(1s, 2));  // ends only once
    CHECK(drain(c).empty());

    c.worker_warm(2s, w);
    CHECK(drain(c).started() == Starts{{1, w}});
    CHECK_FALSE(c.cancel(3s, 1));  // running: not cancelled
    CHECK(drain(c).empty());
    c.input_done(4s, 1, Outcome::value);
    CHECK_FALSE(c.cancel(5s, 1));  // ended
    const Stats s = c.stats();
    CHECK(s.inputs_cancelled == 1);
    CHECK(s.inputs_completed == 1);
    check_accounting(s);
  }

  SUBCASE("an input cancelled before it arrived is counted and failed at once") {
    CHECK(c.input_arrived(0s, 1, {.cancelled = true}) == Admission::accepted);
    const Batch b = drain(c);
    CHECK(b.failed(FailReason::cancelled) == Ids{1});
    CHECK(b.booted().empty());
    const Stats s = c.stats();
    CHECK(s.inputs_submitted == 1);
    CHECK(s.inputs_cancelled == 1);
    check_accounting(s);
  }
}

// ------------------------------------------------------------ boot failures

TEST_CASE("boot failures: backoff, enter_failed after max_boot_failures, reset on success") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.boot_backoff = {.initial_delay = 100ms, .max_delay = 250ms, .multiplier = 2.0};
  o.max_boot_failures = 3;
  o.worker_lost_reruns = 0;  // a lost input ends at once
  Controller c(o);

  c.input_arrived(0s, 1);
  WorkerId w = drain(c).booted().at(0);

  // 1st failure: the next boot waits 100ms.
  c.boot_failed(1s, w);
  CHECK(drain(c).empty());
  CHECK(c.next_wakeup() == Time(1s + 100ms));
  c.tick(1s + 100ms - 1ns);
  CHECK(drain(c).empty());
  c.tick(1s + 100ms);
  w = drain(c).booted().at(0);

  // 2nd failure: 200ms.
  c.boot_failed(2s, w);
  CHECK(drain(c).empty());
  CHECK(c.next_wakeup() == Time(2s + 200ms));
  c.tick(2s + 200ms - 1ns);
  CHECK(drain(c).empty());
  c.tick(2s + 200ms);
  w = drain(c).booted().at(0);
  CHECK(c.stats().inputs_pending == 1);

  // 3rd failure: the pending input fails with enter_failed; nothing left to boot for.
  c.boot_failed(3s, w);
  Batch b = drain(c);
  CHECK(b.failed(FailReason::enter_failed) == Ids{1});
  CHECK(b.booted().empty());
  CHECK_FALSE(c.next_wakeup().has_value());
  Stats s = c.stats();
  CHECK(s.boot_failures == 3);
  CHECK(s.inputs_enter_failed == 1);
  check_accounting(s);

  // A later input starts a new attempt after the capped delay (min(400ms, 250ms)).
  c.input_arrived(3s + 100ms, 2);
  CHECK(drain(c).empty());
  CHECK(c.next_wakeup() == Time(3s + 250ms));
  c.tick(3s + 250ms);
  w = drain(c).booted().at(0);
  c.worker_warm(4s, w);
  b = drain(c);
  CHECK(b.started() == Starts{{2, w}});
  CHECK(b.actions.at(0).cold);

  // The success reset the count: after the next failure the delay is 100ms again.
  c.input_done(5s, 2, Outcome::lost);
  CHECK(drain(c).evicted(EvictReason::lost) == Ids{w});
  c.input_arrived(6s, 3);
  w = drain(c).booted().at(0);  // no backoff pending: boots at once
  c.boot_failed(7s, w);
  CHECK(drain(c).empty());  // one failure: input 3 keeps waiting
  CHECK(c.next_wakeup() == Time(7s + 100ms));
  c.tick(7s + 100ms);
  w = drain(c).booted().at(0);
  c.worker_warm(8s, w);
  CHECK(drain(c).started() == Starts{{3, w}});
  c.input_done(9s, 3, Outcome::value);

  s = c.stats();
  CHECK(s.boots == 6);
  CHECK(s.boot_failures == 4);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_lost == 1);
  check_accounting(s);
}

// -------------------------------------------------------------- lost worker

TEST_CASE("Outcome::lost evicts the worker and boots a replacement if needed") {
  // With no re-runs the lost input ends at once; re-runs are tested below.
  const auto no_reruns = [](Autoscaler a) {
    Options o = options(a);
    o.worker_lost_reruns = 0;
    return o;
  };
  SUBCASE("replacement needed") {
    Controller c(no_reruns({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s}));
    for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
    for (const WorkerId w : drain(c).booted()) c.worker_warm(1s, w);
    std::map<InputId, WorkerId> where;
    for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
    REQUIRE(where.size() == 2);  // input 3 waits

    c.input_done(2s, 1, Outcome::lost);
    Batch b = drain(c);
    CHECK(b.evicted(EvictReason::lost) == Ids{where[1]});
    const std::vector<WorkerId> replacement = b.booted();
    REQUIRE(replacement.size() == 1);
    CHECK(b.started().empty());  // a lost worker takes nothing

    c.worker_warm(3s, replacement[0]);
    b = drain(c);
    CHECK(b.started() == Starts{{3, replacement[0]}});
    CHECK(b.actions.at(0).cold);
    c.input_done(4s, 2, Outcome::exception);
    c.input_done(5s, 3, Outcome::value);
    const Stats s = c.stats();
    CHECK(s.inputs_lost == 1);
    CHECK(s.inputs_failed == 1);
    CHECK(s.inputs_completed == 1);
    CHECK(s.evictions == 1);
    CHECK(s.boots == 3);
    check_accounting(s);
  }

  SUBCASE("no replacement when the target does not need one") {
    Controller c(no_reruns({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s}));
    const WorkerId w = start_first_input(c);
    c.input_done(2s, 1, Outcome::lost);
    const Batch b = drain(c);
    CHECK(b.evicted(EvictReason::lost) == Ids{w});
    CHECK(b.booted().empty());
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 0, .idle = 0, .busy = 0, .pending = 0, .running = 0});
  }

  SUBCASE("min_warm is restored after a loss") {
    Controller c(no_reruns({.min_warm = 1, .max_workers = 2, .idle_timeout = 60s}));
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    c.input_arrived(2s, 1);
    drain(c);
    c.input_done(3s, 1, Outcome::lost);
    const Batch b = drain(c);
    CHECK(b.evicted(EvictReason::lost) == Ids{w});
    CHECK(b.booted().size() == 1);
  }
}

// ----------------------------------------------------------------- shutdown

TEST_CASE("shutdown") {
  SUBCASE("Drain::finish runs pending inputs, evicts idle workers, then finishes") {
    Controller c(options({.min_warm = 1, .max_workers = 2, .idle_timeout = 60s}));
    for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
    const std::vector<WorkerId> w = drain(c).booted();
    REQUIRE(w.size() == 2);
    c.worker_warm(1s, w[0]);
    CHECK(drain(c).started() == Starts{{1, w[0]}});

    c.shutdown(2s, Drain::finish);
    CHECK(drain(c).empty());  // one busy, one booting; inputs 2 and 3 still wait
    CHECK(c.closed());
    CHECK_FALSE(c.finished());
    CHECK(c.input_arrived(2s, 4) == Admission::closed);
    CHECK(drain(c).empty());

    c.worker_warm(3s, w[1]);
    CHECK(drain(c).started() == Starts{{2, w[1]}});
    c.input_done(4s, 1, Outcome::value);
    CHECK(drain(c).started() == Starts{{3, w[0]}});
    c.input_done(5s, 2, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w[1]});  // min_warm no longer holds
    CHECK_FALSE(c.finished());
    c.input_done(6s, 3, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w[0]});
    CHECK(c.finished());

    const Stats s = c.stats();
    CHECK(s.inputs_completed == 3);
    CHECK(s.inputs_rejected == 1);
    CHECK(s.evictions == 2);
    check_accounting(s);
  }

  SUBCASE("idle workers are evicted at once") {
    Controller c(options({.min_warm = 2, .max_workers = 2, .idle_timeout = 60s}));
    c.tick(0s);
    const std::vector<WorkerId> w = drain(c).booted();
    c.worker_warm(1s, w[0]);
    c.worker_warm(2s, w[1]);
    drain(c);
    c.shutdown(3s, Drain::finish);
    const std::vector<WorkerId> evicted = drain(c).evicted(EvictReason::shutdown);
    CHECK(std::set<WorkerId>(evicted.begin(), evicted.end()) == std::set<WorkerId>{w[0], w[1]});
    CHECK(c.finished());
  }

  SUBCASE("Drain::cancel fails pending inputs with pool_closed; running ones finish") {
    Controller c(options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s}));
    for (InputId i = 1; i <= 3; ++i) c.input_arrived(0s, i);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    drain(c);

    c.shutdown(2s, Drain::cancel);
    CHECK(drain(c).failed(FailReason::pool_closed) == Ids{2, 3});
    CHECK(c.input_arrived(2s, 4) == Admission::closed);
    CHECK_FALSE(c.finished());
    c.input_done(3s, 1, Outcome::value);
    CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w});
    CHECK(c.finished());

    const Stats s = c.stats();
    CHECK(s.inputs_closed == 2);
    CHECK(s.inputs_completed == 1);
    CHECK(s.inputs_rejected == 1);
    check_accounting(s);
  }

  SUBCASE("a worker booting at shutdown is evicted when warm") {
    Controller c(options({.min_warm = 1, .max_workers = 1, .idle_timeout = 60s}));
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.shutdown(1s, Drain::cancel);
    CHECK(drain(c).empty());
    CHECK_FALSE(c.finished());
    c.worker_warm(2s, w);
    CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w});
    CHECK(c.finished());
  }
}

// ------------------------------------------------------------------ retries

TEST_CASE("retries: the n-th retry waits min(max_delay, initial_delay * coefficient^(n-1))") {
  struct Case {
    const char* name;
    Retries policy;
    std::vector<Time> delays;  // of retries 1, 2, ...
  };
  const Case cases[] = {
      {"doubling, capped at max_delay",
       {.max_retries = 5, .initial_delay = 100ms, .backoff_coefficient = 2.0, .max_delay = 500ms},
       {100ms, 200ms, 400ms, 500ms, 500ms}},
      {"a fractional coefficient, exact to the nanosecond",
       {.max_retries = 4, .initial_delay = 10ms, .backoff_coefficient = 1.5, .max_delay = 30ms},
       {10ms, 15ms, Time(22'500'000), 30ms}},
      {"coefficient 1: a constant delay",
       {.max_retries = 3, .initial_delay = 7ms, .backoff_coefficient = 1.0, .max_delay = 1s},
       {7ms, 7ms, 7ms}},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
    o.retries = k.policy;
    Controller c(o);
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    REQUIRE(drain(c).started() == Starts{{1, w}});

    Time t = 1s;
    for (std::size_t n = 0; n < k.delays.size(); ++n) {
      CAPTURE(n);
      t += 1s;  // the delay counts from the failure, not from the start of the run
      CHECK_FALSE(c.input_done(t, 1, Outcome::exception));  // it will run again
      CHECK(drain(c).empty());                              // the worker stays warm
      CHECK(gauges(c.stats()) ==
            Gauges{.booting = 0, .idle = 1, .busy = 0, .pending = 0, .running = 0, .retrying = 1});
      CHECK(c.stats().inputs_retried == n + 1);
      CHECK(c.next_wakeup() == t + k.delays[n]);  // before the idle eviction (t + 60s)

      c.tick(t + k.delays[n] - 1ns);
      CHECK(drain(c).empty());
      CHECK(c.stats().inputs_retrying == 1);

      t += k.delays[n];
      c.tick(t);
      const Batch b = drain(c);
      CHECK(b.started() == Starts{{1, w}});
      CHECK_FALSE(b.actions.at(0).cold);
      CHECK(c.stats().inputs_retrying == 0);
    }
    CHECK(c.input_done(t + 1s, 1, Outcome::value));
    const Stats s = c.stats();
    CHECK(s.inputs_completed == 1);
    CHECK(s.inputs_failed == 0);
    CHECK(s.inputs_retried == k.delays.size());
    CHECK(s.cold_inputs == 1);
    check_accounting(s);
  }
}

TEST_CASE("retries: after max_retries failed retries the input ends failed") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {
      .max_retries = 2, .initial_delay = 0ms, .backoff_coefficient = 2.0, .max_delay = 0ms};
  Controller c(o);
  const WorkerId w = start_first_input(c);

  // A zero delay: the retry is queued and restarted on the idle worker in the same event.
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK_FALSE(c.input_done(3s, 1, Outcome::exception));
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK(c.input_done(4s, 1, Outcome::exception));  // budget used up: it ends
  CHECK(drain(c).empty());                         // the worker stays warm, idle
  CHECK(c.stats().workers_idle == 1);
  CHECK(c.next_wakeup() == Time(64s));  // only the idle eviction is due

  const Stats s = c.stats();
  CHECK(s.inputs_retried == 2);
  CHECK(s.inputs_failed == 1);
  CHECK(s.inputs_completed == 0);
  CHECK(s.evictions == 0);
  check_accounting(s);
}

TEST_CASE("retries: a retry joins the back of the pending queue") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {
      .max_retries = 1, .initial_delay = 10ms, .backoff_coefficient = 2.0, .max_delay = 1s};
  Controller c(o);
  const WorkerId w = start_first_input(c);
  c.input_arrived(1s, 2);
  c.input_arrived(1s, 3);
  CHECK(drain(c).empty());

  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));
  CHECK(drain(c).started() == Starts{{2, w}});
  c.tick(2s + 10ms);  // released behind input 3
  CHECK(drain(c).empty());
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 0, .idle = 0, .busy = 1, .pending = 2, .running = 1, .retrying = 0});
  CHECK(c.input_done(3s, 2, Outcome::value));
  CHECK(drain(c).started() == Starts{{3, w}});
  CHECK(c.input_done(4s, 3, Outcome::value));
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK(c.input_done(5s, 1, Outcome::value));
  const Stats s = c.stats();
  CHECK(s.inputs_completed == 3);
  CHECK(s.inputs_retried == 1);
  check_accounting(s);
}

TEST_CASE("retries: an input's own Retries override the pool's") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 10s};
  Controller c(o);
  c.input_arrived(0s, 1, {.retries = Retries{.max_retries = 0}});
  c.input_arrived(0s, 2,
                  {.retries = Retries{.max_retries = 1,
                                      .initial_delay = 50ms,
                                      .backoff_coefficient = 1.0,
                                      .max_delay = 50ms}});
  c.input_arrived(0s, 3);  // the pool's policy
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  CHECK(drain(c).started() == Starts{{1, w}});

  CHECK(c.input_done(2s, 1, Outcome::exception));  // no retries of its own: ends
  CHECK(drain(c).started() == Starts{{2, w}});
  CHECK_FALSE(c.input_done(3s, 2, Outcome::exception));  // its own: 1 retry after 50ms
  CHECK(drain(c).started() == Starts{{3, w}});
  CHECK(c.next_wakeup() == Time(3s + 50ms));
  c.tick(3s + 50ms);
  CHECK(drain(c).empty());                               // queued: the worker is busy
  CHECK_FALSE(c.input_done(4s, 3, Outcome::exception));  // the pool's: after 1s
  CHECK(drain(c).started() == Starts{{2, w}});
  CHECK(c.next_wakeup() == Time(5s));
  CHECK(c.input_done(4s + 500ms, 2, Outcome::exception));  // its one retry is used
  c.tick(5s);
  CHECK(drain(c).started() == Starts{{3, w}});
  CHECK(c.input_done(6s, 3, Outcome::value));

  const Stats s = c.stats();
  CHECK(s.inputs_retried == 2);
  CHECK(s.inputs_failed == 2);
  CHECK(s.inputs_completed == 1);
  check_accounting(s);
}

TEST_CASE("retries: cancel fails an input waiting between retries") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {.max_retries = 3, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 10s};
  Controller c(o);
  start_first_input(c);
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));
  CHECK(c.next_wakeup() == Time(3s));

  CHECK(c.cancel(2s + 500ms, 1));
  CHECK(drain(c).failed(FailReason::cancelled) == Ids{1});
  CHECK(c.stats().inputs_retrying == 0);
  CHECK(c.next_wakeup() == Time(62s));  // the retry timer is gone; the idle eviction is left
  c.tick(3s);
  CHECK(drain(c).empty());       // nothing restarts
  CHECK_FALSE(c.cancel(3s, 1));  // ends only once
  CHECK(drain(c).empty());

  const Stats s = c.stats();
  CHECK(s.inputs_cancelled == 1);
  CHECK(s.inputs_retried == 1);
  CHECK(s.inputs_failed == 0);
  check_accounting(s);
}

TEST_CASE("retries: a retry falling due while a worker boots is cold only on that worker") {
  Options o = options({.min_warm = 0, .max_workers = 3, .idle_timeout = 60s});
  o.retries = {.max_retries = 1, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 10s};
  Controller c(o);
  c.input_arrived(0s, 1);
  c.input_arrived(0s, 2);
  const std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(1s, w[0]);
  c.worker_warm(1s, w[1]);
  CHECK(drain(c).started() == Starts{{1, w[0]}, {2, w[1]}});
  c.update(1s, {.min_warm = 3});
  const WorkerId late = drain(c).booted().at(0);
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));
  CHECK_FALSE(c.input_done(2s, 2, Outcome::exception));
  CHECK(c.next_wakeup() == Time(3s));

  // The body did not tick at 3s; both retries are released when the third worker warms.
  c.worker_warm(4s, late);
  const Batch b = drain(c);
  REQUIRE(b.started() == Starts{{1, late}, {2, w[1]}});
  CHECK(b.actions.at(0).cold);        // took the worker that just warmed
  CHECK_FALSE(b.actions.at(1).cold);  // a worker warm and idle all along
  CHECK(c.stats().cold_inputs == 3);
}

// ---------------------------------------------------- re-runs after worker loss

TEST_CASE("worker lost: the input re-runs ahead of older pending inputs, then ends lost") {
  Options o = options({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s});
  o.worker_lost_reruns = 2;
  o.retries = {.max_retries = 0};  // re-runs do not use the retry budget
  Controller c(o);
  for (InputId i = 1; i <= 4; ++i) c.input_arrived(0s, i);
  const std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(1s, w[0]);
  CHECK(drain(c).started() == Starts{{1, w[0]}});
  c.worker_warm(1s, w[1]);
  CHECK(drain(c).started() == Starts{{2, w[1]}});

  // 1st loss: the worker goes, a replacement boots, input 1 waits ahead of 3 and 4.
  CHECK_FALSE(c.input_done(2s, 1, Outcome::lost));
  Batch b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{w[0]});
  const std::vector<WorkerId> w2 = b.booted();
  REQUIRE(w2.size() == 1);
  CHECK(b.started().empty());
  CHECK(c.stats().inputs_pending == 3);
  CHECK(c.stats().inputs_rerun == 1);

  CHECK(c.input_done(3s, 2, Outcome::value));
  b = drain(c);
  CHECK(b.started() == Starts{{1, w[1]}});  // on another worker, before inputs 3 and 4
  CHECK_FALSE(b.actions.at(0).cold);

  // 2nd loss: again at the front.
  CHECK_FALSE(c.input_done(4s, 1, Outcome::lost));
  b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{w[1]});
  const std::vector<WorkerId> w3 = b.booted();
  REQUIRE(w3.size() == 1);
  c.worker_warm(5s, w2[0]);
  b = drain(c);
  CHECK(b.started() == Starts{{1, w2[0]}});
  CHECK(b.actions.at(0).cold);

  // 3rd loss: re-runs used up, the input ends with worker_lost.
  CHECK(c.input_done(6s, 1, Outcome::lost));
  b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{w2[0]});
  CHECK(b.started().empty());
  Stats s = c.stats();
  CHECK(s.inputs_rerun == 2);
  CHECK(s.inputs_lost == 1);
  CHECK(s.inputs_retried == 0);
  CHECK(s.inputs_pending == 2);

  // The others still run, in order.
  for (const WorkerId id : b.booted()) c.worker_warm(7s, id);
  c.worker_warm(7s, w3[0]);
  b = drain(c);
  REQUIRE(b.started().size() == 2);
  CHECK(b.started()[0].first == 3);
  CHECK(b.started()[1].first == 4);
  CHECK(c.input_done(8s, 3, Outcome::value));
  CHECK(c.input_done(8s, 4, Outcome::value));
  s = c.stats();
  CHECK(s.inputs_completed == 3);
  CHECK(s.evictions == 3);
  check_accounting(s);
}

TEST_CASE("worker lost: a re-run leaves the input's retry budget untouched") {
  Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {
      .max_retries = 1, .initial_delay = 0ms, .backoff_coefficient = 1.0, .max_delay = 0ms};
  o.worker_lost_reruns = 1;
  Controller c(o);
  c.input_arrived(0s, 1);
  WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  drain(c);
  CHECK_FALSE(c.input_done(2s, 1, Outcome::lost));  // re-run 1 of 1
  w = drain(c).booted().at(0);
  c.worker_warm(3s, w);
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK_FALSE(c.input_done(4s, 1, Outcome::exception));  // retry 1 of 1: still available
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK(c.input_done(5s, 1, Outcome::exception));
  const Stats s = c.stats();
  CHECK(s.inputs_rerun == 1);
  CHECK(s.inputs_retried == 1);
  CHECK(s.inputs_failed == 1);
  check_accounting(s);
}

TEST_CASE("worker lost: a re-run has no deadline and is never asked to stop") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  Controller c(o);
  c.input_arrived(0s, 1, {.deadline = 5s});
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  drain(c);
  CHECK_FALSE(c.input_done(2s, 1, Outcome::lost));
  const WorkerId w2 = drain(c).booted().at(0);
  CHECK_FALSE(c.next_wakeup().has_value());  // neither a timeout nor a stop is due
  c.tick(10s);
  CHECK(drain(c).empty());
  c.worker_warm(11s, w2);
  CHECK(drain(c).started() == Starts{{1, w2}});
  c.tick(20s);
  CHECK(drain(c).empty());
  CHECK(c.input_done(21s, 1, Outcome::value));
  const Stats s = c.stats();
  CHECK(s.inputs_timed_out == 0);
  CHECK(s.inputs_completed == 1);
  check_accounting(s);
}

TEST_CASE("discarded lease: its worker is evicted and it ends, never re-run or retried") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 60s});
  o.retries = {
      .max_retries = 3, .initial_delay = 0ms, .backoff_coefficient = 1.0, .max_delay = 0ms};
  o.worker_lost_reruns = 2;
  Controller c(o);
  c.tick(0s);
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  c.input_arrived(2s, 1);
  CHECK(drain(c).started() == Starts{{1, w}});

  CHECK(c.input_done(3s, 1, Outcome::discarded));
  const Batch b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{w});
  CHECK(b.booted().size() == 1);  // min_warm is restored
  CHECK(b.started().empty());
  const Stats s = c.stats();
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_rerun == 0);
  CHECK(s.inputs_retried == 0);
  CHECK(s.inputs_lost == 0);
  CHECK(s.evictions == 1);
  check_accounting(s);
}

// ------------------------------------------------------- stop at the deadline

TEST_CASE("deadline: a first run still running then is asked to stop at exactly that time") {
  Controller c(options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s}));

  SUBCASE("running at the deadline: one stop action, no failure") {
    c.input_arrived(0s, 1, {.deadline = 5s});
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    CHECK(drain(c).started() == Starts{{1, w}});
    CHECK(c.next_wakeup() == Time(5s));
    c.tick(5s - 1ns);
    CHECK(drain(c).empty());
    c.tick(5s);
    const Batch b = drain(c);
    REQUIRE(b.size() == 1);
    CHECK(b.stopped() == Ids{1});
    CHECK_FALSE(c.next_wakeup().has_value());
    c.tick(10s);
    CHECK(drain(c).empty());  // once
    CHECK(c.input_done(11s, 1, Outcome::value));
    const Stats s = c.stats();
    CHECK(s.inputs_completed == 1);
    CHECK(s.inputs_timed_out == 0);
    check_accounting(s);
  }

  SUBCASE("finished before the deadline: no stop") {
    c.input_arrived(0s, 1, {.deadline = 5s});
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    drain(c);
    CHECK(c.input_done(4s, 1, Outcome::value));
    CHECK(c.next_wakeup() == Time(64s));  // only the idle eviction
    c.tick(5s);
    CHECK(drain(c).empty());
  }

  SUBCASE("started on arrival with a zero timeout: no stop") {
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    c.input_done(2s, 1, Outcome::value);
    drain(c);
    c.input_arrived(3s, 2, {.deadline = 3s});
    Batch b = drain(c);
    REQUIRE(b.size() == 1);
    CHECK(b.started() == Starts{{2, w}});
    CHECK_FALSE(c.next_wakeup().has_value());
    c.tick(1h);
    CHECK(drain(c).empty());
    // Likewise with a deadline already past when it arrives.
    CHECK(c.input_done(2h, 2, Outcome::value));
    drain(c);
    c.input_arrived(2h, 3, {.deadline = 1h});
    b = drain(c);
    REQUIRE(b.size() == 1);
    CHECK(b.started() == Starts{{3, w}});
    CHECK(c.input_done(3h, 3, Outcome::value));
    CHECK(c.stats().inputs_timed_out == 0);
  }

  SUBCASE("started on arrival before its deadline: stopped at it") {
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    c.input_done(2s, 1, Outcome::value);
    drain(c);
    c.input_arrived(3s, 2, {.deadline = 4s});
    const Batch b = drain(c);
    REQUIRE(b.size() == 1);
    CHECK(b.started() == Starts{{2, w}});
    CHECK(c.next_wakeup() == Time(4s));
    c.tick(4s);
    CHECK(drain(c).stopped() == Ids{2});
  }

  SUBCASE("a retry has no deadline: neither timed out nor stopped") {
    Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
    o.retries = {
        .max_retries = 1, .initial_delay = 10s, .backoff_coefficient = 2.0, .max_delay = 10s};
    Controller r(o);
    r.input_arrived(0s, 1, {.deadline = 5s});
    const WorkerId w = drain(r).booted().at(0);
    r.worker_warm(1s, w);
    drain(r);
    CHECK_FALSE(r.input_done(2s, 1, Outcome::exception));
    CHECK(r.next_wakeup() == Time(12s));  // the first run's stop timer is gone
    r.tick(12s);
    CHECK(drain(r).started() == Starts{{1, w}});
    CHECK_FALSE(r.next_wakeup().has_value());
    r.tick(1h);
    CHECK(drain(r).empty());
    CHECK(r.input_done(2h, 1, Outcome::value));
    CHECK(r.stats().inputs_timed_out == 0);
  }
}

TEST_CASE("stop: at most once per run, whether the deadline or a cancel shutdown comes first") {
  Controller c(options({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s}));
  c.input_arrived(0s, 1, {.deadline = 5s});
  c.input_arrived(0s, 2, {.deadline = 20s});
  for (const WorkerId w : drain(c).booted()) c.worker_warm(1s, w);
  CHECK(drain(c).started().size() == 2);

  c.tick(5s);
  CHECK(drain(c).stopped() == Ids{1});
  c.shutdown(6s, Drain::cancel);
  CHECK(drain(c).stopped() == Ids{2});       // input 1 was asked already
  CHECK_FALSE(c.next_wakeup().has_value());  // input 2's deadline no longer matters
  c.tick(20s);
  CHECK(drain(c).empty());
  CHECK(c.input_done(21s, 1, Outcome::value));
  CHECK(c.input_done(21s, 2, Outcome::value));
  CHECK(drain(c).of(Kind::stop).empty());
  CHECK(c.finished());
}

// --------------------------------------------------- shutdown and failing runs

TEST_CASE("shutdown(Drain::cancel): waiting inputs fail, running ones are asked to stop") {
  Options o = options({.min_warm = 0, .max_workers = 3, .idle_timeout = 60s});
  o.retries = {.max_retries = 5, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 10s};
  o.worker_lost_reruns = 2;
  Controller c(o);
  for (InputId i = 1; i <= 5; ++i) c.input_arrived(0s, i);
  const std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 3);
  std::map<InputId, WorkerId> where;
  for (const WorkerId id : w) c.worker_warm(1s, id);
  for (const auto& [input, worker] : drain(c).started()) where[input] = worker;
  REQUIRE(where.size() == 3);  // 1, 2, 3 run; 4 and 5 wait
  CHECK_FALSE(c.input_done(2s, 3, Outcome::exception));
  CHECK(drain(c).started() == Starts{{4, where[3]}});
  CHECK(gauges(c.stats()) ==
        Gauges{.booting = 0, .idle = 0, .busy = 3, .pending = 1, .running = 3, .retrying = 1});

  c.shutdown(2s + 500ms, Drain::cancel);
  Batch b = drain(c);
  CHECK(b.failed(FailReason::pool_closed) == Ids{5, 3});  // pending, then retrying
  Ids stopped = b.stopped();
  std::sort(stopped.begin(), stopped.end());
  CHECK(stopped == Ids{1, 2, 4});
  CHECK(b.of(Kind::evict).empty());          // all busy
  CHECK_FALSE(c.next_wakeup().has_value());  // no retry timer left
  CHECK_FALSE(c.finished());

  // No retry and no re-run any more: a failing run ends with its own error.
  CHECK(c.input_done(3s, 1, Outcome::exception));
  CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{where[1]});
  CHECK(c.input_done(3s, 2, Outcome::lost));
  b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{where[2]});
  CHECK(b.booted().empty());
  c.shutdown(3s, Drain::cancel);  // again: nothing more to do
  CHECK(drain(c).empty());
  CHECK(c.input_done(4s, 4, Outcome::value));
  CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{where[3]});
  CHECK(c.finished());

  const Stats s = c.stats();
  CHECK(s.inputs_closed == 2);
  CHECK(s.inputs_failed == 1);
  CHECK(s.inputs_lost == 1);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_retried == 1);
  CHECK(s.inputs_rerun == 0);
  check_accounting(s);
}

TEST_CASE("shutdown(Drain::finish): retries and re-runs still happen before it finishes") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.retries = {.max_retries = 1, .initial_delay = 1s, .backoff_coefficient = 2.0, .max_delay = 10s};
  Controller c(o);
  const WorkerId w = start_first_input(c);
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));
  c.shutdown(2s, Drain::finish);
  CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w});  // idle, nothing pending
  CHECK_FALSE(c.finished());                                 // input 1 waits to retry
  CHECK(c.next_wakeup() == Time(3s));
  c.tick(3s);
  const WorkerId w2 = drain(c).booted().at(0);  // a worker for the retry
  c.worker_warm(4s, w2);
  CHECK(drain(c).started() == Starts{{1, w2}});
  CHECK_FALSE(c.input_done(5s, 1, Outcome::lost));  // re-run
  Batch b = drain(c);
  CHECK(b.evicted(EvictReason::lost) == Ids{w2});
  const WorkerId w3 = b.booted().at(0);
  c.worker_warm(6s, w3);
  CHECK(drain(c).started() == Starts{{1, w3}});
  CHECK(c.input_done(7s, 1, Outcome::value));
  CHECK(drain(c).evicted(EvictReason::shutdown) == Ids{w3});
  CHECK(c.finished());
  const Stats s = c.stats();
  CHECK(s.inputs_retried == 1);
  CHECK(s.inputs_rerun == 1);
  CHECK(s.inputs_completed == 1);
  check_accounting(s);
}

// --------------------------------------------------------- retries validation

TEST_CASE("validation: bad Retries (and boot backoff) throw naming the field and range") {
  Options bad;
  bad.retries.backoff_coefficient = 0.5;
  CHECK_THROWS_WITH_AS(Controller{bad}, "retries.backoff_coefficient (0.500000) must be >= 1",
                       std::invalid_argument);
  bad = {};
  bad.retries.initial_delay = -1ms;
  CHECK_THROWS_WITH_AS(Controller{bad}, "retries.initial_delay (-1ms) must be >= 0ms",
                       std::invalid_argument);
  bad = {};
  bad.retries = {.max_retries = 1, .initial_delay = 100ms, .max_delay = 50ms};
  CHECK_THROWS_WITH_AS(Controller{bad},
                       "retries.max_delay (50ms) must be >= retries.initial_delay (100ms)",
                       std::invalid_argument);
  bad = {};
  bad.boot_backoff.multiplier = 0.5;
  CHECK_THROWS_WITH_AS(Controller{bad}, "boot_backoff.multiplier (0.500000) must be >= 1",
                       std::invalid_argument);
  bad = {};
  bad.boot_backoff = {.initial_delay = 100ms, .max_delay = 50ms};
  CHECK_THROWS_WITH_AS(
      Controller{bad},
      "boot_backoff.max_delay (50ms) must be >= boot_backoff.initial_delay (100ms)",
      std::invalid_argument);

  // Edge values that are valid.
  Options edge;
  edge.retries = {
      .max_retries = 0, .initial_delay = 0ms, .backoff_coefficient = 1.0, .max_delay = 0ms};
  edge.worker_lost_reruns = 0;
  CHECK_NOTHROW(Controller{edge});
}

// ------------------------------------------------------------- stats

TEST_CASE("stats: gauges and counters across a mixed scenario") {
  Options o = options({.min_warm = 0, .max_workers = 2, .idle_timeout = 10s});
  o.boot_backoff = {.initial_delay = 0ms, .max_delay = 0ms, .multiplier = 1.0};
  o.max_boot_failures = 1;
  o.max_pending = 3;
  Controller c(o);

  c.input_arrived(0s, 1);
  c.input_arrived(0s, 2, {.deadline = 1s});
  c.input_arrived(0s, 3, {.cancelled = true});
  c.input_arrived(0s, 4);
  CHECK(c.input_arrived(0s, 5) == Admission::queue_full);
  std::vector<WorkerId> w = drain(c).booted();
  REQUIRE(w.size() == 2);
  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 2, .idle = 0, .busy = 0, .pending = 3, .running = 0});
  CHECK(s.target_workers == 2);
  CHECK(s.inputs_submitted == 4);
  CHECK(s.inputs_rejected == 1);
  CHECK(s.inputs_cancelled == 1);

  c.boot_failed(500ms, w[1]);  // max_boot_failures 1: all pending fail
  Batch b = drain(c);
  CHECK(b.failed(FailReason::enter_failed) == Ids{1, 2, 4});
  CHECK(b.booted().empty());  // nothing left to wait for
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.boot_failures == 1);
  CHECK(s.inputs_enter_failed == 3);

  c.worker_warm(1s, w[0]);
  c.input_arrived(2s, 6);
  c.input_arrived(2s, 7, {.deadline = 3s});
  b = drain(c);
  CHECK(b.started() == Starts{{6, w[0]}});
  w = b.booted();
  REQUIRE(w.size() == 1);
  c.tick(3s);
  CHECK(drain(c).failed(FailReason::timeout) == Ids{7});
  c.input_done(4s, 6, Outcome::exception);
  c.worker_warm(4s, w[0]);
  c.input_arrived(5s, 8);
  c.input_done(6s, 8, Outcome::value);
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 0, .idle = 2, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.target_workers == 0);
  CHECK(s.boots == 3);
  CHECK(s.cold_inputs == 0);  // input 6 found a warm idle worker
  CHECK(s.inputs_failed == 1);
  CHECK(s.inputs_timed_out == 1);
  CHECK(s.inputs_completed == 1);
  CHECK(s.inputs_submitted == 7);
  check_accounting(s);

  c.tick(1h);
  s = c.stats();
  CHECK(s.evictions == 2);
  CHECK(s.workers_idle == 0);
}

// --------------------------------------------------------------- validation

TEST_CASE("validation: bad settings throw std::invalid_argument naming field and range") {
  Controller c(options({.min_warm = 1, .max_workers = 3, .buffer = 1, .idle_timeout = 5s}));
  c.tick(0s);
  drain(c);
  const Autoscaler before = c.autoscaler();

  CHECK_THROWS_WITH_AS(c.update(1s, {.max_workers = 0}), "max_workers (0) must be >= 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(c.update(1s, {.min_warm = 5}), "min_warm (5) must be <= max_workers (3)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(c.update(1s, {.idle_timeout = -1ms}), "idle_timeout (-1ms) must be >= 0ms",
                       std::invalid_argument);
  // A partial update is validated against the fields it keeps.
  Controller c2(options({.min_warm = 2, .max_workers = 3}));
  CHECK_THROWS_WITH_AS(c2.update(0s, {.max_workers = 1}), "min_warm (2) must be <= max_workers (1)",
                       std::invalid_argument);
  // A bad field anywhere rejects the whole update.
  CHECK_THROWS_AS(c.update(1s, {.min_warm = 2, .buffer = 7, .idle_timeout = -5ms}),
                  std::invalid_argument);

  CHECK(c.autoscaler() == before);
  CHECK(drain(c).empty());
  CHECK(c.stats().target_workers == 1);

  // Edge values that are valid.
  CHECK(c.update(1s, {.min_warm = 3, .idle_timeout = 0ms}) ==
        Autoscaler{.min_warm = 3, .max_workers = 3, .buffer = 1, .idle_timeout = 0ms});

  Options bad;
  bad.max_inputs = 0;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_inputs (0) must be >= 1", std::invalid_argument);
  bad = {};
  bad.max_pending = 0;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_pending (0) must be >= 1", std::invalid_argument);
  bad = {};
  bad.autoscaler.max_workers = 0;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_workers (0) must be >= 1", std::invalid_argument);
  bad = {};
  bad.max_boot_failures = 0;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_boot_failures (0) must be >= 1",
                       std::invalid_argument);
}

// ======================================================= randomized property test

namespace {

/// Coefficients the property test uses, as num / 2 so that its model computes every retry
/// delay exactly in integers (independently of the Controller's floating point).
constexpr std::uint64_t coefficient_halves[] = {2, 3, 4, 6};  // 1, 1.5, 2, 3

Retries random_retries(std::mt19937_64& rng) {
  static constexpr std::chrono::milliseconds initials[] = {0ms, 1ms, 4ms, 10ms, 50ms};
  static constexpr std::chrono::milliseconds caps[] = {0ms, 8ms, 30ms, 200ms, 500ms};
  Retries r;
  r.max_retries = rng() % 4;
  r.initial_delay = initials[rng() % 5];
  r.max_delay = std::max(r.initial_delay, caps[rng() % 5]);
  r.backoff_coefficient = static_cast<double>(coefficient_halves[rng() % 4]) / 2.0;
  return r;
}

/// A body simulated in the test: its own model of workers and inputs, fed with every
/// action the Controller emits and checked against the rules after each event.
class Fuzz {
 public:
  Fuzz(std::uint64_t seed, const Options& o)
      : rng_(seed),
        o_(o),
        settings_(o.autoscaler),
        c_(o),
        fail_percent_(static_cast<int>(seed % 4) * 10) {}

  void run(int steps) {
    event(Event{.kind = Ev::tick});
    // Most walks shut down somewhere in their second half and go on closed; the others
    // shut down once the walk is over.
    const std::uint64_t half = static_cast<std::uint64_t>(steps) / 2;
    const std::uint64_t shutdown_at = percent(80) ? half + pick(half) : 2 * half;
    for (std::uint64_t step = 0; step < static_cast<std::uint64_t>(steps); ++step) {
      // Preferably while an input waits to retry (a while later at most).
      if (!closed_ && step >= shutdown_at && (!retrying_.empty() || step >= shutdown_at + 50)) {
        shutdown(pick(2) == 0 ? Drain::finish : Drain::cancel);
      } else {
        random_step();
      }
    }
    finish();
  }

  /// How often each interesting path was taken (so the test can show it is exercised).
  struct Coverage {
    std::uint64_t retries_released = 0, reruns = 0, stops_at_deadline = 0, stops_at_cancel = 0,
                  retrying_cancelled = 0, retrying_closed = 0, discarded = 0,
                  zero_timeout_starts = 0;
  };
  const Coverage& coverage() const { return coverage_; }

 private:
  enum class Ev { arrive, warm, boot_failed, done, cancel, tick, update, shutdown };
  struct Event {
    Ev kind;
    WorkerId worker = 0;
    InputId input = 0;
    Outcome outcome = Outcome::value;
    Drain drain = Drain::finish;
    Arrival arrival{};
    AutoscalerUpdate change{};
  };
  static const char* name(Ev kind) {
    static constexpr const char* names[] = {"arrive", "warm", "boot_failed", "done",
                                            "cancel", "tick", "update",      "shutdown"};
    return names[static_cast<int>(kind)];
  }
  struct Worker {
    bool warm = false;
    std::set<InputId> running;
  };
  /// What the model keeps of one accepted input across its runs.
  struct Input {
    std::optional<Time> deadline{};    // applies to its first run only
    std::optional<Retries> retries{};  // its own policy, if any
    bool started = false;              // its first run started
    std::size_t failures = 0;          // runs that threw
    std::size_t reruns = 0;            // runs lost with their worker
    std::optional<Time> stop_at{};     // the running first run is to be stopped then
    bool stopped = false;              // the current run was asked to stop
    bool cancelled = false;            // its caller cancelled the current run
  };

  // ---- randomness (no std distributions: their output differs between libraries)

  std::uint64_t pick(std::uint64_t n) { return rng_() % n; }
  bool percent(int p) { return static_cast<int>(pick(100)) < p; }
  template <class C>
  auto any_of(const C& c) {
    auto it = c.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(pick(c.size())));
    return *it;
  }

  // ---- the random walk

  void random_step() {
    if (percent(50)) advance(Time(pick(20'000'000)));  // up to 20ms
    const std::uint64_t r = pick(100);
    if (r < 25) {
      arrive();
    } else if (r < 45 && !booting_.empty()) {
      const WorkerId w = any_of(booting_);
      event(Event{.kind = percent(fail_percent_) ? Ev::boot_failed : Ev::warm, .worker = w});
    } else if (r < 65 && !running_.empty()) {
      event(Event{.kind = Ev::done, .input = any_of(running_).first, .outcome = outcome()});
    } else if (r < 70 && next_input_ > 1) {
      // Half the time aim at an input waiting between retries.
      const InputId i =
          !retrying_.empty() && percent(50) ? any_of(retrying_).first : 1 + pick(next_input_ - 1);
      event(Event{.kind = Ev::cancel, .input = i});
    } else if (r < 73) {
      update();
    } else {
      // A well-behaved body ticks exactly at next_wakeup; sometimes it is late.
      const std::optional<Time> at = c_.next_wakeup();
      if (at && percent(60)) {
        now_ = std::max(now_, *at + (percent(80) ? Time(0) : Time(pick(5'000'000))));
      } else {
        advance(Time(pick(200'000'000)));
      }
      event(Event{.kind = Ev::tick});
    }
  }

  Outcome outcome() {
    const std::uint64_t o = pick(100);
    return o < 55   ? Outcome::value
           : o < 80 ? Outcome::exception
           : o < 93 ? Outcome::lost
                    : Outcome::discarded;
  }

  void advance(Time by) { now_ += by; }

  void arrive() {
    Event e{.kind = Ev::arrive, .input = next_input_++};
    if (percent(20)) {  // a zero timeout (start now or fail) a quarter of the time
      e.arrival.deadline = now_ + (percent(25) ? Time(0) : Time(pick(100'000'000)));
    }
    if (percent(30)) e.arrival.retries = random_retries(rng_);
    if (percent(5)) e.arrival.cancelled = true;
    event(e);
  }

  void update() {
    AutoscalerUpdate u;
    static constexpr std::chrono::milliseconds timeouts[] = {0ms, 5ms, 20ms, 100ms, 1000ms};
    if (percent(50)) u.max_workers = 1 + pick(6);
    if (percent(50)) u.min_warm = pick(5);
    if (percent(40)) u.buffer = pick(4);
    if (percent(40)) u.idle_timeout = percent(5) ? -1ms : timeouts[pick(5)];
    const Autoscaler next = merged(settings_, u);
    if (next.min_warm > next.max_workers || next.idle_timeout < 0ms) {
      CHECK_THROWS_AS(c_.update(now_, u), std::invalid_argument);
      CHECK(c_.autoscaler() == settings_);  // unchanged
      CHECK(drain(c_).empty());
      return;
    }
    event(Event{.kind = Ev::update, .change = u});
  }

  static Autoscaler merged(Autoscaler a, const AutoscalerUpdate& u) {
    if (u.min_warm) a.min_warm = *u.min_warm;
    if (u.max_workers) a.max_workers = *u.max_workers;
    if (u.buffer) a.buffer = *u.buffer;
    if (u.idle_timeout) a.idle_timeout = *u.idle_timeout;
    return a;
  }

  void shutdown(Drain drain) { event(Event{.kind = Ev::shutdown, .drain = drain}); }

  /// After the walk: shut down (if not yet) and serve everything until finished().
  void finish() {
    if (!closed_) shutdown(pick(2) == 0 ? Drain::finish : Drain::cancel);
    for (int i = 0; i < 100'000 && !c_.finished(); ++i) {
      if (!booting_.empty()) {
        const WorkerId w = *booting_.begin();
        event(Event{.kind = percent(fail_percent_) ? Ev::boot_failed : Ev::warm, .worker = w});
      } else if (!running_.empty()) {
        event(Event{.kind = Ev::done, .input = running_.begin()->first, .outcome = outcome()});
      } else if (const std::optional<Time> at = c_.next_wakeup()) {
        now_ = std::max(now_, *at);
        event(Event{.kind = Ev::tick});
      } else {
        FAIL("stuck: not finished, nothing running or booting, no wakeup");
      }
    }
    CHECK(c_.finished());
    CHECK(pending_.empty());
    CHECK(running_.empty());
    CHECK(retrying_.empty());
    CHECK(workers_.empty());
    CHECK_FALSE(c_.next_wakeup().has_value());
    const Stats s = c_.stats();
    check_accounting(s);
    CHECK(s.inputs_submitted + s.inputs_rejected == next_input_ - 1);
    CHECK(ended_.size() == s.inputs_submitted);
    if (cancelling_) {  // no retry and no re-run after shutdown(Drain::cancel)
      CHECK(s.inputs_retried == retried_at_cancel_);
      CHECK(s.inputs_rerun == rerun_at_cancel_);
    }
  }

  // ---- feeding the Controller and checking its answer

  void event(const Event& e) {
    INFO("event " << std::string(name(e.kind)) << " at " << now_.count() << "ns");
    // A refused arrival, or a cancel of an input that is not waiting, changes no worker or
    // queue, so the Controller does not run its due work then; only next_wakeup() must
    // cover it.
    bool reconciled = true;
    cancel_now_ = false;
    std::optional<std::set<InputId>> must_fail;  // exactly these fail in this event
    switch (e.kind) {
      case Ev::arrive: {
        // Inputs past their deadline are failed first and free their places.
        const std::size_t waiting = static_cast<std::size_t>(
            std::count_if(pending_.begin(), pending_.end(), [&](InputId i) {
              const Input& in = inputs_.at(i);
              return in.started || !in.deadline || *in.deadline > now_;
            }));
        const Admission expected = closed_                     ? Admission::closed
                                   : waiting >= o_.max_pending ? Admission::queue_full
                                                               : Admission::accepted;
        CHECK(c_.input_arrived(now_, e.input, e.arrival) == expected);
        if (expected != Admission::accepted) {
          reconciled = false;
          ++expect_.inputs_rejected;
        } else {
          ++expect_.inputs_submitted;
          if (!e.arrival.cancelled) {
            pending_.push_back(e.input);
            inputs_[e.input] = Input{.deadline = e.arrival.deadline, .retries = e.arrival.retries};
          }
        }
        break;
      }
      case Ev::warm:
        c_.worker_warm(now_, e.worker);
        booting_.erase(e.worker);
        workers_[e.worker].warm = true;
        make_idle(e.worker);
        consecutive_failures_ = 0;
        break;
      case Ev::boot_failed:
        c_.boot_failed(now_, e.worker);
        booting_.erase(e.worker);
        workers_.erase(e.worker);
        ++expect_.boot_failures;
        ++consecutive_failures_;
        next_boot_at_ = now_ + backoff(consecutive_failures_);
        if (consecutive_failures_ % o_.max_boot_failures == 0) {
          must_fail.emplace(pending_.begin(), pending_.end());  // not the retrying ones
        } else {
          must_fail.emplace();
        }
        break;
      case Ev::done: done(e); break;
      case Ev::cancel: {
        const bool pending = std::find(pending_.begin(), pending_.end(), e.input) != pending_.end();
        const bool retrying = retrying_.contains(e.input);
        CHECK(c_.cancel(now_, e.input) == (pending || retrying));
        if (running_.contains(e.input)) inputs_.at(e.input).cancelled = true;
        reconciled = pending || retrying;
        if (retrying) ++coverage_.retrying_cancelled;
        must_fail = reconciled ? std::set<InputId>{e.input} : std::set<InputId>{};
        break;
      }
      case Ev::tick: c_.tick(now_); break;
      case Ev::update:
        settings_ = merged(settings_, e.change);
        CHECK(c_.update(now_, e.change) == settings_);
        break;
      case Ev::shutdown:
        c_.shutdown(now_, e.drain);
        closed_ = true;
        if (e.drain == Drain::cancel && !cancelling_) {
          cancelling_ = true;
          cancel_now_ = true;
          retried_at_cancel_ = expect_.inputs_retried;
          rerun_at_cancel_ = expect_.inputs_rerun;
          must_fail.emplace(pending_.begin(), pending_.end());
          for (const auto& [i, at] : retrying_) must_fail->insert(i);
          coverage_.retrying_closed += retrying_.size();
        }
        break;
    }
    // A reconciling event queues the retries that are due (at their time, not before),
    // behind the inputs already pending, in the order they fell due.
    if (reconciled) release_due_retries();
    const Batch b = drain(c_);
    apply(e, b);
    if (e.kind == Ev::done && lost_worker_ != 0) {
      CHECK_FALSE(workers_.contains(lost_worker_));  // the lost worker was evicted
    }
    lost_worker_ = 0;
    CHECK(withdrawn_ == 0);  // a withdrawn input was failed in this very batch
    if (must_fail) {
      std::set<InputId> failed;
      for (const Action& a : b.of(Kind::fail)) {
        if (a.fail_reason != FailReason::timeout) failed.insert(a.input);
      }
      CHECK(failed == *must_fail);
    }
    if (cancel_now_) {
      // Every running input was asked to stop, and nothing is left to wait.
      for (const auto& [i, w] : running_) CHECK(inputs_.at(i).stopped);
      CHECK(pending_.empty());
      CHECK(retrying_.empty());
    }
    check_invariants(reconciled);
  }

  void done(const Event& e) {
    Input& in = inputs_.at(e.input);
    const WorkerId w = running_.at(e.input);
    bool ends = true;
    bool rerun = false;
    switch (e.outcome) {
      case Outcome::value: ++expect_.inputs_completed; break;
      case Outcome::discarded:
        ++expect_.inputs_completed;
        ++coverage_.discarded;
        break;
      case Outcome::exception: {
        const Retries policy = in.retries.value_or(o_.retries);
        if (!cancelling_ && in.failures < policy.max_retries && in.cancelled) {
          withdrawn_ = e.input;  // it would be retried, but its caller cancelled it
          ends = false;
        } else if (!cancelling_ && in.failures < policy.max_retries) {
          ++in.failures;
          ++expect_.inputs_retried;
          retrying_[e.input] = now_ + retry_delay(policy, in.failures);
          ends = false;
        } else {
          ++expect_.inputs_failed;
        }
        break;
      }
      case Outcome::lost:
        if (!cancelling_ && in.reruns < o_.worker_lost_reruns && in.cancelled) {
          withdrawn_ = e.input;  // it would be re-run, but its caller cancelled it
          ends = false;
        } else if (!cancelling_ && in.reruns < o_.worker_lost_reruns) {
          ++in.reruns;
          ++expect_.inputs_rerun;
          ++coverage_.reruns;
          ends = false;
          rerun = true;
        } else {
          ++expect_.inputs_lost;
        }
        break;
      case Outcome::unhealthy: FAIL("not generated: health checks are off here"); break;
    }
    CHECK(c_.input_done(now_, e.input, e.outcome) == ends);
    running_.erase(e.input);
    in.stop_at.reset();
    in.stopped = false;
    in.cancelled = false;
    if (ends) end(e.input);
    if (rerun) pending_.push_front(e.input);  // ahead of every input already pending
    const bool breaks = e.outcome == Outcome::lost || e.outcome == Outcome::discarded;
    if (workers_.contains(w)) {
      workers_[w].running.erase(e.input);
      if (workers_[w].running.empty() && !breaks) make_idle(w);
    }
    lost_worker_ = breaks && workers_.contains(w) ? w : 0;
  }

  void release_due_retries() {
    std::vector<std::pair<Time, InputId>> due;
    for (const auto& [i, at] : retrying_) {
      if (at <= now_) due.emplace_back(at, i);
    }
    std::sort(due.begin(), due.end());
    for (const auto& [at, i] : due) {
      retrying_.erase(i);
      pending_.push_back(i);
      ++coverage_.retries_released;
    }
  }

  void apply(const Event& e, const Batch& b) {
    for (const Action& a : b.actions) {
      switch (a.kind) {
        case Kind::boot: on_boot(a); break;
        case Kind::start: on_start(e, a); break;
        case Kind::evict: on_evict(a); break;
        case Kind::fail: on_fail(e, a); break;
        case Kind::stop: on_stop(a); break;
      }
    }
  }

  void on_boot(const Action& a) {
    CHECK_FALSE(workers_.contains(a.worker));
    CHECK(a.worker > last_worker_);
    last_worker_ = a.worker;
    workers_[a.worker] = Worker{};
    booting_.insert(a.worker);
    ++expect_.boots;
    CHECK(live() <= settings_.max_workers);
    CHECK(now_ >= next_boot_at_);
  }

  void on_start(const Event& e, const Action& a) {
    REQUIRE_FALSE(pending_.empty());
    CHECK(a.input == pending_.front());  // FIFO (re-runs at the front, retries at the back)
    REQUIRE(workers_.contains(a.worker));
    Worker& w = workers_[a.worker];
    CHECK(w.warm);
    CHECK(w.running.size() < o_.max_inputs);
    CHECK(warm_count() <= settings_.max_workers);  // a surplus worker takes no new input
    Input& in = inputs_.at(a.input);
    CHECK_FALSE(in.stop_at.has_value());
    if (!in.started) {
      if (in.deadline && *in.deadline == now_) ++coverage_.zero_timeout_starts;
      // Started strictly before its deadline, or on arrival by a free worker.
      CHECK((!in.deadline || *in.deadline > now_ || (e.kind == Ev::arrive && e.input == a.input)));
      if (in.deadline && *in.deadline > now_) in.stop_at = in.deadline;
      in.started = true;
    }
    in.stopped = false;
    CHECK(a.cold == (e.kind == Ev::warm && a.worker == e.worker));
    if (a.cold) ++expect_.cold_inputs;
    pending_.pop_front();
    if (w.running.empty()) unidle(a.worker);
    w.running.insert(a.input);
    running_[a.input] = a.worker;
  }

  void on_evict(const Action& a) {
    REQUIRE(workers_.contains(a.worker));
    const Worker& w = workers_[a.worker];
    CHECK(w.warm);
    if (a.evict_reason == EvictReason::lost) {
      CHECK(a.worker == lost_worker_);
    } else {
      CHECK(w.running.empty());
    }
    switch (a.evict_reason) {
      case EvictReason::lost: break;
      case EvictReason::surplus: CHECK(live() > settings_.max_workers); break;
      case EvictReason::shutdown: CHECK(closed_); break;
      case EvictReason::idle:
        CHECK_FALSE(closed_);
        CHECK(a.worker == idle_.front());  // least recently used first
        CHECK(now_ - idle_since_.at(a.worker) >= settings_.idle_timeout);
        CHECK(live() - 1 >= target());  // never below the target
        break;
      case EvictReason::lifetime:
      case EvictReason::uses:
      case EvictReason::unhealthy: FAIL_CHECK("recycling and health checks are off here"); break;
    }
    if (a.evict_reason != EvictReason::lost) unidle(a.worker);  // a lost one never idled
    workers_.erase(a.worker);
    ++expect_.evictions;
  }

  void on_fail(const Event& e, const Action& a) {
    const auto it = std::find(pending_.begin(), pending_.end(), a.input);
    const bool pending = it != pending_.end();
    const bool retrying = retrying_.contains(a.input);
    const bool arriving_cancelled =
        e.kind == Ev::arrive && e.arrival.cancelled && e.input == a.input;
    const bool withdrawn = withdrawn_ == a.input;
    if (withdrawn) withdrawn_ = 0;
    CHECK((pending || retrying || arriving_cancelled || withdrawn));  // never a running one
    if (pending) pending_.erase(it);
    if (retrying) retrying_.erase(a.input);
    switch (a.fail_reason) {
      case FailReason::timeout: {
        CHECK(pending);
        const Input& in = inputs_.at(a.input);
        CHECK_FALSE(in.started);  // a re-run or a retry has no deadline
        CHECK((in.deadline && *in.deadline <= now_));
        ++expect_.inputs_timed_out;
        break;
      }
      case FailReason::cancelled:
        CHECK(((e.kind == Ev::cancel && e.input == a.input) || arriving_cancelled || withdrawn));
        ++expect_.inputs_cancelled;
        break;
      case FailReason::pool_closed:
        CHECK(cancel_now_);
        ++expect_.inputs_closed;
        break;
      case FailReason::enter_failed:
        CHECK(e.kind == Ev::boot_failed);
        CHECK(pending);
        CHECK(consecutive_failures_ % o_.max_boot_failures == 0);
        ++expect_.inputs_enter_failed;
        break;
    }
    end(a.input);
  }

  void on_stop(const Action& a) {
    REQUIRE(running_.contains(a.input));  // only a running input
    Input& in = inputs_.at(a.input);
    CHECK_FALSE(in.stopped);  // at most once per run
    const bool at_deadline = in.stop_at && *in.stop_at <= now_;
    CHECK((at_deadline || cancel_now_));
    if (at_deadline) {
      ++coverage_.stops_at_deadline;
    } else {
      ++coverage_.stops_at_cancel;
    }
    in.stopped = true;
    in.stop_at.reset();
  }

  void end(InputId input) { CHECK(ended_.insert(input).second); }  // at most once

  void make_idle(WorkerId w) {
    idle_.push_back(w);
    idle_since_[w] = now_;
  }
  void unidle(WorkerId w) {
    const auto it = std::find(idle_.begin(), idle_.end(), w);
    CHECK(it != idle_.end());
    if (it != idle_.end()) idle_.erase(it);
  }

  // ---- the model's view

  std::size_t live() const { return workers_.size(); }
  std::size_t warm_count() const { return workers_.size() - booting_.size(); }
  std::size_t target() const {
    const std::size_t work = pending_.size() + running_.size();
    if (closed_) {
      return std::min(settings_.max_workers, (work + o_.max_inputs - 1) / o_.max_inputs);
    }
    return expected_target(settings_, o_.max_inputs, work);
  }
  Time backoff(std::size_t failures) const {
    const auto& b = o_.boot_backoff;
    Time delay = b.initial_delay;
    for (std::size_t i = 1; i < failures && delay < Time(b.max_delay); ++i) delay *= 2;
    return std::min(delay, Time(b.max_delay));
  }
  /// min(max_delay, initial_delay * coefficient^(n-1)) in exact integer arithmetic.
  static Time retry_delay(const Retries& r, std::size_t n) {
    const auto halves = static_cast<std::uint64_t>(r.backoff_coefficient * 2.0);
    const auto cap = static_cast<std::uint64_t>(Time(r.max_delay).count());
    std::uint64_t num = static_cast<std::uint64_t>(Time(r.initial_delay).count());
    std::uint64_t den = 1;
    for (std::size_t i = 1; i < n && num < cap * den; ++i) {
      num *= halves;
      den *= 2;
    }
    return Time(static_cast<Time::rep>(std::min(num / den, cap)));
  }

  /// Checks every invariant after an event; the broken ones are reported together (one
  /// doctest assertion per group keeps the test fast under the sanitizers).
  void check_invariants(bool reconciled) {
    const Stats s = c_.stats();
    std::size_t busy = 0;
    for (const auto& [id, w] : workers_) busy += w.warm && !w.running.empty() ? 1 : 0;
    CHECK(gauges(s) == Gauges{.booting = booting_.size(),
                              .idle = idle_.size(),
                              .busy = busy,
                              .pending = pending_.size(),
                              .running = running_.size(),
                              .retrying = retrying_.size()});
    CHECK(counter_differences(s, expect_) == "");

    std::string bad;  // the broken invariants, by name
    const auto expect = [&bad](bool ok, const char* what) {
      if (!ok) bad += std::string(what) + "; ";
    };
    expect(idle_.size() + busy == warm_count(), "idle + busy == warm");
    expect(s.target_workers == target(), "target formula");
    expect(expect_.inputs_submitted ==
               pending_.size() + running_.size() + retrying_.size() + ended_.size(),
           "every accepted input is pending, running, retrying or ended");

    // An input is in at most one of pending, running, retrying, ended.
    std::vector<InputId> live_inputs(pending_.begin(), pending_.end());
    for (const auto& [i, w] : running_) live_inputs.push_back(i);
    for (const auto& [i, at] : retrying_) live_inputs.push_back(i);
    std::sort(live_inputs.begin(), live_inputs.end());
    expect(std::adjacent_find(live_inputs.begin(), live_inputs.end()) == live_inputs.end(),
           "an input in two of pending, running, retrying");
    expect(std::none_of(live_inputs.begin(), live_inputs.end(),
                        [&](InputId i) { return ended_.contains(i); }),
           "an ended input still pending, running or retrying");
    expect(!cancelling_ || (pending_.empty() && retrying_.empty()),
           "an input waits after shutdown(Drain::cancel)");

    // Above the cap only booting or busy workers remain (the documented transient).
    expect(live() <= settings_.max_workers || idle_.empty(), "an idle worker above the cap");
    // No warm worker has a free slot while inputs wait (unless it is surplus).
    if (!pending_.empty() && warm_count() <= settings_.max_workers) {
      for (const auto& [id, w] : workers_) {
        expect(!w.warm || w.running.size() == o_.max_inputs,
               "a warm worker has a free slot while inputs wait");
      }
    }
    // Every due thing is in the future (nothing is late) and the body is woken for it.
    const std::optional<Time> wakeup = c_.next_wakeup();
    expect(!wakeup || !reconciled || *wakeup > now_, "next_wakeup is in the past");
    const auto due = [&](const char* what, Time at) {
      if ((reconciled && at <= now_) || !wakeup || *wakeup > std::max(at, now_)) {
        bad += std::string(what) + " due at " + std::to_string(at.count()) + "ns, wakeup " +
               (wakeup ? std::to_string(wakeup->count()) : std::string("none")) + "; ";
      }
    };
    for (const InputId i : pending_) {
      const Input& in = inputs_.at(i);
      if (!in.started && in.deadline) due("deadline", *in.deadline);
    }
    for (const auto& [i, w] : running_) {
      const Input& in = inputs_.at(i);
      if (in.stop_at) {
        expect(!in.stopped, "a stopped run still has a stop time");
        due("stop at the deadline", *in.stop_at);
      }
    }
    for (const auto& [i, at] : retrying_) due("retry", at);
    // Idle eviction: the LRU idle worker above the target goes at idle_since + timeout.
    if (!idle_.empty() && live() > target()) {
      expect(!closed_, "an idle worker above the target after shutdown");
      due("idle eviction", idle_since_.at(idle_.front()) + settings_.idle_timeout);
    }
    // Below the target only while a boot backoff runs.
    if (live() < target()) due("boot after backoff", next_boot_at_);
    // Settled: nothing to do and no backoff: at least min_warm workers are live.
    if (reconciled && !closed_ && pending_.empty() && running_.empty() && now_ >= next_boot_at_) {
      expect(live() >= std::min(settings_.min_warm, settings_.max_workers),
             "settled below min_warm");
    }
    INFO("pending " << pending_.size() << ", running " << running_.size() << ", retrying "
                    << retrying_.size() << ", live " << live() << ", warm " << warm_count()
                    << ", target " << target() << ", max_workers " << settings_.max_workers);
    CHECK(bad == "");
  }

  std::mt19937_64 rng_;
  Options o_;
  Autoscaler settings_;
  Controller c_;
  int fail_percent_;

  Time now_{0};
  bool closed_ = false;
  bool cancelling_ = false;  // shut down with Drain::cancel
  bool cancel_now_ = false;  // ... by the event being checked
  std::uint64_t retried_at_cancel_ = 0;
  std::uint64_t rerun_at_cancel_ = 0;
  InputId next_input_ = 1;
  WorkerId last_worker_ = 0;
  WorkerId lost_worker_ = 0;
  InputId withdrawn_ = 0;  // cancelled while it ran; its failed run must end it now
  std::size_t consecutive_failures_ = 0;
  Time next_boot_at_{std::numeric_limits<Time::rep>::min()};

  std::map<WorkerId, Worker> workers_;
  std::set<WorkerId> booting_;
  std::deque<WorkerId> idle_;  // least recently idle first
  std::map<WorkerId, Time> idle_since_;
  std::map<InputId, Input> inputs_;
  std::deque<InputId> pending_;  // in the order they start
  std::map<InputId, WorkerId> running_;
  std::map<InputId, Time> retrying_;  // due time of the next run
  std::set<InputId> ended_;
  Stats expect_{};
  Coverage coverage_{};
};

}  // namespace

TEST_CASE("property: random event streams keep every lifecycle invariant") {
  Fuzz::Coverage total;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed * 7919);
    Options o;
    o.autoscaler = {.min_warm = seed % 3,
                    .max_workers = 2 + seed % 4,
                    .buffer = seed % 2,
                    .idle_timeout = std::chrono::milliseconds(10 * (seed % 5))};
    o.max_inputs = 1 + seed % 3;
    o.max_pending = 3 + seed % 6;
    o.boot_backoff = {.initial_delay = 5ms, .max_delay = 40ms, .multiplier = 2.0};
    o.max_boot_failures = 2 + seed % 2;
    o.retries = random_retries(rng);
    o.worker_lost_reruns = seed % 3;
    Fuzz fuzz(seed, o);
    fuzz.run(750);
    const Fuzz::Coverage& c = fuzz.coverage();
    total.retries_released += c.retries_released;
    total.reruns += c.reruns;
    total.stops_at_deadline += c.stops_at_deadline;
    total.stops_at_cancel += c.stops_at_cancel;
    total.retrying_cancelled += c.retrying_cancelled;
    total.retrying_closed += c.retrying_closed;
    total.discarded += c.discarded;
    total.zero_timeout_starts += c.zero_timeout_starts;
  }
  // Every new path was exercised.
  INFO("retries " << total.retries_released << ", re-runs " << total.reruns
                  << ", stops at deadline " << total.stops_at_deadline << ", at cancel "
                  << total.stops_at_cancel << ", retrying cancelled " << total.retrying_cancelled
                  << ", retrying closed " << total.retrying_closed << ", discarded "
                  << total.discarded << ", zero-timeout starts " << total.zero_timeout_starts);
  CHECK(total.retries_released > 100);
  CHECK(total.reruns > 100);
  CHECK(total.stops_at_deadline > 20);
  CHECK(total.stops_at_cancel > 5);
  CHECK(total.retrying_cancelled > 5);
  CHECK(total.retrying_closed > 5);
  CHECK(total.discarded > 100);
  CHECK(total.zero_timeout_starts > 5);
}

TEST_CASE("an input cancelled while it runs is not run again") {
  Options o = options({.min_warm = 0, .max_workers = 2, .idle_timeout = 60s});
  o.retries = {.max_retries = 3, .initial_delay = 0s, .backoff_coefficient = 1.0, .max_delay = 0s};
  o.worker_lost_reruns = 2;
  for (const Outcome outcome : {Outcome::exception, Outcome::lost}) {
    Controller c(o);
    c.input_arrived(0s, 1);
    c.worker_warm(1s, drain(c).booted().at(0));
    drain(c);
    CHECK_FALSE(c.cancel(2s, 1));  // running: only marked
    CHECK(drain(c).empty());
    CHECK_FALSE(c.input_done(3s, 1, outcome));  // ended by the fail action instead
    const Batch b = drain(c);
    CHECK(b.failed(FailReason::cancelled) == Ids{1});
    CHECK(b.started().empty());
    const Stats s = c.stats();
    CHECK(s.inputs_cancelled == 1);
    CHECK(s.inputs_retried + s.inputs_rerun == 0);
    check_accounting(s);
  }
}

TEST_CASE("an input's own retries are validated and a refused one changes nothing") {
  Controller c(options({.min_warm = 0, .max_workers = 1}));
  const Arrival bad{.retries = Retries{.max_retries = 1, .backoff_coefficient = 0.5}};
  CHECK_THROWS_WITH_AS(c.input_arrived(0s, 1, bad),
                       "retries.backoff_coefficient (0.500000) must be >= 1",
                       std::invalid_argument);
  CHECK(drain(c).empty());
  CHECK(c.stats().inputs_submitted == 0);
  CHECK(c.stats().inputs_pending == 0);
}

// ------------------------------------------------------------ saturation

TEST_CASE("deferrable arrivals: while every worker is busy and none may boot, the room left") {
  Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s});
  o.max_pending = 3;
  Controller c(o);
  CHECK(c.deferrable_arrivals() == 0);  // nothing runs: an arrival would boot a worker

  c.input_arrived(0s, 1);
  const WorkerId w = drain(c).booted().at(0);
  CHECK(c.deferrable_arrivals() == 0);  // booting, but no input runs yet to end
  c.worker_warm(1s, w);
  drain(c);
  CHECK(c.deferrable_arrivals() == 3);  // input 1 runs on the only worker allowed

  c.update(2s, {.max_workers = 2});  // an arrival would boot a second worker
  CHECK(drain(c).booted().empty());
  CHECK(c.deferrable_arrivals() == 0);
  c.update(2s, {.max_workers = 1});
  CHECK(c.deferrable_arrivals() == 3);

  c.input_arrived(3s, 2);
  CHECK(c.deferrable_arrivals() == 2);  // one place of the queue is taken
  c.input_arrived(3s, 3);
  c.input_arrived(3s, 4);
  CHECK(c.deferrable_arrivals() == 0);  // full: the next arrival is refused at once
  c.input_done(4s, 1, Outcome::value);
  CHECK(drain(c).started() == Starts{{2, w}});
  CHECK(c.deferrable_arrivals() == 1);
  for (const InputId input : {2, 3, 4}) c.input_done(5s, input, Outcome::value);
  CHECK(c.deferrable_arrivals() == 0);  // the worker is free

  c.input_arrived(6s, 5);
  CHECK(c.deferrable_arrivals() == 3);
  c.shutdown(7s, Drain::finish);
  CHECK(c.deferrable_arrivals() == 0);  // closed: arrivals are refused at once
}

TEST_CASE("an arrival reported late waits in the queue from its own time") {
  Controller c(options({.min_warm = 0, .max_workers = 1, .idle_timeout = 60s}));
  c.input_arrived(0s, 1);
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(1s, w);
  c.tick(5s);
  c.input_arrived(2s, 2);  // posted at 2 s, reported at 5 s (say, batched by the body)
  c.input_done(8s, 1, Outcome::value);
  CHECK(drain(c).started() == Starts{{1, w}, {2, w}});
  const Stats s = c.stats(8s);
  CHECK(s.queue_wait.max == 6s);  // 2 s to 8 s; input 1 waited 1 s for its boot
}
