// Observability of the threaded Pool: hook times, latency summaries, worker list and the
// event listener. Durations come from a ManualClock that the hooks and inputs advance.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace test_support;
using warmpool::Event;
using warmpool::EventKind;
using warmpool::ManualClock;
using warmpool::Options;
using warmpool::WorkerInfo;

/// A worker whose hooks take virtual time: 1 s to snapshot, 2 s to enter.
struct Slow {
  explicit Slow(ManualClock c) : clock(std::move(c)) {}
  void enter_snapshot() { clock.advance(1s); }
  void enter() { clock.advance(2s); }
  ManualClock clock;
  int served = 0;
};

TestPool<Slow>::Factory slow(const ManualClock& clock) {
  return [clock] { return std::make_unique<Slow>(clock); };
}

/// An input that takes 5 s on a fresh worker (lazy initialisation) and 1 s later.
int serve(Slow& w) {
  w.clock.advance(w.served == 0 ? 5s : 1s);
  return ++w.served;
}

struct Plain {
  int value = 0;
};

/// Collects events; checks that the listener is never called concurrently.
struct Recorder {
  std::mutex mutex;
  std::vector<Event> events;
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};

  void operator()(const Event& e) {
    if (inside.exchange(true)) ++overlaps;
    {
      std::lock_guard lock(mutex);
      events.push_back(e);
    }
    inside = false;
  }
  std::vector<EventKind> kinds() {
    std::lock_guard lock(mutex);
    std::vector<EventKind> out;
    for (const Event& e : events) out.push_back(e.kind);
    return out;
  }
  std::vector<Event> all() {
    std::lock_guard lock(mutex);
    return events;
  }
};

}  // namespace

TEST_CASE("observability: hook times, boot time, and first versus later input latency") {
  ManualClock clock;
  Options o = with_max_workers(1);
  o.enter_hooks.emplace_back([clock]() mutable { clock.advance(3s); });
  TestPool<Slow> pool(o, slow(clock), clock);

  for (int i = 1; i <= 3; ++i) {
    auto f = pool.submit(serve);
    REQUIRE(ready_soon(f));
    CHECK(f.get() == i);
  }
  const warmpool::Stats s = pool.stats();
  REQUIRE(s.enter_hooks.size() == 3);
  CHECK(s.enter_hooks[0].name == "enter_snapshot");
  CHECK(s.enter_hooks[0].time.max == 1s);
  CHECK(s.enter_hooks[1].name == "enter");
  CHECK(s.enter_hooks[1].time.max == 2s);
  CHECK(s.enter_hooks[2].name == "enter_hooks[0]");
  CHECK(s.enter_hooks[2].time.max == 3s);
  CHECK(s.boot_time.count == 1);
  CHECK(s.boot_time.max == 6s);
  CHECK(s.queue_wait.max == 6s);  // the cold input waited for the whole boot
  CHECK(s.first_input.count == 1);
  CHECK(s.first_input.max == 5s);  // amortized work shows here...
  CHECK(s.later_input.count == 2);
  CHECK(s.later_input.max == 1s);  // ...and not here
  CHECK(s.busy_worker_seconds == doctest::Approx(7.0));
  CHECK(s.cold_inputs == 1);
  CHECK(s.warm_inputs == 2);
}

TEST_CASE("observability: idle worker-seconds grow with the clock, eviction counted by reason") {
  ManualClock clock;
  Life life;
  Options o = with_max_workers(2);
  o.autoscaler.idle_timeout = 30s;
  TestPool<Tracked> pool(o, tracked(life), clock);
  auto f = pool.submit([](Tracked&) {});
  REQUIRE(ready_soon(f));
  f.get();
  clock.advance(10s);
  CHECK(pool.stats().idle_worker_seconds == doctest::Approx(10.0));
  clock.advance(20s);
  const warmpool::Stats s = pool.stats();
  CHECK(s.evicted_idle == 1);
  CHECK(s.idle_worker_seconds == doctest::Approx(30.0));
  CHECK(s.autoscaler.idle_timeout == 30s);
}

TEST_CASE("observability: workers() shows each worker's state, age and inputs served") {
  ManualClock clock;
  Life life;
  TestPool<Tracked> pool(with_max_workers(2), tracked(life), clock);
  life.hold_from = 1;  // the second worker stays in enter() until the gate opens
  auto f = pool.submit([](Tracked& w) { return w.id; });
  REQUIRE(ready_soon(f));
  f.get();
  clock.advance(4s);
  pool.keep_warm(2);
  REQUIRE(eventually([&] { return life.constructed == 2; }));

  const std::vector<WorkerInfo> list = pool.workers();
  REQUIRE(list.size() == 2);
  CHECK(list[0].state == WorkerInfo::State::idle);
  CHECK(list[0].age == 4s);
  CHECK(list[0].inputs_served == 1);
  CHECK(list[0].idle_since.has_value());
  CHECK(list[1].state == WorkerInfo::State::booting);
  CHECK(list[1].age == 0s);
  life.boot_gate.open();
  CHECK(eventually([&] { return pool.stats().workers_idle == 2; }));
}

TEST_CASE("observability: the listener sees a cold start, warm reuse, eviction, keep_warm") {
  ManualClock clock;
  auto recorder = std::make_shared<Recorder>();
  Options o = with_max_workers(2);
  o.autoscaler.idle_timeout = 10s;
  o.on_event = [recorder](const Event& e) { (*recorder)(e); };
  TestPool<Slow> pool(o, slow(clock), clock);

  for (int i = 0; i < 2; ++i) {
    auto f = pool.submit(serve);
    REQUIRE(ready_soon(f));
    f.get();
  }
  clock.advance(10s);
  pool.keep_warm(1);
  const std::vector<EventKind> expected{
      EventKind::input_queued,   EventKind::boot_started,   EventKind::worker_warm,
      EventKind::input_started,  EventKind::input_finished, EventKind::input_started,
      EventKind::input_finished, EventKind::worker_evicted, EventKind::settings_changed,
      EventKind::boot_started,   EventKind::worker_warm};
  CHECK(eventually([&] { return recorder->kinds().size() == expected.size(); }));
  CHECK(recorder->kinds() == expected);
  const std::vector<Event> events = recorder->all();
  REQUIRE(events.size() >= 11);
  CHECK(events[2].boot_time == 3s);
  CHECK(events[2].enter_hook_times == std::vector<std::chrono::nanoseconds>{1s, 2s});
  CHECK(events[3].cold);
  CHECK(events[3].first_on_worker);
  CHECK(events[3].queue_wait == 3s);
  CHECK(events[4].run_time == 5s);
  CHECK_FALSE(events[5].cold);
  CHECK(events[7].evict_reason == warmpool::EvictReason::idle);
  CHECK(events[8].settings.min_warm == 1);
  CHECK(recorder->overlaps == 0);
}

TEST_CASE("observability: a listener may read and change the pool") {
  ManualClock clock;
  Life life;
  std::atomic<TestPool<Tracked>*> self{nullptr};
  std::atomic<int> warm_seen{0};
  std::atomic<std::size_t> min_warm_seen{0};
  Options o = with_max_workers(2);
  o.on_event = [&](const Event& e) {
    TestPool<Tracked>* pool = self.load();
    if (pool == nullptr) return;
    warm_seen = static_cast<int>(pool->stats().workers_idle + pool->stats().workers_busy);
    if (e.kind == EventKind::worker_warm && pool->keep_warm() == 0) pool->keep_warm(1);
    if (e.kind == EventKind::settings_changed) min_warm_seen = e.settings.min_warm;
  };
  TestPool<Tracked> pool(o, tracked(life), clock);
  self = &pool;
  finishes_within([&] {
    auto f = pool.submit([](Tracked& w) { return w.id; });
    REQUIRE(ready_soon(f));
    f.get();
  });
  CHECK(eventually([&] { return min_warm_seen == 1; }));
  CHECK(pool.keep_warm() == 1);
  CHECK(warm_seen >= 1);
  pool.shutdown();
  self = nullptr;
}

TEST_CASE("observability: under concurrent submitters each input's events come in order") {
  auto recorder = std::make_shared<Recorder>();
  Options o = with_max_workers(3);
  o.on_event = [recorder](const Event& e) { (*recorder)(e); };
  warmpool::Pool<Plain> pool(o);
  constexpr int per_thread = 300;
  std::vector<std::thread> submitters;
  for (int t = 0; t < 3; ++t) {
    submitters.emplace_back([&pool] {
      for (int i = 0; i < per_thread; ++i) pool.submit([](Plain& w) { return ++w.value; }).get();
    });
  }
  for (std::thread& t : submitters) t.join();
  pool.shutdown();

  std::map<warmpool::InputId, std::vector<EventKind>> by_input;
  for (const Event& e : recorder->all()) {
    if (e.kind == EventKind::input_queued || e.kind == EventKind::input_started ||
        e.kind == EventKind::input_finished) {
      by_input[e.input].push_back(e.kind);
    }
  }
  CHECK(by_input.size() == 3 * per_thread);
  int out_of_order = 0;
  for (const auto& [input, seq] : by_input) {
    const auto first = seq.front() == EventKind::input_queued ? 1U : 0U;
    if (seq.size() != first + 2 || seq[first] != EventKind::input_started ||
        seq[first + 1] != EventKind::input_finished) {
      ++out_of_order;
    }
  }
  CHECK(out_of_order == 0);
  CHECK(recorder->overlaps == 0);
}
