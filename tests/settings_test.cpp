// Validation of settings through the Pool: bad values throw std::invalid_argument
// naming the field and its range, and leave the pool's settings as they were.

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <future>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using test_support::eventually;
using warmpool::ManualClock;
using warmpool::Options;

struct Plain {};
using TestPool = warmpool::Pool<Plain, ManualClock>;

/// The message of the std::invalid_argument `f` throws, or a marker when it does not.
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (...) {
    return "<another exception>";
  }
  return "<no exception>";
}

std::string construct(const Options& o) {
  return invalid_argument_message([&] { TestPool pool(o, {}, ManualClock{}); });
}

Options valid() {
  Options o;
  o.autoscaler.max_workers = 2;
  return o;
}

}  // namespace

TEST_CASE("settings: the constructor rejects bad options, naming field and range") {
  Options o = valid();
  o.autoscaler.max_workers = 0;
  CHECK(construct(o) == "max_workers (0) must be >= 1");

  o = valid();
  o.autoscaler.min_warm = 3;
  CHECK(construct(o) == "min_warm (3) must be <= max_workers (2)");

  o = valid();
  o.autoscaler.idle_timeout = -1ms;
  CHECK(construct(o) == "idle_timeout (-1ms) must be >= 0ms");

  o = valid();
  o.max_inputs = 0;
  CHECK(construct(o) == "max_inputs (0) must be >= 1");

  o = valid();
  o.max_pending = 0;
  CHECK(construct(o) == "max_pending (0) must be >= 1");

  o = valid();
  o.max_boot_failures = 0;
  CHECK(construct(o) == "max_boot_failures (0) must be >= 1");

  o = valid();
  o.boot_backoff.initial_delay = -5ms;
  CHECK(construct(o).find("boot_backoff.initial_delay (-5ms)") == 0);

  o = valid();
  o.boot_backoff.multiplier = 0.5;
  CHECK(construct(o).find("boot_backoff.multiplier") == 0);

  CHECK(construct(valid()) == "<no exception>");
}

TEST_CASE("settings: edge values that are valid") {
  Options o = valid();
  o.autoscaler.min_warm = 2;  // == max_workers
  o.autoscaler.idle_timeout = 0ms;
  o.autoscaler.buffer = std::numeric_limits<std::size_t>::max();  // clamped to max_workers
  o.max_pending = 1;
  CHECK(construct(o) == "<no exception>");
}

TEST_CASE("settings: a missing factory for a non-default-constructible worker is refused") {
  struct NeedsArgument {
    explicit NeedsArgument(int) {}
  };
  const std::string message = invalid_argument_message(
      [] { warmpool::Pool<NeedsArgument, ManualClock> pool(Options{}, {}, ManualClock{}); });
  CHECK(message.find("factory") != std::string::npos);
}

TEST_CASE("settings: keep_warm above max_workers throws and changes nothing") {
  TestPool pool(valid(), {}, ManualClock{});
  pool.keep_warm(1);
  const warmpool::Autoscaler before = pool.autoscaler();
  CHECK(invalid_argument_message([&] { pool.keep_warm(3); }) ==
        "min_warm (3) must be <= max_workers (2)");
  CHECK(pool.autoscaler() == before);
  CHECK(pool.keep_warm() == 1);
  CHECK(pool.stats().boots == 1);
  CHECK(pool.stats().target_workers == 1);
}

TEST_CASE("settings: update_autoscaler rejects bad values and changes nothing") {
  TestPool pool(valid(), {}, ManualClock{});
  const warmpool::Autoscaler before = pool.autoscaler();

  CHECK(invalid_argument_message([&] { pool.update_autoscaler({.max_workers = 0}); }) ==
        "max_workers (0) must be >= 1");
  CHECK(pool.autoscaler() == before);

  // A partly valid update is refused whole: min_warm is not applied either.
  CHECK(invalid_argument_message([&] {
          pool.update_autoscaler({.min_warm = 1, .max_workers = 0});
        }) == "max_workers (0) must be >= 1");
  CHECK(pool.autoscaler() == before);
  CHECK(pool.stats().boots == 0);

  CHECK(invalid_argument_message([&] { pool.update_autoscaler({.min_warm = 5}); }) ==
        "min_warm (5) must be <= max_workers (2)");
  CHECK(pool.autoscaler() == before);

  CHECK(invalid_argument_message([&] { pool.update_autoscaler({.idle_timeout = -5ms}); }) ==
        "idle_timeout (-5ms) must be >= 0ms");
  CHECK(pool.autoscaler() == before);

  pool.keep_warm(2);
  const warmpool::Autoscaler floor2 = pool.autoscaler();
  // Lowering max_workers under the floor names the floor.
  CHECK(invalid_argument_message([&] { pool.update_autoscaler({.max_workers = 1}); }) ==
        "min_warm (2) must be <= max_workers (1)");
  CHECK(pool.autoscaler() == floor2);
  CHECK(pool.stats().boots == 2);
  CHECK(pool.stats().evictions == 0);
}

TEST_CASE("settings: update_autoscaler returns the settings in force, visible at once") {
  TestPool pool(valid(), {}, ManualClock{});
  const warmpool::Autoscaler in_force =
      pool.update_autoscaler({.min_warm = 1, .max_workers = 3, .idle_timeout = 5s});
  CHECK(in_force.min_warm == 1);
  CHECK(in_force.max_workers == 3);
  CHECK(in_force.buffer == 0);  // unset: kept
  CHECK(in_force.idle_timeout == 5s);
  CHECK(pool.autoscaler() == in_force);
  CHECK(pool.keep_warm() == 1);
  CHECK(pool.stats().target_workers == 1);
  CHECK(pool.stats().boots == 1);

  const warmpool::Autoscaler buffered = pool.update_autoscaler({.buffer = 2});
  CHECK(buffered.buffer == 2);
  CHECK(buffered.min_warm == 1);
  CHECK(buffered.max_workers == 3);
  CHECK(buffered.idle_timeout == 5s);
  CHECK(pool.autoscaler() == buffered);

  pool.keep_warm(3);
  CHECK(pool.autoscaler().min_warm == 3);
  CHECK(pool.stats().target_workers == 3);
  CHECK(pool.stats().boots == 3);
  CHECK(eventually([&] { return pool.stats().workers_idle == 3; }));
}

TEST_CASE("settings: a negative input timeout is refused and nothing is accepted") {
  TestPool pool(valid(), {}, ManualClock{});
  CHECK(invalid_argument_message([&] { (void)pool.submit([](Plain&) {}, {.timeout = -1ms}); }) ==
        "timeout (-1ms) must be >= 0ms");
  bool called = false;
  CHECK(invalid_argument_message([&] {
          pool.post([](Plain&) {}, [&called](warmpool::Result<void>) { called = true; },
                    {.timeout = -1ms});
        }) == "timeout (-1ms) must be >= 0ms");
  CHECK_FALSE(called);
  const warmpool::Stats s = pool.stats();
  CHECK(s.inputs_submitted == 0);
  CHECK(s.boots == 0);
}
