// Issue 6, target 1: warm round-trip (submit a no-op to one idle warm worker, wait for it).
// Every iteration is timed with steady_clock (manual time); p50_ns and p99_ns are counters.

#include <warmpool/warmpool.hpp>

#include <asio.hpp>
#include <atomic>
#include <future>
#include <thread>
#include <thread_pool/thread_pool.hpp>

#include "bench_support.hpp"

namespace {

void warmpool_pool(benchmark::State& state) {
  warmpool::Options options;
  options.autoscaler.min_warm = 1;
  options.autoscaler.max_workers = 1;
  warmpool::Pool<bench::Noop> pool(options);
  while (pool.stats().workers_idle < 1) std::this_thread::yield();  // warm before timing
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      int value = pool.submit([](bench::Noop&) { return 1; }).get();
      benchmark::DoNotOptimize(value);
    });
  }
}

void asio_pool(benchmark::State& state) {
  asio::thread_pool pool(1);
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      std::promise<int> promise;
      std::future<int> future = promise.get_future();
      asio::post(pool, [&promise] { promise.set_value(1); });
      int value = future.get();
      benchmark::DoNotOptimize(value);
    });
  }
  pool.join();
}

void rvaser_pool(benchmark::State& state) {
  thread_pool::ThreadPool pool(1);
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      int value = pool.Submit([] { return 1; }).get();
      benchmark::DoNotOptimize(value);
    });
  }
}

void naive_pool(benchmark::State& state) {
  bench::NaivePool pool(1);
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      int value = pool.submit([] { return 1; }).get();
      benchmark::DoNotOptimize(value);
    });
  }
}

/// The floor: hand a value to a spinning thread and spin until it hands one back.
void atomic_floor(benchmark::State& state) {
  std::atomic<long> cell{0};
  std::thread partner([&cell] {
    long seen = 0;
    while (true) {
      long value = cell.load(std::memory_order_acquire);
      if (value < 0) return;
      if (value != seen && value % 2 == 1) {
        seen = value + 1;
        cell.store(seen, std::memory_order_release);
      }
    }
  });
  long next = 1;
  {
    bench::Samples samples(state);
    for (auto _ : state) {
      samples.time([&] {
        cell.store(next, std::memory_order_release);
        while (cell.load(std::memory_order_acquire) != next + 1) {
        }
        next += 2;
      });
    }
  }
  cell.store(-1, std::memory_order_release);
  partner.join();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("warm/warmpool", warmpool_pool)->UseManualTime();
  benchmark::RegisterBenchmark("warm/asio", asio_pool)->UseManualTime();
  benchmark::RegisterBenchmark("warm/rvaser", rvaser_pool)->UseManualTime();
  benchmark::RegisterBenchmark("warm/naive", naive_pool)->UseManualTime();
  benchmark::RegisterBenchmark("warm/floor_atomic", atomic_floor)->UseManualTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
