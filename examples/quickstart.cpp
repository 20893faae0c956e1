// warmpool quickstart: a "model" worker whose enter hook stands in for loading weights.
// It shows a cold start beside warm reuse, an idle eviction and a keep_warm change.
#include <warmpool/warmpool.hpp>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto load_time = 300ms;

struct Model {
  std::vector<float> weights;

  // Runs once per worker, on the worker's own thread, before it takes any input.
  void enter() {
    std::this_thread::sleep_for(load_time);  // stands in for reading a large file
    weights.assign(1024, 0.5f);
  }
  // Runs when the worker is evicted or the pool shuts down.
  void exit() { weights.clear(); }

  float infer(float x) const { return x * weights.front(); }
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void show(const char* label, const warmpool::Stats& s) {
  std::printf(
      "   %-22s warm=%zu booting=%zu boots=%llu cold_inputs=%llu evictions=%llu\n", label,
      s.workers_idle + s.workers_busy, s.workers_booting, static_cast<unsigned long long>(s.boots),
      static_cast<unsigned long long>(s.cold_inputs), static_cast<unsigned long long>(s.evictions));
}

template <class Predicate>
void wait_until(Predicate done) {
  while (!done()) std::this_thread::sleep_for(5ms);
}

int main() {
  warmpool::Options options;
  options.autoscaler.max_workers = 4;
  options.autoscaler.idle_timeout = 1s;  // Modal's scaledown_window; 60 s by default
  warmpool::Pool<Model> pool(options);
  std::printf("warmpool quickstart: Model::enter() takes %lld ms, idle_timeout is 1 s\n\n",
              static_cast<long long>(load_time.count()));

  std::printf("1. Cold start: no warm worker, so the first input waits for a boot.\n");
  auto start = Clock::now();
  float y = pool.submit([](Model& m) { return m.infer(2.0f); }).get();
  std::printf("   first input  -> %.1f in %8.2f ms (cold)\n", y, ms_since(start));

  std::printf("2. Warm reuse: the next input finds the warm worker.\n");
  start = Clock::now();
  y = pool.submit([](Model& m) { return m.infer(4.0f); }).get();
  std::printf("   second input -> %.1f in %8.2f ms (warm)\n", y, ms_since(start));
  show("after two inputs:", pool.stats());

  std::printf("3. Idle eviction: after 1 s without work the worker is evicted.\n");
  start = Clock::now();
  wait_until([&] { return pool.stats().evictions == 1; });
  std::printf("   evicted after %.0f ms idle\n", ms_since(start));
  show("after eviction:", pool.stats());

  std::printf("4. keep_warm(2): two workers boot at once, in parallel, with no input.\n");
  start = Clock::now();
  pool.keep_warm(2);
  show("right after keep_warm:", pool.stats());
  wait_until([&] { return pool.stats().workers_idle == 2; });
  std::printf("   both warm after %.0f ms (one load time: the boots overlapped)\n",
              ms_since(start));
  start = Clock::now();
  y = pool.submit([](Model& m) { return m.infer(8.0f); }).get();
  std::printf("   next input   -> %.1f in %8.2f ms (warm, no cold start)\n", y, ms_since(start));

  std::printf("5. keep_warm(0): the floor drops, workers go at their idle timeout.\n");
  start = Clock::now();
  pool.keep_warm(0);
  show("right after keep_warm:", pool.stats());
  wait_until([&] { return pool.stats().workers_idle == 0; });
  std::printf("   both evicted after %.0f ms\n", ms_since(start));
  show("at the end:", pool.stats());
}
