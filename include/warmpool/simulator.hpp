#pragma once
/// @file simulator.hpp
/// @brief `Simulator`: the virtual-time body of the `Controller`. It replays a trace of
/// arrivals through the same Controller the `Pool` uses; with it come reading and writing
/// traces (`read_trace`, `write_trace`) and synthetic traces shaped like the Azure
/// Functions 2019 trace (`synthetic_function`).

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "controller.hpp"
#include "events.hpp"
#include "keep_alive.hpp"
#include "lifecycle.hpp"
#include "settings.hpp"

namespace warmpool {

// ==================================================================================== traces

/// @brief One input of a trace: when it arrives and how long it runs once started.
struct TraceInput {
  /// @brief Arrival time since the start of the trace; >= 0.
  std::chrono::nanoseconds arrival{};
  /// @brief Run time once started; >= 0.
  std::chrono::nanoseconds duration{};

  /// @brief Field-wise equality.
  friend bool operator==(const TraceInput&, const TraceInput&) = default;
};

/// @brief A trace: inputs in order of arrival (inputs arriving together in any order).
using Trace = std::vector<TraceInput>;

namespace detail {

constexpr std::int64_t nanos_per_second = 1'000'000'000;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline std::string_view trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

/// A decimal number of seconds ("12", "0.25", ".5") as exact nanoseconds (digits past the
/// ninth decimal are dropped); no value when `text` is not such a number or exceeds
/// `max_seconds`.
inline std::optional<std::chrono::nanoseconds> parse_decimal_seconds(std::string_view text,
                                                                     std::int64_t max_seconds) {
  std::int64_t whole = 0;
  std::size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    whole = whole * 10 + (text[i] - '0');
    if (whole > max_seconds) return std::nullopt;
  }
  bool any_digit = i > 0;
  std::int64_t fraction = 0;
  if (i < text.size() && text[i] == '.') {
    std::int64_t place = nanos_per_second;
    for (++i; i < text.size() && is_digit(text[i]); ++i) {
      any_digit = true;
      place /= 10;
      fraction += (text[i] - '0') * place;
    }
  }
  if (i != text.size() || !any_digit) return std::nullopt;
  return std::chrono::nanoseconds(whole * nanos_per_second + fraction);
}

/// Longest time a trace may hold: about 31 years, far from overflowing nanoseconds.
constexpr std::int64_t longest_trace_seconds = 1'000'000'000;

/// One field of a trace line, or `std::invalid_argument` naming the line and the problem.
inline std::chrono::nanoseconds parse_trace_field(std::string_view text, std::string_view name,
                                                  std::size_t line) {
  const std::string where = "line " + std::to_string(line) + ": " + std::string(name);
  if (text.empty()) throw std::invalid_argument(where + " is empty");
  const std::optional<std::chrono::nanoseconds> value =
      parse_decimal_seconds(text, longest_trace_seconds);
  if (value) return *value;
  const std::string shown = " (" + std::string(text) + ")";
  if (text.front() == '-' && parse_decimal_seconds(text.substr(1), longest_trace_seconds)) {
    throw std::invalid_argument(where + shown + " must be >= 0");
  }
  if (std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || c == '.'; }) &&
      std::count(text.begin(), text.end(), '.') <= 1) {
    throw std::invalid_argument(where + shown + " must be < " +
                                std::to_string(longest_trace_seconds) + " seconds");
  }
  throw std::invalid_argument(where + shown + " is not a decimal number of seconds");
}

/// A trace line `arrival_seconds,duration_seconds` (already trimmed, not empty).
inline TraceInput parse_trace_line(std::string_view text, std::size_t line) {
  const std::size_t comma = text.find(',');
  if (comma == std::string_view::npos || text.find(',', comma + 1) != std::string_view::npos) {
    throw std::invalid_argument("line " + std::to_string(line) +
                                ": expected 2 fields arrival_seconds,duration_seconds, got \"" +
                                std::string(text) + "\"");
  }
  return {.arrival = parse_trace_field(trim(text.substr(0, comma)), "arrival_seconds", line),
          .duration = parse_trace_field(trim(text.substr(comma + 1)), "duration_seconds", line)};
}

/// A header is a first line whose first field does not start like a number.
inline bool is_header(std::string_view first_line) {
  const char c = first_line.front();
  return !(is_digit(c) || c == '.' || c == '-' || c == '+');
}

/// Nanoseconds >= 0 as decimal seconds, exactly and without trailing zeros ("2", "0.5").
inline std::string format_seconds(std::chrono::nanoseconds time) {
  std::string text = std::to_string(time.count() / nanos_per_second);
  const std::int64_t fraction = time.count() % nanos_per_second;
  if (fraction == 0) return text;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 9 - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  return text + '.' + digits;
}

inline bool by_arrival(const TraceInput& a, const TraceInput& b) { return a.arrival < b.arrival; }

/// Throws `std::invalid_argument` unless every time is >= 0 and arrivals are in order.
inline void validate(const Trace& trace) {
  for (std::size_t i = 0; i < trace.size(); ++i) {
    const std::string which = "trace[" + std::to_string(i) + "]";
    if (trace[i].arrival.count() < 0) throw std::invalid_argument(which + ".arrival must be >= 0");
    if (trace[i].duration.count() < 0) {
      throw std::invalid_argument(which + ".duration must be >= 0");
    }
    if (i > 0 && by_arrival(trace[i], trace[i - 1])) {
      throw std::invalid_argument(which + " arrives before trace[" + std::to_string(i - 1) +
                                  "]: a trace must be sorted by arrival");
    }
  }
}

}  // namespace detail

/// @brief Reads a trace in CSV: one `arrival_seconds,duration_seconds` line per input.
///
/// Numbers are decimal seconds (`12`, `0.25`; no sign or exponent), read exactly to the
/// nanosecond. The first non-blank line is skipped as a header when its first field does
/// not start like a number; blank lines are ignored; spaces around fields and CRLF line
/// ends are fine. Lines may come in any order: the trace is sorted by arrival (stable).
/// @throws std::invalid_argument naming the line number and the problem, e.g.
/// `line 4: duration_seconds (-2) must be >= 0`.
inline Trace read_trace(std::istream& in) {
  Trace trace;
  std::string line;
  std::size_t number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++number;
    const std::string_view text = detail::trim(line);
    if (text.empty()) continue;
    if (std::exchange(first, false) && detail::is_header(text)) continue;
    trace.push_back(detail::parse_trace_line(text, number));
  }
  std::stable_sort(trace.begin(), trace.end(), detail::by_arrival);
  return trace;
}

/// @brief Writes a trace as `read_trace` reads it: a header line, then one line per input
/// with exact decimal seconds. Same trace, same bytes.
/// @throws std::invalid_argument when a time is negative or the trace is not sorted.
inline void write_trace(std::ostream& out, const Trace& trace) {
  detail::validate(trace);
  out << "arrival_seconds,duration_seconds\n";
  for (const TraceInput& input : trace) {
    out << detail::format_seconds(input.arrival) << ',' << detail::format_seconds(input.duration)
        << '\n';
  }
}

// ================================================================================ simulation

/// @brief What a simulation models besides the Controller's own options.
///
/// Example: `warmpool::SimulationConfig c; c.options.autoscaler.max_workers = 100;
/// c.boot_time = std::chrono::seconds(5);`
struct SimulationConfig {
  /// @brief The Controller's options, passed through as they are (`on_event` receives the
  /// Controller's events in virtual time). Leave `keep_alive` empty: a policy learns, so
  /// each run needs its own, made by `keep_alive_factory`. Note that
  /// `autoscaler.max_workers` defaults to the hardware concurrency of the machine.
  Options options{};
  /// @brief Makes a fresh keep-alive policy for each run; empty: the fixed `idle_timeout`.
  std::function<std::shared_ptr<KeepAlivePolicy>()> keep_alive_factory{};
  /// @brief How long a boot takes, from the `boot` action to `worker_warm`; >= 0.
  std::chrono::nanoseconds boot_time{std::chrono::seconds(2)};
  /// @brief Spread of boot times, in [0, 1]: a worker's boot takes
  /// `boot_time * (1 + boot_jitter * (2u - 1))` with `u` in [0, 1) fixed by `seed` and the
  /// worker's id.
  double boot_jitter = 0;
  /// @brief Seed of the boot jitter.
  std::uint64_t seed = 0;
  /// @brief If set (> 0), the result holds a timeline in steps of this length.
  std::optional<std::chrono::nanoseconds> timeline_step{};
};

/// @brief One step of a timeline: the time spent in each state during the step, summed
/// over workers (or inputs). Divided by the step's length it is the average count.
struct TimelineBin {
  /// @brief Worker-time spent booting.
  std::chrono::nanoseconds booting{};
  /// @brief Worker-time spent warm and idle.
  std::chrono::nanoseconds idle{};
  /// @brief Worker-time spent warm with at least one input running.
  std::chrono::nanoseconds busy{};
  /// @brief Input-time spent pending (accepted, not started).
  std::chrono::nanoseconds pending{};

  /// @brief Field-wise equality.
  friend bool operator==(const TimelineBin&, const TimelineBin&) = default;
};

namespace detail {

/// The index, in a sorted sequence of `n > 0` values, of the nearest-rank `quantile` (in
/// [0, 1]): rank `ceil(quantile * n)`, at least 1.
inline std::size_t nearest_rank_index(double quantile, std::size_t n) {
  const auto count = static_cast<double>(n);
  const double rank = std::clamp(std::ceil(std::clamp(quantile, 0.0, 1.0) * count), 1.0, count);
  return static_cast<std::size_t>(rank) - 1;
}

}  // namespace detail

/// @brief What a simulation measured; `+=` sums the results of several traces (a mix).
///
/// Example:
/// @code
/// warmpool::SimulationResult r = simulator.run(trace);
/// std::printf("%.3f cold, p99 wait %lld ns, %.0f idle worker-s\n", r.cold_start_fraction(),
///             static_cast<long long>(r.queue_wait(0.99).count()), r.idle_worker_seconds());
/// @endcode
struct SimulationResult {
  /// @brief Inputs in the trace.
  std::uint64_t inputs = 0;
  /// @brief Inputs the Controller refused (`Options::max_pending` inputs were waiting).
  std::uint64_t inputs_rejected = 0;
  /// @brief Inputs the Controller failed before they started.
  std::uint64_t inputs_failed = 0;
  /// @brief Starts of inputs that waited for a boot (cold starts).
  std::uint64_t cold_inputs = 0;
  /// @brief Boots started.
  std::uint64_t boots = 0;
  /// @brief Workers evicted (the ones left at the end included).
  std::uint64_t evictions = 0;
  /// @brief Worker-time spent warm and idle.
  std::chrono::nanoseconds idle_worker_time{};
  /// @brief Worker-time spent warm with at least one input running.
  std::chrono::nanoseconds busy_worker_time{};
  /// @brief When the simulation ended (the latest end over a mix).
  std::chrono::nanoseconds end{};
  /// @brief Each start's queue wait (arrival to start), sorted.
  std::vector<std::chrono::nanoseconds> queue_waits{};
  /// @brief The length of a timeline step (0 without a timeline).
  std::chrono::nanoseconds timeline_step{};
  /// @brief Bin `i` covers `[i * timeline_step, (i + 1) * timeline_step)`, up to `end`.
  std::vector<TimelineBin> timeline{};

  /// @brief Inputs started.
  std::uint64_t inputs_started() const { return queue_waits.size(); }

  /// @brief Cold starts / inputs started (0 when none started).
  double cold_start_fraction() const {
    if (queue_waits.empty()) return 0;
    return static_cast<double>(cold_inputs) / static_cast<double>(queue_waits.size());
  }

  /// @brief The exact nearest-rank `quantile` (in [0, 1]) of the queue waits; 0 when no
  /// input started. `queue_wait(0.5)` is the median.
  std::chrono::nanoseconds queue_wait(double quantile) const {
    if (queue_waits.empty()) return {};
    return queue_waits[detail::nearest_rank_index(quantile, queue_waits.size())];
  }

  /// @brief `idle_worker_time` in seconds.
  double idle_worker_seconds() const {
    return std::chrono::duration<double>(idle_worker_time).count();
  }

  /// @brief `busy_worker_time` in seconds.
  double busy_worker_seconds() const {
    return std::chrono::duration<double>(busy_worker_time).count();
  }

  /// @brief Adds another run's result: counts and times summed, queue waits merged,
  /// timelines added step by step.
  /// @throws std::invalid_argument (and changes nothing) when both have timelines of
  /// different steps.
  SimulationResult& operator+=(const SimulationResult& other) {
    const bool both_timed = timeline_step.count() != 0 && other.timeline_step.count() != 0;
    if (both_timed && timeline_step != other.timeline_step) {
      throw std::invalid_argument("cannot add timelines of different steps");
    }
    inputs += other.inputs;
    inputs_rejected += other.inputs_rejected;
    inputs_failed += other.inputs_failed;
    cold_inputs += other.cold_inputs;
    boots += other.boots;
    evictions += other.evictions;
    idle_worker_time += other.idle_worker_time;
    busy_worker_time += other.busy_worker_time;
    end = std::max(end, other.end);
    std::vector<std::chrono::nanoseconds> merged(queue_waits.size() + other.queue_waits.size());
    std::merge(queue_waits.begin(), queue_waits.end(), other.queue_waits.begin(),
               other.queue_waits.end(), merged.begin());
    queue_waits.swap(merged);
    add_timeline(other);
    return *this;
  }

  /// @brief Field-wise equality.
  friend bool operator==(const SimulationResult&, const SimulationResult&) = default;

 private:
  void add_timeline(const SimulationResult& other) {
    if (other.timeline_step.count() == 0) return;
    timeline_step = other.timeline_step;
    if (timeline.size() < other.timeline.size()) timeline.resize(other.timeline.size());
    for (std::size_t i = 0; i < other.timeline.size(); ++i) {
      timeline[i].booting += other.timeline[i].booting;
      timeline[i].idle += other.timeline[i].idle;
      timeline[i].busy += other.timeline[i].busy;
      timeline[i].pending += other.timeline[i].pending;
    }
  }
};

/// @brief What a mix of traces measured: the sum of the runs, and each trace's own
/// cold-start fraction.
///
/// The two cold-start fractions answer different questions. `total.cold_start_fraction()`
/// weighs every input alike, so the busiest traces dominate it. The per-trace fractions
/// count each trace (each function) once, whatever its rate: their mean and upper quartile
/// are the metrics of Shahrad et al. (ATC 2020), who report the cold-start percentage of
/// the average and of the third-quartile application. A plain value: no synchronization
/// of its own. Example:
/// @code
/// const warmpool::MixResult r = simulator.run_mix(traces);
/// std::printf("%.3f cold per input, %.3f per function (mean), %.3f (p75)\n",
///             r.total.cold_start_fraction(), r.mean_cold_start_fraction(),
///             r.cold_start_fraction_quantile(0.75));
/// @endcode
struct MixResult {
  /// @brief The results of all runs summed (`SimulationResult::operator+=`).
  SimulationResult total{};
  /// @brief `cold_start_fraction()` of each trace's run, in trace order, leaving out the
  /// traces in which no input started (an empty trace has no fraction).
  std::vector<double> cold_start_fractions{};

  /// @brief The mean of `cold_start_fractions` (0 when there are none): each trace
  /// counts once.
  double mean_cold_start_fraction() const {
    if (cold_start_fractions.empty()) return 0;
    double sum = 0;
    for (const double fraction : cold_start_fractions) sum += fraction;
    return sum / static_cast<double>(cold_start_fractions.size());
  }

  /// @brief The nearest-rank `quantile` (in [0, 1]) of `cold_start_fractions` (0 when
  /// there are none); `cold_start_fraction_quantile(0.75)` is the third-quartile trace's.
  double cold_start_fraction_quantile(double quantile) const {
    if (cold_start_fractions.empty()) return 0;
    std::vector<double> sorted = cold_start_fractions;
    std::sort(sorted.begin(), sorted.end());
    return sorted[detail::nearest_rank_index(quantile, sorted.size())];
  }

  /// @brief Field-wise equality.
  friend bool operator==(const MixResult&, const MixResult&) = default;
};

namespace detail {

/// splitmix64's output function: a bijective mix of 64 bits.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// The top 53 bits as a double in [0, 1).
constexpr double unit_interval(std::uint64_t bits) {
  return static_cast<double>(bits >> 11U) * 0x1.0p-53;
}

/// `d * count` for a gauge.
inline std::chrono::nanoseconds times(std::chrono::nanoseconds d, std::size_t count) {
  return d * static_cast<std::chrono::nanoseconds::rep>(count);
}

/// One run of a trace through a fresh Controller, in virtual time.
///
/// Events are handled in time order; at equal times: input completions, then worker
/// warm-ups (each group in the order it was scheduled), then arrivals (in trace order),
/// then the Controller's tick. So a worker freed at `t` serves an input arriving at `t`,
/// and an input arriving at the very moment an idle timeout ends still finds the worker.
class SimulationRun {
 public:
  using Time = Controller::Time;

  SimulationRun(const SimulationConfig& config, const Trace& trace)
      : config_(config), trace_(trace), controller_(options_for(config)), placed_on_(trace.size()) {
    result_.inputs = trace.size();
    if (config.timeline_step) result_.timeline_step = *config.timeline_step;
  }

  /// Runs the trace until nothing is left to happen, then shuts the Controller down.
  SimulationResult run() && {
    controller_.tick(now_);  // boots the min_warm floor at time 0
    carry_out_actions();
    while (step()) {
    }
    controller_.shutdown(now_, Drain::finish);
    carry_out_actions();
    const Stats counted = controller_.stats();  // the one brain's counters
    result_.boots = counted.boots;
    result_.cold_inputs = counted.cold_inputs;
    result_.evictions = counted.evictions;
    std::sort(result_.queue_waits.begin(), result_.queue_waits.end());
    result_.end = now_;
    return std::move(result_);
  }

 private:
  enum class Step : std::uint8_t { input_done, worker_warm };  // their order at equal times

  struct Scheduled {
    Time at;
    Step step;
    std::uint64_t sequence;  // order of scheduling: breaks the remaining ties
    std::uint64_t id;        // the input (input_done) or worker (worker_warm)

    friend bool operator>(const Scheduled& a, const Scheduled& b) {
      return std::tie(a.at, a.step, a.sequence) > std::tie(b.at, b.step, b.sequence);
    }
  };

  struct SimWorker {
    bool warm = false;
    std::size_t running = 0;
    bool evicting = false;  // evicted while running: it goes when its inputs end
  };

  static Options options_for(const SimulationConfig& config) {
    Options options = config.options;
    if (config.keep_alive_factory) options.keep_alive = config.keep_alive_factory();
    return options;
  }

  /// Handles the next event or tick; false when nothing is left.
  bool step() {
    const bool has_arrival = next_arrival_ < trace_.size();
    const bool has_scheduled = !scheduled_.empty();
    const std::optional<Time> wakeup = controller_.next_wakeup();
    if (!has_arrival && !has_scheduled && !wakeup) return false;
    const bool scheduled_next =
        has_scheduled && (!has_arrival || scheduled_.top().at <= trace_[next_arrival_].arrival);
    const Time event_at = scheduled_next ? scheduled_.top().at
                          : has_arrival  ? trace_[next_arrival_].arrival
                                         : Time::max();
    if (wakeup && *wakeup < event_at) {
      tick(*wakeup);
    } else if (scheduled_next) {
      const Scheduled next = scheduled_.top();
      scheduled_.pop();
      handle(next);
    } else {
      arrive();
    }
    carry_out_actions();
    return true;
  }

  void tick(Time wakeup) {
    const Time at = std::max(wakeup, now_);
    if (last_tick_ == at) {
      throw std::logic_error("warmpool::Simulator: the Controller asked for a tick at " +
                             std::to_string(at.count()) + " ns again, with nothing between");
    }
    advance_to(at);
    controller_.tick(now_);
    last_tick_ = now_;
  }

  void handle(const Scheduled& event) {
    advance_to(event.at);
    last_tick_.reset();
    switch (event.step) {
      case Step::input_done: finish_input(event.id); break;
      case Step::worker_warm: warm_up(event.id); break;
    }
  }

  void arrive() {
    const InputId input = next_arrival_++;
    advance_to(trace_[input].arrival);
    last_tick_.reset();
    if (controller_.input_arrived(now_, input) == Admission::accepted) {
      ++pending_;
    } else {
      ++result_.inputs_rejected;
    }
  }

  void warm_up(WorkerId worker) {
    workers_.at(worker).warm = true;
    --booting_;
    ++idle_;
    controller_.worker_warm(now_, worker);
  }

  void finish_input(InputId input) {
    const WorkerId worker = placed_on_[input];
    const auto it = workers_.find(worker);
    if (--it->second.running == 0) {
      --busy_;
      if (it->second.evicting) {
        workers_.erase(it);
      } else {
        ++idle_;
      }
    }
    controller_.input_done(now_, input, Outcome::value);
  }

  void carry_out_actions() {
    controller_.take_actions(actions_);
    for (const Action& action : actions_) {
      switch (action.kind) {
        case Action::Kind::boot: boot(action.worker); break;
        case Action::Kind::start: start(action.input, action.worker); break;
        case Action::Kind::evict: evict(action.worker); break;
        case Action::Kind::fail:
          --pending_;
          ++result_.inputs_failed;
          break;
        case Action::Kind::stop: break;  // a simulated input runs its whole duration
      }
    }
    deliver_events();
  }

  void deliver_events() {
    if (!config_.options.on_event) return;
    controller_.take_events(events_);
    for (const Event& event : events_) config_.options.on_event(event);
  }

  void boot(WorkerId worker) {
    workers_.emplace(worker, SimWorker{});
    ++booting_;
    schedule(now_ + boot_time_of(worker), Step::worker_warm, worker);
  }

  void start(InputId input, WorkerId worker) {
    --pending_;
    result_.queue_waits.push_back(now_ - trace_[input].arrival);
    if (workers_.at(worker).running++ == 0) {
      --idle_;
      ++busy_;
    }
    placed_on_[input] = worker;
    schedule(now_ + trace_[input].duration, Step::input_done, input);
  }

  void evict(WorkerId worker) {
    const auto it = workers_.find(worker);
    if (it->second.running > 0) {
      it->second.evicting = true;
      return;
    }
    --idle_;
    workers_.erase(it);
  }

  void schedule(Time at, Step step, std::uint64_t id) {
    scheduled_.push({.at = at, .step = step, .sequence = next_sequence_++, .id = id});
  }

  Time boot_time_of(WorkerId worker) const {
    if (config_.boot_jitter == 0) return config_.boot_time;
    const double u = unit_interval(mix64(config_.seed ^ mix64(worker)));
    const double factor = 1.0 + config_.boot_jitter * (2.0 * u - 1.0);
    return Time(std::llround(static_cast<double>(config_.boot_time.count()) * factor));
  }

  /// Moves virtual time to `t`, counting the time each gauge spent in its state.
  void advance_to(Time t) {
    if (t <= now_) return;
    result_.idle_worker_time += times(t - now_, idle_);
    result_.busy_worker_time += times(t - now_, busy_);
    if (config_.timeline_step) record_timeline(now_, t, *config_.timeline_step);
    now_ = t;
  }

  void record_timeline(Time from, Time to, Time step) {
    std::vector<TimelineBin>& bins = result_.timeline;
    for (Time t = from; t < to;) {
      const auto index = static_cast<std::size_t>(t / step);
      const Time part = std::min(to, step * static_cast<Time::rep>(index + 1)) - t;
      if (bins.size() <= index) bins.resize(index + 1);
      TimelineBin& bin = bins[index];
      bin.booting += times(part, booting_);
      bin.idle += times(part, idle_);
      bin.busy += times(part, busy_);
      bin.pending += times(part, pending_);
      t += part;
    }
  }

  const SimulationConfig& config_;
  const Trace& trace_;
  Controller controller_;
  std::vector<WorkerId> placed_on_;  // per input: the worker it runs on
  std::unordered_map<WorkerId, SimWorker> workers_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> scheduled_;
  std::uint64_t next_sequence_ = 0;
  std::size_t next_arrival_ = 0;
  std::vector<Action> actions_;
  std::vector<Event> events_;
  Time now_{0};
  std::optional<Time> last_tick_;  // the last tick, unless an event came after it
  std::size_t booting_ = 0;
  std::size_t idle_ = 0;
  std::size_t busy_ = 0;
  std::size_t pending_ = 0;
  SimulationResult result_;
};

inline void validate(const SimulationConfig& config) {
  validate(config.options);
  if (config.options.keep_alive) {
    throw std::invalid_argument(
        "options.keep_alive must be empty: set keep_alive_factory, so that each run gets a "
        "fresh policy");
  }
  if (config.boot_time.count() < 0) throw std::invalid_argument("boot_time must be >= 0");
  require(config.boot_jitter >= 0.0 && config.boot_jitter <= 1.0, "boot_jitter", config.boot_jitter,
          "in [0, 1]");
  if (config.timeline_step && config.timeline_step->count() <= 0) {
    throw std::invalid_argument("timeline_step must be > 0");
  }
}

}  // namespace detail

/// @brief The virtual-time body of the `Controller`: replays traces through it and
/// measures cold starts, queue waits and the worker-time spent idle and busy.
///
/// Each run uses a fresh Controller (and a fresh keep-alive policy from the factory), so a
/// simulated policy behaves exactly as in a `Pool`. Boots take `boot_time`, inputs run
/// their trace duration and always succeed; `tick` is called at each `next_wakeup()`.
/// Virtual time starts at 0, the trace's start, and each run ends once nothing is left to
/// happen: every input done, every timeout passed; workers still warm then (the
/// `min_warm` floor) are evicted by `shutdown` at that moment. At equal times, input
/// completions come first, then worker warm-ups, then arrivals (in trace order), then the
/// Controller's tick: a worker freed at `t` serves an input arriving at `t`, and an input
/// arriving at the moment an idle timeout ends still finds its worker.
///
/// Results are deterministic: same trace and config, same result, on any platform (time
/// is integer nanoseconds throughout). Thread-safety: `run` and `run_mix` are const and
/// keep their state local, so concurrent runs are safe when the factory and `on_event`
/// are. Example:
/// @code
/// using namespace std::chrono_literals;
/// warmpool::SimulationConfig config;
/// config.options.autoscaler = {.max_workers = 100, .idle_timeout = 30s};
/// config.boot_time = 5s;
/// const warmpool::Simulator simulator(config);
/// const warmpool::Trace trace{{.arrival = 0s, .duration = 1s}, {.arrival = 10s, .duration = 1s}};
/// warmpool::SimulationResult r = simulator.run(trace);  // 1 boot, 1 cold input of 2
/// @endcode
class Simulator {
 public:
  /// @brief Makes a simulator with the given settings.
  /// @throws std::invalid_argument naming the first bad field (also for a non-empty
  /// `options.keep_alive`: use `keep_alive_factory`).
  explicit Simulator(SimulationConfig config) : config_(std::move(config)) {
    detail::validate(config_);
  }

  /// @brief The settings.
  const SimulationConfig& config() const noexcept { return config_; }

  /// @brief Replays one trace through a fresh Controller.
  /// @throws std::invalid_argument when the trace has a negative time or is not sorted.
  SimulationResult run(const Trace& trace) const {
    detail::validate(trace);
    return detail::SimulationRun(config_, trace).run();
  }

  /// @brief Replays each trace through its own fresh Controller (a mix of functions, each
  /// with its own pool): the results summed, and each trace's cold-start fraction.
  /// @throws std::invalid_argument when a trace has a negative time or is not sorted.
  MixResult run_mix(const std::vector<Trace>& traces) const {
    MixResult mix;
    for (const Trace& trace : traces) {
      const SimulationResult one = run(trace);
      if (one.inputs_started() > 0) mix.cold_start_fractions.push_back(one.cold_start_fraction());
      mix.total += one;
    }
    return mix;
  }

 private:
  SimulationConfig config_;
};

// ========================================================================== synthetic traces

/// @brief How the inputs of a synthetic function arrive.
enum class ArrivalPattern {
  timer,    ///< a timer trigger: exactly every `period`, from a random phase
  bursty,   ///< bursts of inputs close together (inter-arrival CV well above 1)
  regular,  ///< smoother than Poisson (inter-arrival CV below 1)
};

/// @brief The lower-case name of an arrival pattern, e.g. `"bursty"`.
constexpr std::string_view to_string(ArrivalPattern pattern) noexcept {
  switch (pattern) {
    case ArrivalPattern::timer: return "timer";
    case ArrivalPattern::bursty: return "bursty";
    case ArrivalPattern::regular: return "regular";
  }
  return "unknown";
}

/// @brief Settings of `synthetic_function`.
struct SyntheticTraceConfig {
  /// @brief Seed: same seed, same traces.
  std::uint64_t seed = 1;
  /// @brief Length of each trace; > 0.
  std::chrono::nanoseconds length{std::chrono::hours(24)};
  /// @brief Cap of a function's mean rate, in invocations per day; > 0. (The Azure trace
  /// reaches 10^8; the cap keeps simulations short.)
  double max_daily_invocations = 1e6;
};

/// @brief One synthetic function: its characteristics and its trace.
struct SyntheticFunction {
  /// @brief How its inputs arrive.
  ArrivalPattern pattern{};
  /// @brief Its mean rate, in invocations per day (over the diurnal cycle).
  double daily_invocations = 0;
  /// @brief Its mean execution time.
  std::chrono::nanoseconds mean_duration{};
  /// @brief Timers: the period; otherwise 0.
  std::chrono::nanoseconds period{};
  /// @brief Its inputs over `SyntheticTraceConfig::length`.
  Trace trace{};
};

namespace detail {

/// splitmix64: a small, fast generator whose sequence is fixed by its definition.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }

  /// Uniform in [0, 1).
  double uniform() { return unit_interval(next()); }

  /// Exponential with mean 1.
  double exponential() { return -std::log(1.0 - uniform()); }

  /// Standard normal (Marsaglia's polar method; the second value is dropped).
  double normal() {
    for (;;) {
      const double x = 2.0 * uniform() - 1.0;
      const double y = 2.0 * uniform() - 1.0;
      const double s = x * x + y * y;
      if (s > 0.0 && s < 1.0) return x * std::sqrt(-2.0 * std::log(s) / s);
    }
  }

 private:
  std::uint64_t state_;
};

/// Per-function mean execution time: log-normal, log-mean -0.38 and sigma 2.36 in seconds
/// (Azure Functions 2019), kept within [1 ms, 10 min].
constexpr double duration_log_mean = -0.38;
constexpr double duration_log_sigma = 2.36;
constexpr double shortest_mean_duration = 1e-3;
constexpr double longest_mean_duration = 600;
/// Spread of one function's execution times around its mean (log-normal sigma).
constexpr double duration_spread = 0.5;
/// log10 of the invocations per day: normal with this mean and sigma, so that about 45% of
/// functions are invoked at most hourly and 80% at most once a minute (Azure 2019).
constexpr double daily_log10_mean = 1.6;
constexpr double daily_log10_sigma = 1.77;
/// Shares of the patterns: 25% timers, 40% bursty (CV > 1), the rest regular.
constexpr double timer_share = 0.25;
constexpr double bursty_share = 0.40;
constexpr double seconds_per_day = 86'400;
constexpr double seconds_per_hour = 3'600;

/// Diurnal cycle: the rate in hour `h` of the day is `1 + amplitude * shape(h)`; `shape` is
/// a triangle peaking at 14:00 (+1) with its trough at 02:00 (-1), averaging 0 over a day.
/// It maps real time to operational time (where the rate is flat) and back.
class DiurnalCycle {
 public:
  DiurnalCycle(double amplitude, double length_seconds) : amplitude_(amplitude) {
    const auto hours = static_cast<std::size_t>(std::ceil(length_seconds / seconds_per_hour));
    starts_.reserve(hours + 1);
    double operational = 0;
    for (std::size_t h = 0; h <= hours; ++h) {
      starts_.push_back(operational);
      operational += rate(h) * seconds_per_hour;
    }
  }

  /// Operational time at real time `t` (seconds, within the length).
  double operational(double t) const {
    const auto h = static_cast<std::size_t>(t / seconds_per_hour);
    return starts_[h] + (t - static_cast<double>(h) * seconds_per_hour) * rate(h);
  }

  /// Real time at operational time `u` (seconds, within the length).
  double real(double u) const {
    const auto next = std::upper_bound(starts_.begin(), starts_.end(), u);
    const auto h = static_cast<std::size_t>(next - starts_.begin()) - 1;
    return static_cast<double>(h) * seconds_per_hour + (u - starts_[h]) / rate(h);
  }

 private:
  double rate(std::size_t hour) const {
    const double middle = static_cast<double>(hour % 24) + 0.5;
    const double from_peak = std::abs(middle - 14.0);
    return 1.0 + amplitude_ * (1.0 - std::min(from_peak, 24.0 - from_peak) / 6.0);
  }

  double amplitude_;
  std::vector<double> starts_;  // operational time at the start of each hour
};

/// The timer period (seconds) nearest to `seconds` on a log scale, among common schedules.
inline double timer_period(double seconds) {
  constexpr std::array<double, 12> periods{60,   120,  300,   600,   900,   1800,
                                           3600, 7200, 14400, 21600, 43200, 86400};
  double best = periods.front();
  for (const double p : periods) {
    if (std::abs(std::log(p / seconds)) < std::abs(std::log(best / seconds))) best = p;
  }
  return best;
}

/// Arrival times (real seconds, sorted) of a timer firing every `period` from a random phase.
inline std::vector<double> timer_arrivals(Random& random, double period, double length) {
  std::vector<double> times;
  for (double t = random.uniform() * period; t < length; t += period) times.push_back(t);
  return times;
}

/// Operational times of an Erlang-k renewal process of rate `rate` (per second): inter-
/// arrival CV 1/sqrt(k), k in [3, 8].
inline std::vector<double> regular_arrivals(Random& random, double rate, double length) {
  const int k = 3 + static_cast<int>(random.uniform() * 6);
  const double mean_gap = 1.0 / rate;
  const auto gap = [&] {
    double sum = 0;
    for (int i = 0; i < k; ++i) sum += random.exponential();
    return sum * mean_gap / k;
  };
  std::vector<double> times;
  for (double t = random.uniform() * mean_gap; t < length; t += gap()) times.push_back(t);
  return times;
}

/// Operational times of bursts arriving as a Poisson process: each burst holds a geometric
/// number of inputs (mean b, log-uniform in [2, 20]) spaced 2% of a mean gap apart on
/// average, so the rate stays `rate` and the inter-arrival CV is about sqrt(2b - 1).
inline std::vector<double> bursty_arrivals(Random& random, double rate, double length) {
  const double burst_size = std::exp(std::log(2.0) + random.uniform() * std::log(10.0));
  const double within_gap = 0.02 / rate;
  std::vector<double> times;
  for (double start = random.exponential() * burst_size / rate; start < length;
       start += random.exponential() * burst_size / rate) {
    double t = start;
    do {
      if (t < length) times.push_back(t);
      t += random.exponential() * within_gap;
    } while (random.uniform() < 1.0 - 1.0 / burst_size);
  }
  std::sort(times.begin(), times.end());
  return times;
}

/// Seconds as nanoseconds, rounded to the microsecond (so that the last bits of floating
/// point arithmetic rarely matter).
inline std::chrono::nanoseconds to_microsecond_nanos(double seconds) {
  return std::chrono::microseconds(std::llround(seconds * 1e6));
}

inline void validate(const SyntheticTraceConfig& config) {
  if (config.length.count() <= 0) throw std::invalid_argument("length must be > 0");
  require(config.max_daily_invocations > 0, "max_daily_invocations", config.max_daily_invocations,
          "> 0");
}

}  // namespace detail

/// @brief Function number `index` of a synthetic workload with the published
/// characteristics of the Azure Functions 2019 trace (Shahrad et al., ATC 2020).
///
/// - Mean execution time: log-normal, log-mean -0.38 and sigma 2.36 in seconds, kept in
///   [1 ms, 10 min]; each execution varies around it (log-normal, sigma 0.5).
/// - Rate: log10 of the invocations per day is normal (mean 1.6, sigma 1.77), capped at
///   `max_daily_invocations`: rates span many orders of magnitude, most functions are
///   invoked rarely (about 45% at most hourly).
/// - Pattern: 25% timers (a common period near the rate's, exact), 40% bursty (inter-arrival
///   CV above 1), 35% regular (CV below 1).
/// - Bursty and regular functions follow a diurnal cycle: the rate varies by a triangle
///   wave peaking at 14:00 with an amplitude of 10% to 50% per function.
///
/// Times are rounded to the microsecond. Each function has its own random stream (from
/// `seed` and `index`), so function `i` is the same whatever the number of functions;
/// only `std::log`, `std::exp` and `std::sqrt` of the platform are used on top of integer
/// generators, so results repeat on any IEEE-754 platform with a faithful math library.
/// @throws std::invalid_argument for a bad config.
/// Example:
/// @code
/// const warmpool::SyntheticTraceConfig config{.seed = 7, .length = std::chrono::hours(6)};
/// std::vector<warmpool::Trace> mix;
/// for (std::uint64_t i = 0; i < 100; ++i) mix.push_back(warmpool::synthetic_function(config,
/// i).trace);
/// @endcode
inline SyntheticFunction synthetic_function(const SyntheticTraceConfig& config,
                                            std::uint64_t index) {
  using namespace detail;
  validate(config);
  Random random(mix64(mix64(config.seed) + index));
  SyntheticFunction f;
  const double pattern = random.uniform();
  f.pattern = pattern < timer_share                  ? ArrivalPattern::timer
              : pattern < timer_share + bursty_share ? ArrivalPattern::bursty
                                                     : ArrivalPattern::regular;
  f.daily_invocations =
      std::min(config.max_daily_invocations,
               std::exp((daily_log10_mean + daily_log10_sigma * random.normal()) * std::log(10.0)));
  const double mean_duration =
      std::clamp(std::exp(duration_log_mean + duration_log_sigma * random.normal()),
                 shortest_mean_duration, longest_mean_duration);
  f.mean_duration = to_microsecond_nanos(mean_duration);
  const double length = std::chrono::duration<double>(config.length).count();

  std::vector<double> arrivals;
  if (f.pattern == ArrivalPattern::timer) {
    const double period = timer_period(seconds_per_day / f.daily_invocations);
    f.period = to_microsecond_nanos(period);
    f.daily_invocations = seconds_per_day / period;
    arrivals = timer_arrivals(random, period, length);
  } else {
    const DiurnalCycle cycle(0.1 + 0.4 * random.uniform(), length);
    const double rate = f.daily_invocations / seconds_per_day;
    arrivals = f.pattern == ArrivalPattern::bursty
                   ? bursty_arrivals(random, rate, cycle.operational(length))
                   : regular_arrivals(random, rate, cycle.operational(length));
    for (double& t : arrivals) t = cycle.real(t);
    std::sort(arrivals.begin(), arrivals.end());  // in case rounding broke a tie's order
  }

  const double log_mean = std::log(mean_duration) - duration_spread * duration_spread / 2;
  for (const double t : arrivals) {
    const std::chrono::nanoseconds arrival = to_microsecond_nanos(t);
    if (arrival >= config.length) break;
    const double duration = std::exp(log_mean + duration_spread * random.normal());
    f.trace.push_back(
        {.arrival = arrival,
         .duration = std::max(to_microsecond_nanos(duration),
                              std::chrono::nanoseconds(std::chrono::microseconds(1)))});
  }
  return f;
}

}  // namespace warmpool
