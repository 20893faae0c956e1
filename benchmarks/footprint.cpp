// Issue 6, targets 5-7: what warm idle workers cost, and how fast a keep_warm raise boots.
//   idle/warmpool        1,000 warm idle workers for 10 s (2 s with --quick):
//                        process CPU time spent meanwhile (target: <= 10 ms; nothing polls)
//   fanout/warmpool      keep_warm 0 -> 64 with a 100 ms enter: time until all are warm
//                        (target: <= 150 ms, the boots run in parallel)
//   memory/warmpool      heap bytes per idle worker beyond the Worker object, and resident
//                        stack bytes per worker thread, reported separately
// Each runs once (one iteration); the numbers are counters.

#include <warmpool/warmpool.hpp>

#include <malloc.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "bench_support.hpp"

namespace {

using namespace std::chrono_literals;

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// Heap bytes in use (glibc's mallinfo2).
double heap_bytes() { return static_cast<double>(mallinfo2().uordblks); }

/// Resident set size in bytes (Linux).
double resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kb = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> kb;
      break;
    }
  }
  return kb * 1024;
}

template <class Worker>
void wait_warm(warmpool::Pool<Worker>& pool, std::size_t n) {
  while (pool.stats().workers_idle < n) std::this_thread::sleep_for(1ms);
}

struct Sleepy {
  void enter() { std::this_thread::sleep_for(100ms); }
};

void idle_cost(benchmark::State& state) {
  constexpr std::size_t workers = 1000;
  warmpool::Options options;
  options.autoscaler = {.min_warm = workers, .max_workers = workers};
  warmpool::Pool<bench::Noop> pool(options);
  wait_warm(pool, workers);
  std::this_thread::sleep_for(200ms);  // let the boots' last bookkeeping settle
  const auto window = bench::quick() ? 2s : 10s;
  for (auto _ : state) {
    const double before = process_cpu_ms();
    std::this_thread::sleep_for(window);
    state.counters["cpu_ms"] = process_cpu_ms() - before;
  }
  state.counters["seconds"] = std::chrono::duration<double>(window).count();
}

void boot_fanout(benchmark::State& state) {
  warmpool::Options options;
  options.autoscaler = {.max_workers = 64};
  warmpool::Pool<Sleepy> pool(options);
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    pool.keep_warm(64);
    wait_warm(pool, 64);
    state.counters["all_warm_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
}

void memory(benchmark::State& state) {
  constexpr std::size_t workers = 256;
  for (auto _ : state) {
    const double heap_before = heap_bytes();
    const double rss_before = resident_bytes();
    warmpool::Options options;
    options.autoscaler = {.min_warm = workers, .max_workers = workers};
    warmpool::Pool<bench::Noop> pool(options);
    wait_warm(pool, workers);
    const double heap = (heap_bytes() - heap_before) / workers;
    const double rss = (resident_bytes() - rss_before) / workers;
    state.counters["heap_bytes_per_worker"] = heap - static_cast<double>(sizeof(bench::Noop));
    state.counters["stack_rss_bytes_per_worker"] = rss - heap;
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("idle/warmpool", idle_cost)->Iterations(1);
  benchmark::RegisterBenchmark("fanout/warmpool", boot_fanout)->Iterations(1);
  benchmark::RegisterBenchmark("memory/warmpool", memory)->Iterations(1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
