// Deterministic unit tests of the Controller's recycling and health rules (issue 4,
// item 6): `max_uses`, `max_lifetime` with `lifetime_jitter`, and `health_check_after`
// with `Outcome::unhealthy`.
//
// Every event is stamped with an explicit time; nothing here reads a clock.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include <warmpool/controller.hpp>

#include "controller_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace controller_support;

// ------------------------------------------------------------------ helpers
// (Own types, not the ones of controller_test.cpp: doctest printers are specialised
// there for std::vector, and a second specialisation here would clash.)

/// A list of worker or input ids, printable by doctest.
struct Ids {
  std::vector<std::uint64_t> items;
  Ids() = default;
  Ids(std::initializer_list<std::uint64_t> list) : items(list) {}
  bool empty() const { return items.empty(); }
  std::size_t size() const { return items.size(); }
  std::uint64_t at(std::size_t i) const { return items.at(i); }
  friend bool operator==(const Ids&, const Ids&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ids& ids) {
    os << "{";
    for (std::size_t i = 0; i < ids.items.size(); ++i) os << (i ? ", " : "") << ids.items[i];
    return os << "}";
  }
};

/// One start action, printable by doctest.
struct Start {
  InputId input;
  WorkerId worker;
  bool cold = false;
  bool check_health = false;
  friend bool operator==(const Start&, const Start&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Start& s) {
    return os << "{input " << s.input << " on " << s.worker << (s.cold ? ", cold" : "")
              << (s.check_health ? ", check health" : "") << "}";
  }
};

struct Starts {
  std::vector<Start> items;
  Starts() = default;
  Starts(std::initializer_list<Start> list) : items(list) {}
  bool empty() const { return items.empty(); }
  friend bool operator==(const Starts&, const Starts&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Starts& s) {
    os << "{";
    for (std::size_t i = 0; i < s.items.size(); ++i) os << (i ? ", " : "") << s.items[i];
    return os << "}";
  }
};

/// The actions one or more events produced.
struct Batch {
  std::vector<Action> actions;

  std::size_t count(Kind kind) const {
    std::size_t n = 0;
    for (const Action& a : actions) n += a.kind == kind ? 1 : 0;
    return n;
  }
  bool empty() const { return actions.empty(); }
  Ids booted() const {
    Ids out;
    for (const Action& a : actions) {
      if (a.kind == Kind::boot) out.items.push_back(a.worker);
    }
    return out;
  }
  /// Evicted workers, in order, each with reason `why` (checked).
  Ids evicted(EvictReason why) const {
    Ids out;
    for (const Action& a : actions) {
      if (a.kind != Kind::evict) continue;
      CHECK(a.evict_reason == why);
      out.items.push_back(a.worker);
    }
    return out;
  }
  /// Failed inputs, in order, each with reason `why` (checked).
  Ids failed(FailReason why) const {
    Ids out;
    for (const Action& a : actions) {
      if (a.kind != Kind::fail) continue;
      CHECK(a.fail_reason == why);
      out.items.push_back(a.input);
    }
    return out;
  }
  Starts started() const {
    Starts out;
    for (const Action& a : actions) {
      if (a.kind == Kind::start) out.items.push_back({a.input, a.worker, a.cold, a.check_health});
    }
    return out;
  }
};

Batch drain(Controller& c) {
  Batch b;
  c.take_actions(b.actions);
  return b;
}

/// Gauges of a snapshot, compared as one printable value.
struct Gauges {
  std::size_t booting, idle, busy, pending, running;
  friend bool operator==(const Gauges&, const Gauges&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Gauges& g) {
    return os << "{booting " << g.booting << ", idle " << g.idle << ", busy " << g.busy
              << ", pending " << g.pending << ", running " << g.running << "}";
  }
};
Gauges gauges(const Stats& s) {
  return {s.workers_booting, s.workers_idle, s.workers_busy, s.inputs_pending, s.inputs_running};
}

/// The lifetime the Controller documents: `max_lifetime` less a fraction in [0, jitter)
/// of it, the fraction being a splitmix64 hash of the worker id (written independently).
Time expected_lifetime(std::chrono::milliseconds max_lifetime, double jitter, WorkerId id) {
  std::uint64_t z = id + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  z ^= z >> 31U;
  const double fraction = static_cast<double>(z >> 11U) / 9007199254740992.0;  // 2^53
  const Time lifetime = max_lifetime;
  return lifetime - std::chrono::duration_cast<Time>(lifetime * (jitter * fraction));
}

/// Boots `n` workers for `n` inputs at time 0, warms them all at `warm_at` (each takes
/// its input) and ends the inputs then: `n` idle workers, target 0, warm since `warm_at`.
Ids idle_cohort(Controller& c, std::size_t n, Time warm_at) {
  for (InputId i = 1; i <= n; ++i) c.input_arrived(0s, i);
  const Ids workers = drain(c).booted();
  REQUIRE(workers.size() == n);
  for (const WorkerId w : workers.items) c.worker_warm(warm_at, w);
  for (InputId i = 1; i <= n; ++i) CHECK(c.input_done(warm_at, i, Outcome::value));
  Batch b = drain(c);
  REQUIRE(b.started().items.size() == n);
  REQUIRE(b.count(Kind::evict) == 0);
  return workers;
}

/// Ticks at every wakeup until none is left (at most `limit` times) and records when each
/// worker was evicted for its lifetime; checks that nothing happens 1ns before a wakeup.
std::map<WorkerId, Time> lifetime_evictions(Controller& c, int limit = 1000) {
  std::map<WorkerId, Time> when;
  while (const std::optional<Time> at = c.next_wakeup()) {
    REQUIRE(--limit > 0);
    c.tick(*at - 1ns);
    CHECK(drain(c).empty());
    c.tick(*at);
    for (const WorkerId w : drain(c).evicted(EvictReason::lifetime).items) when[w] = *at;
  }
  return when;
}

}  // namespace

// ================================================================== max_uses

TEST_CASE("recycling: max_uses retires a worker when it starts its last input") {
  Options o = options({.min_warm = 1, .max_workers = 3, .idle_timeout = 1h});
  o.max_uses = 2;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(1s, w1);
  CHECK(drain(c).empty());

  c.input_arrived(2s, 1);
  Batch b = drain(c);
  CHECK(b.started() == Starts{{1, w1}});
  CHECK(b.booted().empty());
  CHECK(c.input_done(3s, 1, Outcome::value));
  CHECK(drain(c).empty());

  // The second (last) use: it starts on w1 and, in the same batch, its replacement boots
  // because w1 no longer counts toward the target (min_warm 1).
  c.input_arrived(4s, 2);
  b = drain(c);
  CHECK(b.started() == Starts{{2, w1}});
  const Ids replacement = b.booted();
  REQUIRE(replacement.size() == 1);
  const WorkerId w2 = replacement.at(0);
  CHECK(b.count(Kind::evict) == 0);  // not before its last input ends
  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 1, .pending = 0, .running = 1});
  CHECK(s.target_workers == 1);
  CHECK(s.boots == 2);

  // It takes no other input, even with nothing else warm: a new one waits (and, since
  // demand is 2 now, one more worker boots).
  c.input_arrived(5s, 3);
  b = drain(c);
  CHECK(b.started().empty());
  CHECK(b.booted().size() == 1);
  const WorkerId w3 = b.booted().at(0);
  CHECK(c.stats().inputs_pending == 1);

  // Its last input ends: it is evicted (reason uses), and input 3 still waits for a boot.
  CHECK(c.input_done(6s, 2, Outcome::value));
  b = drain(c);
  CHECK(b.evicted(EvictReason::uses) == Ids{w1});
  CHECK(b.started().empty());
  CHECK(b.booted().empty());
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 2, .idle = 0, .busy = 0, .pending = 1, .running = 0});
  CHECK(s.evictions == 1);

  c.worker_warm(7s, w2);
  CHECK(drain(c).started() == Starts{{3, w2, /*cold=*/true}});
  c.worker_warm(7s, w3);
  CHECK(drain(c).empty());
  CHECK(c.input_done(8s, 3, Outcome::value));
  s = c.stats();
  CHECK(s.inputs_completed == 3);
  CHECK(s.boots == 3);
  check_accounting(s);
}

TEST_CASE("recycling: max_uses counts inputs started, whatever their outcome") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
  o.max_uses = 3;
  o.retries = {
      .max_retries = 5, .initial_delay = 10s, .backoff_coefficient = 1.0, .max_delay = 10s};
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(0s, w1);
  c.input_arrived(1s, 1);
  CHECK(drain(c).started() == Starts{{1, w1}});
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));  // retried at 12s
  CHECK(drain(c).empty());
  c.input_arrived(3s, 2);
  CHECK(drain(c).started() == Starts{{2, w1}});
  CHECK(c.input_done(4s, 2, Outcome::value));
  c.tick(12s);  // the retry is the third use
  Batch b = drain(c);
  CHECK(b.started() == Starts{{1, w1}});
  CHECK(b.booted().size() == 1);
  CHECK(c.input_done(13s, 1, Outcome::value));
  CHECK(drain(c).evicted(EvictReason::uses) == Ids{w1});
  check_accounting(c.stats());
}

TEST_CASE("recycling: max_uses with max_inputs 2 waits for every running input") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h}, 2);
  o.max_uses = 3;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(1s, w1);
  c.input_arrived(2s, 1);
  c.input_arrived(2s, 2);
  Batch b = drain(c);
  CHECK(b.started() == Starts{{1, w1}, {2, w1}});
  CHECK(b.booted().empty());
  CHECK(c.input_done(3s, 1, Outcome::value));
  CHECK(drain(c).empty());

  // Third use while input 2 still runs: retiring, a replacement boots at once.
  c.input_arrived(4s, 3);
  b = drain(c);
  CHECK(b.started() == Starts{{3, w1}});
  CHECK(b.booted().size() == 1);
  const WorkerId w2 = b.booted().at(0);

  CHECK(c.input_done(5s, 2, Outcome::value));
  b = drain(c);
  CHECK(b.count(Kind::evict) == 0);  // input 3 still runs on it
  // A free slot on a retiring worker is not used.
  c.input_arrived(5s, 4);
  CHECK(drain(c).started().empty());

  CHECK(c.input_done(6s, 3, Outcome::value));
  CHECK(drain(c).evicted(EvictReason::uses) == Ids{w1});
  c.worker_warm(7s, w2);
  CHECK(drain(c).started() == Starts{{4, w2, /*cold=*/true}});
  CHECK(c.input_done(8s, 4, Outcome::value));
  check_accounting(c.stats());
}

TEST_CASE("recycling: max_uses 0 never retires; max_uses 1 retires after every input") {
  SUBCASE("0: one worker serves everything") {
    Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
    o.max_uses = 0;
    Controller c(o);
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(0s, w);
    for (InputId i = 1; i <= 200; ++i) {
      c.input_arrived(Time(i * 1ms), i);
      CHECK(drain(c).started() == Starts{{i, w}});
      CHECK(c.input_done(Time(i * 1ms), i, Outcome::value));
    }
    CHECK(drain(c).empty());
    CHECK(c.stats().boots == 1);
    CHECK(c.stats().evictions == 0);
  }
  SUBCASE("1: every input gets a fresh worker, booted while the previous input runs") {
    Options o = options({.min_warm = 0, .max_workers = 2, .idle_timeout = 1h});
    o.max_uses = 1;
    Controller c(o);
    c.input_arrived(0s, 1);
    WorkerId w = drain(c).booted().at(0);
    c.worker_warm(0s, w);
    Batch b = drain(c);
    CHECK(b.started() == Starts{{1, w, /*cold=*/true}});
    REQUIRE(b.booted().size() == 1);  // its only use: replaced at once (target 1)
    WorkerId next = b.booted().at(0);
    std::set<WorkerId> used{w};
    for (InputId i = 1; i <= 5; ++i) {
      const Time t = Time(i * 1s);
      CHECK(c.input_done(t, i, Outcome::value));
      CHECK(drain(c).evicted(EvictReason::uses) == Ids{w});
      c.worker_warm(t, next);
      CHECK(drain(c).empty());  // idle (target 0, idle_timeout 1h)
      c.input_arrived(t + 1ms, i + 1);
      b = drain(c);
      CHECK(b.started() == Starts{{i + 1, next}});  // not cold: it was warm already
      REQUIRE(b.booted().size() == 1);
      w = next;
      next = b.booted().at(0);
      used.insert(w);
    }
    CHECK(c.input_done(10s, 6, Outcome::value));
    CHECK(drain(c).evicted(EvictReason::uses) == Ids{w});
    CHECK(used.size() == 6);
    const Stats s = c.stats();
    CHECK(s.boots == 7);
    CHECK(s.evictions == 6);
    CHECK(s.cold_inputs == 1);
    CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 0, .pending = 0, .running = 0});
    check_accounting(s);
  }
}

// ============================================================== max_lifetime

TEST_CASE("recycling: with lifetime_jitter 0 a worker retires exactly max_lifetime after warm") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(2s, w1);  // its lifetime counts from here, not from the boot
  CHECK(drain(c).empty());
  REQUIRE(c.next_wakeup().has_value());
  CHECK(*c.next_wakeup() == Time(12s));  // the idle timeout (1h) comes later

  c.input_arrived(3s, 1);  // using it does not extend its lifetime
  CHECK(drain(c).started() == Starts{{1, w1}});
  CHECK(c.input_done(4s, 1, Outcome::value));
  CHECK(*c.next_wakeup() == Time(12s));

  c.tick(12s - 1ns);
  CHECK(drain(c).empty());
  CHECK(c.stats().boots == 1);

  // Expired: retiring, so it no longer counts toward min_warm 1 -> a replacement boots.
  // It stays (idle) until the replacement is warm.
  c.tick(12s);
  Batch b = drain(c);
  const Ids replacement = b.booted();
  REQUIRE(replacement.size() == 1);
  const WorkerId w2 = replacement.at(0);
  CHECK(b.count(Kind::evict) == 0);
  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 1, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.target_workers == 1);
  CHECK_FALSE(c.next_wakeup().has_value());  // nothing is due until the replacement reports

  c.tick(13s);
  CHECK(drain(c).empty());  // not before the replacement is warm

  // While the replacement boots the retiree is the only warm worker: it serves (not cold).
  c.input_arrived(14s, 2);
  b = drain(c);
  CHECK(b.started() == Starts{{2, w1}});
  CHECK(b.booted().empty());
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 1, .pending = 0, .running = 1});
  CHECK(c.input_done(15s, 2, Outcome::value));
  CHECK(drain(c).empty());  // idle again, still waiting for its replacement
  CHECK(c.stats().workers_idle == 1);

  // The replacement is warm: the retiree leaves at once.
  c.worker_warm(16s, w2);
  b = drain(c);
  CHECK(b.evicted(EvictReason::lifetime) == Ids{w1});
  CHECK(b.started().empty());
  CHECK(b.booted().empty());
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 0, .idle = 1, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.evictions == 1);
  CHECK(s.boots == 2);
  CHECK(s.cold_inputs == 0);
  REQUIRE(c.next_wakeup().has_value());
  CHECK(*c.next_wakeup() == Time(26s));  // the replacement's own lifetime
  check_accounting(s);
}

TEST_CASE("recycling: a retiree serves only when no other warm worker is free") {
  Options o = options({.min_warm = 2, .max_workers = 3, .idle_timeout = 1h});
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  Controller c(o);
  c.tick(0s);
  const Ids w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(1s, w.at(0));
  c.worker_warm(2s, w.at(1));
  // w0 becomes the most recently idle one (it would be picked first).
  c.input_arrived(5s, 1);
  CHECK(drain(c).started() == Starts{{1, w.at(1)}});
  c.input_arrived(5s, 2);
  CHECK(drain(c).started() == Starts{{2, w.at(0)}});
  CHECK(c.input_done(5s, 1, Outcome::value));
  CHECK(c.input_done(6s, 2, Outcome::value));
  CHECK(drain(c).empty());

  c.tick(11s);  // w0 expires (warm at 1s); w1 expires at 12s
  const Ids replacement = drain(c).booted();
  REQUIRE(replacement.size() == 1);

  c.input_arrived(11s, 3);
  CHECK(drain(c).started() == Starts{{3, w.at(1)}});  // not the retiree
  c.input_arrived(11s, 4);
  Batch b = drain(c);
  CHECK(b.started() == Starts{{4, w.at(0)}});  // the only free one: the retiree
  CHECK(b.booted().empty());                   // demand 2 = serving 1 + booting 1
  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 2, .pending = 0, .running = 2});
  CHECK(c.input_done(11s + 500ms, 4, Outcome::value));
  CHECK(c.input_done(11s + 500ms, 3, Outcome::value));
  CHECK(drain(c).empty());  // the retiree waits for its replacement
  CHECK(c.stats().workers_idle == 2);

  c.worker_warm(11s + 800ms, replacement.at(0));
  CHECK(drain(c).evicted(EvictReason::lifetime) == Ids{w.at(0)});

  // w1 expires at 12s: it is replaced too.
  c.tick(12s);
  const Ids second = drain(c).booted();
  REQUIRE(second.size() == 1);
  c.worker_warm(13s, second.at(0));
  CHECK(drain(c).evicted(EvictReason::lifetime) == Ids{w.at(1)});
  s = c.stats();
  CHECK(s.boots == 4);
  CHECK(s.evictions == 2);
  CHECK(gauges(s) == Gauges{.booting = 0, .idle = 2, .busy = 0, .pending = 0, .running = 0});
  check_accounting(s);
}

TEST_CASE("recycling: a retiree the target does not need leaves at once") {
  Options o = options({.min_warm = 0, .max_workers = 2, .idle_timeout = 1h});
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  Controller c(o);
  c.input_arrived(0s, 1);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(1s, w1);
  CHECK(drain(c).started() == Starts{{1, w1, /*cold=*/true}});

  SUBCASE("idle at expiry: evicted in the same tick, nothing boots") {
    CHECK(c.input_done(2s, 1, Outcome::value));
    CHECK(drain(c).empty());
    REQUIRE(c.next_wakeup().has_value());
    CHECK(*c.next_wakeup() == Time(11s));
    c.tick(11s);
    Batch b = drain(c);
    CHECK(b.evicted(EvictReason::lifetime) == Ids{w1});
    CHECK(b.booted().empty());
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 0, .idle = 0, .busy = 0, .pending = 0, .running = 0});
    CHECK_FALSE(c.next_wakeup().has_value());
  }

  SUBCASE("busy at expiry: a replacement boots for the running demand, it leaves when done") {
    c.tick(11s);
    Batch b = drain(c);
    CHECK(b.count(Kind::evict) == 0);
    CHECK(b.booted().size() == 1);  // target 1 (one input runs), the retiree does not count
    const WorkerId w2 = b.booted().at(0);
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 1, .idle = 0, .busy = 1, .pending = 0, .running = 1});
    CHECK(c.input_done(12s, 1, Outcome::value));
    b = drain(c);
    CHECK(b.evicted(EvictReason::lifetime) == Ids{w1});  // target 0 now
    c.worker_warm(13s, w2);
    CHECK(drain(c).empty());  // the replacement is kept until its idle timeout
    CHECK(gauges(c.stats()) ==
          Gauges{.booting = 0, .idle = 1, .busy = 0, .pending = 0, .running = 0});
  }

  SUBCASE("shutdown evicts an idle retiree at once") {
    Options o2 = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
    o2.max_lifetime = 10s;
    o2.lifetime_jitter = 0.0;
    Controller k(o2);
    k.tick(0s);
    const WorkerId v = drain(k).booted().at(0);
    k.worker_warm(0s, v);
    k.tick(10s);
    const WorkerId v2 = drain(k).booted().at(0);
    k.shutdown(10s, Drain::finish);
    CHECK(drain(k).evicted(EvictReason::lifetime) == Ids{v});
    CHECK_FALSE(k.finished());  // the replacement still boots
    k.worker_warm(11s, v2);
    CHECK(drain(k).evicted(EvictReason::shutdown) == Ids{v2});
    CHECK(k.finished());
  }
}

TEST_CASE("recycling: lifetime_jitter shortens each worker's lifetime by a fixed fraction") {
  constexpr std::size_t n = 16;
  constexpr std::chrono::milliseconds max_lifetime = 100s;
  const Time warm_at = 1s;

  const auto run = [&](double jitter) {
    Options o = options({.min_warm = 0, .max_workers = n, .idle_timeout = 24h});
    o.max_lifetime = max_lifetime;
    o.lifetime_jitter = jitter;
    Controller c(o);
    const Ids workers = idle_cohort(c, n, warm_at);
    // next_wakeup() reports each expiry; target 0, so each retiree leaves at once.
    std::map<WorkerId, Time> lifetimes = lifetime_evictions(c);
    for (auto& [worker, at] : lifetimes) at -= warm_at;
    CHECK(lifetimes.size() == n);
    CHECK(c.stats().evictions == n);
    CHECK(c.stats().boots == n);
    return lifetimes;
  };

  SUBCASE("jitter 0: exactly max_lifetime for everyone") {
    for (const auto& entry : run(0.0)) {
      const auto& [worker, lifetime] = entry;
      CAPTURE(entry.first);
      CHECK(lifetime == Time(max_lifetime));
    }
  }

  SUBCASE("jitter 0.5: within (max/2, max], spread, per worker id, deterministic") {
    const std::map<WorkerId, Time> lifetimes = run(0.5);
    std::set<Time> distinct;
    for (const auto& entry : lifetimes) {
      const auto& [worker, lifetime] = entry;
      CAPTURE(entry.first);
      CHECK(lifetime > Time(max_lifetime) / 2);
      CHECK(lifetime <= Time(max_lifetime));
      CHECK(lifetime == expected_lifetime(max_lifetime, 0.5, worker));
      distinct.insert(lifetime);
    }
    CHECK(distinct.size() == n);  // a cohort warm at the same moment retires spread out
    const Time spread = *distinct.rbegin() - *distinct.begin();
    CHECK(spread > Time(max_lifetime) / 10);
    CHECK(run(0.5) == lifetimes);  // the same ids get the same lifetimes
  }

  SUBCASE("jitter 1: within (0, max]") {
    for (const auto& entry : run(1.0)) {
      const auto& [worker, lifetime] = entry;
      CAPTURE(entry.first);
      CHECK(lifetime > Time(0));
      CHECK(lifetime <= Time(max_lifetime));
      CHECK(lifetime == expected_lifetime(max_lifetime, 1.0, worker));
    }
  }
}

TEST_CASE("recycling: next_wakeup covers the earliest lifetime among the timers") {
  Options o = options({.min_warm = 2, .max_workers = 2, .idle_timeout = 1h});
  o.max_lifetime = 30s;
  o.lifetime_jitter = 0.5;
  Controller c(o);
  c.tick(0s);
  const Ids w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(1s, w.at(0));
  c.worker_warm(3s, w.at(1));
  const Time first = std::min(1s + expected_lifetime(30s, 0.5, w.at(0)),
                              3s + expected_lifetime(30s, 0.5, w.at(1)));
  REQUIRE(c.next_wakeup().has_value());
  CHECK(*c.next_wakeup() == first);
  // An input deadline earlier than that comes first.
  c.input_arrived(4s, 1);
  drain(c);
  c.input_arrived(4s, 2);
  drain(c);
  c.input_arrived(4s, 3, {.deadline = 5s});
  drain(c);
  CHECK(*c.next_wakeup() == Time(5s));
}

TEST_CASE("recycling: a worker retired by lifetime then used as a fallback respects max_uses") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  o.max_uses = 2;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(0s, w1);
  c.input_arrived(1s, 1);
  CHECK(drain(c).started() == Starts{{1, w1}});
  CHECK(c.input_done(2s, 1, Outcome::value));
  c.tick(10s);  // lifetime over: a replacement boots
  const WorkerId w2 = drain(c).booted().at(0);

  // Fallback while w2 boots: this is w1's second (last) use.
  c.input_arrived(11s, 2);
  CHECK(drain(c).started() == Starts{{2, w1}});
  CHECK(c.input_done(12s, 2, Outcome::value));
  CHECK(drain(c).evicted(EvictReason::uses) == Ids{w1});  // no third input on it

  c.input_arrived(13s, 3);
  CHECK(drain(c).started().empty());  // waits for w2
  c.worker_warm(14s, w2);
  CHECK(drain(c).started() == Starts{{3, w2, /*cold=*/true}});
  CHECK(c.input_done(15s, 3, Outcome::value));
  const Stats s = c.stats();
  CHECK(s.evictions == 1);
  CHECK(s.boots == 2);
  check_accounting(s);
}

// ======================================================== health_check_after

TEST_CASE("health: check_health is set only on a worker idle for health_check_after") {
  Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 1h});
  o.health_check_after = 5s;
  Controller c(o);
  c.tick(0s);
  const WorkerId w = drain(c).booted().at(0);
  c.worker_warm(0s, w);  // idle since 0s

  c.input_arrived(5s - 1ns, 1);  // idle for 5s - 1ns: not asked
  CHECK(drain(c).started() == Starts{{1, w}});
  CHECK(c.input_done(6s, 1, Outcome::value));  // idle since 6s

  c.input_arrived(11s, 2);  // idle for exactly 5s: asked
  CHECK(drain(c).started() == Starts{{2, w, false, /*check_health=*/true}});
  CHECK(c.input_done(12s, 2, Outcome::value));

  c.input_arrived(12s, 3);  // just used: not asked
  CHECK(drain(c).started() == Starts{{3, w}});
  CHECK(c.input_done(12s, 3, Outcome::value));
  c.input_arrived(1h, 4);  // a long idle: asked
  CHECK(drain(c).started() == Starts{{4, w, false, true}});
  CHECK(c.input_done(1h, 4, Outcome::value));
  check_accounting(c.stats());
}

TEST_CASE("health: when the flag is and is not set") {
  SUBCASE("unset: never asked") {
    Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 24h});
    Controller c(o);
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(0s, w);
    c.input_arrived(10h, 1);
    CHECK(drain(c).started() == Starts{{1, w}});
  }
  SUBCASE("a cold input on a worker just warm is not asked (idle for 0)") {
    Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 1h});
    o.health_check_after = 5s;
    Controller c(o);
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(20s, w);
    CHECK(drain(c).started() == Starts{{1, w, /*cold=*/true, false}});
  }
  SUBCASE("0: every input on an idle worker is asked, even on a worker just warm") {
    Options o = options({.min_warm = 0, .max_workers = 1, .idle_timeout = 1h});
    o.health_check_after = 0ms;
    Controller c(o);
    c.input_arrived(0s, 1);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    CHECK(drain(c).started() == Starts{{1, w, true, true}});
    CHECK(c.input_done(1s, 1, Outcome::value));
    c.input_arrived(1s, 2);
    CHECK(drain(c).started() == Starts{{2, w, false, true}});
  }
  SUBCASE("max_inputs 2: only the input that finds the worker idle is asked") {
    Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 1h}, 2);
    o.health_check_after = 5s;
    Controller c(o);
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(0s, w);
    c.input_arrived(10s, 1);
    c.input_arrived(10s, 2);
    CHECK(drain(c).started() == Starts{{1, w, false, true}, {2, w, false, false}});
  }
  SUBCASE("an idle retiree used as a fallback is asked too") {
    Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 1h});
    o.health_check_after = 5s;
    o.max_lifetime = 10s;
    o.lifetime_jitter = 0.0;
    Controller c(o);
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(0s, w);
    c.tick(10s);
    CHECK(drain(c).booted().size() == 1);
    c.input_arrived(10s, 1);
    CHECK(drain(c).started() == Starts{{1, w, false, true}});
  }
}

TEST_CASE("health: Outcome::unhealthy evicts the worker and queues the input at the front") {
  Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
  o.health_check_after = 5s;
  o.retries = {
      .max_retries = 1, .initial_delay = 0ms, .backoff_coefficient = 1.0, .max_delay = 0ms};
  o.worker_lost_reruns = 1;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(0s, w1);

  c.input_arrived(10s, 1);
  CHECK(drain(c).started() == Starts{{1, w1, false, true}});
  c.input_arrived(10s, 2);
  c.input_arrived(10s, 3);
  Batch b = drain(c);
  CHECK(b.started().empty());
  const Ids first_boot = b.booted();  // target min(2, 3 inputs)
  REQUIRE(first_boot.size() == 1);
  const Stats before = c.stats();

  CHECK_FALSE(c.input_done(11s, 1, Outcome::unhealthy));  // it did not run: not ended
  b = drain(c);
  CHECK(b.evicted(EvictReason::unhealthy) == Ids{w1});
  CHECK(b.started().empty());
  CHECK(b.count(Kind::fail) == 0);
  const Ids replacement = b.booted();  // the target (2) needs one more
  REQUIRE(replacement.size() == 1);

  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 2, .idle = 0, .busy = 0, .pending = 3, .running = 0});
  CHECK(s.evictions == before.evictions + 1);
  CHECK(s.inputs_retried == before.inputs_retried);
  CHECK(s.inputs_rerun == before.inputs_rerun);
  CHECK(s.inputs_completed == before.inputs_completed);
  CHECK(s.inputs_failed == before.inputs_failed);
  CHECK(s.inputs_lost == before.inputs_lost);
  CHECK(s.inputs_submitted == before.inputs_submitted);
  CHECK(s.inputs_retrying == 0);

  // Input 1 is first in line again, ahead of inputs 2 and 3.
  c.worker_warm(12s, first_boot.at(0));
  CHECK(drain(c).started() == Starts{{1, first_boot.at(0), /*cold=*/true}});
  // Its budgets are whole: one retry and one re-run are still allowed.
  CHECK_FALSE(c.input_done(13s, 1, Outcome::exception));
  s = c.stats();
  CHECK(s.inputs_retried == 1);
  c.worker_warm(13s, replacement.at(0));
  drain(c);
  // Run everything to its end.
  std::set<InputId> running{2, 3};
  for (int step = 0; step < 20 && c.stats().inputs_running + c.stats().inputs_pending > 0; ++step) {
    for (const Start& st : drain(c).started().items) running.insert(st.input);
    for (const InputId i : std::set<InputId>(running)) {
      if (c.input_done(Time(14s + step * 1s), i, Outcome::value)) running.erase(i);
    }
    c.tick(Time(14s + step * 1s));
  }
  s = c.stats();
  CHECK(s.inputs_completed == 3);
  CHECK(s.evictions == 1);
  check_accounting(s);
}

TEST_CASE("health: an unhealthy worker is replaced only when the target needs one") {
  Options o = options({.min_warm = 0, .max_workers = 3, .idle_timeout = 1h});
  o.health_check_after = 5s;
  Controller c(o);
  c.input_arrived(0s, 1);
  c.input_arrived(0s, 2);
  const Ids w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(0s, w.at(0));
  c.worker_warm(0s, w.at(1));
  drain(c);
  CHECK(c.input_done(0s, 1, Outcome::value));
  CHECK(c.input_done(0s, 2, Outcome::value));
  drain(c);

  c.input_arrived(10s, 3);
  const Starts started = drain(c).started();
  REQUIRE(started.items.size() == 1);
  CHECK(started.items[0].check_health);
  const WorkerId sick = started.items[0].worker;
  const WorkerId other = sick == w.at(0) ? w.at(1) : w.at(0);

  // The input goes back to the queue and straight to the other idle worker (also asked,
  // it idled as long); no boot: the target (1) is met.
  CHECK_FALSE(c.input_done(10s, 3, Outcome::unhealthy));
  Batch b = drain(c);
  CHECK(b.evicted(EvictReason::unhealthy) == Ids{sick});
  CHECK(b.started() == Starts{{3, other, false, true}});
  CHECK(b.booted().empty());
  CHECK(c.input_done(11s, 3, Outcome::value));
  const Stats s = c.stats();
  CHECK(s.inputs_completed == 3);
  CHECK(s.cold_inputs == 2);
  CHECK(s.boots == 2);
  check_accounting(s);
}

TEST_CASE("health: an input queued again after an unhealthy check keeps its deadline") {
  Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 1h});
  o.health_check_after = 5s;
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(0s, w1);
  c.input_arrived(10s, 1, {.deadline = 20s});
  CHECK(drain(c).started() == Starts{{1, w1, false, true}});
  CHECK_FALSE(c.input_done(11s, 1, Outcome::unhealthy));
  const WorkerId w2 = drain(c).booted().at(0);
  // It never ran, so "not started by its deadline" still applies while it waits.
  REQUIRE(c.next_wakeup().has_value());
  CHECK(*c.next_wakeup() == Time(20s));
  c.tick(20s);
  CHECK(drain(c).failed(FailReason::timeout) == Ids{1});
  c.worker_warm(21s, w2);
  CHECK(drain(c).started().empty());
  const Stats s = c.stats();
  CHECK(s.inputs_timed_out == 1);
  check_accounting(s);
}

TEST_CASE("health: an unhealthy check after a retry does not bring the deadline back") {
  Options o = options({.min_warm = 1, .max_workers = 1, .idle_timeout = 1h});
  o.health_check_after = 5s;
  o.retries = {
      .max_retries = 1, .initial_delay = 10s, .backoff_coefficient = 1.0, .max_delay = 10s};
  Controller c(o);
  c.tick(0s);
  const WorkerId w1 = drain(c).booted().at(0);
  c.worker_warm(0s, w1);
  c.input_arrived(1s, 1, {.deadline = 30s});
  CHECK(drain(c).started() == Starts{{1, w1}});
  CHECK_FALSE(c.input_done(2s, 1, Outcome::exception));  // ran once: the deadline is spent
  c.tick(12s);                                           // the retry; w1 idle for 10s
  CHECK(drain(c).started() == Starts{{1, w1, false, true}});
  CHECK_FALSE(c.input_done(12s, 1, Outcome::unhealthy));
  const WorkerId w2 = drain(c).booted().at(0);
  c.tick(40s);
  CHECK(drain(c).empty());  // no timeout for a retry
  c.worker_warm(41s, w2);
  CHECK(drain(c).started() == Starts{{1, w2, /*cold=*/true}});
  CHECK(c.input_done(42s, 1, Outcome::value));
  const Stats s = c.stats();
  CHECK(s.inputs_timed_out == 0);
  CHECK(s.inputs_retried == 1);
  check_accounting(s);
}

TEST_CASE("recycling: huge max_lifetime and health_check_after do not overflow") {
  constexpr std::chrono::milliseconds forever = std::chrono::milliseconds::max();
  constexpr std::chrono::milliseconds centuries = std::chrono::hours(24 * 365 * 300);
  for (const std::chrono::milliseconds big : {centuries, forever}) {
    CAPTURE(big.count());
    Options o = options({.min_warm = 1, .max_workers = 2, .idle_timeout = 1h});
    o.max_lifetime = big;
    o.lifetime_jitter = 0.0;
    o.health_check_after = big;
    Controller c(o);
    c.tick(0s);
    const WorkerId w = drain(c).booted().at(0);
    c.worker_warm(1s, w);
    CHECK(drain(c).empty());  // not retired at once
    c.input_arrived(24h * 365, 1);
    CHECK(drain(c).started() == Starts{{1, w}});  // neither retired nor asked
    CHECK(c.input_done(24h * 365, 1, Outcome::value));
    CHECK(drain(c).empty());
    REQUIRE(c.next_wakeup().has_value());
    CHECK(*c.next_wakeup() > Time(24h * 365 * 99));  // far away, not in the past
  }
}

// ================================================================ stats, validation

TEST_CASE("recycling: stats count retirees as idle or busy and keep the accounting") {
  Options o = options({.min_warm = 2, .max_workers = 4, .idle_timeout = 1h});
  o.max_lifetime = 10s;
  o.lifetime_jitter = 0.0;
  o.max_uses = 3;
  o.health_check_after = 30s;
  Controller c(o);
  c.tick(0s);
  const Ids w = drain(c).booted();
  REQUIRE(w.size() == 2);
  c.worker_warm(0s, w.at(0));
  c.worker_warm(1s, w.at(1));

  c.tick(10s);  // w0 retires (idle): one replacement
  const Ids r1 = drain(c).booted();
  REQUIRE(r1.size() == 1);
  Stats s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 2, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.target_workers == 2);

  // Both warm ones take an input: w1 first (not retiring), then the retiree.
  c.input_arrived(10s, 1);
  c.input_arrived(10s, 2);
  CHECK(drain(c).started() == Starts{{1, w.at(1)}, {2, w.at(0)}});
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 0, .busy = 2, .pending = 0, .running = 2});

  c.tick(11s);  // w1 retires while busy: another replacement
  const Ids r2 = drain(c).booted();
  REQUIRE(r2.size() == 1);
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 2, .idle = 0, .busy = 2, .pending = 0, .running = 2});
  CHECK(s.target_workers == 2);

  CHECK(c.input_done(12s, 1, Outcome::value));
  CHECK(c.input_done(12s, 2, Outcome::value));
  CHECK(drain(c).empty());  // both retirees wait for their replacements
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 2, .idle = 2, .busy = 0, .pending = 0, .running = 0});
  c.worker_warm(13s, r1.at(0));
  CHECK(drain(c).empty());  // one serving worker does not meet the target (2) yet
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 1, .idle = 3, .busy = 0, .pending = 0, .running = 0});
  c.worker_warm(14s, r2.at(0));
  CHECK(drain(c).evicted(EvictReason::lifetime) == Ids{w.at(1), w.at(0)});  // LRU first
  s = c.stats();
  CHECK(gauges(s) == Gauges{.booting = 0, .idle = 2, .busy = 0, .pending = 0, .running = 0});
  CHECK(s.evictions == 2);
  CHECK(s.boots == 4);
  CHECK(s.inputs_completed == 2);
  check_accounting(s);
}

TEST_CASE("validation: recycling and health settings name the field and the range") {
  Options bad;
  bad.max_lifetime = 0ms;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_lifetime (0ms) must be > 0ms", std::invalid_argument);
  bad = {};
  bad.max_lifetime = -5ms;
  CHECK_THROWS_WITH_AS(Controller{bad}, "max_lifetime (-5ms) must be > 0ms", std::invalid_argument);
  bad = {};
  bad.lifetime_jitter = 1.5;
  CHECK_THROWS_WITH_AS(Controller{bad}, "lifetime_jitter (1.500000) must be in [0, 1]",
                       std::invalid_argument);
  bad = {};
  bad.lifetime_jitter = -0.25;
  CHECK_THROWS_WITH_AS(Controller{bad}, "lifetime_jitter (-0.250000) must be in [0, 1]",
                       std::invalid_argument);
  bad = {};
  bad.lifetime_jitter = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(Controller{bad}, std::invalid_argument);
  bad = {};
  bad.health_check_after = -1ms;
  CHECK_THROWS_WITH_AS(Controller{bad}, "health_check_after (-1ms) must be >= 0ms",
                       std::invalid_argument);

  // Edge values that are valid.
  Options ok;
  ok.max_lifetime = 1ms;
  ok.lifetime_jitter = 0.0;
  ok.health_check_after = 0ms;
  ok.max_uses = 1;
  CHECK_NOTHROW(Controller{ok});
  ok.lifetime_jitter = 1.0;
  ok.max_uses = 0;
  CHECK_NOTHROW(Controller{ok});
  // The default jitter applies only when a lifetime is set; no lifetime is valid.
  CHECK_NOTHROW(Controller{Options{}});
}
