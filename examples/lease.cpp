// warmpool lease example: a connection pool. The host's own threads borrow a warm
// DbSession with pool.acquire(), use it directly, and give it back when the lease ends.
// Shows waiting for a free session, try_acquire_for giving up, and discard() of a
// broken session, which the pool replaces.
#include <warmpool/warmpool.hpp>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const Clock::time_point start = Clock::now();
std::mutex log_mutex;

// printf with the time since start; callable from any thread.
void log(const char* format, ...) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::lock_guard lock(log_mutex);
  std::printf("[%4lld ms] ", static_cast<long long>(ms.count()));
  va_list args;
  va_start(args, format);
  std::vfprintf(stdout, format, args);
  va_end(args);
  std::printf("\n");
  std::fflush(stdout);
}

std::atomic<int> sessions_opened{0};

// A fake database session: opening one takes a while, so the pool keeps them warm.
struct DbSession {
  int id = 0;
  int queries = 0;
  bool connection_reset = false;  // set to simulate a dropped connection

  // Runs on the worker's own thread before the session takes its first lease.
  void enter() {
    std::this_thread::sleep_for(150ms);  // stands in for connect + authenticate
    id = ++sessions_opened;
    log("session %d opened", id);
  }
  // Runs when the session is evicted, discarded or the pool shuts down.
  void exit() { log("session %d closed after %d queries", id, queries); }

  std::string query(const std::string& sql, std::chrono::milliseconds takes = 10ms) {
    if (connection_reset) throw std::runtime_error("connection reset by peer");
    std::this_thread::sleep_for(takes);
    ++queries;
    return "session " + std::to_string(id) + " ran '" + sql + "'";
  }
};

void show(const char* label, const warmpool::Stats& s) {
  log("%s idle=%zu busy=%zu booting=%zu boots=%llu evictions=%llu", label, s.workers_idle,
      s.workers_busy, s.workers_booting, static_cast<unsigned long long>(s.boots),
      static_cast<unsigned long long>(s.evictions));
}

template <class Predicate>
void wait_until(Predicate done) {
  while (!done()) std::this_thread::sleep_for(5ms);
}

}  // namespace

int main() {
  warmpool::Options options;
  options.autoscaler.max_workers = 2;  // at most two sessions (a connection pool's max size)
  options.autoscaler.min_warm = 2;     // and keep both open, even when nobody uses them
  warmpool::Pool<DbSession> pool(options);

  log("opening 2 sessions in the background (min_warm = 2)");
  wait_until([&] { return pool.stats().workers_idle == 2; });

  log("1. Four request threads share two sessions: two of them wait for a lease.");
  {
    std::vector<std::jthread> requests;
    for (int r = 1; r <= 4; ++r) {
      requests.emplace_back([&pool, r] {
        auto db = pool.acquire();  // waits until a session is free
        log("request %d: %s", r,
            db->query("select * from users where id = " + std::to_string(r)).c_str());
        log("request %d: %s", r, db->query("update visits set n = n + 1").c_str());
      });  // the lease ends here: the session is free again
    }
  }
  show("after the requests:", pool.stats());

  log("2. Both sessions busy with a slow report: try_acquire_for gives up.");
  {
    std::latch both_leased(2);
    std::vector<std::jthread> reports;
    for (int r = 1; r <= 2; ++r) {
      reports.emplace_back([&pool, &both_leased, r] {
        auto db = pool.acquire();
        both_leased.count_down();
        log("report %d: %s", r, db->query("select ... group by month", 300ms).c_str());
      });
    }
    both_leased.wait();
    if (auto db = pool.try_acquire_for(50ms)) {
      log("unexpected: got a session while both were busy");
      return 1;
    }
    log("no session free within 50 ms: answered from the cache instead");
    if (auto db = pool.try_acquire_for(2s)) {
      log("waited longer: %s", (*db)->query("select 1").c_str());
    } else {
      log("unexpected: no session within 2 s");
      return 1;
    }
  }

  log("3. A session's connection drops: discard() it, and the pool opens a new one.");
  {
    auto db = pool.acquire();
    db->connection_reset = true;  // what a network failure would do
    try {
      db->query("select 1");
    } catch (const std::exception& e) {
      log("query on session %d failed (%s): discarding it", db->id, e.what());
      db.discard();  // evicted (its exit hook runs), then replaced: min_warm is 2
    }
  }
  wait_until([&] { return pool.stats().workers_idle == 2; });
  show("after the replacement:", pool.stats());

  const warmpool::Stats s = pool.stats();
  const bool ok = s.boots == 3 && s.evictions == 1 && s.workers_idle == 2;
  log("shutting down (the destructor closes the sessions)");
  return ok ? 0 : 1;
}
