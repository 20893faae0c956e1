// HybridHistogramPolicy: learning idle gaps, predicting keep-alive windows from the bin edges,
// falling back while the histogram is not representative, and validating its settings.

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <warmpool/hybrid_histogram.hpp>
#include <warmpool/settings.hpp>

namespace {

using namespace std::chrono_literals;
using warmpool::HybridHistogramPolicy;
using warmpool::KeepAliveWindows;
using Config = HybridHistogramPolicy::Config;

/// Records `gap` `times` times.
void record(HybridHistogramPolicy& policy, std::chrono::nanoseconds gap, std::size_t times = 1) {
  for (std::size_t i = 0; i < times; ++i) policy.record_idle_gap(gap);
}

/// Records one gap in the middle of each of the bins 0 .. count - 1 (default 1-minute bins).
void spread_over_bins(HybridHistogramPolicy& policy, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    policy.record_idle_gap(std::chrono::minutes(i) + 30s);
  }
}

/// The message of the std::invalid_argument the constructor throws, or a marker.
std::string construction_error(const Config& config) {
  try {
    HybridHistogramPolicy policy(config);
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (...) {
    return "<another exception>";
  }
  return "<no exception>";
}

}  // namespace

TEST_CASE("the defaults are the paper's and nothing is predicted before learning") {
  const HybridHistogramPolicy policy;
  const Config& c = policy.config();
  CHECK(c.bin_width == 1min);
  CHECK(c.range == 4h);
  CHECK(c.head_percentile == 5.0);
  CHECK(c.tail_percentile == 99.0);
  CHECK(c.margin == 0.10);
  CHECK(c.min_samples == 10);
  CHECK(c.min_cv == 2.0);
  CHECK(c.max_out_of_range_share == 0.5);
  CHECK(policy.samples() == 0);
  CHECK(policy.out_of_range() == 0);
  CHECK_FALSE(policy.representative());
  CHECK_FALSE(policy.windows().has_value());
}

TEST_CASE("falls back while fewer than min_samples gaps were learned") {
  HybridHistogramPolicy policy;
  record(policy, 10min + 5s, 9);
  CHECK(policy.samples() == 9);
  CHECK_FALSE(policy.representative());
  CHECK_FALSE(policy.windows().has_value());

  record(policy, 10min + 5s);
  CHECK(policy.samples() == 10);
  CHECK(policy.representative());
  CHECK(policy.windows().has_value());
}

TEST_CASE("falls back on a flat histogram: coefficient of variation under min_cv") {
  // k gaps in k distinct bins of 240 have a coefficient of variation of sqrt(240 / k - 1).
  SUBCASE("one gap in every bin: CV 0") {
    HybridHistogramPolicy policy;
    spread_over_bins(policy, 240);
    CHECK(policy.samples() == 240);
    CHECK_FALSE(policy.representative());
    CHECK_FALSE(policy.windows().has_value());
  }
  SUBCASE("49 bins: CV 1.97") {
    HybridHistogramPolicy policy;
    spread_over_bins(policy, 49);
    CHECK_FALSE(policy.representative());
    CHECK_FALSE(policy.windows().has_value());
  }
  SUBCASE("48 bins: CV exactly 2 is enough") {
    HybridHistogramPolicy policy;
    spread_over_bins(policy, 48);
    CHECK(policy.representative());
    // Head: rank ceil(0.05 * 48) = 3, bin 2; tail: rank ceil(0.99 * 48) = 48, bin 47.
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 108s,  // 2 min * 0.9
                                               .keep_until = 3168s});  // 48 min * 1.1
  }
  SUBCASE("min_cv 0 trusts even a flat histogram") {
    HybridHistogramPolicy policy(Config{.min_cv = 0.0});
    spread_over_bins(policy, 240);
    CHECK(policy.representative());
    // Head: rank 12, bin 11; tail: rank ceil(0.99 * 240) = 238, bin 237.
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 594s,    // 11 min * 0.9
                                               .keep_until = 15'708s});  // 238 min * 1.1
  }
}

TEST_CASE("learns a periodic pattern from the bin edges") {
  SUBCASE("gaps of 10 min +- a few seconds straddle bins 9 and 10") {
    HybridHistogramPolicy policy;
    for (const auto jitter : {1s, 2s, 3s, 4s, 5s, 1s, 2s, 3s, 4s, 5s}) {
      policy.record_idle_gap(10min - jitter);
      policy.record_idle_gap(10min + jitter);
    }
    CHECK(policy.samples() == 20);
    // Head in bin 9 [9, 10) min, tail in bin 10 [10, 11) min.
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 486s,  // 9 min * 0.9
                                               .keep_until = 726s});   // 11 min * 1.1
  }
  SUBCASE("gaps just over 10 min all fall in bin 10") {
    HybridHistogramPolicy policy;
    for (const auto jitter : {1s, 2s, 3s, 4s, 5s, 6s, 7s, 8s, 9s, 10s}) {
      policy.record_idle_gap(10min + jitter);
    }
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 540s,  // 10 min * 0.9
                                               .keep_until = 726s});   // 11 min * 1.1
  }
}

TEST_CASE("bimodal gaps: the percentiles are nearest ranks over the binned gaps") {
  HybridHistogramPolicy policy;
  record(policy, 2min + 10s);
  record(policy, 30min + 20s, 19);
  // 20 gaps: the head is rank 1 (the 2-minute gap), the tail rank 20.
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 108s,  // 2 min * 0.9
                                             .keep_until = 2046s});  // 31 min * 1.1

  record(policy, 30min + 20s, 20);
  // 40 gaps: the head is rank 2, already in the 30-minute mode.
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 1620s,  // 30 min * 0.9
                                             .keep_until = 2046s});
}

TEST_CASE("the 99th percentile ignores rare long gaps") {
  HybridHistogramPolicy policy;
  record(policy, 5min + 1s, 198);
  record(policy, 3h + 1s, 2);
  // 200 gaps: the tail is rank 198, the last of the 5-minute gaps.
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 270s,  // 5 min * 0.9
                                             .keep_until = 396s});   // 6 min * 1.1
  record(policy, 3h + 1s);
  // 201 gaps: rank ceil(198.99) = 199 reaches the 3-hour gaps.
  CHECK(policy.windows() ==
        KeepAliveWindows{.prewarm_after = 270s, .keep_until = 11'946s});  // 181 min * 1.1
}

TEST_CASE("a head in bin 0 keeps the capacity warm throughout") {
  HybridHistogramPolicy policy;
  record(policy, 20s, 5);
  record(policy, 40s, 5);
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 0s,  // bin 0
                                             .keep_until = 66s});  // 1 min * 1.1
}

TEST_CASE("negative gaps count as 0") {
  HybridHistogramPolicy policy;
  record(policy, -2h, 10);
  CHECK(policy.samples() == 10);
  CHECK(policy.out_of_range() == 0);
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 0s, .keep_until = 66s});
}

TEST_CASE("gaps of range or longer are counted out of range, not binned") {
  HybridHistogramPolicy policy;
  policy.record_idle_gap(4h);
  CHECK(policy.out_of_range() == 1);
  CHECK(policy.samples() == 0);

  record(policy, 4h - 1ns, 10);  // the last bin
  CHECK(policy.out_of_range() == 1);
  CHECK(policy.samples() == 10);
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 12'906s,  // 239 min * 0.9
                                             .keep_until = 15'840s});   // 240 min * 1.1
}

TEST_CASE("falls back when more than max_out_of_range_share of the gaps were out of range") {
  HybridHistogramPolicy policy;
  record(policy, 10min + 5s, 10);
  record(policy, 5h, 10);
  CHECK(policy.out_of_range() == 10);
  // Exactly half is not more than half.
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 540s, .keep_until = 726s});

  record(policy, 5h);
  CHECK(policy.out_of_range() == 11);
  CHECK(policy.representative());  // the histogram itself is fine
  CHECK_FALSE(policy.windows().has_value());

  record(policy, 10min + 5s);  // 11 of 22 again
  CHECK(policy.windows().has_value());
}

TEST_CASE("max_out_of_range_share 1 never falls back for out-of-range gaps") {
  HybridHistogramPolicy policy(Config{.max_out_of_range_share = 1.0});
  record(policy, 10min + 5s, 10);
  record(policy, 5h, 1000);
  CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 540s, .keep_until = 726s});
}

TEST_CASE("custom bin width, range, percentiles and margin") {
  const Config config{.bin_width = 10s,
                      .range = 10min,
                      .head_percentile = 25.0,
                      .tail_percentile = 75.0,
                      .margin = 0.0,
                      .min_samples = 4,
                      .min_cv = 0.0};
  SUBCASE("quartiles of four gaps") {
    HybridHistogramPolicy policy(config);
    for (const auto gap : {15s, 35s, 55s, 75s}) policy.record_idle_gap(gap);  // bins 1, 3, 5, 7
    // Head: rank 1, bin 1 [10, 20) s; tail: rank 3, bin 5 [50, 60) s.
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 10s, .keep_until = 60s});
  }
  SUBCASE("a margin of one half") {
    Config halves = config;
    halves.margin = 0.5;
    HybridHistogramPolicy policy(halves);
    for (const auto gap : {15s, 35s, 55s, 75s}) policy.record_idle_gap(gap);
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 5s, .keep_until = 90s});
  }
  SUBCASE("percentiles 0 and 100 are the shortest and longest gaps") {
    Config extremes = config;
    extremes.head_percentile = 0.0;
    extremes.tail_percentile = 100.0;
    HybridHistogramPolicy policy(extremes);
    for (const auto gap : {15s, 35s, 55s, 75s}) policy.record_idle_gap(gap);
    CHECK(policy.windows() == KeepAliveWindows{.prewarm_after = 10s, .keep_until = 80s});
  }
  SUBCASE("the range is the custom one") {
    HybridHistogramPolicy policy(config);
    policy.record_idle_gap(10min);
    policy.record_idle_gap(10min - 1ns);
    CHECK(policy.out_of_range() == 1);
    CHECK(policy.samples() == 1);
  }
}

TEST_CASE("the configuration is validated with the field and its range") {
  CHECK(construction_error(Config{.bin_width = 0ms}) == "bin_width (0ms) must be > 0ms");
  CHECK(construction_error(Config{.bin_width = -1ms}) == "bin_width (-1ms) must be > 0ms");
  CHECK(construction_error(Config{.range = 0ms}) ==
        "range (0ms) must be a positive multiple of bin_width (60000ms)");
  CHECK(construction_error(Config{.range = 90s}) ==
        "range (90000ms) must be a positive multiple of bin_width (60000ms)");
  CHECK(construction_error(Config{.bin_width = 1ms, .range = 1'000'001ms}) ==
        "range (1000001ms) must be <= 1000000 * bin_width (1ms)");
  CHECK(construction_error(Config{.head_percentile = -1.0}) ==
        "head_percentile (-1.000000) must be in [0, 100]");
  CHECK(construction_error(Config{.head_percentile = std::nan("")}) != "<no exception>");
  CHECK(construction_error(Config{.tail_percentile = 4.0}) ==
        "tail_percentile (4.000000) must be in [head_percentile (5.000000), 100]");
  CHECK(construction_error(Config{.tail_percentile = 100.5}) ==
        "tail_percentile (100.500000) must be in [head_percentile (5.000000), 100]");
  CHECK(construction_error(Config{.margin = -0.1}) == "margin (-0.100000) must be in [0, 1]");
  CHECK(construction_error(Config{.margin = 1.5}) == "margin (1.500000) must be in [0, 1]");
  CHECK(construction_error(Config{.min_samples = 0}) == "min_samples (0) must be >= 1");
  CHECK(construction_error(Config{.min_cv = -0.5}) == "min_cv (-0.500000) must be >= 0");
  CHECK(construction_error(Config{.max_out_of_range_share = 1.01}) ==
        "max_out_of_range_share (1.010000) must be in [0, 1]");

  // The bounds themselves are valid.
  CHECK(construction_error(Config{.bin_width = 1ms, .range = 1'000'000ms}) == "<no exception>");
  CHECK(construction_error(Config{.bin_width = 4h}) == "<no exception>");
  CHECK(construction_error(Config{.head_percentile = 0.0, .tail_percentile = 0.0}) ==
        "<no exception>");
  CHECK(construction_error(Config{.head_percentile = 100.0, .tail_percentile = 100.0}) ==
        "<no exception>");
  CHECK(construction_error(Config{.margin = 0.0}) == "<no exception>");
  CHECK(construction_error(Config{.margin = 1.0}) == "<no exception>");
  CHECK(construction_error(Config{.min_samples = 1, .min_cv = 0.0}) == "<no exception>");
  CHECK(construction_error(Config{.max_out_of_range_share = 0.0}) == "<no exception>");
}

TEST_CASE("the policy plugs into Options::keep_alive") {
  warmpool::Options options;
  auto policy = std::make_shared<HybridHistogramPolicy>(Config{.min_samples = 1});
  options.keep_alive = policy;
  options.keep_alive->record_idle_gap(3min + 1s);
  CHECK(policy->samples() == 1);
  CHECK(options.keep_alive->windows() ==
        std::optional<KeepAliveWindows>(KeepAliveWindows{.prewarm_after = 162s,  // 3 min * 0.9
                                                         .keep_until = 264s}));  // 4 min * 1.1
}
