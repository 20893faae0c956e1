#pragma once
/// @file prometheus.hpp
/// @brief `to_prometheus`: a `Stats` snapshot in the Prometheus text exposition format.

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "histogram.hpp"
#include "stats.hpp"

namespace warmpool {
namespace detail {

/// A label value with `\`, `"` and newline escaped, as the text format requires.
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

/// `value` as Prometheus parses it, independent of the locale: the shortest round-trip
/// form (`0.25`, `1e-07`), or `NaN`, `+Inf`, `-Inf`.
inline std::string prometheus_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

/// `value` as a decimal integer.
template <std::unsigned_integral Count>
std::string prometheus_number(Count value) {
  return std::to_string(value);
}

/// A duration in seconds.
inline double prometheus_seconds(std::chrono::nanoseconds value) {
  return std::chrono::duration<double>(value).count();
}

/// Builds an exposition: families (HELP and TYPE) and their samples, each sample
/// labelled with the pool first. Names are given without the `warmpool_` prefix; extra
/// labels as `key="escaped value"` pairs joined by commas.
class PrometheusText {
 public:
  explicit PrometheusText(std::string_view pool_name)
      : pool_label_("pool=\"" + prometheus_label_value(pool_name) + "\"") {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP warmpool_").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE warmpool_").append(name).append(" ").append(type).append("\n");
  }

  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_.append("warmpool_").append(name).append("{").append(pool_label_);
    if (!labels.empty()) out_.append(",").append(labels);
    out_.append("} ").append(value).append("\n");
  }

  template <class Number>
  void gauge(std::string_view name, std::string_view help, Number value) {
    family(name, "gauge", help);
    sample(name, "", prometheus_number(value));
  }

  /// `name` ends in `_total`.
  template <class Number>
  void counter(std::string_view name, std::string_view help, Number value) {
    family(name, "counter", help);
    sample(name, "", prometheus_number(value));
  }

  /// The quantile, `_sum` and `_count` samples of one summary, in seconds; quantiles are
  /// `NaN` when nothing was recorded (as Prometheus' own clients report them).
  void summary_samples(std::string_view name, const std::string& labels,
                       const LatencySummary& latency) {
    const std::string prefix = labels.empty() ? "" : labels + ",";
    const std::array<std::pair<std::string_view, std::chrono::nanoseconds>, 3> quantiles{{
        {"0.5", latency.p50},
        {"0.9", latency.p90},
        {"0.99", latency.p99},
    }};
    for (const auto& [quantile, value] : quantiles) {
      const double seconds =
          latency.count == 0 ? std::numeric_limits<double>::quiet_NaN() : prometheus_seconds(value);
      sample(name, prefix + "quantile=\"" + std::string(quantile) + "\"",
             prometheus_number(seconds));
    }
    const std::string base(name);
    sample(base + "_sum", labels, prometheus_number(prometheus_seconds(latency.total)));
    sample(base + "_count", labels, prometheus_number(latency.count));
  }

  std::string take() && { return std::move(out_); }

 private:
  std::string pool_label_;
  std::string out_;
};

inline void prometheus_gauges(PrometheusText& text, const Stats& stats) {
  text.family("workers", "gauge", "Live workers by state.");
  const std::array<std::pair<std::string_view, std::uint64_t>, 3> states{{
      {"booting", stats.workers_booting},
      {"idle", stats.workers_idle},
      {"busy", stats.workers_busy},
  }};
  for (const auto& [state, count] : states) {
    text.sample("workers", "state=\"" + std::string(state) + "\"", prometheus_number(count));
  }
  text.gauge("target_workers", "Live workers the autoscaler aims for.", stats.target_workers);
  text.gauge("inputs_pending", "Accepted inputs not started yet.", stats.inputs_pending);
  text.gauge("inputs_running", "Inputs started and not finished.", stats.inputs_running);
  text.gauge("inputs_retrying", "Inputs that threw and wait for their retry delay.",
             stats.inputs_retrying);
}

inline void prometheus_settings(PrometheusText& text, const Stats& stats) {
  const Autoscaler& a = stats.autoscaler;
  text.gauge("min_warm", "Setting: workers kept warm even with no traffic.", a.min_warm);
  text.gauge("max_workers", "Setting: most live workers.", a.max_workers);
  text.gauge("buffer", "Setting: extra warm workers beyond demand while busy.", a.buffer);
  text.gauge("idle_timeout_seconds", "Setting: idle time before a worker is evicted.",
             prometheus_seconds(a.idle_timeout));
  text.gauge("max_inputs", "Setting: concurrent inputs per worker.", stats.max_inputs);
  text.gauge("max_pending", "Setting: most inputs that may wait.", stats.max_pending);
}

inline void prometheus_input_counters(PrometheusText& text, const Stats& stats) {
  text.counter("inputs_submitted_total", "Inputs accepted.", stats.inputs_submitted);
  text.counter("inputs_rejected_total", "Inputs refused at submit.", stats.inputs_rejected);
  text.counter("cold_inputs_total", "Input starts that waited for a boot.", stats.cold_inputs);
  text.counter("warm_inputs_total", "Input starts on an already warm worker.", stats.warm_inputs);
  text.counter("inputs_retried_total", "Retries scheduled after an input threw.",
               stats.inputs_retried);
  text.counter("inputs_rerun_total", "Re-runs after an input's worker was lost.",
               stats.inputs_rerun);
  text.counter("inputs_completed_total", "Inputs that ended with a value.", stats.inputs_completed);
  text.counter("inputs_failed_total", "Inputs that ended with the function's exception.",
               stats.inputs_failed);
  text.counter("inputs_cancelled_total", "Inputs cancelled while pending.", stats.inputs_cancelled);
  text.counter("inputs_timed_out_total", "Inputs not started before their timeout.",
               stats.inputs_timed_out);
  text.counter("inputs_closed_total", "Pending inputs failed by shutdown.", stats.inputs_closed);
  text.counter("inputs_lost_total", "Inputs that ended with worker_lost.", stats.inputs_lost);
  text.counter("inputs_enter_failed_total", "Pending inputs failed after repeated boot failures.",
               stats.inputs_enter_failed);
}

inline void prometheus_worker_counters(PrometheusText& text, const Stats& stats) {
  text.counter("boots_total", "Boots started.", stats.boots);
  text.counter("boot_failures_total", "Boots whose factory or enter hook threw.",
               stats.boot_failures);
  text.counter("exit_failures_total", "Exit hooks that threw.", stats.exit_failures);
  text.family("evictions_total", "counter", "Warm workers stopped, by reason.");
  const std::array<std::pair<std::string_view, std::uint64_t>, 7> reasons{{
      {"idle", stats.evicted_idle},
      {"surplus", stats.evicted_surplus},
      {"lost", stats.evicted_lost},
      {"shutdown", stats.evicted_shutdown},
      {"lifetime", stats.evicted_lifetime},
      {"uses", stats.evicted_uses},
      {"unhealthy", stats.evicted_unhealthy},
  }};
  for (const auto& [reason, count] : reasons) {
    text.sample("evictions_total", "reason=\"" + std::string(reason) + "\"",
                prometheus_number(count));
  }
  text.counter("idle_worker_seconds_total", "Worker-seconds spent warm and idle.",
               stats.idle_worker_seconds);
  text.counter("busy_worker_seconds_total", "Worker-seconds spent warm and busy.",
               stats.busy_worker_seconds);
}

/// One latency summary family of `Stats`.
struct PrometheusLatency {
  std::string_view name;
  std::string_view help;
  const LatencySummary& latency;
};

inline void prometheus_latencies(PrometheusText& text, const Stats& stats) {
  const std::array<PrometheusLatency, 4> families{{
      {"queue_wait_seconds", "Time from an input's arrival (or its queuing again) to its start.",
       stats.queue_wait},
      {"boot_seconds", "Time from the decision to boot to warm.", stats.boot_time},
      {"first_input_seconds", "Run time of the first input each worker served.", stats.first_input},
      {"later_input_seconds", "Run time of every later input.", stats.later_input},
  }};
  for (const PrometheusLatency& family : families) {
    text.family(family.name, "summary", family.help);
    text.summary_samples(family.name, "", family.latency);
  }
}

inline void prometheus_enter_hooks(PrometheusText& text, const Stats& stats) {
  if (stats.enter_hooks.empty()) return;
  text.family("enter_hook_seconds", "summary", "Time each enter hook took, per hook.");
  for (const HookTime& hook : stats.enter_hooks) {
    text.summary_samples("enter_hook_seconds", "hook=\"" + prometheus_label_value(hook.name) + "\"",
                         hook.time);
  }
}

}  // namespace detail

/// @brief Renders `stats` in the Prometheus text format (version 0.0.4).
///
/// Every family has `# HELP` and `# TYPE` lines; every sample is labelled
/// `pool="<pool_name>"` (escaped). Gauges: `warmpool_workers{state=...}`, the other
/// gauges of `Stats` and the settings in force (`warmpool_min_warm`,
/// `warmpool_idle_timeout_seconds`, ...). Counters end in `_total`; evictions are one
/// family, `warmpool_evictions_total{reason="..."}`, reason one of `idle`, `surplus`,
/// `lost`, `shutdown`, `lifetime`, `uses`, `unhealthy`.
/// Latencies are summaries in seconds with quantiles 0.5, 0.9, 0.99 (`NaN` while empty)
/// plus `_sum` and `_count`; `warmpool_enter_hook_seconds` has a `hook` label per hook.
/// Numbers do not depend on the locale.
///
/// Thread-safety: pure function. Example:
/// @code
/// std::string body = warmpool::to_prometheus(pool.stats(), "inference");
/// // warmpool_workers{pool="inference",state="idle"} 2
/// // warmpool_evictions_total{pool="inference",reason="idle"} 5
/// // warmpool_queue_wait_seconds{pool="inference",quantile="0.99"} 0.0125
/// @endcode
inline std::string to_prometheus(const Stats& stats, std::string_view pool_name) {
  detail::PrometheusText text(pool_name);
  detail::prometheus_gauges(text, stats);
  detail::prometheus_settings(text, stats);
  detail::prometheus_input_counters(text, stats);
  detail::prometheus_worker_counters(text, stats);
  detail::prometheus_latencies(text, stats);
  detail::prometheus_enter_hooks(text, stats);
  return std::move(text).take();
}

}  // namespace warmpool
