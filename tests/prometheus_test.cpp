// Format checks of to_prometheus (Prometheus text exposition format 0.0.4).

#include <doctest/doctest.h>

#include <cstddef>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <warmpool/prometheus.hpp>

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The metric name of a sample line: up to '{' or ' '.
std::string sample_name(const std::string& line) {
  return line.substr(0, line.find_first_of("{ "));
}

/// The second word of a "# HELP name ..." / "# TYPE name type" line.
std::string comment_name(const std::string& line) {
  const std::size_t start = 7;  // after "# HELP " / "# TYPE "
  return line.substr(start, line.find(' ', start) - start);
}

warmpool::Stats sample_stats() {
  warmpool::Stats s;
  s.workers_booting = 1;
  s.workers_idle = 2;
  s.workers_busy = 3;
  s.target_workers = 6;
  s.inputs_pending = 4;
  s.inputs_running = 5;
  s.boots = 7;
  s.boot_failures = 8;
  s.evictions = 9;
  s.inputs_submitted = 100;
  s.inputs_rejected = 11;
  s.cold_inputs = 12;
  s.inputs_completed = 13;
  s.inputs_failed = 14;
  s.inputs_cancelled = 15;
  s.inputs_timed_out = 16;
  s.inputs_closed = 17;
  s.inputs_lost = 18;
  s.inputs_enter_failed = 19;
  s.exit_failures = 20;
  return s;
}

}  // namespace

TEST_CASE("prometheus: HELP and TYPE come before the samples, counters end in _total") {
  const std::string text = warmpool::to_prometheus(sample_stats(), "inference");
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');

  std::set<std::string> helped;
  std::map<std::string, std::string> types;
  std::size_t samples = 0;
  for (const std::string& line : lines_of(text)) {
    CAPTURE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = comment_name(line);
      CHECK(helped.insert(name).second);     // once per family
      CHECK(line.size() > 8 + name.size());  // has a help text
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = comment_name(line);
      CHECK(helped.count(name) == 1);  // HELP first
      const std::string type = line.substr(8 + name.size());
      CHECK((type == "counter" || type == "gauge"));
      CHECK(types.emplace(name, type).second);
      if (type == "counter") {
        CHECK(name.size() > 6);
        CHECK(name.substr(name.size() - 6) == "_total");
      }
    } else {
      ++samples;
      const std::string name = sample_name(line);
      CHECK(name.rfind("warmpool_", 0) == 0);
      CHECK(types.count(name) == 1);  // TYPE (and so HELP) before the sample
      CHECK(line.find("{pool=\"inference\"") != std::string::npos);
    }
  }
  CHECK(samples >= 20);
  CHECK(types.at("warmpool_boots_total") == "counter");
  CHECK(types.at("warmpool_inputs_pending") == "gauge");
  CHECK(types.at("warmpool_workers") == "gauge");
}

TEST_CASE("prometheus: samples carry the stats' values") {
  const std::string text = warmpool::to_prometheus(sample_stats(), "p");
  const auto has = [&text](const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
  };
  CHECK(has("warmpool_workers{pool=\"p\",state=\"booting\"} 1"));
  CHECK(has("warmpool_workers{pool=\"p\",state=\"idle\"} 2"));
  CHECK(has("warmpool_workers{pool=\"p\",state=\"busy\"} 3"));
  CHECK(has("warmpool_target_workers{pool=\"p\"} 6"));
  CHECK(has("warmpool_inputs_pending{pool=\"p\"} 4"));
  CHECK(has("warmpool_inputs_running{pool=\"p\"} 5"));
  CHECK(has("warmpool_boots_total{pool=\"p\"} 7"));
  CHECK(has("warmpool_boot_failures_total{pool=\"p\"} 8"));
  CHECK(has("warmpool_evictions_total{pool=\"p\"} 9"));
  CHECK(has("warmpool_inputs_submitted_total{pool=\"p\"} 100"));
  CHECK(has("warmpool_inputs_rejected_total{pool=\"p\"} 11"));
  CHECK(has("warmpool_cold_inputs_total{pool=\"p\"} 12"));
  CHECK(has("warmpool_inputs_completed_total{pool=\"p\"} 13"));
  CHECK(has("warmpool_inputs_failed_total{pool=\"p\"} 14"));
  CHECK(has("warmpool_inputs_cancelled_total{pool=\"p\"} 15"));
  CHECK(has("warmpool_inputs_timed_out_total{pool=\"p\"} 16"));
  CHECK(has("warmpool_inputs_closed_total{pool=\"p\"} 17"));
  CHECK(has("warmpool_inputs_lost_total{pool=\"p\"} 18"));
  CHECK(has("warmpool_inputs_enter_failed_total{pool=\"p\"} 19"));
  CHECK(has("warmpool_exit_failures_total{pool=\"p\"} 20"));
}

TEST_CASE("prometheus: the pool label value is escaped") {
  const std::string text = warmpool::to_prometheus(warmpool::Stats{}, "a\"b\\c\nd");
  CHECK(text.find("warmpool_boots_total{pool=\"a\\\"b\\\\c\\nd\"} 0\n") != std::string::npos);
  // No raw newline leaked into a label: every line is a comment or a warmpool_ sample.
  for (const std::string& line : lines_of(text)) {
    CAPTURE(line);
    CHECK((line.rfind("# ", 0) == 0 || line.rfind("warmpool_", 0) == 0));
  }
}
