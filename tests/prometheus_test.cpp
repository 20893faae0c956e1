// Tests of to_prometheus: a checker of the Prometheus text exposition format (0.0.4)
// applied to a fully populated Stats, and the values it must carry.

#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <warmpool/prometheus.hpp>

namespace {

using namespace std::chrono_literals;

using Labels = std::map<std::string, std::string>;

/// One parsed sample line.
struct Sample {
  std::string name;
  Labels labels;  // unescaped values
  double value = 0;
};

/// What the checker found: the samples, each family's type, and every violation.
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
  std::vector<std::string> errors;
};

bool is_name_char(char c, bool first, bool colon_allowed) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  const bool digit = c >= '0' && c <= '9';
  return letter || (colon_allowed && c == ':') || (!first && digit);
}

/// Reads a metric name (`colon_allowed`) or label name from the front of `rest`.
std::optional<std::string> take_name(std::string_view& rest, bool colon_allowed) {
  std::size_t n = 0;
  while (n < rest.size() && is_name_char(rest[n], n == 0, colon_allowed)) ++n;
  if (n == 0) return std::nullopt;
  std::string name(rest.substr(0, n));
  rest.remove_prefix(n);
  return name;
}

/// Reads `"value"` with only `\\`, `\"` and `\n` escapes; returns the unescaped value.
std::optional<std::string> take_label_value(std::string_view& rest) {
  if (rest.empty() || rest.front() != '"') return std::nullopt;
  std::string value;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '"') {
      rest.remove_prefix(i + 1);
      return value;
    }
    if (c == '\n') return std::nullopt;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (++i == rest.size()) return std::nullopt;
    if (rest[i] == 'n') {
      value += '\n';
    } else if (rest[i] == '\\' || rest[i] == '"') {
      value += rest[i];
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

/// Reads `{name="value",...}` (possibly absent) from the front of `rest`.
std::optional<Labels> take_labels(std::string_view& rest) {
  Labels labels;
  if (rest.empty() || rest.front() != '{') return labels;
  rest.remove_prefix(1);
  while (true) {
    const auto name = take_name(rest, false);
    if (!name || rest.empty() || rest.front() != '=') return std::nullopt;
    rest.remove_prefix(1);
    const auto value = take_label_value(rest);
    if (!value || !labels.emplace(*name, *value).second) return std::nullopt;
    if (rest.empty()) return std::nullopt;
    const char separator = rest.front();
    rest.remove_prefix(1);
    if (separator == '}') return labels;
    if (separator != ',') return std::nullopt;
  }
}

/// A sample value as Prometheus parses it: a decimal or `NaN`, `+Inf`, `-Inf`.
std::optional<double> parse_value(std::string_view text) {
  if (text == "NaN") return std::nan("");
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (std::isnan(value) || std::isinf(value)) return std::nullopt;  // "nan", "inf": invalid
  return value;
}

std::optional<Sample> parse_sample(std::string_view line) {
  Sample sample;
  const auto name = take_name(line, true);
  if (!name) return std::nullopt;
  sample.name = *name;
  const auto labels = take_labels(line);
  if (!labels || line.empty() || line.front() != ' ') return std::nullopt;
  sample.labels = *labels;
  const auto value = parse_value(line.substr(1));
  if (!value) return std::nullopt;
  sample.value = *value;
  return sample;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

/// Checks `text` line by line; `pool` is the expected (unescaped) pool label value.
class Checker {
 public:
  explicit Checker(std::string pool) : pool_(std::move(pool)) {}

  Exposition run(const std::string& text) {
    if (text.empty() || text.back() != '\n') fail("the text does not end with a newline");
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) check_line(line);
    check_summaries();
    return std::move(result_);
  }

 private:
  void fail(const std::string& what) { result_.errors.push_back(what); }

  void check_line(const std::string& line) {
    if (line.rfind("# HELP ", 0) == 0) return check_help(line);
    if (line.rfind("# TYPE ", 0) == 0) return check_type(line);
    if (line.rfind('#', 0) == 0 || line.empty()) return fail("stray line: " + line);
    check_sample(line);
  }

  /// Makes `family` the current one; families may not come back once left.
  void enter_family(const std::string& family, const std::string& line) {
    if (family == current_) return;
    if (!current_.empty()) finished_.insert(current_);
    if (finished_.count(family) != 0) fail("family split in two: " + line);
    current_ = family;
  }

  void check_help(const std::string& line) {
    std::string_view rest = std::string_view(line).substr(7);
    const auto name = take_name(rest, true);
    if (!name || rest.size() < 2 || rest.front() != ' ') return fail("bad HELP: " + line);
    enter_family(*name, line);
    if (!helped_.insert(*name).second) fail("second HELP: " + line);
  }

  void check_type(const std::string& line) {
    std::string_view rest = std::string_view(line).substr(7);
    const auto name = take_name(rest, true);
    if (!name || rest.empty() || rest.front() != ' ') return fail("bad TYPE: " + line);
    enter_family(*name, line);
    const std::string type(rest.substr(1));
    if (helped_.count(*name) == 0) fail("TYPE before HELP: " + line);
    if (type != "counter" && type != "gauge" && type != "summary") fail("bad type: " + line);
    if (type == "counter" && !ends_with(*name, "_total")) fail("counter without _total: " + line);
    if (!result_.types.emplace(*name, type).second) fail("second TYPE: " + line);
  }

  /// The family a sample belongs to: itself, or the summary it is the `_sum` / `_count` of.
  std::string family_of(const std::string& name) const {
    for (const std::string_view suffix : {"_sum", "_count"}) {
      if (!ends_with(name, suffix)) continue;
      const std::string base = name.substr(0, name.size() - suffix.size());
      const auto type = result_.types.find(base);
      if (type != result_.types.end() && type->second == "summary") return base;
    }
    return name;
  }

  void check_sample(const std::string& line) {
    const auto sample = parse_sample(line);
    if (!sample) return fail("bad sample: " + line);
    const std::string family = family_of(sample->name);
    enter_family(family, line);
    const auto type = result_.types.find(family);
    if (type == result_.types.end()) fail("sample before its TYPE: " + line);
    const auto pool = sample->labels.find("pool");
    if (pool == sample->labels.end() || pool->second != pool_) fail("pool label: " + line);
    if (sample->name.rfind("warmpool_", 0) != 0) fail("not warmpool_: " + line);
    if (type != result_.types.end() && type->second == "summary")
      record_summary_part(family, *sample, line);
    result_.samples.push_back(*sample);
  }

  void record_summary_part(const std::string& family, const Sample& sample,
                           const std::string& line) {
    Labels series = sample.labels;
    const bool has_quantile = series.erase("quantile") == 1;
    std::string part = sample.name.substr(family.size());  // "", "_sum" or "_count"
    if (part.empty() != has_quantile) fail("quantile label misplaced: " + line);
    if (has_quantile) part = "quantile=" + sample.labels.at("quantile");
    summary_parts_[{family, series}].insert(part);
  }

  void check_summaries() {
    const std::set<std::string> expected{"quantile=0.5", "quantile=0.9", "quantile=0.99", "_sum",
                                         "_count"};
    for (const auto& [series, parts] : summary_parts_) {
      if (parts != expected) fail("incomplete summary: " + series.first);
    }
    for (const auto& [family, type] : result_.types) {
      const bool sampled = std::any_of(
          result_.samples.begin(), result_.samples.end(),
          [&family = family, this](const Sample& s) { return family_of(s.name) == family; });
      if (!sampled) fail("family without samples: " + family);
    }
  }

  std::string pool_;
  Exposition result_;
  std::set<std::string> helped_;
  std::string current_;
  std::set<std::string> finished_;
  std::map<std::pair<std::string, Labels>, std::set<std::string>> summary_parts_;
};

Exposition check(const std::string& text, const std::string& pool) {
  return Checker(pool).run(text);
}

/// The value of the one sample named `name` with `labels` (besides the pool label).
std::optional<double> value_of(const Exposition& e, const std::string& name,
                               const Labels& labels = {}) {
  std::optional<double> found;
  for (const Sample& s : e.samples) {
    Labels rest = s.labels;
    rest.erase("pool");
    if (s.name != name || rest != labels) continue;
    if (found) return std::nullopt;  // ambiguous
    found = s.value;
  }
  return found;
}

warmpool::LatencySummary latency(std::uint64_t count, std::chrono::nanoseconds p50,
                                 std::chrono::nanoseconds p90, std::chrono::nanoseconds p99) {
  warmpool::LatencySummary s;
  s.count = count;
  s.total = p50 * static_cast<std::int64_t>(count);
  s.mean = p50;
  s.p50 = p50;
  s.p90 = p90;
  s.p99 = p99;
  s.max = p99;
  return s;
}

/// A Stats with every field set, each to a value of its own.
warmpool::Stats full_stats() {
  warmpool::Stats s;
  s.workers_booting = 1;
  s.workers_idle = 2;
  s.workers_busy = 3;
  s.target_workers = 6;
  s.inputs_pending = 4;
  s.inputs_running = 5;
  s.inputs_retrying = 21;
  s.autoscaler = {.min_warm = 22, .max_workers = 23, .buffer = 24, .idle_timeout = 2500ms};
  s.max_inputs = 25;
  s.max_pending = 26;
  s.boots = 7;
  s.boot_failures = 8;
  s.evicted_idle = 31;
  s.evicted_surplus = 32;
  s.evicted_lost = 33;
  s.evicted_shutdown = 34;
  s.evicted_lifetime = 35;
  s.evicted_uses = 36;
  s.evicted_unhealthy = 37;
  s.evictions = 31 + 32 + 33 + 34 + 35 + 36 + 37;
  s.inputs_submitted = 100;
  s.inputs_rejected = 11;
  s.cold_inputs = 12;
  s.warm_inputs = 27;
  s.inputs_retried = 28;
  s.inputs_rerun = 29;
  s.inputs_completed = 13;
  s.inputs_failed = 14;
  s.inputs_cancelled = 15;
  s.inputs_timed_out = 16;
  s.inputs_closed = 17;
  s.inputs_lost = 18;
  s.inputs_enter_failed = 19;
  s.exit_failures = 20;
  s.idle_worker_seconds = 12.25;
  s.busy_worker_seconds = 1e-7;
  s.queue_wait = latency(40, 1ms, 5ms, 12500us);
  s.boot_time = latency(7, 2s, 3s, 4s);
  s.first_input = latency(6, 300ms, 400ms, 450ms);
  s.later_input = latency(80, 20ms, 30ms, 35ms);
  s.enter_hooks = {{"enter_snapshot", latency(7, 1500ms, 1600ms, 1700ms)},
                   {"enter", latency(4, 250ms, 260ms, 270ms)},
                   {"enter_hooks[0]", latency(3, 10us, 11us, 12us)}};
  return s;
}

std::string errors_of(const Exposition& e) {
  std::string all;
  for (const std::string& error : e.errors) all += error + "\n";
  return all;
}

}  // namespace

TEST_CASE("prometheus: a fully populated Stats passes the format checker") {
  const Exposition e = check(warmpool::to_prometheus(full_stats(), "inference"), "inference");
  CHECK_MESSAGE(e.errors.empty(), errors_of(e));
  CHECK(e.types.size() == 35);
  CHECK(e.types.at("warmpool_workers") == "gauge");
  CHECK(e.types.at("warmpool_min_warm") == "gauge");
  CHECK(e.types.at("warmpool_boots_total") == "counter");
  CHECK(e.types.at("warmpool_evictions_total") == "counter");
  CHECK(e.types.at("warmpool_idle_worker_seconds_total") == "counter");
  CHECK(e.types.at("warmpool_queue_wait_seconds") == "summary");
  CHECK(e.types.at("warmpool_enter_hook_seconds") == "summary");
}

TEST_CASE("prometheus: the checker rejects malformed expositions") {
  const std::string help = "# HELP warmpool_x X.\n";
  const std::string gauge = help + "# TYPE warmpool_x gauge\n";
  const auto rejects = [](const std::string& text) { return !check(text, "p").errors.empty(); };
  CHECK_FALSE(rejects(gauge + "warmpool_x{pool=\"p\"} 1.5\n"));
  CHECK(rejects(gauge + "warmpool_x{pool=\"p\"} 1,5\n"));    // locale comma
  CHECK(rejects(gauge + "warmpool_x{pool=\"p\"} nan\n"));    // not NaN
  CHECK(rejects(gauge + "warmpool_x{pool=\"q\"} 1\n"));      // wrong pool
  CHECK(rejects(gauge + "warmpool_x 1\n"));                  // no pool
  CHECK(rejects(gauge + "warmpool_x{pool=\"a\\tb\"} 1\n"));  // bad escape
  CHECK(rejects(gauge + "warmpool_x{pool=\"p\",} 1\n"));     // bad label list
  CHECK(rejects("# TYPE warmpool_x gauge\n" + help + "warmpool_x{pool=\"p\"} 1\n"));
  CHECK(rejects(help + "warmpool_x{pool=\"p\"} 1\n"));          // no TYPE
  CHECK(rejects(gauge + help + "warmpool_x{pool=\"p\"} 1\n"));  // two HELPs
  CHECK(rejects(help + "# TYPE warmpool_x counter\nwarmpool_x{pool=\"p\"} 1\n"));
  CHECK(rejects(gauge));  // no sample
  CHECK(rejects(help + "# TYPE warmpool_x summary\nwarmpool_x_sum{pool=\"p\"} 1\n"));
  CHECK(rejects(gauge + "warmpool_x{pool=\"p\"} 1"));  // no final newline
}

TEST_CASE("prometheus: gauges, settings and counters carry the stats' values") {
  const Exposition e = check(warmpool::to_prometheus(full_stats(), "p"), "p");
  REQUIRE_MESSAGE(e.errors.empty(), errors_of(e));
  const std::vector<std::pair<std::string, double>> expected{
      {"warmpool_target_workers", 6},
      {"warmpool_inputs_pending", 4},
      {"warmpool_inputs_running", 5},
      {"warmpool_inputs_retrying", 21},
      {"warmpool_min_warm", 22},
      {"warmpool_max_workers", 23},
      {"warmpool_buffer", 24},
      {"warmpool_idle_timeout_seconds", 2.5},
      {"warmpool_max_inputs", 25},
      {"warmpool_max_pending", 26},
      {"warmpool_boots_total", 7},
      {"warmpool_boot_failures_total", 8},
      {"warmpool_inputs_submitted_total", 100},
      {"warmpool_inputs_rejected_total", 11},
      {"warmpool_cold_inputs_total", 12},
      {"warmpool_warm_inputs_total", 27},
      {"warmpool_inputs_retried_total", 28},
      {"warmpool_inputs_rerun_total", 29},
      {"warmpool_inputs_completed_total", 13},
      {"warmpool_inputs_failed_total", 14},
      {"warmpool_inputs_cancelled_total", 15},
      {"warmpool_inputs_timed_out_total", 16},
      {"warmpool_inputs_closed_total", 17},
      {"warmpool_inputs_lost_total", 18},
      {"warmpool_inputs_enter_failed_total", 19},
      {"warmpool_exit_failures_total", 20},
      {"warmpool_idle_worker_seconds_total", 12.25},
      {"warmpool_busy_worker_seconds_total", 1e-7},
  };
  for (const auto& metric : expected) {
    CAPTURE(metric.first);
    CHECK(value_of(e, metric.first) == metric.second);
  }
  CHECK(value_of(e, "warmpool_workers", {{"state", "booting"}}) == 1);
  CHECK(value_of(e, "warmpool_workers", {{"state", "idle"}}) == 2);
  CHECK(value_of(e, "warmpool_workers", {{"state", "busy"}}) == 3);
}

TEST_CASE("prometheus: evictions are one counter family with a reason label") {
  const std::string text = warmpool::to_prometheus(full_stats(), "p");
  CHECK(text.find("\nwarmpool_evictions_total{pool=\"p\",reason=\"lost\"} 33\n") !=
        std::string::npos);
  const Exposition e = check(text, "p");
  const std::vector<std::pair<std::string, double>> reasons{
      {"idle", 31},     {"surplus", 32}, {"lost", 33},      {"shutdown", 34},
      {"lifetime", 35}, {"uses", 36},    {"unhealthy", 37},
  };
  std::size_t samples = 0;
  for (const Sample& s : e.samples) samples += s.name == "warmpool_evictions_total" ? 1 : 0;
  CHECK(samples == reasons.size());  // no unlabelled total
  for (const auto& reason : reasons) {
    CAPTURE(reason.first);
    CHECK(value_of(e, "warmpool_evictions_total", {{"reason", reason.first}}) == reason.second);
  }
}

TEST_CASE("prometheus: latencies are summaries in seconds") {
  const std::string text = warmpool::to_prometheus(full_stats(), "p");
  CHECK(text.find("\nwarmpool_queue_wait_seconds{pool=\"p\",quantile=\"0.99\"} 0.0125\n") !=
        std::string::npos);
  const Exposition e = check(text, "p");
  const auto quantile = [&e](const std::string& name, const std::string& q) {
    return value_of(e, name, {{"quantile", q}});
  };
  CHECK(quantile("warmpool_queue_wait_seconds", "0.5") == 0.001);
  CHECK(quantile("warmpool_queue_wait_seconds", "0.9") == 0.005);
  CHECK(value_of(e, "warmpool_queue_wait_seconds_sum") == 0.04);
  CHECK(value_of(e, "warmpool_queue_wait_seconds_count") == 40);
  CHECK(quantile("warmpool_boot_seconds", "0.99") == 4);
  CHECK(value_of(e, "warmpool_boot_seconds_sum") == 14);
  CHECK(quantile("warmpool_first_input_seconds", "0.9") == 0.4);
  CHECK(value_of(e, "warmpool_first_input_seconds_count") == 6);
  CHECK(quantile("warmpool_later_input_seconds", "0.5") == 0.02);
  CHECK(value_of(e, "warmpool_later_input_seconds_count") == 80);
}

TEST_CASE("prometheus: each enter hook is a series of one summary family") {
  const std::string text = warmpool::to_prometheus(full_stats(), "p");
  CHECK(text.find("\nwarmpool_enter_hook_seconds_count{pool=\"p\",hook=\"enter\"} 4\n") !=
        std::string::npos);
  const Exposition e = check(text, "p");
  const std::string family = "warmpool_enter_hook_seconds";
  CHECK(value_of(e, family, {{"hook", "enter_snapshot"}, {"quantile", "0.5"}}) == 1.5);
  CHECK(value_of(e, family, {{"hook", "enter"}, {"quantile", "0.99"}}) == 0.27);
  CHECK(value_of(e, family, {{"hook", "enter_hooks[0]"}, {"quantile", "0.9"}}) == 1.1e-5);
  CHECK(value_of(e, family + "_sum", {{"hook", "enter_hooks[0]"}}) == 3e-5);
  CHECK(value_of(e, family + "_count", {{"hook", "enter_snapshot"}}) == 7);
}

TEST_CASE("prometheus: empty summaries report NaN quantiles; no hooks, no hook family") {
  const std::string text = warmpool::to_prometheus(warmpool::Stats{}, "p");
  const Exposition e = check(text, "p");
  CHECK_MESSAGE(e.errors.empty(), errors_of(e));
  const auto p50 = value_of(e, "warmpool_boot_seconds", {{"quantile", "0.5"}});
  REQUIRE(p50.has_value());
  CHECK(std::isnan(*p50));
  CHECK(value_of(e, "warmpool_boot_seconds_sum") == 0);
  CHECK(value_of(e, "warmpool_boot_seconds_count") == 0);
  CHECK(e.types.count("warmpool_enter_hook_seconds") == 0);
  CHECK(text.find("nan") == std::string::npos);
  CHECK(text.find("inf") == std::string::npos);
}

TEST_CASE("prometheus: pool and hook label values are escaped") {
  const std::string name = "a\"b\\c\nd";
  warmpool::Stats stats;
  stats.enter_hooks = {{name, latency(1, 1ms, 1ms, 1ms)}};
  const std::string text = warmpool::to_prometheus(stats, name);
  CHECK(text.find("\nwarmpool_boots_total{pool=\"a\\\"b\\\\c\\nd\"} 0\n") != std::string::npos);
  CHECK(text.find("hook=\"a\\\"b\\\\c\\nd\"") != std::string::npos);
  const Exposition e = check(text, name);  // the checker unescapes back to `name`
  CHECK_MESSAGE(e.errors.empty(), errors_of(e));
  CHECK(value_of(e, "warmpool_enter_hook_seconds_count", {{"hook", name}}) == 1);
}
