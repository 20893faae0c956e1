// Tests of the Simulator (hand-computed small traces through the real Controller), of
// reading and writing traces, and of the synthetic Azure-like trace generator.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <warmpool/simulator.hpp>

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using warmpool::ArrivalPattern;
using warmpool::SimulationConfig;
using warmpool::SimulationResult;
using warmpool::Simulator;
using warmpool::SyntheticFunction;
using warmpool::SyntheticTraceConfig;
using warmpool::Trace;

/// Boots take 2 s, idle workers go after 60 s, at most `max_workers` workers.
SimulationConfig config(std::size_t max_workers = 10, std::size_t min_warm = 0) {
  SimulationConfig c;
  c.options.autoscaler = {.min_warm = min_warm, .max_workers = max_workers, .idle_timeout = 60s};
  c.boot_time = 2s;
  return c;
}

SimulationResult simulate(const Trace& trace, const SimulationConfig& c = config()) {
  return Simulator(c).run(trace);
}

/// A policy that keeps capacity for a fixed time after the pool drains.
struct KeepFor final : warmpool::KeepAlivePolicy {
  explicit KeepFor(nanoseconds keep) : keep(keep) {}
  nanoseconds keep;
  void record_idle_gap(nanoseconds /*gap*/) override {}
  std::optional<warmpool::KeepAliveWindows> windows() const override {
    return warmpool::KeepAliveWindows{.keep_until = keep};
  }
};

Trace parse(const std::string& text) {
  std::istringstream in(text);
  return warmpool::read_trace(in);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

std::string csv(const Trace& trace) {
  std::ostringstream out;
  warmpool::write_trace(out, trace);
  return out.str();
}

/// Coefficient of variation of the inter-arrival times (needs at least 3 arrivals).
double inter_arrival_cv(const Trace& trace) {
  std::vector<double> gaps;
  for (std::size_t i = 1; i < trace.size(); ++i) {
    gaps.push_back(std::chrono::duration<double>(trace[i].arrival - trace[i - 1].arrival).count());
  }
  double mean = 0;
  for (const double g : gaps) mean += g;
  mean /= static_cast<double>(gaps.size());
  double variance = 0;
  for (const double g : gaps) variance += (g - mean) * (g - mean);
  variance /= static_cast<double>(gaps.size());
  return std::sqrt(variance) / mean;
}

}  // namespace

TEST_CASE("simulator: one input boots one worker and waits for its boot") {
  const SimulationResult r = simulate({{.arrival = 0s, .duration = 1s}});
  CHECK(r.inputs == 1);
  CHECK(r.inputs_started() == 1);
  CHECK(r.boots == 1);
  CHECK(r.cold_inputs == 1);
  CHECK(r.cold_start_fraction() == 1.0);
  CHECK(r.queue_wait(0.5) == 2s);
  CHECK(r.queue_wait(0.99) == 2s);
  // Runs over [2 s, 3 s], idle over [3 s, 63 s], evicted at 63 s.
  CHECK(r.busy_worker_time == 1s);
  CHECK(r.idle_worker_time == 60s);
  CHECK(r.idle_worker_seconds() == 60.0);
  CHECK(r.evictions == 1);
  CHECK(r.end == 63s);
}

TEST_CASE("simulator: an input after the first finished, within the idle timeout, is warm") {
  const SimulationResult r =
      simulate({{.arrival = 0s, .duration = 1s}, {.arrival = 10s, .duration = 1s}});
  CHECK(r.boots == 1);
  CHECK(r.cold_inputs == 1);
  CHECK(r.cold_start_fraction() == 0.5);
  CHECK(r.queue_waits == std::vector<nanoseconds>{0s, 2s});
  CHECK(r.queue_wait(0.5) == 0s);
  CHECK(r.queue_wait(0.99) == 2s);
  CHECK(r.idle_worker_time == 7s + 60s);  // [3 s, 10 s] and [11 s, 71 s]
  CHECK(r.busy_worker_time == 2s);
}

TEST_CASE("simulator: an input after the idle timeout is cold again") {
  const SimulationResult r =
      simulate({{.arrival = 0s, .duration = 1s}, {.arrival = 64s, .duration = 1s}});
  CHECK(r.boots == 2);
  CHECK(r.cold_inputs == 2);
  CHECK(r.cold_start_fraction() == 1.0);
  CHECK(r.queue_waits == std::vector<nanoseconds>{2s, 2s});
  CHECK(r.idle_worker_time == 120s);
  CHECK(r.evictions == 2);
}

TEST_CASE("simulator: ties - an arrival when an idle timeout ends, or a run ends, is warm") {
  SUBCASE("the idle timeout ends at 63 s") {
    const SimulationResult r =
        simulate({{.arrival = 0s, .duration = 1s}, {.arrival = 63s, .duration = 1s}});
    CHECK(r.boots == 1);
    CHECK(r.cold_inputs == 1);
  }
  SUBCASE("the first input ends at 3 s") {
    const SimulationResult r =
        simulate({{.arrival = 0s, .duration = 1s}, {.arrival = 3s, .duration = 1s}});
    CHECK(r.boots == 1);
    CHECK(r.queue_waits == std::vector<nanoseconds>{0s, 2s});
  }
}

TEST_CASE("simulator: a min_warm floor boots at time 0 and keeps its worker") {
  const Trace trace{{.arrival = 100s, .duration = 1s}};
  const SimulationResult floor = simulate(trace, config(10, /*min_warm=*/1));
  CHECK(floor.boots == 1);
  CHECK(floor.cold_inputs == 0);
  CHECK(floor.queue_waits == std::vector<nanoseconds>{0s});
  CHECK(floor.idle_worker_time == 98s);  // warm at 2 s; the run ends at 101 s, with the trace
  CHECK(floor.end == 101s);
  CHECK(floor.evictions == 1);  // by the shutdown at the end

  const SimulationResult none = simulate(trace);
  CHECK(none.cold_inputs == 1);
  CHECK(none.queue_waits == std::vector<nanoseconds>{2s});
}

TEST_CASE("simulator: max_workers makes inputs queue for a busy worker") {
  const Trace trace{{.arrival = 0s, .duration = 10s},
                    {.arrival = 0s, .duration = 10s},
                    {.arrival = 0s, .duration = 10s}};
  const SimulationResult one = simulate(trace, config(/*max_workers=*/1));
  CHECK(one.boots == 1);
  CHECK(one.cold_inputs == 1);  // the other two waited for a busy worker, not a boot
  CHECK(one.queue_waits == std::vector<nanoseconds>{2s, 12s, 22s});
  CHECK(one.queue_wait(0.5) == 12s);
  CHECK(one.queue_wait(0.99) == 22s);
  CHECK(one.busy_worker_time == 30s);

  const SimulationResult three = simulate(trace, config(/*max_workers=*/3));
  CHECK(three.boots == 3);
  CHECK(three.cold_inputs == 3);
  CHECK(three.queue_waits == std::vector<nanoseconds>{2s, 2s, 2s});
}

TEST_CASE("simulator: max_inputs lets one worker run inputs side by side") {
  SimulationConfig c = config();
  c.options.max_inputs = 2;
  const SimulationResult r =
      simulate({{.arrival = 0s, .duration = 10s}, {.arrival = 0s, .duration = 5s}}, c);
  CHECK(r.boots == 1);
  CHECK(r.cold_inputs == 2);
  CHECK(r.busy_worker_time == 10s);  // one worker busy over [2 s, 12 s]
  CHECK(r.idle_worker_time == 60s);
}

TEST_CASE("simulator: the timeline holds the time spent in each state per step") {
  SimulationConfig c = config();
  c.timeline_step = 1s;
  const SimulationResult r = simulate({{.arrival = 0s, .duration = 1s}}, c);
  REQUIRE(r.timeline.size() == 63);
  CHECK(r.timeline_step == 1s);
  CHECK(r.timeline[0] == warmpool::TimelineBin{.booting = 1s, .pending = 1s});
  CHECK(r.timeline[1] == warmpool::TimelineBin{.booting = 1s, .pending = 1s});
  CHECK(r.timeline[2] == warmpool::TimelineBin{.busy = 1s});
  nanoseconds idle{};
  for (std::size_t i = 3; i < r.timeline.size(); ++i) {
    CHECK(r.timeline[i] == warmpool::TimelineBin{.idle = 1s});
    idle += r.timeline[i].idle;
  }
  CHECK(idle == r.idle_worker_time);
}

TEST_CASE("simulator: a mix sums the runs of its traces") {
  SimulationConfig c = config();
  c.timeline_step = 10s;
  const Simulator simulator(c);
  const Trace a{{.arrival = 0s, .duration = 1s}, {.arrival = 10s, .duration = 1s}};
  const Trace b{{.arrival = 5s, .duration = 3s}};
  const SimulationResult mix = simulator.run_mix({a, b}).total;
  const SimulationResult ra = simulator.run(a);
  const SimulationResult rb = simulator.run(b);
  CHECK(mix.inputs == 3);
  CHECK(mix.boots == ra.boots + rb.boots);
  CHECK(mix.cold_inputs == 2);
  CHECK(mix.queue_waits == std::vector<nanoseconds>{0s, 2s, 2s});
  CHECK(mix.idle_worker_time == ra.idle_worker_time + rb.idle_worker_time);
  CHECK(mix.end == std::max(ra.end, rb.end));
  REQUIRE(mix.timeline.size() == std::max(ra.timeline.size(), rb.timeline.size()));
  CHECK(mix.timeline[0].busy == ra.timeline[0].busy + rb.timeline[0].busy);

  SimulationResult other_step;
  other_step.timeline_step = 1s;
  SimulationResult copy = mix;
  CHECK_THROWS_AS(copy += other_step, std::invalid_argument);
  CHECK(copy == mix);
}

TEST_CASE("simulator: a mix gives each trace's cold-start fraction, their mean and quantiles") {
  const Trace half{{.arrival = 0s, .duration = 1s}, {.arrival = 10s, .duration = 1s}};
  const Trace all{{.arrival = 0s, .duration = 1s}};
  const Trace quarter{{.arrival = 0s, .duration = 1s},  // cold; runs over [2 s, 3 s]
                      {.arrival = 3s, .duration = 1s},  // the rest find the worker free
                      {.arrival = 4s, .duration = 1s},
                      {.arrival = 5s, .duration = 1s}};
  const warmpool::MixResult mix = Simulator(config()).run_mix({half, all, Trace{}, quarter});
  // The empty trace started nothing, so it has no fraction.
  CHECK(mix.cold_start_fractions == std::vector<double>{0.5, 1.0, 0.25});
  CHECK(mix.mean_cold_start_fraction() == doctest::Approx(1.75 / 3));
  CHECK(mix.cold_start_fraction_quantile(0.75) == 1.0);  // rank ceil(2.25) = 3 of 3
  CHECK(mix.cold_start_fraction_quantile(0.5) == 0.5);
  CHECK(mix.cold_start_fraction_quantile(0.0) == 0.25);
  // Weighted by inputs, the busy trace dominates: 3 cold starts of 7 inputs.
  CHECK(mix.total.inputs == 7);
  CHECK(mix.total.cold_start_fraction() == doctest::Approx(3.0 / 7));

  const warmpool::MixResult none = Simulator(config()).run_mix({Trace{}});
  CHECK(none.cold_start_fractions.empty());
  CHECK(none.mean_cold_start_fraction() == 0.0);
  CHECK(none.cold_start_fraction_quantile(0.75) == 0.0);
}

TEST_CASE("simulator: each run gets a fresh policy from the factory, and the policy acts") {
  SimulationConfig c = config();
  int made = 0;
  c.keep_alive_factory = [&made] {
    ++made;
    return std::make_shared<KeepFor>(5s);
  };
  const Trace trace{{.arrival = 0s, .duration = 1s}, {.arrival = 10s, .duration = 1s}};
  const SimulationResult r = Simulator(c).run_mix({trace, trace}).total;
  CHECK(made == 2);
  // The policy keeps the worker 5 s after the pool drains (not the 60 s idle timeout), so
  // the input at 10 s is cold again.
  CHECK(r.boots == 4);
  CHECK(r.cold_inputs == 4);
  CHECK(r.idle_worker_time == 4 * 5s);

  SimulationConfig shared = config();
  shared.options.keep_alive = std::make_shared<KeepFor>(5s);
  CHECK_THROWS_AS(Simulator{shared}, std::invalid_argument);
}

TEST_CASE("simulator: on_event receives the Controller's events in virtual time") {
  SimulationConfig c = config();
  std::vector<warmpool::Event> events;
  c.options.on_event = [&events](const warmpool::Event& e) { events.push_back(e); };
  simulate({{.arrival = 5s, .duration = 1s}}, c);
  std::set<warmpool::EventKind> kinds;
  for (const warmpool::Event& e : events) kinds.insert(e.kind);
  CHECK(kinds.contains(warmpool::EventKind::boot_started));
  CHECK(kinds.contains(warmpool::EventKind::worker_warm));
  CHECK(kinds.contains(warmpool::EventKind::input_started));
  CHECK(kinds.contains(warmpool::EventKind::worker_evicted));
  for (const warmpool::Event& e : events) {
    if (e.kind == warmpool::EventKind::worker_warm) CHECK(e.time == 7s);
  }
}

TEST_CASE("simulator: boot jitter is seeded and bounded") {
  SimulationConfig c = config();
  c.boot_jitter = 0.5;
  std::set<nanoseconds> waits;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    c.seed = seed;
    const SimulationResult r = simulate({{.arrival = 0s, .duration = 1s}}, c);
    CHECK(r.queue_waits[0] >= 1s);
    CHECK(r.queue_waits[0] < 3s);
    CHECK(r == simulate({{.arrival = 0s, .duration = 1s}}, c));
    waits.insert(r.queue_waits[0]);
  }
  CHECK(waits.size() > 10);
}

TEST_CASE("simulator: the same trace and settings give the same result") {
  const SyntheticTraceConfig g{.seed = 3, .length = 2h, .max_daily_invocations = 1e5};
  std::vector<Trace> mix;
  for (std::uint64_t i = 0; i < 20; ++i) mix.push_back(warmpool::synthetic_function(g, i).trace);
  SimulationConfig c = config(50);
  c.boot_jitter = 0.3;
  c.timeline_step = 1min;
  const warmpool::MixResult first = Simulator(c).run_mix(mix);
  CHECK(first.total.inputs > 100);
  CHECK(first.cold_start_fractions.size() > 10);
  CHECK(first == Simulator(c).run_mix(mix));
}

TEST_CASE("simulator: bad settings and traces are rejected") {
  SimulationConfig c = config();
  c.boot_jitter = 1.5;
  CHECK_THROWS_AS(Simulator{c}, std::invalid_argument);
  c = config();
  c.boot_time = -1s;
  CHECK_THROWS_AS(Simulator{c}, std::invalid_argument);
  c = config();
  c.timeline_step = 0s;
  CHECK_THROWS_AS(Simulator{c}, std::invalid_argument);
  c = config();
  c.options.autoscaler.max_workers = 0;
  CHECK_THROWS_AS(Simulator{c}, std::invalid_argument);
  const Simulator simulator(config());
  CHECK_THROWS_AS(simulator.run({{.arrival = 5s, .duration = 1s}, {.arrival = 1s}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(simulator.run({{.arrival = 1s, .duration = -1s}}), std::invalid_argument);
}

TEST_CASE("traces: read with or without header, blank lines, any order; written exactly") {
  const Trace trace =
      parse("arrival_seconds,duration_seconds\r\n\n 3.5 , 0.25\n1,2\n\n0.000000001,.5\n");
  const Trace expected{{.arrival = 1ns, .duration = 500ms},
                       {.arrival = 1s, .duration = 2s},
                       {.arrival = 3500ms, .duration = 250ms}};
  CHECK(trace == expected);
  CHECK(parse("1,2\n0,1\n") ==
        Trace{{.arrival = 0s, .duration = 1s}, {.arrival = 1s, .duration = 2s}});
  CHECK(parse("") == Trace{});
  CHECK(csv(expected) == "arrival_seconds,duration_seconds\n0.000000001,0.5\n1,2\n3.5,0.25\n");
  CHECK(parse(csv(expected)) == expected);
}

TEST_CASE("traces: bad lines name their line number and the problem") {
  CHECK(error_of("a,b\n1,2\n3\n") ==
        "line 3: expected 2 fields arrival_seconds,duration_seconds, got \"3\"");
  CHECK(error_of("1,2\n\n1,2,3\n") ==
        "line 3: expected 2 fields arrival_seconds,duration_seconds, got \"1,2,3\"");
  CHECK(error_of("1,2\n4,-2\n") == "line 2: duration_seconds (-2) must be >= 0");
  CHECK(error_of("1,2\nx,1\n") == "line 2: arrival_seconds (x) is not a decimal number of seconds");
  CHECK(error_of("1e3,1\n") == "line 1: arrival_seconds (1e3) is not a decimal number of seconds");
  CHECK(error_of("1,2\n1.2.3,1\n") ==
        "line 2: arrival_seconds (1.2.3) is not a decimal number of seconds");
  CHECK(error_of("1,\n") == "line 1: duration_seconds is empty");
  CHECK(error_of("99999999999,1\n") ==
        "line 1: arrival_seconds (99999999999) must be < 1000000000 seconds");
}

TEST_CASE("synthetic traces: same seed, same bytes; another seed, other traces") {
  const SyntheticTraceConfig a{.seed = 11, .length = 3h, .max_daily_invocations = 1e5};
  SyntheticTraceConfig b = a;
  b.seed = 12;
  std::string first;
  std::string again;
  std::string other;
  for (std::uint64_t i = 0; i < 30; ++i) {
    first += csv(warmpool::synthetic_function(a, i).trace);
    again += csv(warmpool::synthetic_function(a, i).trace);
    other += csv(warmpool::synthetic_function(b, i).trace);
  }
  CHECK(first.size() > 1000);
  CHECK(first == again);
  CHECK(first != other);
}

TEST_CASE("synthetic traces: the characteristics of the Azure Functions 2019 trace") {
  const SyntheticTraceConfig g{.seed = 2019, .length = 24h, .max_daily_invocations = 1e4};
  constexpr std::size_t count = 1500;
  double log_sum = 0;
  double log_square_sum = 0;
  std::size_t bursty = 0;
  std::size_t timers = 0;
  std::size_t hourly_or_less = 0;
  std::size_t measured = 0;
  std::size_t cv_above_one = 0;
  double least_daily = 1e300;
  double most_daily = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const SyntheticFunction f = warmpool::synthetic_function(g, i);
    const double log_mean = std::log(std::chrono::duration<double>(f.mean_duration).count());
    log_sum += log_mean;
    log_square_sum += log_mean * log_mean;
    bursty += f.pattern == ArrivalPattern::bursty ? 1 : 0;
    timers += f.pattern == ArrivalPattern::timer ? 1 : 0;
    hourly_or_less += f.daily_invocations <= 24 ? 1 : 0;
    least_daily = std::min(least_daily, f.daily_invocations);
    most_daily = std::max(most_daily, f.daily_invocations);
    if (f.pattern == ArrivalPattern::timer && f.trace.size() >= 3) {
      CHECK(inter_arrival_cv(f.trace) < 1e-3);  // exactly periodic, up to rounding
      const nanoseconds off = f.trace[1].arrival - f.trace[0].arrival - f.period;
      CHECK(std::chrono::abs(off) <= 1us);
    }
    if (f.trace.size() >= 50) {
      ++measured;
      cv_above_one += inter_arrival_cv(f.trace) > 1 ? 1 : 0;
    }
    if (f.trace.size() >= 1000) {  // executions vary around the function's mean
      nanoseconds total{};
      for (const warmpool::TraceInput& input : f.trace) total += input.duration;
      const double mean =
          std::chrono::duration<double>(total).count() / static_cast<double>(f.trace.size());
      CHECK(mean ==
            doctest::Approx(std::chrono::duration<double>(f.mean_duration).count()).epsilon(0.1));
    }
    CHECK(std::is_sorted(f.trace.begin(), f.trace.end(),
                         [](const auto& a, const auto& b) { return a.arrival < b.arrival; }));
    if (!f.trace.empty()) CHECK(f.trace.back().arrival < g.length);
  }
  const auto n = static_cast<double>(count);
  const double log_mean = log_sum / n;
  const double log_sigma = std::sqrt(log_square_sum / n - log_mean * log_mean);
  CHECK(std::abs(log_mean + 0.38) < 0.2);  // standard error about 0.06
  CHECK(std::abs(log_sigma - 2.36) < 0.15);
  CHECK(static_cast<double>(bursty) / n == doctest::Approx(0.40).epsilon(0.1));
  CHECK(static_cast<double>(timers) / n == doctest::Approx(0.25).epsilon(0.15));
  CHECK(static_cast<double>(hourly_or_less) / n == doctest::Approx(0.45).epsilon(0.1));
  CHECK(most_daily / least_daily > 1e6);  // rates span many orders of magnitude
  REQUIRE(measured > 300);
  CHECK(static_cast<double>(cv_above_one) / static_cast<double>(measured) ==
        doctest::Approx(0.40).epsilon(0.2));
}

TEST_CASE("synthetic traces: bad configs throw") {
  CHECK_THROWS_AS(warmpool::synthetic_function({.length = 0s}, 0), std::invalid_argument);
  CHECK_THROWS_AS(warmpool::synthetic_function({.max_daily_invocations = 0}, 0),
                  std::invalid_argument);
}
