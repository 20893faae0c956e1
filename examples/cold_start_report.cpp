// Is it queueing or amortized work? A pool reports both sources of cold-start latency.
//
// The worker's enter() takes 300 ms (loading a model); its first input takes 100 ms
// more (a lazy cache fill the enter hook left undone); later inputs take 5 ms. A burst
// of 8 inputs hits an empty pool of at most 4 workers, then 12 inputs arrive one by one.
//
// Build and run: g++ -std=c++20 -O2 -pthread -Iinclude examples/cold_start_report.cpp && ./a.out

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <warmpool/warmpool.hpp>

namespace {

using namespace std::chrono_literals;

struct Model {
  void enter() { std::this_thread::sleep_for(300ms); }  // load weights
  int infer(int x) {
    if (!cache_filled) {  // amortized work: the first input pays for it
      std::this_thread::sleep_for(100ms);
      cache_filled = true;
    }
    std::this_thread::sleep_for(5ms);
    return 2 * x;
  }
  bool cache_filled = false;
};

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void print(const char* what, const warmpool::LatencySummary& s) {
  std::printf("  %-13s n=%-3llu p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms\n", what,
              static_cast<unsigned long long>(s.count), ms(s.p50), ms(s.p99), ms(s.max));
}

}  // namespace

int main() {
  warmpool::Options options;
  options.autoscaler.max_workers = 4;
  warmpool::Pool<Model> pool(options);

  std::vector<std::future<int>> burst;
  for (int i = 0; i < 8; ++i) burst.push_back(pool.submit([i](Model& m) { return m.infer(i); }));
  for (auto& f : burst) f.get();
  for (int i = 0; i < 12; ++i) pool.submit([i](Model& m) { return m.infer(i); }).get();

  const warmpool::Stats s = pool.stats();
  std::printf("inputs: %llu (cold %llu, warm %llu), boots: %llu\n",
              static_cast<unsigned long long>(s.inputs_completed),
              static_cast<unsigned long long>(s.cold_inputs),
              static_cast<unsigned long long>(s.warm_inputs),
              static_cast<unsigned long long>(s.boots));
  std::printf("queueing:\n");
  print("queue wait", s.queue_wait);
  print("boot", s.boot_time);
  for (const warmpool::HookTime& hook : s.enter_hooks) print(hook.name.c_str(), hook.time);
  std::printf("amortized work:\n");
  print("first input", s.first_input);
  print("later input", s.later_input);
  std::printf("cost of warmth: %.2f idle worker-seconds, %.2f busy\n", s.idle_worker_seconds,
              s.busy_worker_seconds);
  std::printf("workers:\n");
  for (const warmpool::WorkerInfo& w : pool.workers()) {
    std::printf("  #%llu %-8s served %llu\n", static_cast<unsigned long long>(w.id),
                std::string(warmpool::to_string(w.state)).c_str(),
                static_cast<unsigned long long>(w.inputs_served));
  }
  const bool both_seen = s.cold_inputs > 0 && s.first_input.p50 > s.later_input.p50;
  return both_seen ? 0 : 1;
}
