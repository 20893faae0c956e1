#pragma once
/// @file hybrid_histogram.hpp
/// @brief `HybridHistogramPolicy`: a predictive keep-alive policy after Shahrad et al.,
/// "Serverless in the Wild: Characterizing and Optimizing the Serverless Workload at a
/// Large Cloud Provider" (USENIX ATC 2020), the "hybrid histogram" policy.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "keep_alive.hpp"
#include "settings.hpp"

namespace warmpool {

/// @brief Learns the pool's idle gaps in a range-limited histogram and predicts when the
/// next input will arrive: capacity is released right after the pool drains, warmed again
/// shortly before the earliest expected arrival, and kept until the latest expected one.
///
/// **Learning.** A gap `g` (negative ones count as 0) with `g < range` is counted in bin
/// `floor(g / bin_width)`, which covers `[i * bin_width, (i + 1) * bin_width)`; a gap
/// `>= range` is counted in `out_of_range()` only. Memory is fixed: `range / bin_width`
/// counters, allocated by the constructor.
///
/// **Deciding.** `windows()` uses the nearest-rank percentiles of the binned gaps
/// (rank `max(1, ceil(p / 100 * samples()))`):
/// - `prewarm_after` = lower edge of the bin of the `head_percentile` * (1 - `margin`); 0
///   when that is bin 0, so the capacity is simply kept warm;
/// - `keep_until` = upper edge of the bin of the `tail_percentile` * (1 + `margin`).
///
/// **Falling back.** Like the paper, `windows()` has no value (so the fixed
/// `Autoscaler::idle_timeout` applies) while the histogram is not `representative()`:
/// fewer than `min_samples` binned gaps, or a coefficient of variation of the bin counts
/// (population standard deviation / mean, over all bins) below `min_cv`, i.e. the gaps are
/// spread too evenly to predict. With `b` bins that coefficient is at most `sqrt(b - 1)`,
/// so a histogram of fewer than 5 bins never reaches the default `min_cv` of 2. Where the
/// paper switches to an ARIMA forecast because too many gaps exceed the range, this policy
/// falls back as well: when out-of-range gaps are more than `max_out_of_range_share` of
/// all gaps seen.
///
/// Thread-safety: none; the Controller calls a policy under its body's lock, and one
/// instance serves one pool. Example:
/// @code
/// using namespace std::chrono_literals;
/// warmpool::Options options;
/// options.keep_alive = std::make_shared<warmpool::HybridHistogramPolicy>(
///     warmpool::HybridHistogramPolicy::Config{.bin_width = 30s, .range = 2h});
/// warmpool::Pool<Model> pool(options);
/// @endcode
class HybridHistogramPolicy final : public KeepAlivePolicy {
 public:
  /// @brief Settings of the policy; the defaults are the paper's.
  struct Config {
    /// @brief Width of one bin; > 0.
    std::chrono::milliseconds bin_width{std::chrono::minutes(1)};
    /// @brief Longest gap the histogram holds (exclusive); a multiple of `bin_width`, at
    /// most `max_bins` bins.
    std::chrono::milliseconds range{std::chrono::hours(4)};
    /// @brief Percentile (in [0, 100]) of the gaps that sets the pre-warm window.
    double head_percentile = 5.0;
    /// @brief Percentile (in [head_percentile, 100]) of the gaps that sets the keep-alive
    /// window.
    double tail_percentile = 99.0;
    /// @brief Safety margin in [0, 1]: the pre-warm window shrinks and the keep-alive
    /// window grows by this fraction.
    double margin = 0.10;
    /// @brief Binned gaps needed before the histogram is trusted; >= 1. The paper gives no
    /// number; 10 is ours.
    std::size_t min_samples = 10;
    /// @brief Coefficient of variation of the bin counts needed before the histogram is
    /// trusted; >= 0.
    double min_cv = 2.0;
    /// @brief Share of out-of-range gaps among all gaps, in [0, 1], above which the policy
    /// falls back.
    double max_out_of_range_share = 0.5;
  };

  /// @brief Most bins a `Config` may ask for (8 MB of counters).
  static constexpr std::size_t max_bins = 1'000'000;

  /// @brief A policy with the paper's settings: 1-minute bins over 4 hours, 5th / 99th
  /// percentiles, 10% margin.
  HybridHistogramPolicy() : HybridHistogramPolicy(Config{}) {}

  /// @brief A policy with the given settings.
  /// @throws std::invalid_argument naming the first bad field and its allowed range.
  explicit HybridHistogramPolicy(const Config& config)
      : config_(validated(config)), bins_(bin_count(config)) {}

  /// @brief Learns one idle gap: bins it, or counts it as out of range.
  void record_idle_gap(std::chrono::nanoseconds gap) override {
    const std::chrono::nanoseconds clamped = std::max(gap, std::chrono::nanoseconds::zero());
    if (clamped >= config_.range) {
      ++out_of_range_;
      return;
    }
    ++bins_[static_cast<std::size_t>(clamped / config_.bin_width)];
    ++samples_;
  }

  /// @brief The windows predicted from the gaps so far; no value while the histogram is
  /// not `representative()` or too many gaps were out of range.
  std::optional<KeepAliveWindows> windows() const override {
    if (!representative() || too_many_out_of_range()) return std::nullopt;
    const std::size_t head = bin_of_percentile(config_.head_percentile);
    const std::size_t tail = bin_of_percentile(config_.tail_percentile);
    return KeepAliveWindows{.prewarm_after = scaled(lower_edge(head), 1.0 - config_.margin),
                            .keep_until = scaled(upper_edge(tail), 1.0 + config_.margin)};
  }

  /// @brief Gaps counted in the histogram (shorter than `range`).
  std::uint64_t samples() const noexcept { return samples_; }

  /// @brief Gaps not counted in the histogram because they were `>= range`.
  std::uint64_t out_of_range() const noexcept { return out_of_range_; }

  /// @brief Whether the histogram holds at least `min_samples` gaps and the coefficient
  /// of variation of its bin counts is at least `min_cv`.
  bool representative() const noexcept {
    return samples_ >= config_.min_samples && coefficient_of_variation() >= config_.min_cv;
  }

  /// @brief The settings in force.
  const Config& config() const noexcept { return config_; }

 private:
  static const Config& validated(const Config& c) {
    using detail::describe;
    using detail::require;
    require(c.bin_width.count() > 0, "bin_width", c.bin_width, "> 0ms");
    require(c.range >= c.bin_width && (c.range % c.bin_width).count() == 0, "range", c.range,
            "a positive multiple of bin_width (" + describe(c.bin_width) + ")");
    require(bin_count(c) <= max_bins, "range", c.range,
            "<= " + describe(max_bins) + " * bin_width (" + describe(c.bin_width) + ")");
    require(c.head_percentile >= 0.0 && c.head_percentile <= 100.0, "head_percentile",
            c.head_percentile, "in [0, 100]");
    require(c.tail_percentile >= c.head_percentile && c.tail_percentile <= 100.0, "tail_percentile",
            c.tail_percentile, "in [head_percentile (" + describe(c.head_percentile) + "), 100]");
    require(c.margin >= 0.0 && c.margin <= 1.0, "margin", c.margin, "in [0, 1]");
    require(c.min_samples >= 1, "min_samples", c.min_samples, ">= 1");
    require(c.min_cv >= 0.0, "min_cv", c.min_cv, ">= 0");
    require(c.max_out_of_range_share >= 0.0 && c.max_out_of_range_share <= 1.0,
            "max_out_of_range_share", c.max_out_of_range_share, "in [0, 1]");
    return c;
  }

  static std::size_t bin_count(const Config& c) {
    return static_cast<std::size_t>(c.range / c.bin_width);
  }

  /// Population standard deviation / mean of the bin counts: sqrt(b * sum(k^2) / n^2 - 1)
  /// for b bins holding n gaps; 0 when empty.
  double coefficient_of_variation() const noexcept {
    if (samples_ == 0) return 0.0;
    double sum_of_squares = 0.0;
    for (const std::uint64_t k : bins_) {
      sum_of_squares += static_cast<double>(k) * static_cast<double>(k);
    }
    const auto n = static_cast<double>(samples_);
    const double ratio = static_cast<double>(bins_.size()) * sum_of_squares / (n * n);
    return std::sqrt(std::max(0.0, ratio - 1.0));
  }

  bool too_many_out_of_range() const noexcept {
    const auto all = static_cast<double>(samples_ + out_of_range_);
    return static_cast<double>(out_of_range_) > config_.max_out_of_range_share * all;
  }

  /// The bin holding the nearest-rank `percentile` of the binned gaps (samples_ > 0).
  std::size_t bin_of_percentile(double percentile) const noexcept {
    const double exact_rank = std::ceil(percentile * static_cast<double>(samples_) / 100.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(exact_rank));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bins_.size(); ++i) {
      seen += bins_[i];
      if (seen >= rank) return i;
    }
    return bins_.size() - 1;
  }

  std::chrono::nanoseconds lower_edge(std::size_t bin) const noexcept {
    return config_.bin_width * static_cast<std::int64_t>(bin);
  }

  std::chrono::nanoseconds upper_edge(std::size_t bin) const noexcept {
    return lower_edge(bin + 1);
  }

  static std::chrono::nanoseconds scaled(std::chrono::nanoseconds d, double factor) noexcept {
    return std::chrono::round<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::nano>(static_cast<double>(d.count()) * factor));
  }

  Config config_;
  std::vector<std::uint64_t> bins_;
  std::uint64_t samples_ = 0;
  std::uint64_t out_of_range_ = 0;
};

}  // namespace warmpool
