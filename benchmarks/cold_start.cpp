// Issue 6, target 3: cold start. One pool lives across iterations with idle_timeout 0, so
// its only worker is evicted right after each input and every submit boots a new one;
// timed: submit until the result is back (boot = thread start + factory + empty enter).
// The floor: std::thread create + join of an empty function.

#include <warmpool/warmpool.hpp>

#include <chrono>
#include <thread>

#include "bench_support.hpp"

namespace {

void warmpool_pool(benchmark::State& state) {
  warmpool::Options options;
  options.autoscaler.min_warm = 0;
  options.autoscaler.max_workers = 1;
  options.autoscaler.idle_timeout = std::chrono::milliseconds(0);
  warmpool::Pool<bench::Noop> pool(options);
  {
    bench::Samples samples(state);
    for (auto _ : state) {
      samples.time([&] {
        int value = pool.submit([](bench::Noop&) { return 1; }).get();
        benchmark::DoNotOptimize(value);
      });
      // Untimed: let the evicted worker's thread end before the next boot.
      while (pool.stats().workers_idle + pool.stats().workers_busy != 0) {
        std::this_thread::yield();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  const warmpool::Stats stats = pool.stats();
  state.counters["cold_share"] =
      static_cast<double>(stats.cold_inputs) / static_cast<double>(stats.inputs_submitted);
}

void thread_floor(benchmark::State& state) {
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([] { std::thread([] {}).join(); });
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // same gap as above
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("cold/warmpool", warmpool_pool)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("cold/floor_thread", thread_floor)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
