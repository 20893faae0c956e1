// Issue 6, target 4: Controller events per second, no threads, with N warm workers
// (min_warm = max_workers = N). Each step is three events: one arrival (with a deadline),
// one completion (the input that arrived `kInFlight` steps ago) and one tick, 1 us apart;
// the deadline (`kDeadline` steps) passes while the input runs, so ticks fire stop timers.
// The mix is the same for every N: only the number of workers changes.

#include <warmpool/controller.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bench_support.hpp"

namespace {

constexpr std::uint64_t kInFlight = 64;
constexpr std::int64_t kDeadline = 32;

void controller(benchmark::State& state) {
  using std::chrono::nanoseconds;
  const auto workers = static_cast<std::size_t>(state.range(0));
  warmpool::Options options;
  options.autoscaler.min_warm = workers;
  options.autoscaler.max_workers = workers;
  options.max_pending = std::size_t{1} << 24;
  warmpool::Controller c(options);
  std::vector<warmpool::Action> actions;
  std::int64_t now = 0;
  c.tick(nanoseconds(now));
  c.take_actions(actions);
  const std::vector<warmpool::Action> boots = actions;
  for (const warmpool::Action& boot : boots) c.worker_warm(nanoseconds(++now), boot.worker);
  if (c.stats().workers_idle != workers) throw std::logic_error("workers did not warm");

  std::uint64_t next_input = 1;
  for (auto _ : state) {
    now += 1000;
    const warmpool::Arrival arrival{.deadline = nanoseconds(now + kDeadline * 1000)};
    c.input_arrived(nanoseconds(now), next_input, arrival);
    if (next_input > kInFlight) {
      c.input_done(nanoseconds(now), next_input - kInFlight, warmpool::Outcome::value);
    }
    ++next_input;
    c.tick(nanoseconds(now));
    benchmark::DoNotOptimize(c.next_wakeup());
    c.take_actions(actions);
    benchmark::DoNotOptimize(actions.data());
  }
  state.SetItemsProcessed(state.iterations() * 3);  // events; ns/event = 1e9 / items/s
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("controller/events", controller)
      ->ArgName("workers")
      ->Arg(100)
      ->Arg(10'000)
      ->Arg(100'000);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
