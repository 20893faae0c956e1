#pragma once
/// @file prometheus.hpp
/// @brief `to_prometheus`: a `Stats` snapshot in the Prometheus text exposition format.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "stats.hpp"

namespace warmpool {
namespace detail {

inline std::string prometheus_label_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

inline void prometheus_metric(std::string& out, std::string_view name, std::string_view type,
                              std::string_view help, std::string_view labels, std::uint64_t value) {
  out.append("# HELP warmpool_").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE warmpool_").append(name).append(" ").append(type).append("\n");
  out.append("warmpool_").append(name).append(labels).append(" ");
  out.append(std::to_string(value)).append("\n");
}

}  // namespace detail

/// @brief Renders `stats` in the Prometheus text format (version 0.0.4), every sample
/// labelled `pool="<pool_name>"`; counters end in `_total`.
///
/// Thread-safety: pure function. Example:
/// @code
/// std::string body = warmpool::to_prometheus(pool.stats(), "inference");
/// // warmpool_workers{pool="inference",state="idle"} 2 ...
/// @endcode
inline std::string to_prometheus(const Stats& stats, std::string_view pool_name) {
  const std::string pool = "pool=\"" + detail::prometheus_label_value(pool_name) + "\"";
  const std::string plain = "{" + pool + "}";
  std::string out;
  out += "# HELP warmpool_workers Live workers by state.\n";
  out += "# TYPE warmpool_workers gauge\n";
  const std::array<std::pair<const char*, std::size_t>, 3> states{{
      {"booting", stats.workers_booting},
      {"idle", stats.workers_idle},
      {"busy", stats.workers_busy},
  }};
  for (const auto& [state, count] : states) {
    out += "warmpool_workers{" + pool + ",state=\"" + state + "\"} " + std::to_string(count) + "\n";
  }
  const auto gauge = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    detail::prometheus_metric(out, name, "gauge", help, plain, v);
  };
  const auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    detail::prometheus_metric(out, name, "counter", help, plain, v);
  };
  gauge("target_workers", "Live workers the autoscaler aims for.", stats.target_workers);
  gauge("inputs_pending", "Accepted inputs not started yet.", stats.inputs_pending);
  gauge("inputs_running", "Inputs started and not finished.", stats.inputs_running);
  counter("boots_total", "Boots started.", stats.boots);
  counter("boot_failures_total", "Boots whose factory or enter hook threw.", stats.boot_failures);
  counter("evictions_total", "Warm workers stopped.", stats.evictions);
  counter("cold_inputs_total", "Inputs that waited for a boot.", stats.cold_inputs);
  counter("inputs_submitted_total", "Inputs accepted.", stats.inputs_submitted);
  counter("inputs_rejected_total", "Inputs refused at submit.", stats.inputs_rejected);
  counter("inputs_completed_total", "Inputs that ended with a value.", stats.inputs_completed);
  counter("inputs_failed_total", "Inputs that ended with the function's exception.",
          stats.inputs_failed);
  counter("inputs_cancelled_total", "Inputs cancelled while pending.", stats.inputs_cancelled);
  counter("inputs_timed_out_total", "Inputs not started before their timeout.",
          stats.inputs_timed_out);
  counter("inputs_closed_total", "Pending inputs failed by shutdown.", stats.inputs_closed);
  counter("inputs_lost_total", "Inputs that ended with worker_lost.", stats.inputs_lost);
  counter("inputs_enter_failed_total", "Pending inputs failed after repeated boot failures.",
          stats.inputs_enter_failed);
  counter("exit_failures_total", "Exit hooks that threw.", stats.exit_failures);
  return out;
}

}  // namespace warmpool
