#pragma once
// Shared by the benchmarks: the naive peer pool, a no-op worker, percentiles, quick mode.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

/// Bytes that keep two threads' data off each other's cache lines.
inline constexpr std::size_t cache_line = 64;

/// A worker with nothing to load: `enter` does nothing.
struct Noop {
  void enter() {}
};

/// True when WARMPOOL_BENCH_QUICK is set (scripts/bench.sh --quick): smaller inputs.
inline bool quick() {
  const char* value = std::getenv("WARMPOOL_BENCH_QUICK");
  return value != nullptr && *value != '\0' && *value != '0';
}

/// The pool a user writes in ten minutes: one mutex, one condition variable, one deque.
class NaivePool {
 public:
  explicit NaivePool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { serve(); });
    }
  }
  NaivePool(const NaivePool&) = delete;
  NaivePool& operator=(const NaivePool&) = delete;
  ~NaivePool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(f));
    }
    wake_.notify_one();
  }

  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    std::future<R> future = task->get_future();
    post([task] { (*task)(); });
    return future;
  }

 private:
  void serve() {
    while (true) {
      std::function<void()> f;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        f = std::move(queue_.front());
        queue_.pop_front();
      }
      f();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

/// Per-iteration latencies: reports them as manual time and as p50/p99 counters.
class Samples {
 public:
  explicit Samples(benchmark::State& state) : state_(state) { ns_.reserve(1 << 20); }
  Samples(const Samples&) = delete;
  Samples& operator=(const Samples&) = delete;
  ~Samples() {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    const auto at = [this](double q) {
      return ns_[std::min(ns_.size() - 1, static_cast<std::size_t>(q * ns_.size()))];
    };
    state_.counters["p50_ns"] = at(0.50);
    state_.counters["p99_ns"] = at(0.99);
  }

  /// Times `f()` with steady_clock and records it as this iteration's time.
  template <class F>
  void time(F&& f) {
    const auto begin = std::chrono::steady_clock::now();
    f();
    const auto end = std::chrono::steady_clock::now();
    const std::chrono::duration<double, std::nano> took = end - begin;
    ns_.push_back(took.count());
    state_.SetIterationTime(took.count() * 1e-9);
  }

 private:
  benchmark::State& state_;
  std::vector<double> ns_;
};

}  // namespace bench
