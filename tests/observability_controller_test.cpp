// Observability in the Controller: time totals, latency summaries, events, workers().
// Everything here is exact: the Controller gets every time from the test.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller_support.hpp"

namespace {

using namespace controller_support;
using namespace std::chrono_literals;
using warmpool::Event;
using warmpool::EventKind;
using warmpool::WorkerInfo;

std::vector<Action> take(Controller& c) {
  std::vector<Action> out;
  c.take_actions(out);
  return out;
}

std::vector<Event> events_of(Controller& c) {
  std::vector<Event> out;
  c.take_events(out);
  return out;
}

std::vector<EventKind> kinds(const std::vector<Event>& events) {
  std::vector<EventKind> out;
  for (const Event& e : events) out.push_back(e.kind);
  return out;
}

Options listened(Autoscaler autoscaler) {
  Options o = options(autoscaler);
  o.on_event = [](const Event&) {};
  return o;
}

/// Boots the first worker for input 1 at t=0 and warms it at `boot`; returns its id.
WorkerId cold_start(Controller& c, Time boot) {
  c.input_arrived(Time{0}, 1);
  const WorkerId w = take(c).at(0).worker;
  c.worker_warm(boot, w);
  take(c);
  return w;
}

}  // namespace

TEST_CASE("observability: queue wait, boot time, first and later input latency") {
  Controller c(options({.max_workers = 2, .idle_timeout = 60s}));
  const WorkerId w = cold_start(c, Time{3s});
  c.input_done(Time{3s + 500ms}, 1, Outcome::value);  // first input: 500 ms
  c.input_arrived(Time{4s}, 2);                       // warm: starts at once
  c.input_done(Time{4s + 100ms}, 2, Outcome::value);  // later input: 100 ms
  c.input_arrived(Time{5s}, 3);
  c.input_done(Time{5s + 300ms}, 3, Outcome::value);

  const Stats s = c.stats();
  CHECK(s.boot_time.count == 1);
  CHECK(s.boot_time.max == 3s);
  CHECK(s.queue_wait.count == 3);
  CHECK(s.queue_wait.max == 3s);  // the cold input waited for the boot
  CHECK(s.queue_wait.p50 == 0ns);
  CHECK(s.first_input.count == 1);
  CHECK(s.first_input.max == 500ms);
  CHECK(s.later_input.count == 2);
  CHECK(s.later_input.total == 400ms);
  CHECK(s.later_input.max == 300ms);
  CHECK(s.cold_inputs == 1);
  CHECK(s.warm_inputs == 2);
  CHECK(c.workers(Time{5s + 300ms}).at(0).id == w);
}

TEST_CASE("observability: idle and busy worker-seconds add up exactly") {
  Controller c(options({.max_workers = 2, .idle_timeout = 60s}));
  cold_start(c, Time{1s});                    // booting 0..1 s: neither idle nor busy
  c.input_done(Time{3s}, 1, Outcome::value);  // busy 1..3 s
  CHECK(c.stats(Time{10s}).idle_worker_seconds == doctest::Approx(7.0));
  CHECK(c.stats(Time{10s}).busy_worker_seconds == doctest::Approx(2.0));
  c.update(Time{10s}, {.min_warm = 2});            // a second worker boots at 10 s
  c.worker_warm(Time{12s}, take(c).at(0).worker);  // idle from 12 s
  const Stats s = c.stats(Time{20s});
  CHECK(s.idle_worker_seconds == doctest::Approx(17.0 + 8.0));
  CHECK(s.busy_worker_seconds == doctest::Approx(2.0));
  CHECK(s.autoscaler.min_warm == 2);
  CHECK(s.max_inputs == 1);
  // A read with an earlier time than the last event adds nothing.
  CHECK(c.stats(Time{0}).idle_worker_seconds == doctest::Approx(c.stats().idle_worker_seconds));
}

TEST_CASE("observability: evictions are counted by reason") {
  Options o = options({.max_workers = 3, .idle_timeout = 10s});
  o.max_uses = 2;
  Controller c(o);
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  c.input_arrived(Time{3s}, 2);  // the worker's second use: a replacement boots
  const WorkerId replacement = take(c).at(1).worker;
  c.input_done(Time{4s}, 2, Outcome::value);  // used up: evicted
  c.worker_warm(Time{6s}, replacement);
  c.input_arrived(Time{7s}, 3);
  take(c);
  c.input_done(Time{8s}, 3, Outcome::lost);  // lost: evicted, the input waits again
  const std::vector<Action> after_loss = take(c);
  REQUIRE(after_loss.size() == 2);
  CHECK(after_loss[0].kind == Kind::evict);
  c.worker_warm(Time{9s}, after_loss[1].worker);
  c.input_done(Time{10s}, 3, Outcome::value);
  c.tick(Time{20s});  // idle for 10 s
  c.shutdown(Time{21s}, Drain::finish);
  const Stats s = c.stats();
  CHECK(s.evicted_uses == 1);
  CHECK(s.evicted_lost == 1);
  CHECK(s.evicted_idle == 1);
  CHECK(s.evicted_shutdown == 0);
  CHECK(s.evictions == 3);
}

TEST_CASE("observability: events follow a cold start, warm reuse and idle eviction") {
  Controller c(listened({.max_workers = 2, .idle_timeout = 10s}));
  const WorkerId w = cold_start(c, Time{2s});
  c.input_done(Time{3s}, 1, Outcome::value);
  c.input_arrived(Time{4s}, 2);
  c.input_done(Time{5s}, 2, Outcome::exception);
  c.tick(Time{15s});
  c.update(Time{16s}, {.min_warm = 1});
  const std::vector<Event> events = events_of(c);
  CHECK(kinds(events) ==
        std::vector<EventKind>{EventKind::input_queued, EventKind::boot_started,
                               EventKind::worker_warm, EventKind::input_started,
                               EventKind::input_finished, EventKind::input_started,
                               EventKind::input_finished, EventKind::worker_evicted,
                               EventKind::settings_changed, EventKind::boot_started});
  CHECK(events[1].worker == w);
  CHECK(events[2].boot_time == 2s);
  CHECK(events[3].time == 2s);
  CHECK(events[3].queue_wait == 2s);
  CHECK(events[3].cold);
  CHECK(events[3].first_on_worker);
  CHECK(events[4].run_time == 1s);
  CHECK(events[4].ended);
  CHECK_FALSE(events[5].cold);
  CHECK_FALSE(events[5].first_on_worker);
  CHECK(events[5].queue_wait == 0s);
  CHECK(events[6].outcome == Outcome::exception);
  CHECK(events[7].evict_reason == EvictReason::idle);
  CHECK(events[7].time == 15s);
  CHECK(events[8].settings.min_warm == 1);
}

TEST_CASE("observability: a retried input finishes unended and is queued again") {
  Options o = listened({.max_workers = 1});
  o.retries = {.max_retries = 1, .initial_delay = 1s};
  Controller c(o);
  cold_start(c, Time{1s});
  events_of(c);
  c.input_done(Time{2s}, 1, Outcome::exception);
  c.tick(Time{3s});
  const std::vector<Event> events = events_of(c);
  REQUIRE(kinds(events) == std::vector<EventKind>{EventKind::input_finished,
                                                  EventKind::input_queued,
                                                  EventKind::input_started});
  CHECK_FALSE(events[0].ended);
  CHECK(events[2].queue_wait == 0s);  // measured from its queuing again, not its arrival
}

TEST_CASE("observability: failed inputs and boots are reported") {
  Options o = listened({.max_workers = 1});
  o.max_boot_failures = 1;
  Controller c(o);
  c.input_arrived(Time{0}, 1, {.deadline = Time{5s}});
  c.boot_failed(Time{2s}, take(c).at(0).worker);
  const std::vector<Event> events = events_of(c);
  REQUIRE(events.size() == 4);
  CHECK(events[2].kind == EventKind::boot_failed);
  CHECK(events[2].boot_time == 2s);
  CHECK(events[3].kind == EventKind::input_failed);
  CHECK(events[3].fail_reason == FailReason::enter_failed);
}

TEST_CASE("observability: no events are recorded without a listener") {
  Controller c(options({.max_workers = 1}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  CHECK(events_of(c).empty());
}

TEST_CASE("observability: workers() lists state, age, inputs served and idle since") {
  Options o = options({.max_workers = 3, .idle_timeout = 600s});
  o.max_lifetime = 100s;
  o.lifetime_jitter = 0;
  Controller c(o);
  const WorkerId first = cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  c.input_arrived(Time{3s}, 2);  // runs on `first`
  take(c);
  c.input_arrived(Time{3s}, 3);  // boots a second worker
  const WorkerId second = take(c).at(0).worker;

  std::vector<WorkerInfo> list = c.workers(Time{4s});
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == first);
  CHECK(list[0].state == WorkerInfo::State::busy);
  CHECK(list[0].age == 4s);
  CHECK(list[0].inputs_served == 2);
  CHECK(list[0].inputs_running == 1);
  CHECK_FALSE(list[0].idle_since.has_value());
  CHECK(list[1].id == second);
  CHECK(list[1].state == WorkerInfo::State::booting);
  CHECK(list[1].age == 1s);

  c.input_done(Time{5s}, 2, Outcome::value);  // `first` takes input 3, then frees
  c.input_done(Time{6s}, 3, Outcome::value);
  list = c.workers(Time{7s});
  CHECK(list[0].state == WorkerInfo::State::idle);
  CHECK(list[0].idle_since == Time{6s});
  CHECK(list[0].inputs_served == 3);

  c.input_arrived(Time{100s}, 4);  // busy on `first` when its lifetime ends
  c.tick(Time{101s});
  CHECK(c.workers(Time{101s})[0].state == WorkerInfo::State::retiring);
}

// ------------------------------------------------------------------ keep-alive policies

namespace {

/// Returns fixed windows (or none) and remembers the gaps it was told about.
struct FixedWindows final : warmpool::KeepAlivePolicy {
  explicit FixedWindows(std::optional<warmpool::KeepAliveWindows> w) : decided(w) {}
  void record_idle_gap(std::chrono::nanoseconds gap) override { gaps.push_back(gap); }
  std::optional<warmpool::KeepAliveWindows> windows() const override { return decided; }
  std::optional<warmpool::KeepAliveWindows> decided;
  std::vector<std::chrono::nanoseconds> gaps;
};

Options with_policy(const std::shared_ptr<FixedWindows>& policy, Autoscaler a) {
  Options o = options(a);
  o.keep_alive = policy;
  return o;
}

std::size_t live(const Stats& s) { return s.workers_booting + s.workers_idle + s.workers_busy; }

}  // namespace

TEST_CASE("keep-alive: the policy learns the gaps between drains and arrivals") {
  auto policy = std::make_shared<FixedWindows>(std::nullopt);
  Controller c(with_policy(policy, {.max_workers = 2, .idle_timeout = 60s}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);  // drained at 2 s
  c.input_arrived(Time{7s}, 2);               // gap: 5 s
  c.input_arrived(Time{8s}, 3);               // not drained: no gap
  take(c);
  c.input_done(Time{9s}, 2, Outcome::value);   // input 3 still waits: not drained
  c.input_done(Time{10s}, 3, Outcome::value);  // drained at 10 s
  c.input_arrived(Time{40s}, 4);
  CHECK(policy->gaps == std::vector<std::chrono::nanoseconds>{5s, 30s});
}

TEST_CASE("keep-alive: without a decision the fixed idle_timeout applies") {
  auto policy = std::make_shared<FixedWindows>(std::nullopt);
  Controller c(with_policy(policy, {.max_workers = 2, .idle_timeout = 60s}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  c.tick(Time{61s});
  CHECK(live(c.stats()) == 1);
  c.tick(Time{62s});
  CHECK(live(c.stats()) == 0);
}

TEST_CASE("keep-alive: release at once, pre-warm before the expected arrival, then let go") {
  auto policy = std::make_shared<FixedWindows>(
      warmpool::KeepAliveWindows{.prewarm_after = 100s, .keep_until = 200s});
  Controller c(with_policy(policy, {.max_workers = 3, .idle_timeout = 60s}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);  // drained at 2 s: released at once
  std::vector<Action> actions = take(c);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::evict);
  CHECK(actions[0].evict_reason == EvictReason::idle);
  CHECK(c.next_wakeup() == Time{102s});

  c.tick(Time{102s});  // pre-warm: as many workers as were live when it drained
  actions = take(c);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::boot);
  c.worker_warm(Time{103s}, actions[0].worker);
  CHECK(c.next_wakeup() == Time{202s});
  c.tick(Time{202s} - 1ns);
  CHECK(live(c.stats()) == 1);
  c.tick(Time{202s});  // keep_until passed: let go
  CHECK(live(c.stats()) == 0);
  CHECK(c.stats().evicted_idle == 2);
}

TEST_CASE("keep-alive: an arrival inside the window finds the pre-warmed worker warm") {
  auto policy = std::make_shared<FixedWindows>(
      warmpool::KeepAliveWindows{.prewarm_after = 100s, .keep_until = 200s});
  Controller c(with_policy(policy, {.max_workers = 3, .idle_timeout = 60s}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  take(c);
  c.tick(Time{102s});
  c.worker_warm(Time{103s}, take(c).at(0).worker);
  c.input_arrived(Time{150s}, 2);
  const std::vector<Action> actions = take(c);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::start);
  CHECK_FALSE(actions[0].cold);
  CHECK(policy->gaps == std::vector<std::chrono::nanoseconds>{148s});
  // The idle period ended: after this input the normal rules hold until it drains again.
  CHECK(c.stats().cold_inputs == 1);
}

TEST_CASE("keep-alive: prewarm_after 0 keeps the workers until keep_until, not idle_timeout") {
  auto policy = std::make_shared<FixedWindows>(warmpool::KeepAliveWindows{.keep_until = 300s});
  Controller c(with_policy(policy, {.min_warm = 0, .max_workers = 3, .idle_timeout = 60s}));
  cold_start(c, Time{1s});
  c.input_done(Time{2s}, 1, Outcome::value);
  c.tick(Time{100s});
  CHECK(live(c.stats()) == 1);  // past idle_timeout, still held
  c.tick(Time{302s});
  CHECK(live(c.stats()) == 0);
}

TEST_CASE("keep-alive: the min_warm floor still holds inside a release window") {
  auto policy = std::make_shared<FixedWindows>(
      warmpool::KeepAliveWindows{.prewarm_after = 100s, .keep_until = 200s});
  Controller c(with_policy(policy, {.min_warm = 1, .max_workers = 3, .idle_timeout = 60s}));
  take(c);
  c.input_arrived(Time{0}, 1);
  c.input_arrived(Time{0}, 2);
  for (const Action& a : take(c)) {
    if (a.kind == Kind::boot) c.worker_warm(Time{1s}, a.worker);
  }
  take(c);
  c.input_done(Time{2s}, 1, Outcome::value);
  c.input_done(Time{2s}, 2, Outcome::value);
  CHECK(live(c.stats()) == 1);  // released down to min_warm, not below
}
