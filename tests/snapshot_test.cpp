// Snapshot boots (Options::snapshot): enter_snapshot() runs once, later boots copy it.

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace test_support;
using warmpool::ManualClock;
using warmpool::Options;

struct Counts {
  std::atomic<int> constructed{0};
  std::atomic<int> copied{0};
  std::atomic<int> snapshots{0};
  std::atomic<int> entered{0};
  std::atomic<int> exited{0};
  std::atomic<int> failures_left{0};  // enter_snapshot throws while this is positive
};

/// A worker with a costly, copyable table built by enter_snapshot().
struct Model {
  explicit Model(Counts& c) : counts(&c) { ++counts->constructed; }
  Model(const Model& other) : counts(other.counts), table(other.table) { ++counts->copied; }
  Model& operator=(const Model&) = delete;
  ~Model() = default;
  void enter_snapshot() {
    if (counts->failures_left.fetch_sub(1) > 0) throw std::runtime_error("disk error");
    ++counts->snapshots;
    table.assign(1000, 7);
  }
  void enter() {
    ++counts->entered;
    session = static_cast<int>(table.size());  // built per worker, from the snapshot's state
  }
  void exit() { ++counts->exited; }
  Counts* counts;
  std::vector<int> table;
  int session = 0;
};

TestPool<Model>::Factory models(Counts& counts) {
  return [&counts] { return std::make_unique<Model>(counts); };
}

Options snapshotting(std::size_t workers) {
  Options o = with_max_workers(workers);
  o.snapshot = true;
  return o;
}

struct Unique {
  Unique() = default;
  Unique(const Unique&) = delete;
  Unique& operator=(const Unique&) = delete;
};

}  // namespace

TEST_CASE("snapshot: enter_snapshot runs once; every boot copies it and runs enter") {
  ManualClock clock;
  Counts counts;
  {
    TestPool<Model> pool(snapshotting(4), models(counts), clock);
    pool.keep_warm(4);  // four boots at once: they share one snapshot
    REQUIRE(eventually([&] { return pool.stats().workers_idle == 4; }));
    auto f = pool.submit([](Model& m) { return m.session + static_cast<int>(m.table.size()); });
    REQUIRE(ready_soon(f));
    CHECK(f.get() == 2000);
    CHECK(counts.constructed == 1);
    CHECK(counts.snapshots == 1);
    CHECK(counts.copied == 4);
    CHECK(counts.entered == 4);
    const warmpool::Stats s = pool.stats();
    REQUIRE(s.enter_hooks.size() == 2);
    CHECK(s.enter_hooks[0].time.count == 1);  // enter_snapshot
    CHECK(s.enter_hooks[1].time.count == 4);  // enter
  }
  CHECK(counts.exited == 4);  // the snapshot itself never became warm
}

TEST_CASE("snapshot: without it both hooks run on every boot") {
  ManualClock clock;
  Counts counts;
  TestPool<Model> pool(with_max_workers(3), models(counts), clock);
  pool.keep_warm(3);
  REQUIRE(eventually([&] { return pool.stats().workers_idle == 3; }));
  CHECK(counts.constructed == 3);
  CHECK(counts.snapshots == 3);
  CHECK(counts.entered == 3);
  CHECK(counts.copied == 0);
}

TEST_CASE("snapshot: a failed snapshot is a failed boot, and the next boot tries again") {
  ManualClock clock;
  Counts counts;
  counts.failures_left = 1;
  Options o = snapshotting(1);
  o.boot_backoff.initial_delay = std::chrono::milliseconds(0);
  TestPool<Model> pool(o, models(counts), clock);
  auto f = pool.submit([](Model& m) { return m.session; });
  REQUIRE(ready_soon(f));
  CHECK(f.get() == 1000);
  CHECK(pool.stats().boot_failures == 1);
  CHECK(counts.snapshots == 1);
  CHECK(counts.entered == 1);
}

TEST_CASE("snapshot: a Worker that cannot be copied is refused") {
  Options o;
  o.snapshot = true;
  CHECK_THROWS_WITH_AS([&o] { const warmpool::Pool<Unique> pool(o); }(),
                       "snapshot is set but Worker is not copy-constructible",
                       std::invalid_argument);
}
