// keep_warm by time of day: 3 warm workers during business hours (UTC), none at night,
// and a manual keep_warm that holds until the next scheduled boundary.
//
// A whole day runs in a moment: the pool's clock is a ManualClock and the time of day
// is read from a wall clock that moves with it. In a real server, leave both out:
//   options.schedule = warmpool::Schedule::utc().between("06:00", "18:00", 3).otherwise(0);
//   warmpool::Pool<Model> pool(options);   // steady_clock, system_clock time of day
//
// Build and run: g++ -std=c++20 -O2 -pthread -Iinclude examples/scheduled_keep_warm.cpp && ./a.out

#include <chrono>
#include <cstdio>
#include <thread>

#include <warmpool/warmpool.hpp>

namespace {

using namespace std::chrono;

struct Model {
  void enter() {}  // load weights, open sessions...
};

/// Midnight UTC on 2024-03-04 plus however far `clock` has moved.
warmpool::WallClock day_of(const warmpool::ManualClock& clock) {
  const sys_days day = year{2024} / 3 / 4;
  return [clock, day] {
    return system_clock::time_point(day) +
           duration_cast<system_clock::duration>(clock.now().time_since_epoch());
  };
}

/// Gives worker threads a moment to finish booting or leaving (for the printout only).
void settle() { std::this_thread::sleep_for(milliseconds(50)); }

}  // namespace

int main() {
  warmpool::ManualClock clock;
  warmpool::Options options;
  options.autoscaler = {.max_workers = 4, .idle_timeout = minutes(10)};
  options.schedule = warmpool::Schedule::utc().between("06:00", "18:00", 3).otherwise(0);
  options.wall_clock = day_of(clock);
  warmpool::Pool<Model, warmpool::ManualClock> pool(options, {}, clock);

  std::printf("time   keep_warm  warm workers\n");
  for (int hour = 0; hour <= 24; hour += 3) {
    if (hour == 9) {
      pool.keep_warm(1);  // a quiet morning: fewer workers until the next boundary (18:00)
      std::printf("09:00  manual keep_warm(1) until 18:00\n");
    }
    settle();
    const warmpool::Stats s = pool.stats();
    std::printf("%02d:00  %9zu  %12zu\n", hour % 24, pool.keep_warm(),
                s.workers_idle + s.workers_busy);
    clock.advance(hours(3));
  }
  return pool.stats().boots == 3 ? 0 : 1;  // booted at 06:00 only, then kept or reused
}
