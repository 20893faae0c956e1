// Issue 6, target 2: N no-op inputs from one or two producers into 2 workers, waiting for
// all. Args: {inputs, producers}. Each pool is built once, outside the timed loop.
// warmpool runs twice: with default options, and with batching (`Options::max_batch`).

#include <warmpool/warmpool.hpp>

#include <asio.hpp>
#include <cstdint>
#include <latch>
#include <thread>
#include <thread_pool/thread_pool.hpp>
#include <vector>

#include "bench_support.hpp"

namespace {

/// Runs `producers` threads that together call `submit_one(latch)` `inputs` times, then
/// waits until the workers have counted the latch down to zero. Each producer has its own
/// copy of `submit_one`, and the latch a cache line of its own: a producer reads nothing
/// that the workers' count-downs keep writing.
template <class SubmitOne>
void produce(benchmark::State& state, SubmitOne submit_one) {
  const auto inputs = static_cast<std::ptrdiff_t>(state.range(0));
  const auto producers = static_cast<std::ptrdiff_t>(state.range(1));
  for (auto _ : state) {
    alignas(bench::cache_line) std::latch done(inputs);
    std::vector<std::thread> threads;
    for (std::ptrdiff_t p = 0; p < producers; ++p) {
      const std::ptrdiff_t share = inputs / producers + (p < inputs % producers ? 1 : 0);
      threads.emplace_back([&done, submit_one, share] {
        for (std::ptrdiff_t i = 0; i < share; ++i) submit_one(done);
      });
    }
    for (std::thread& t : threads) t.join();
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * inputs);
}

/// A warm pool of 2 workers, batching up to `max_batch` inputs (1: no batching).
void warmpool_with(benchmark::State& state, std::size_t max_batch) {
  warmpool::Options options;
  options.autoscaler.min_warm = 2;
  options.autoscaler.max_workers = 2;
  options.max_pending = std::size_t{1} << 24;
  options.max_batch = max_batch;
  warmpool::Pool<bench::Noop> pool(options);
  while (pool.stats().workers_idle < 2) std::this_thread::yield();
  produce(state, [&pool](std::latch& done) {
    pool.post([](bench::Noop&) {}, [&done](warmpool::Result<void>&&) { done.count_down(); });
  });
}

void warmpool_pool(benchmark::State& state) { warmpool_with(state, 1); }

/// With `Options::max_batch`: a saturated worker takes short inputs 16 at a time.
void warmpool_batched(benchmark::State& state) { warmpool_with(state, 16); }

void asio_pool(benchmark::State& state) {
  asio::thread_pool pool(2);
  produce(state, [&pool](std::latch& done) { asio::post(pool, [&done] { done.count_down(); }); });
  pool.join();
}

void rvaser_pool(benchmark::State& state) {
  thread_pool::ThreadPool pool(2);
  produce(state, [&pool](std::latch& done) { pool.Submit([&done] { done.count_down(); }); });
}

void naive_pool(benchmark::State& state) {
  bench::NaivePool pool(2);
  produce(state, [&pool](std::latch& done) { pool.post([&done] { done.count_down(); }); });
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const std::int64_t inputs = bench::quick() ? 100'000 : 1'000'000;
  const auto add = [inputs](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)
        ->ArgNames({"inputs", "producers"})
        ->Args({inputs, 1})
        ->Args({inputs, 2})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  };
  add("throughput/warmpool", warmpool_pool);
  add("throughput/warmpool_batched", warmpool_batched);
  add("throughput/asio", asio_pool);
  add("throughput/rvaser", rvaser_pool);
  add("throughput/naive", naive_pool);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
