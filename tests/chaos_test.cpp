// The chaos test of issue 4: four submitter threads push a large number of inputs
// (submit and post, a few leases) through one pool while faults are injected everywhere
// (factories and enter hooks that throw, with "boot storms" where every enter throws;
// inputs that throw or lose their worker; exit hooks that throw; discarded leases), the
// autoscaler settings change at random (keep_warm / update_autoscaler, always valid),
// inputs are cancelled through stop tokens, time out, are retried, and a ManualClock is
// moved at random by a chaos thread (so timeouts, stops at deadlines, retries, boot
// backoff and idle evictions all happen). At the end the pool is shut down while the
// submitters are still submitting: Drain::finish, then Drain::cancel while it drains.
// Runs with max_inputs 2 (the full count), max_inputs 1 (a quarter of it), and max_inputs
// 1 with batches of up to 4 short inputs (Options::max_batch; a quarter of it).
//
// It proves: every future and every post callback resolves exactly once, with a value or
// an error type that this input may end with; the pool's counters add up and each equals
// our own tally; afterwards no Worker is alive and every worker that became warm ran its
// exit hook exactly once (none whose boot failed).
//
// Inputs: 200,000 (20,000 under ThreadSanitizer / AddressSanitizer); the environment
// variable WARMPOOL_CHAOS_INPUTS overrides the count. WARMPOOL_CHAOS_SEED sets the seed.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <warmpool/warmpool.hpp>

#include "test_support.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define WARMPOOL_CHAOS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define WARMPOOL_CHAOS_SANITIZED 1
#endif
#endif

namespace {

using namespace std::chrono_literals;
using test_support::finishes_within;
using test_support::holds;
using warmpool::Drain;
using warmpool::ManualClock;
using warmpool::Options;
using warmpool::Stats;

#ifdef WARMPOOL_CHAOS_SANITIZED
constexpr std::size_t default_inputs = 20'000;
#else
constexpr std::size_t default_inputs = 200'000;
#endif

std::size_t chaos_inputs() {
  if (const char* env = std::getenv("WARMPOOL_CHAOS_INPUTS")) {
    const long long n = std::atoll(env);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  return default_inputs;
}

std::uint32_t chaos_seed() {
  if (const char* env = std::getenv("WARMPOOL_CHAOS_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10));
  }
  return 20240601;
}

// Fault types, recognised by type only (never by what(): see test_support::error_of).
struct Boom : std::exception {};          // an input's own exception
struct HookError : std::exception {};     // enter() threw
struct FactoryError : std::exception {};  // the factory threw
struct ExitError : std::exception {};     // exit() threw

/// What the test knows about one worker.
struct WorkerRecord {
  std::atomic<bool> warm{false};
  std::atomic<bool> enter_threw{false};
  std::atomic<int> exits{0};
  std::atomic<int> destroyed{0};
};

/// Everything shared by the workers, the inputs and the test threads.
struct World {
  explicit World(std::uint32_t s) : seed(s) {}
  const std::uint32_t seed;

  std::mutex registry_mutex;
  std::deque<WorkerRecord> registry;  // stable addresses

  std::atomic<int> enter_fail_permille{20};  // raised to 1000 during a "boot storm"
  std::atomic<int> factory_calls{0}, factory_throws{0}, enter_throws{0}, exit_throws{0};
  std::atomic<int> constructed{0}, destroyed{0};
  std::atomic<int> violations{0};  // anything the workers or inputs saw that is wrong
  std::atomic<int> saw_stop{0};    // spinning inputs that saw their stop requested

  WorkerRecord& add_worker() {
    std::lock_guard lock(registry_mutex);
    ++constructed;
    return registry.emplace_back();
  }

  /// A per-thread generator, seeded from the world's seed.
  std::minstd_rand& rng() {
    static std::atomic<std::uint32_t> next{1};
    thread_local std::minstd_rand gen(seed * 7919u + next.fetch_add(1));
    return gen;
  }
  bool roll(int permille) { return static_cast<int>(rng()() % 1000) < permille; }
};

struct ChaosWorker {
  explicit ChaosWorker(World& w) : world(&w), rec(&w.add_worker()) {}
  ~ChaosWorker() {
    ++rec->destroyed;
    ++world->destroyed;
  }
  ChaosWorker(const ChaosWorker&) = delete;
  ChaosWorker& operator=(const ChaosWorker&) = delete;

  void enter() {
    if (world->roll(world->enter_fail_permille)) {
      rec->enter_threw = true;
      ++world->enter_throws;
      throw HookError{};
    }
    rec->warm = true;
  }
  void exit() {
    if (!rec->warm || rec->enter_threw) ++world->violations;
    ++rec->exits;
    if (world->roll(5)) {
      ++world->exit_throws;
      throw ExitError{};
    }
  }

  World* world;
  WorkerRecord* rec;
  std::atomic<int> inputs{0};
};

/// What may end an input, as a bit set fixed when it is submitted.
enum Allowed : unsigned {
  may_value = 1u << 0,
  may_boom = 1u << 1,
  may_lose = 1u << 2,
  may_time_out = 1u << 3,
  may_cancel = 1u << 4,
};

/// How an input's function behaves on each of its runs.
struct Plan {
  int lost_runs = 0;          // the first runs throw worker_lost
  int boom_runs = 0;          // then these runs throw Boom
  bool boom_forever = false;  // every run (after the lost ones) throws Boom
  bool spin = false;          // waits (briefly) for its stop token to be stopped
};

/// The body of one input; `runs` persists across its retries and re-runs.
struct Body {
  std::uint64_t id;
  Plan plan;
  World* world;
  int runs = 0;

  std::uint64_t run(ChaosWorker& w, const std::stop_token* token) {
    if (!w.rec->warm || w.rec->exits != 0 || w.rec->destroyed != 0) ++world->violations;
    ++w.inputs;
    const int n = runs++;
    if (n < plan.lost_runs) throw warmpool::worker_lost("chaos: worker lost");
    if (plan.boom_forever || n - plan.lost_runs < plan.boom_runs) throw Boom{};
    if (plan.spin && token != nullptr) {
      const auto until = std::chrono::steady_clock::now() + 100us;
      while (!token->stop_requested() && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      if (token->stop_requested()) ++world->saw_stop;
    }
    return id;
  }
};

/// How inputs ended, by our own classification.
enum class Ending {
  value,
  boom,
  lost,
  timed_out,
  cancelled,
  queue_full,      // refused at submit
  closed_refused,  // pool_closed at submit
  closed,          // accepted, then failed by Drain::cancel
  enter_failed,
  count
};

struct Tally {
  std::atomic<std::uint64_t> endings[static_cast<int>(Ending::count)]{};
  std::atomic<std::uint64_t> unexpected{0};  // an error type this input may not end with
  std::atomic<std::uint64_t> unexpected_by[static_cast<int>(Ending::count) + 1]{};  // which
  std::atomic<std::uint64_t> wrong_value{0};  // a value that is not the input's own
  std::atomic<std::uint64_t> unresolved{0};   // a future not ready in time
  std::atomic<std::uint64_t> attempted{0};
  std::atomic<std::uint64_t> leases{0};    // granted leases (counted as values too)
  std::atomic<std::uint64_t> discards{0};  // of which discarded

  // Reading an exception (here: its nested exception) while a pool thread may still drop
  // the last reference to it looks like a race to ThreadSanitizer, which cannot see
  // libstdc++'s reference count (see test_support::error_of). So enter_failed errors are
  // kept here and inspected once the pool, and every thread of it, is gone.
  std::mutex kept_mutex;
  std::vector<std::exception_ptr> enter_failures;
  void keep_enter_failure(std::exception_ptr e) {
    std::lock_guard lock(kept_mutex);
    enter_failures.push_back(std::move(e));
  }

  std::uint64_t operator[](Ending e) const { return endings[static_cast<int>(e)]; }
  void add(Ending e) { ++endings[static_cast<int>(e)]; }
};

/// Phase flags that make pool_closed legal.
struct Phase {
  std::atomic<bool> closing{false};     // shutdown() is about to be called
  std::atomic<bool> cancelling{false};  // shutdown(Drain::cancel) is about to be called
  // Submitters inside try_acquire_for(). Leases are taken only before `closing`, and the
  // shutdown waits for these to end: acquire reports pool_closed the same way whether the
  // request was refused or accepted and then cancelled, which would blur the tally.
  std::atomic<int> leasing{0};
};

/// The input being posted by this thread: a callback run inside post() for it is a
/// refusal (queue_full / pool_closed at submit).
thread_local std::uint64_t posting_id = ~std::uint64_t{0};

/// A post may also be refused on another thread, the one that admitted it: then the
/// error tells a refusal from an accepted input that shutdown failed.
bool refused(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const warmpool::queue_full&) {
    return true;
  } catch (const warmpool::pool_closed& closed) {
    return std::string_view(closed.what()) == "pool is shut down";
  } catch (...) {
    return false;
  }
}

/// Classifies how an input ended and checks that this input may end that way.
/// `at_submit`: the error came inside the submit()/post() call itself; queue_full and
/// pool_closed there are refusals (the input was not accepted).
void classify(Tally& tally, const Phase& phase, unsigned allowed, const std::exception_ptr& e,
              bool at_submit) {
  const auto check = [&](bool ok, Ending ending) {
    tally.add(ending);
    if (!ok) {
      ++tally.unexpected;
      ++tally.unexpected_by[static_cast<int>(ending)];
    }
  };
  try {
    std::rethrow_exception(e);
  } catch (const warmpool::queue_full&) {
    check(at_submit, Ending::queue_full);
  } catch (const warmpool::pool_closed&) {
    if (at_submit) {
      check(phase.closing.load(), Ending::closed_refused);
    } else {
      check(phase.cancelling.load(), Ending::closed);
    }
  } catch (const warmpool::timeout_error&) {
    // May come inside post() too: a zero timeout and no free worker fails at once.
    check((allowed & may_time_out) != 0, Ending::timed_out);
  } catch (const warmpool::cancelled&) {
    // May come inside post() too: a token stopped before submit fails at once.
    check((allowed & may_cancel) != 0, Ending::cancelled);
  } catch (const warmpool::worker_lost&) {
    check(!at_submit && (allowed & may_lose) != 0, Ending::lost);
  } catch (const warmpool::enter_failed&) {
    check(!at_submit, Ending::enter_failed);
    tally.keep_enter_failure(e);  // its nested exception is checked after the pool is gone
  } catch (const Boom&) {
    check(!at_submit && (allowed & may_boom) != 0, Ending::boom);
  } catch (...) {
    ++tally.unexpected;
    ++tally.unexpected_by[static_cast<int>(Ending::count)];
  }
}

void classify_value(Tally& tally, unsigned allowed, std::uint64_t value, std::uint64_t id) {
  tally.add(Ending::value);
  if ((allowed & may_value) == 0) {
    ++tally.unexpected;
    ++tally.unexpected_by[static_cast<int>(Ending::value)];
  }
  if (value != id) ++tally.wrong_value;
}

/// One submitter thread's inputs that have not been checked yet.
struct Outstanding {
  std::uint64_t id;
  unsigned allowed;
  std::future<std::uint64_t> value;  // submit
  std::future<void> posted;          // post: its callback ran
  bool is_post;
};

struct Shared {
  World& world;
  Tally& tally;
  Phase& phase;
  std::vector<std::atomic<std::uint8_t>>& callback_calls;
};

/// Waits (bounded) for a future; after the first one that did not resolve, the test has
/// failed already and the others get a short wait, so a broken pool cannot make it crawl.
template <class Future>
bool resolves(Tally& tally, const Future& f) {
  const auto limit =
      tally.unresolved == 0
          ? std::chrono::duration_cast<std::chrono::milliseconds>(test_support::bound)
          : std::chrono::milliseconds(10);
  if (f.wait_for(limit) == std::future_status::ready) return true;
  ++tally.unresolved;
  return false;
}

/// Settles the oldest outstanding input (waits for it, bounded).
void settle(Shared& shared, Outstanding& o) {
  if (o.is_post) {
    resolves(shared.tally, o.posted);
    return;  // classified by the callback itself
  }
  if (!resolves(shared.tally, o.value)) return;
  try {
    classify_value(shared.tally, o.allowed, o.value.get(), o.id);
  } catch (...) {
    classify(shared.tally, shared.phase, o.allowed, std::current_exception(), false);
  }
}

/// Leases a worker for a moment (maybe discarding it), unless the pool is closing.
/// Returns false (and does nothing) when closing.
template <class Pool>
bool take_lease(Pool& pool, Shared& shared, std::mt19937& rng) {
  ++shared.phase.leasing;
  if (shared.phase.closing) {
    --shared.phase.leasing;
    return false;
  }
  ++shared.tally.attempted;
  try {
    std::optional<warmpool::Lease<ChaosWorker>> lease =
        pool.try_acquire_for(std::chrono::milliseconds(rng() % 4));
    if (!lease) {
      shared.tally.add(Ending::timed_out);
    } else {
      const WorkerRecord& rec = *(*lease)->rec;
      if (!rec.warm || rec.exits != 0 || rec.destroyed != 0) ++shared.world.violations;
      ++(*lease)->inputs;
      ++shared.tally.leases;
      if (rng() % 4 == 0) {
        lease->discard();  // the worker is broken: evicted, replaced
        ++shared.tally.discards;
      }
      shared.tally.add(Ending::value);  // a lease, discarded or not, counts as completed
    }
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    // Refused with queue_full, or failed with enter_failed while waiting; nothing else.
    classify(shared.tally, shared.phase, 0, e, holds<warmpool::queue_full>(e));
  }
  --shared.phase.leasing;
  return true;
}

template <class Pool>
void submitter(Pool& pool, Shared& shared, std::uint64_t first_id, std::size_t count,
               std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto chance = [&rng](unsigned percent) { return rng() % 100 < percent; };
  std::deque<Outstanding> window;
  std::vector<std::stop_source> later;  // cancelled a little later
  constexpr std::size_t window_size = 48;

  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t id = first_id + i;
    if (chance(2) && take_lease(pool, shared, rng)) continue;
    Plan plan;
    unsigned allowed = 0;
    const unsigned kind = rng() % 100;
    if (kind < 12) {
      plan.boom_forever = true;
    } else if (kind < 20) {
      plan.boom_runs = 1 + static_cast<int>(rng() % 3);
    } else if (kind < 25) {
      plan.lost_runs = 1 + static_cast<int>(rng() % 3);
    } else if (kind < 26) {
      plan.spin = true;
    }
    allowed |= plan.boom_forever ? 0u : may_value;
    if (plan.boom_forever || plan.boom_runs > 0) allowed |= may_boom;
    if (plan.lost_runs > 0) allowed |= may_lose;

    warmpool::SubmitOptions options;
    if (chance(15) || plan.spin) {
      static constexpr int timeouts_ms[] = {0, 1, 2, 3, 5, 8};
      options.timeout = std::chrono::milliseconds(timeouts_ms[rng() % 6]);
      allowed |= may_time_out;
    }
    std::optional<std::stop_source> stop;
    unsigned stop_mode = 0;  // 0 never, 1 before submit, 2 right after, 3 later
    if (chance(15)) {
      stop.emplace();
      options.stop = stop->get_token();
      stop_mode = rng() % 4;
      if (stop_mode == 1) stop->request_stop();
      allowed |= may_cancel;
    }
    if (chance(20)) {
      const auto initial = std::chrono::milliseconds(rng() % 3);
      options.retries =
          warmpool::Retries{.max_retries = rng() % 4,
                            .initial_delay = initial,
                            .backoff_coefficient = 1.0 + static_cast<double>(rng() % 3),
                            .max_delay = initial + std::chrono::milliseconds(rng() % 4)};
    }
    const bool takes_token = plan.spin || chance(30);
    const bool use_post = chance(30);

    Body body{id, plan, &shared.world};
    Outstanding out{id, allowed, {}, {}, use_post};
    ++shared.tally.attempted;
    try {
      if (use_post) {
        auto done = std::make_shared<std::promise<void>>();
        out.posted = done->get_future();
        Shared* s = &shared;
        auto callback = [s, id, allowed, done](warmpool::Result<std::uint64_t> r) {
          const std::uint8_t calls = ++s->callback_calls[id];
          if (calls == 1) {
            const bool at_submit = posting_id == id || (!r.ok() && refused(r.error()));
            if (r.ok()) {
              if (at_submit) {
                ++s->tally.unexpected;
                ++s->tally.unexpected_by[static_cast<int>(Ending::count)];
              }
              classify_value(s->tally, allowed, r.value(), id);
            } else {
              classify(s->tally, s->phase, allowed, r.error(), at_submit);
            }
            done->set_value();
          }
        };
        posting_id = id;
        if (takes_token) {
          pool.post([body](ChaosWorker& w, std::stop_token t) mutable { return body.run(w, &t); },
                    std::move(callback), options);
        } else {
          pool.post([body](ChaosWorker& w) mutable { return body.run(w, nullptr); },
                    std::move(callback), options);
        }
        posting_id = ~std::uint64_t{0};
      } else if (takes_token) {
        out.value = pool.submit(
            [body](ChaosWorker& w, std::stop_token t) mutable { return body.run(w, &t); }, options);
      } else {
        out.value =
            pool.submit([body](ChaosWorker& w) mutable { return body.run(w, nullptr); }, options);
      }
    } catch (...) {
      posting_id = ~std::uint64_t{0};
      classify(shared.tally, shared.phase, allowed, std::current_exception(), true);
      continue;
    }
    if (stop && stop_mode == 2) stop->request_stop();
    if (stop && stop_mode == 3) later.push_back(std::move(*stop));
    window.push_back(std::move(out));

    if (!later.empty() && chance(10)) {
      const std::size_t k = rng() % later.size();
      later[k].request_stop();
      later.erase(later.begin() + static_cast<std::ptrdiff_t>(k));
    }
    while (window.size() > window_size) {
      settle(shared, window.front());
      window.pop_front();
    }
  }
  for (auto& s : later) s.request_stop();
  for (auto& o : window) settle(shared, o);
}

/// Random valid autoscaler changes, boot storms and clock moves.
template <class Pool>
class Chaos {
 public:
  Chaos(Pool& pool, ManualClock clock, World& world, warmpool::Autoscaler start)
      : pool_(pool), clock_(std::move(clock)), world_(world), settings_(start) {}

  /// Runs until `stop`; touches the pool (settings) only while `pool_ok`.
  void run(const std::atomic<bool>& stop, const std::atomic<bool>& pool_ok) {
    std::mt19937 rng(world_.seed ^ 0x9e3779b9u);
    int storm = 0;
    while (!stop) {
      const unsigned r = rng() % 1000;
      if (r < 5) {
        clock_.advance(std::chrono::milliseconds(10 + rng() % 30));  // idle evictions
      } else {
        clock_.advance(std::chrono::microseconds(rng() % 1500));
      }
      if (pool_ok && !stop) {
        if (r >= 900 && r < 950) change_settings(rng);
        if (r >= 950 && r < 980) keep_warm(rng);
      }
      if (storm > 0 && --storm == 0) world_.enter_fail_permille = 20;
      if (storm == 0 && rng() % 400 == 0) {
        storm = 20 + static_cast<int>(rng() % 60);
        world_.enter_fail_permille = 1000;
      }
      ++rounds_;
      std::this_thread::sleep_for(std::chrono::microseconds(30));
    }
    world_.enter_fail_permille = 20;
  }

  /// Ends boot storms for good (so a Drain::finish shutdown can boot what it needs).
  void calm() { world_.enter_fail_permille = 0; }

  std::uint64_t rounds() const { return rounds_; }
  int setting_errors() const { return setting_errors_; }

 private:
  void change_settings(std::mt19937& rng) {
    warmpool::AutoscalerUpdate u;
    warmpool::Autoscaler next = settings_;
    if (rng() % 2 == 0) next.max_workers = u.max_workers.emplace(1 + rng() % 5);
    if (rng() % 2 == 0 || next.min_warm > next.max_workers) {
      next.min_warm = u.min_warm.emplace(rng() % (next.max_workers + 1));
    }
    if (rng() % 2 == 0) next.buffer = u.buffer.emplace(rng() % 4);
    if (rng() % 2 == 0) {
      next.idle_timeout = u.idle_timeout.emplace(std::chrono::milliseconds(rng() % 12));
    }
    const warmpool::Autoscaler now = pool_.update_autoscaler(u);
    if (!(now == next)) ++setting_errors_;
    settings_ = next;
  }

  void keep_warm(std::mt19937& rng) {
    const std::size_t n = rng() % (settings_.max_workers + 1);
    pool_.keep_warm(n);
    settings_.min_warm = n;
    if (pool_.keep_warm() != n) ++setting_errors_;
  }

  Pool& pool_;
  ManualClock clock_;
  World& world_;
  warmpool::Autoscaler settings_;
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<int> setting_errors_{0};
};

/// One chaos run of `total` inputs on a pool with `max_inputs` slots per worker, taking
/// batches of up to `max_batch` inputs.
void run_chaos(const std::size_t total, const std::size_t max_inputs, const std::size_t max_batch,
               const std::uint32_t seed) {
  constexpr std::size_t submitters = 4;
  CAPTURE(total);
  CAPTURE(max_inputs);
  CAPTURE(max_batch);
  CAPTURE(seed);
  const auto started = std::chrono::steady_clock::now();

  World world(seed);
  Tally tally;
  Phase phase;
  std::vector<std::atomic<std::uint8_t>> callback_calls(total);
  Shared shared{world, tally, phase, callback_calls};
  ManualClock clock;

  Options o;
  o.autoscaler = {.min_warm = 1, .max_workers = 3, .buffer = 1, .idle_timeout = 5ms};
  o.max_inputs = max_inputs;
  o.max_batch = max_batch;
  o.max_pending = 160;
  o.boot_backoff = {.initial_delay = 1ms, .max_delay = 8ms, .multiplier = 2.0};
  o.max_boot_failures = 3;
  o.retries = {
      .max_retries = 1, .initial_delay = 1ms, .backoff_coefficient = 2.0, .max_delay = 4ms};
  o.worker_lost_reruns = 2;
  auto factory = [&world]() -> std::unique_ptr<ChaosWorker> {
    ++world.factory_calls;
    if (world.roll(5)) {
      ++world.factory_throws;
      throw FactoryError{};
    }
    return std::make_unique<ChaosWorker>(world);
  };

  using Pool = warmpool::Pool<ChaosWorker, ManualClock>;
  auto pool = std::make_unique<Pool>(o, factory, clock);
  Chaos<Pool> chaos(*pool, clock, world, o.autoscaler);
  std::atomic<bool> stop_chaos{false};
  std::atomic<bool> pool_ok{true};
  std::thread chaos_thread([&] { chaos.run(stop_chaos, pool_ok); });

  std::vector<std::thread> threads;
  const std::size_t per = total / submitters;
  for (std::size_t t = 0; t < submitters; ++t) {
    const std::size_t count = t + 1 == submitters ? total - per * t : per;
    threads.emplace_back([&pool, &shared, t, per, count, seed] {
      submitter(*pool, shared, t * per, count, seed + 1000u * static_cast<std::uint32_t>(t + 1));
    });
  }

  // Shut down while the submitters still submit the last 2% of their inputs: first
  // Drain::finish, then (while it may still drain) Drain::cancel. The clock keeps moving
  // all along, so retries and boot backoffs that the drain waits for come due.
  const std::uint64_t close_at = total - total / 50;
  CHECK(test_support::eventually([&] { return tally.attempted >= close_at; },
                                 std::chrono::minutes(5)));
  chaos.calm();
  phase.closing = true;
  CHECK(test_support::eventually([&] { return phase.leasing == 0; }));
  std::thread closer([&pool] { pool->shutdown(Drain::finish); });
  std::this_thread::sleep_for(200us);  // long enough for the drain to begin, not to end
  phase.cancelling = true;
  finishes_within([&pool] { pool->shutdown(Drain::cancel); }, std::chrono::seconds(60));
  closer.join();
  for (auto& t : threads) t.join();

  const Stats s = pool->stats();
  pool_ok = false;  // from now on the chaos thread only moves the clock
  const std::uint64_t seen = chaos.rounds();
  test_support::eventually([&] { return chaos.rounds() > seen + 1; });
  finishes_within([&pool] { pool.reset(); });  // destroyed while the clock keeps moving
  stop_chaos = true;
  chaos_thread.join();
  const std::uint64_t rounds = chaos.rounds();
  const int setting_errors = chaos.setting_errors();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE("chaos: " << total << " inputs, max_inputs " << max_inputs << ", max_batch " << max_batch
                    << ", in " << seconds << " s; clock rounds " << rounds << "; value "
                    << tally[Ending::value] << ", boom " << tally[Ending::boom] << ", lost "
                    << tally[Ending::lost] << ", timed out " << tally[Ending::timed_out]
                    << ", cancelled " << tally[Ending::cancelled] << ", queue_full "
                    << tally[Ending::queue_full] << ", closed " << tally[Ending::closed]
                    << " + refused " << tally[Ending::closed_refused] << ", enter_failed "
                    << tally[Ending::enter_failed] << "; boots " << s.boots << ", boot failures "
                    << s.boot_failures << ", evictions " << s.evictions << ", retried "
                    << s.inputs_retried << ", rerun " << s.inputs_rerun << ", stops seen "
                    << world.saw_stop.load() << ", exit failures " << s.exit_failures << "; leases "
                    << tally.leases.load() << " (" << tally.discards.load() << " discarded)");

  for (int e = 0; e <= static_cast<int>(Ending::count); ++e) {
    if (tally.unexpected_by[e] != 0) {
      MESSAGE("unexpected ending #" << e << ": " << tally.unexpected_by[e].load() << " time(s)");
    }
  }
  // enter_failed carries the failed boot's own exception as nested.
  std::size_t bad_nested = 0;
  for (const std::exception_ptr& e : tally.enter_failures) {
    bool nested_ok = false;
    try {
      std::rethrow_exception(e);
    } catch (const warmpool::enter_failed& failure) {
      try {
        std::rethrow_if_nested(failure);
      } catch (const HookError&) {
        nested_ok = true;
      } catch (const FactoryError&) {
        nested_ok = true;
      } catch (...) {
      }
    } catch (...) {
    }
    if (!nested_ok) ++bad_nested;
  }
  CHECK(tally.enter_failures.size() == tally[Ending::enter_failed]);
  CHECK(bad_nested == 0);

  // Every input resolved exactly once, in a way it may end.
  CHECK(tally.unresolved.load() == 0);
  CHECK(tally.unexpected.load() == 0);
  CHECK(tally.wrong_value.load() == 0);
  CHECK(tally.attempted.load() == total);
  std::size_t posted_twice = 0;
  for (const auto& calls : callback_calls) posted_twice += calls > 1 ? 1 : 0;
  CHECK(posted_twice == 0);
  CHECK(world.violations.load() == 0);
  CHECK(setting_errors == 0);

  // The counters add up and match our tally.
  CHECK(s.inputs_pending == 0);
  CHECK(s.inputs_running == 0);
  CHECK(s.inputs_retrying == 0);
  CHECK(s.inputs_submitted == s.inputs_completed + s.inputs_failed + s.inputs_cancelled +
                                  s.inputs_timed_out + s.inputs_closed + s.inputs_lost +
                                  s.inputs_enter_failed);
  CHECK(s.inputs_submitted + s.inputs_rejected == total);
  CHECK(s.inputs_completed == tally[Ending::value]);
  CHECK(s.inputs_failed == tally[Ending::boom]);
  CHECK(s.inputs_lost == tally[Ending::lost]);
  CHECK(s.inputs_timed_out == tally[Ending::timed_out]);
  CHECK(s.inputs_cancelled == tally[Ending::cancelled]);
  CHECK(s.inputs_closed == tally[Ending::closed]);
  CHECK(s.inputs_enter_failed == tally[Ending::enter_failed]);
  CHECK(s.inputs_rejected == tally[Ending::queue_full] + tally[Ending::closed_refused]);
  CHECK(s.boots == static_cast<std::uint64_t>(world.factory_calls.load()));
  CHECK(s.boot_failures == static_cast<std::uint64_t>(world.factory_throws + world.enter_throws));
  CHECK(s.exit_failures == static_cast<std::uint64_t>(world.exit_throws.load()));
  CHECK(s.workers_booting + s.workers_idle + s.workers_busy == 0);

  // No worker outlives the pool; every warm worker ran exit exactly once, no other did.
  CHECK(world.constructed.load() == world.destroyed);
  std::size_t warm = 0;
  std::size_t bad_exit = 0;
  std::size_t not_destroyed = 0;
  {
    std::lock_guard lock(world.registry_mutex);
    for (const WorkerRecord& r : world.registry) {
      if (r.warm) ++warm;
      if (r.exits != (r.warm ? 1 : 0) || (r.enter_threw && r.exits != 0)) ++bad_exit;
      if (r.destroyed != 1) ++not_destroyed;
    }
  }
  CHECK(bad_exit == 0);
  CHECK(not_destroyed == 0);
  CHECK(s.evictions == warm);  // every warm worker was evicted once (lost, idle, shutdown)

  // The faults really happened: asserted with the full count, only reported with a small
  // one (a short run under a sanitizer may miss a rare one, e.g. a full queue).
  const auto happened = [&](const std::string& what, std::uint64_t n) {
    if (total >= 100'000) {
      CHECK_MESSAGE(n > 0, what << " never happened");
    } else if (n == 0) {
      MESSAGE("(short run) " << what << " did not happen this time");
    }
  };
  happened("a value", tally[Ending::value]);
  happened("an input exception", tally[Ending::boom]);
  happened("worker_lost", tally[Ending::lost]);
  happened("timeout_error", tally[Ending::timed_out]);
  happened("cancelled", tally[Ending::cancelled]);
  happened("queue_full", tally[Ending::queue_full]);
  happened("pool_closed at submit", tally[Ending::closed_refused]);
  happened("enter_failed", tally[Ending::enter_failed]);
  happened("a retry", s.inputs_retried);
  happened("a re-run", s.inputs_rerun);
  happened("a failed enter", static_cast<std::uint64_t>(world.enter_throws.load()));
  happened("a failed factory", static_cast<std::uint64_t>(world.factory_throws.load()));
  happened("a failed exit", s.exit_failures);
  happened("a running input seeing its stop", static_cast<std::uint64_t>(world.saw_stop.load()));
  happened("a lease", tally.leases);
  happened("a discarded lease", tally.discards);
}

}  // namespace

TEST_CASE(
    "chaos: every input ends exactly once, the counters add up, no worker outlives the pool") {
  const std::size_t total = chaos_inputs();
  const std::uint32_t seed = chaos_seed();
  // The full count on workers that serve two inputs at once, a quarter of it on
  // single-slot workers, with and without batches.
  const std::size_t quarter = std::max<std::size_t>(total / 4, 1000);
  SUBCASE("max_inputs = 2") { run_chaos(total, 2, 1, seed); }
  SUBCASE("max_inputs = 1") { run_chaos(quarter, 1, 1, seed + 1); }
  SUBCASE("max_inputs = 1, max_batch = 4") { run_chaos(quarter, 1, 4, seed + 2); }
}
