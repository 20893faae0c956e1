// warmpool-sim: replays arrival traces through warmpool's Controller in virtual time
// (warmpool::Simulator), compares settings and policies side by side, draws timelines,
// and writes synthetic traces shaped like the Azure Functions 2019 trace.
// Run `warmpool-sim --help`.

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <warmpool/hybrid_histogram.hpp>
#include <warmpool/simulator.hpp>

#include "svg.hpp"
#include "timeline_svg.hpp"
#include "tradeoff.hpp"
#include "tradeoff_svg.hpp"

namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
namespace fs = std::filesystem;

constexpr std::string_view usage =
    R"(warmpool-sim: replay arrival traces through warmpool's Controller in virtual time.

usage:
  warmpool-sim run TRACE... [settings] [--compare SPEC]... [--svg FILE] [--plot FILE]
  warmpool-sim proof [--seed S] [--functions N] [--hours H] [--max-daily N] [settings]
                     [--timeouts D1,D2,...] [--candidate SPEC]... [--plot FILE]
  warmpool-sim gen --out DIR [--seed S] [--functions N] [--hours H] [--max-daily N]
  warmpool-sim --help

run
  Replays each TRACE through its own fresh Controller (one pool per function) and prints
  one table row per setting, over all the traces (a mix):
    cold (inputs)   cold starts / inputs started, over all inputs: busy functions weigh
                    the most
    cold mean/fn    the mean over functions of each one's cold-start fraction: each
                    function (with an input started) counts once, as in Shahrad et al.
    cold p75/fn     the third-quartile function's cold-start fraction (nearest rank)
    wait p50, p99   queue wait, arrival to start (exact)
    idle worker-s   worker-seconds spent warm and idle: the cost of warmth
    busy worker-s, boots
  A TRACE is a CSV file of `arrival_seconds,duration_seconds` lines (optional header) or
  a directory, meaning its *.csv files. A run ends once every input is done and every
  idle timeout has passed; workers kept by min-warm count as idle until then.

  settings (also usable as KEY=VALUE in --compare):
    --idle-timeout D   evict a worker idle this long (fixed policy; the
                       hybrid policy's fallback)                      [60s]
    --min-warm N       workers kept warm even with no traffic         [0]
    --max-workers N    most live workers                              [1000]
    --buffer N         extra workers while inputs run or wait         [0]
    --max-inputs N     concurrent inputs per worker                   [1]
    --boot-time D      time from boot to warm                         [2s]
    --boot-jitter F    boot times spread by +-F of boot-time, F in [0, 1]  [0]
    --seed S           seed of the boot jitter                        [1]
    --policy P         fixed (the idle timeout) or hybrid (the hybrid
                       histogram keep-alive policy, Shahrad et al.,
                       falling back to the idle timeout until its
                       histogram is representative)                   [fixed]
  --compare SPEC     table rows on top of the settings given. SPEC is KEY=V1,V2,... (one
                     row per value) or several such parts separated by spaces (one row
                     per combination, labelled by its own SPEC), e.g.
                       --compare idle-timeout=10s,60s,10m,60m
                       --compare 'policy=hybrid idle-timeout=10s,60s'
                     (the latter: rows `policy=hybrid idle-timeout=10s`, the hybrid
                     policy falling back to 10 s, and `policy=hybrid idle-timeout=60s`).
                     Repeat it for more rows.
  --svg FILE         draw busy, warm-idle and booting workers and pending inputs over
                     time as an SVG (one run: not with --compare)
  --plot FILE        draw the trade-off as an SVG: x = idle worker-hours, y = cold mean/fn;
                     the rows of the fixed policy as a line through points labelled by
                     idle timeout, every other row as its own marker

proof
  The claim that a keep-alive policy beats fixed idle timeouts, checked on a synthetic
  mix (as `gen` writes it, here in memory): N functions of H hours from seed S (the seed
  also seeds the boot jitter). Runs the fixed policy with each of --timeouts, then each
  candidate row, and prints the table as `run` does. The fixed timeouts, ordered by idle
  worker-s and joined by straight lines, trace a curve of cold mean/fn against idle
  worker-s. A candidate lies below the curve when, at its idle worker-s, the curve's cold
  mean/fn is higher than its own; a candidate with less idle time than every timeout must
  beat the cheapest one, and one with more idle time than every timeout fails (the curve
  is not known there). Exit status 0 when every candidate lies below the curve, 3 when
  one does not.
    --seed S           [1]
    --functions N      [50]
    --hours H          [24]
    --max-daily N      cap of a function's invocations per day   [1000000]
    --timeouts D,...   the fixed idle timeouts of the curve
                       [10s,30s,60s,2m,5m,10m,20m,30m,60m]
    --candidate SPEC   rows to check, SPEC as in --compare; repeat it for more
                       ['policy=hybrid idle-timeout=10s,60s']
    --plot FILE        the trade-off as an SVG, as `run --plot` draws it

gen
  Writes N synthetic traces DIR/fn-0000.csv ... with the published characteristics of
  the Azure Functions 2019 trace (log-normal mean execution times, rates over many orders
  of magnitude, 40% bursty, 25% timers, a diurnal cycle), and DIR/index.tsv describing
  each. Same seed, same bytes.
    --out DIR          where to write (created if missing)
    --seed S           [1]
    --functions N      [100]
    --hours H          length of each trace (decimals allowed)   [24]
    --max-daily N      cap of a function's invocations per day   [1000000]

Same traces and settings, same numbers: every result is deterministic.
Durations: a number and a unit, ns us ms s m h: 500ms, 10s, 1.5m, 1h (or 0).
)";

/// A mistake on the command line: reported with a hint to --help, exit status 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

// ---------------------------------------------------------------- parsing values

template <class Number>
Number parse_number(std::string_view text, std::string_view what) {
  Number value{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end) {
    throw UsageError(std::string(what) + ": " + in_quotes(text) + " is not a valid number");
  }
  return value;
}

nanoseconds parse_duration(std::string_view text, std::string_view what) {
  if (text == "0") return 0ns;
  const std::size_t unit_at = text.find_first_not_of("0123456789.");
  struct Unit {
    std::string_view name;
    double nanos;
  };
  constexpr std::array<Unit, 6> units{
      {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}}};
  const std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  const auto* const found =
      std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.name == unit; });
  if (unit_at == 0 || found == units.end()) {
    throw UsageError(std::string(what) + ": " + in_quotes(text) +
                     " is not a duration (a number and a unit, ns us ms s m h: 500ms, 10s, 1h)");
  }
  const double value = parse_number<double>(text.substr(0, unit_at), what) * found->nanos;
  if (value > 1e18) throw UsageError(std::string(what) + ": " + in_quotes(text) + " is too long");
  return nanoseconds(std::llround(value));
}

/// The largest unit that shows the duration exactly: "60s" -> "1m", "1500ms".
std::string format_duration(nanoseconds d) {
  constexpr std::array<std::pair<std::int64_t, const char*>, 5> units{{{3'600'000'000'000, "h"},
                                                                       {60'000'000'000, "m"},
                                                                       {1'000'000'000, "s"},
                                                                       {1'000'000, "ms"},
                                                                       {1'000, "us"}}};
  if (d.count() == 0) return "0";
  for (const auto& [nanos, name] : units) {
    if (d.count() % nanos == 0) return std::to_string(d.count() / nanos) + name;
  }
  return std::to_string(d.count()) + "ns";
}

std::string fixed(double value, int decimals) {
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

std::string seconds(nanoseconds d) {
  return fixed(std::chrono::duration<double>(d).count(), 3) + "s";
}

// ---------------------------------------------------------------- settings

struct Settings {
  std::size_t min_warm = 0;
  std::size_t max_workers = 1000;
  std::size_t buffer = 0;
  std::size_t max_inputs = 1;
  nanoseconds idle_timeout = 60s;
  nanoseconds boot_time = 2s;
  double boot_jitter = 0;
  std::uint64_t seed = 1;
  std::string policy = "fixed";
};

/// Sets the setting named `key` (a long option without its dashes); false for no such key.
bool set(Settings& s, std::string_view key, std::string_view value) {
  const std::string what = "--" + std::string(key);
  if (key == "idle-timeout") {
    s.idle_timeout = parse_duration(value, what);
    if (s.idle_timeout % 1ms != 0ns) throw UsageError(what + " must be whole milliseconds");
  } else if (key == "min-warm") {
    s.min_warm = parse_number<std::size_t>(value, what);
  } else if (key == "max-workers") {
    s.max_workers = parse_number<std::size_t>(value, what);
  } else if (key == "buffer") {
    s.buffer = parse_number<std::size_t>(value, what);
  } else if (key == "max-inputs") {
    s.max_inputs = parse_number<std::size_t>(value, what);
  } else if (key == "boot-time") {
    s.boot_time = parse_duration(value, what);
  } else if (key == "boot-jitter") {
    s.boot_jitter = parse_number<double>(value, what);
  } else if (key == "seed") {
    s.seed = parse_number<std::uint64_t>(value, what);
  } else if (key == "policy") {
    if (value != "fixed" && value != "hybrid") {
      throw UsageError(what + ": " + in_quotes(value) + " is not a policy (fixed or hybrid)");
    }
    s.policy = value;
  } else {
    return false;
  }
  return true;
}

std::string describe(const Settings& s) {
  std::string text =
      "max-workers=" + std::to_string(s.max_workers) + " min-warm=" + std::to_string(s.min_warm) +
      " buffer=" + std::to_string(s.buffer) + " max-inputs=" + std::to_string(s.max_inputs) +
      " boot-time=" + format_duration(s.boot_time);
  if (s.boot_jitter != 0) {
    text += " boot-jitter=" + fixed(s.boot_jitter, 3) + " seed=" + std::to_string(s.seed);
  }
  return text + " idle-timeout=" + format_duration(s.idle_timeout) + " policy=" + s.policy;
}

warmpool::SimulationConfig to_config(const Settings& s, std::optional<nanoseconds> timeline_step) {
  warmpool::SimulationConfig c;
  c.options.autoscaler = {
      .min_warm = s.min_warm,
      .max_workers = s.max_workers,
      .buffer = s.buffer,
      .idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.idle_timeout)};
  c.options.max_inputs = s.max_inputs;
  if (s.policy == "hybrid") {
    c.keep_alive_factory = [] { return std::make_shared<warmpool::HybridHistogramPolicy>(); };
  }
  c.boot_time = s.boot_time;
  c.boot_jitter = s.boot_jitter;
  c.seed = s.seed;
  c.timeline_step = timeline_step;
  return c;
}

// ---------------------------------------------------------------- command line

/// The arguments after the subcommand: positional ones and `--key value` / `--key=value`.
class Arguments {
 public:
  Arguments(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (!arg.starts_with("--")) {
        positional_.emplace_back(arg);
        continue;
      }
      const std::size_t equals = arg.find('=');
      if (equals != std::string_view::npos) {
        options_.emplace_back(arg.substr(2, equals - 2), arg.substr(equals + 1));
      } else if (i + 1 < argc) {
        options_.emplace_back(arg.substr(2), argv[++i]);
      } else {
        throw UsageError(std::string(arg) + " needs a value");
      }
    }
  }

  const std::vector<std::string>& positional() const { return positional_; }
  const std::vector<std::pair<std::string, std::string>>& options() const { return options_; }

 private:
  std::vector<std::string> positional_;
  std::vector<std::pair<std::string, std::string>> options_;
};

// ---------------------------------------------------------------- run

warmpool::Trace load_trace(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  try {
    return warmpool::read_trace(in);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
}

/// The files named: each file itself, each directory's *.csv files in name order.
std::vector<fs::path> trace_files(const std::vector<std::string>& names) {
  std::vector<fs::path> files;
  for (const std::string& name : names) {
    if (!fs::is_directory(name)) {
      files.emplace_back(name);
      continue;
    }
    std::vector<fs::path> inside;
    for (const fs::directory_entry& entry : fs::directory_iterator(name)) {
      if (entry.is_regular_file() && entry.path().extension() == ".csv") {
        inside.push_back(entry.path());
      }
    }
    if (inside.empty()) throw std::runtime_error(name + ": no .csv file in this directory");
    std::sort(inside.begin(), inside.end());
    files.insert(files.end(), inside.begin(), inside.end());
  }
  return files;
}

struct Row {
  std::string label;
  Settings settings;
};

/// Splits `text` at each `separator`.
std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

/// Rows from a SPEC `KEY=V1,V2,... [KEY=V1,...]...` on top of `base`: one per combination
/// of values, the first part varying slowest; labelled `KEY=V KEY=V`, which is also the
/// SPEC of that row alone.
std::vector<Row> comparison_rows(const Settings& base, std::string_view spec,
                                 std::string_view option = "--compare") {
  std::vector<Row> rows{{"", base}};
  for (const std::string_view part : split(spec, ' ')) {
    if (part.empty()) continue;  // spaces in a row
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == part.size()) {
      throw UsageError(std::string(option) + " " + in_quotes(spec) +
                       ": expected KEY=V1,V2,... parts separated by spaces");
    }
    const std::string_view key = part.substr(0, equals);
    std::vector<Row> combined;
    for (const Row& row : rows) {
      for (const std::string_view value : split(part.substr(equals + 1), ',')) {
        Row next{row.label + (row.label.empty() ? "" : " ") + std::string(part.substr(0, equals)) +
                     "=" + std::string(value),
                 row.settings};
        if (!set(next.settings, key, value)) {
          throw UsageError(std::string(option) + ": unknown setting " + in_quotes(key));
        }
        combined.push_back(std::move(next));
      }
    }
    rows = std::move(combined);
  }
  return rows;
}

/// One text table, columns right-aligned but the first.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(std::ostream& out) const {
    std::vector<std::size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
    }
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size(); ++c) {
        const std::string padding(widths[c] - row[c].size(), ' ');
        out << (c == 0 ? "" : "  ") << (c == 0 ? row[c] + padding : padding + row[c]);
      }
      out << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

warmpool::Simulator make_simulator(const Settings& settings,
                                   std::optional<nanoseconds> timeline_step) {
  try {
    return warmpool::Simulator(to_config(settings, timeline_step));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("bad settings: ") + e.what());
  }
}

/// A timeline step giving about 800 steps up to the end of the last input.
nanoseconds timeline_step_for(const std::vector<warmpool::Trace>& traces) {
  nanoseconds last{};
  for (const warmpool::Trace& trace : traces) {
    for (const warmpool::TraceInput& input : trace) {
      last = std::max(last, input.arrival + input.duration);
    }
  }
  const nanoseconds step = std::chrono::ceil<std::chrono::milliseconds>(last / 800);
  return std::max<nanoseconds>(step, 1ms);
}

std::size_t count_inputs(const std::vector<warmpool::Trace>& traces) {
  std::size_t inputs = 0;
  for (const warmpool::Trace& trace : traces) inputs += trace.size();
  return inputs;
}

/// Each row's results over the mix, in row order (all settings checked first).
std::vector<warmpool::MixResult> simulate(const std::vector<Row>& rows,
                                          const std::vector<warmpool::Trace>& traces,
                                          std::optional<nanoseconds> timeline_step) {
  std::vector<warmpool::Simulator> simulators;
  simulators.reserve(rows.size());
  for (const Row& row : rows) simulators.push_back(make_simulator(row.settings, timeline_step));
  std::vector<warmpool::MixResult> results;
  results.reserve(rows.size());
  for (const warmpool::Simulator& simulator : simulators) {
    results.push_back(simulator.run_mix(traces));
  }
  return results;
}

/// Prints the table of `rows` and their `results`, and notes on refused inputs.
void print_results(std::ostream& out, const std::vector<Row>& rows,
                   const std::vector<warmpool::MixResult>& results) {
  Table table({"setting", "cold (inputs)", "cold mean/fn", "cold p75/fn", "wait p50", "wait p99",
               "idle worker-s", "busy worker-s", "boots"});
  std::vector<std::string> notes;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const warmpool::SimulationResult& r = results[i].total;
    table.add({rows[i].label, fixed(r.cold_start_fraction(), 4),
               fixed(results[i].mean_cold_start_fraction(), 4),
               fixed(results[i].cold_start_fraction_quantile(0.75), 4), seconds(r.queue_wait(0.5)),
               seconds(r.queue_wait(0.99)), fixed(r.idle_worker_seconds(), 1),
               fixed(r.busy_worker_seconds(), 1), std::to_string(r.boots)});
    if (r.inputs_rejected + r.inputs_failed != 0) {
      notes.push_back(rows[i].label + ": " + std::to_string(r.inputs_rejected) +
                      " inputs rejected (queue full), " + std::to_string(r.inputs_failed) +
                      " failed");
    }
  }
  table.print(out);
  for (const std::string& note : notes) out << "note: " << note << '\n';
}

/// A row's point of the trade-off, labelled `label`.
tradeoff::Point point(std::string label, const warmpool::MixResult& result) {
  return {.label = std::move(label),
          .idle_worker_seconds = result.total.idle_worker_seconds(),
          .cold_start_fraction = result.mean_cold_start_fraction()};
}

void write_file(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::ofstream out(path);
  write(out);
  if (!out.flush()) throw std::runtime_error(path + ": cannot write");
}

void write_plot(const std::string& path, const tradeoff::Curve& curve,
                const std::vector<tradeoff::Point>& candidates, const std::string& title) {
  write_file(path, [&](std::ostream& out) { tradeoff_svg::write(out, curve, candidates, title); });
}

/// The plot of `run --plot`: rows of the fixed policy make the curve, the others are
/// candidates.
void plot_rows(const std::string& path, const std::vector<Row>& rows,
               const std::vector<warmpool::MixResult>& results, std::size_t traces) {
  std::vector<tradeoff::Point> fixed_points;
  std::vector<tradeoff::Point> candidates;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].settings.policy == "fixed") {
      fixed_points.push_back(point(format_duration(rows[i].settings.idle_timeout), results[i]));
    } else {
      candidates.push_back(point(rows[i].label, results[i]));
    }
  }
  if (fixed_points.empty()) throw UsageError("--plot needs a row of the fixed policy");
  write_plot(path, tradeoff::Curve(std::move(fixed_points)), candidates,
             "keep-alive trade-off over " + std::to_string(traces) + " traces");
}

int run(const Arguments& args) {
  Settings base;
  std::vector<std::string> compare;
  std::optional<std::string> svg;
  std::optional<std::string> plot;
  for (const auto& [key, value] : args.options()) {
    if (key == "compare") {
      compare.push_back(value);
    } else if (key == "svg") {
      svg = value;
    } else if (key == "plot") {
      plot = value;
    } else if (!set(base, key, value)) {
      throw UsageError("run: unknown option --" + key);
    }
  }
  if (args.positional().empty()) throw UsageError("run: no trace given");
  if (svg && !compare.empty()) throw UsageError("--svg draws one run: use it without --compare");

  std::vector<Row> rows;
  for (const std::string& spec : compare) {
    for (Row& row : comparison_rows(base, spec)) rows.push_back(std::move(row));
  }
  if (rows.empty()) rows.push_back({"base", base});

  const std::vector<fs::path> files = trace_files(args.positional());
  std::vector<warmpool::Trace> traces;
  traces.reserve(files.size());
  for (const fs::path& file : files) traces.push_back(load_trace(file));
  const std::optional<nanoseconds> step =
      svg ? std::optional<nanoseconds>(timeline_step_for(traces)) : std::nullopt;
  const std::vector<warmpool::MixResult> results = simulate(rows, traces, step);

  std::cout << "traces: " << traces.size() << ", inputs: " << count_inputs(traces) << '\n'
            << "settings: " << describe(base) << "\n\n";
  print_results(std::cout, rows, results);
  if (svg) {
    write_file(*svg, [&](std::ostream& out) {
      const std::string what = files.size() == 1 ? files.front().filename().string()
                                                 : std::to_string(files.size()) + " traces";
      timeline_svg::write(out, results.front().total, what + ": " + describe(base));
    });
    std::cout << "timeline: " << *svg << '\n';
  }
  if (plot) {
    plot_rows(*plot, rows, results, traces.size());
    std::cout << "trade-off: " << *plot << '\n';
  }
  return 0;
}

// ---------------------------------------------------------------- synthetic mixes

/// A synthetic mix: `functions` traces from `config`.
struct MixSpec {
  warmpool::SyntheticTraceConfig config;
  std::uint64_t functions = 100;
  double hours = 24;

  /// Takes `--seed`, `--functions`, `--hours`, `--max-daily`; false for other keys.
  bool set(std::string_view key, std::string_view value) {
    const std::string what = "--" + std::string(key);
    if (key == "seed") {
      config.seed = parse_number<std::uint64_t>(value, what);
    } else if (key == "functions") {
      functions = parse_number<std::uint64_t>(value, what);
    } else if (key == "hours") {
      hours = parse_number<double>(value, what);
      if (!(hours > 0 && hours < 24.0 * 365 * 10)) {
        throw UsageError("--hours must be > 0 and under 10 years");
      }
      config.length = nanoseconds(std::llround(hours * 3600e9));
    } else if (key == "max-daily") {
      config.max_daily_invocations = parse_number<double>(value, what);
      if (!(config.max_daily_invocations > 0)) throw UsageError("--max-daily must be > 0");
    } else {
      return false;
    }
    return true;
  }

  std::string describe() const {
    const double cap = config.max_daily_invocations;
    return std::to_string(functions) + " synthetic functions x " + svg::number(hours) +
           " h (seed " + std::to_string(config.seed) + ", max-daily " +
           (cap == std::floor(cap) ? fixed(cap, 0) : svg::number(cap)) + ")";
  }
};

int gen(const Arguments& args) {
  if (!args.positional().empty()) {
    throw UsageError("gen: unexpected argument " + in_quotes(args.positional().front()));
  }
  MixSpec mix;
  std::optional<fs::path> dir;
  for (const auto& [key, value] : args.options()) {
    if (key == "out") {
      dir = value;
    } else if (!mix.set(key, value)) {
      throw UsageError("gen: unknown option --" + key);
    }
  }
  if (!dir) throw UsageError("gen: --out DIR is required");

  fs::create_directories(*dir);
  std::ofstream index(*dir / "index.tsv");
  index << "file\tpattern\tdaily_invocations\tmean_duration_seconds\tperiod_seconds\tinputs\n";
  const std::size_t digits = std::max<std::size_t>(
      4, std::to_string(std::max<std::uint64_t>(mix.functions, 1) - 1).size());
  std::uint64_t inputs = 0;
  for (std::uint64_t i = 0; i < mix.functions; ++i) {
    const warmpool::SyntheticFunction f = warmpool::synthetic_function(mix.config, i);
    const std::string number = std::to_string(i);
    std::string name = "fn-";
    name.append(digits - number.size(), '0').append(number).append(".csv");
    write_file((*dir / name).string(),
               [&](std::ostream& out) { warmpool::write_trace(out, f.trace); });
    index << name << '\t' << to_string(f.pattern) << '\t' << fixed(f.daily_invocations, 3) << '\t'
          << fixed(std::chrono::duration<double>(f.mean_duration).count(), 6) << '\t'
          << fixed(std::chrono::duration<double>(f.period).count(), 0) << '\t' << f.trace.size()
          << '\n';
    inputs += f.trace.size();
  }
  if (!index.flush()) throw std::runtime_error((*dir / "index.tsv").string() + ": cannot write");
  std::cout << "wrote " << mix.functions << " traces (" << inputs << " inputs over "
            << fixed(mix.hours, 2) << " h) to " << dir->string() << ", described in "
            << (*dir / "index.tsv").string() << '\n';
  return 0;
}

// ---------------------------------------------------------------- proof

/// Exit status of `proof` when a candidate does not lie below the curve.
constexpr int claim_fails = 3;

constexpr std::string_view default_timeouts = "10s,30s,60s,2m,5m,10m,20m,30m,60m";
constexpr std::string_view default_candidate = "policy=hybrid idle-timeout=10s,60s";

/// The rows of the curve: the fixed policy with each idle timeout of `timeouts`.
std::vector<Row> timeout_rows(Settings base, std::string_view timeouts) {
  base.policy = "fixed";
  return comparison_rows(base, "idle-timeout=" + std::string(timeouts), "--timeouts");
}

/// Prints, for each candidate, where it lies against the curve; true when all lie below.
bool judge(std::ostream& out, const tradeoff::Curve& curve,
           const std::vector<tradeoff::Point>& candidates) {
  out << "\nclaim: each candidate's (idle worker-s, cold mean/fn) lies below the curve of the "
         "fixed idle timeouts\n";
  std::size_t below = 0;
  for (const tradeoff::Point& c : candidates) {
    out << "  " << c.label << ": " << fixed(c.cold_start_fraction, 4) << " at "
        << fixed(c.idle_worker_seconds, 1) << " idle worker-s, ";
    const std::optional<tradeoff::Reading> there = curve.at(c.idle_worker_seconds);
    if (there) {
      out << "the curve there: " << fixed(there->cold_start_fraction, 4) << " (" << there->where
          << ")";
    } else {
      out << "more idle than every fixed timeout: the curve is not known there";
    }
    const bool is_below = curve.below(c);
    below += is_below ? 1 : 0;
    out << (is_below ? " -> below\n" : " -> NOT below\n");
  }
  const bool holds = below == candidates.size();
  out << (holds ? "the claim holds: " : "the claim FAILS: ") << below << " of " << candidates.size()
      << " candidates below the curve\n";
  return holds;
}

int proof(const Arguments& args) {
  if (!args.positional().empty()) {
    throw UsageError("proof: unexpected argument " + in_quotes(args.positional().front()));
  }
  MixSpec mix;
  mix.functions = 50;
  Settings base;
  std::string timeouts(default_timeouts);
  std::vector<std::string> candidate_specs;
  std::optional<std::string> plot;
  for (const auto& [key, value] : args.options()) {
    if (key == "timeouts") {
      timeouts = value;
    } else if (key == "candidate") {
      candidate_specs.push_back(value);
    } else if (key == "plot") {
      plot = value;
    } else if (!mix.set(key, value) && !set(base, key, value)) {
      throw UsageError("proof: unknown option --" + key);
    }
  }
  base.seed = mix.config.seed;
  if (candidate_specs.empty()) candidate_specs.emplace_back(default_candidate);

  const std::vector<Row> fixed_rows = timeout_rows(base, timeouts);
  std::vector<Row> rows = fixed_rows;
  for (const std::string& spec : candidate_specs) {
    for (Row& row : comparison_rows(base, spec, "--candidate")) rows.push_back(std::move(row));
  }
  std::vector<warmpool::Trace> traces;
  for (std::uint64_t i = 0; i < mix.functions; ++i) {
    traces.push_back(warmpool::synthetic_function(mix.config, i).trace);
  }
  const std::vector<warmpool::MixResult> results = simulate(rows, traces, std::nullopt);

  const auto invoked = std::count_if(traces.begin(), traces.end(),
                                     [](const warmpool::Trace& t) { return !t.empty(); });
  std::cout << "mix: " << mix.describe() << ": " << count_inputs(traces) << " inputs to " << invoked
            << " functions (the others have none)\n"
            << "settings: " << describe(base) << "\n\n";
  print_results(std::cout, rows, results);
  std::vector<tradeoff::Point> curve_points;
  std::vector<tradeoff::Point> candidates;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i < fixed_rows.size()) {
      curve_points.push_back(point(format_duration(rows[i].settings.idle_timeout), results[i]));
    } else {
      candidates.push_back(point(rows[i].label, results[i]));
    }
  }
  const tradeoff::Curve curve(std::move(curve_points));
  const bool holds = judge(std::cout, curve, candidates);
  if (plot) {
    write_plot(*plot, curve, candidates, "keep-alive trade-off: " + mix.describe());
    std::cout << "trade-off: " << *plot << '\n';
  }
  return holds ? 0 : claim_fails;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << usage;
    return 0;
  }
  try {
    const Arguments args(argc, argv, 2);
    if (command == "run") return run(args);
    if (command == "gen") return gen(args);
    if (command == "proof") return proof(args);
    throw UsageError(command.empty() ? "no command given"
                                     : "unknown command " + in_quotes(command));
  } catch (const UsageError& e) {
    std::cerr << "warmpool-sim: " << e.what() << "\n(run 'warmpool-sim --help' for usage)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "warmpool-sim: " << e.what() << '\n';
    return 1;
  }
}
