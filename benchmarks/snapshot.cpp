// Issue 7, snapshot boots: the cold start of a worker whose enter builds a large index
// from a file, with and without Options::snapshot. With it, only the first boot parses
// the file (in enter_snapshot()); every later boot copies the built index.
// As in cold_start.cpp, idle_timeout 0 makes every submit boot a new worker. In the
// report, "warmpool" is the snapshot boot and "without_snapshot" the full one.

#include <warmpool/warmpool.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unordered_map>

#include <unistd.h>

#include "bench_support.hpp"

namespace {

constexpr int entries = 200'000;

/// A file of `entries` "key value" lines, written once per process.
const std::filesystem::path& index_file() {
  static const std::filesystem::path path = [] {
    auto p = std::filesystem::temp_directory_path() /
             ("warmpool_bench_index_" + std::to_string(::getpid()) + ".txt");
    std::ofstream out(p);
    for (int i = 0; i < entries; ++i) out << "key" << i << ' ' << i * 7 << '\n';
    return p;
  }();
  return path;
}

/// Parses the file into a hash map (the costly, copyable part) and then opens a
/// "session" (the per-worker part that cannot be copied).
struct Indexed {
  void enter_snapshot() {
    std::ifstream in(index_file());
    std::string key;
    std::int64_t value = 0;
    while (in >> key >> value) index.emplace(key, value);
  }
  void enter() { session = static_cast<std::int64_t>(index.size()); }
  std::unordered_map<std::string, std::int64_t> index;
  std::int64_t session = 0;
};

void cold_start(benchmark::State& state, bool snapshot) {
  warmpool::Options options;
  options.autoscaler = {.max_workers = 1, .idle_timeout = std::chrono::milliseconds(0)};
  options.snapshot = snapshot;
  warmpool::Pool<Indexed> pool(options);
  pool.submit([](Indexed&) {}).get();  // untimed: the first boot makes the snapshot
  bench::Samples samples(state);
  for (auto _ : state) {
    samples.time([&] {
      auto found = pool.submit([](Indexed& w) { return w.index.at("key4242"); }).get();
      benchmark::DoNotOptimize(found);
    });
    while (pool.stats().workers_idle + pool.stats().workers_busy != 0) {
      std::this_thread::yield();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("snapshot/without_snapshot", cold_start, false)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("snapshot/warmpool", cold_start, true)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove(index_file());
}
