// Tests of Histogram: percentiles against exact nearest-rank ones, summaries, edge cases
// and concurrent recording.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <warmpool/histogram.hpp>

namespace {

using namespace std::chrono_literals;
using warmpool::Histogram;

constexpr std::int64_t two_to(unsigned exponent) { return std::int64_t{1} << exponent; }

/// The exact nearest-rank `per_mille`/1000 quantile of `sorted` (integer arithmetic).
std::int64_t exact_quantile(const std::vector<std::int64_t>& sorted, std::uint64_t per_mille) {
  const std::uint64_t n = sorted.size();
  const std::uint64_t rank = std::max<std::uint64_t>(1, (per_mille * n + 999) / 1000);
  return sorted[rank - 1];
}

/// True when `reported` is within `Histogram::max_relative_error` (1/64) of `exact`.
bool within_error(std::int64_t reported, std::int64_t exact) {
  const std::int64_t diff = reported > exact ? reported - exact : exact - reported;
  return diff * 64 <= exact;
}

/// `count` durations spread log-uniformly over [1 ns, 2^45 ns], from a fixed seed (the
/// mt19937_64 sequence is fixed by the standard).
std::vector<std::int64_t> log_uniform_samples(std::size_t count) {
  std::mt19937_64 generator(20240611);
  std::vector<std::int64_t> samples;
  samples.reserve(count);
  const double top = std::log(static_cast<double>(two_to(45)));
  for (std::size_t i = 0; i < count; ++i) {
    const double unit = static_cast<double>(generator() >> 11) * 0x1p-53;  // [0, 1)
    samples.push_back(static_cast<std::int64_t>(std::exp(unit * top)));
  }
  return samples;
}

}  // namespace

TEST_CASE("histogram: an empty histogram reports zeros") {
  const Histogram h;
  CHECK(h.count() == 0);
  CHECK(h.max() == 0ns);
  CHECK(h.quantile(0.0) == 0ns);
  CHECK(h.quantile(0.5) == 0ns);
  CHECK(h.quantile(1.0) == 0ns);
  const warmpool::LatencySummary s = h.summary();
  CHECK(s.count == 0);
  CHECK(s.total == 0ns);
  CHECK(s.mean == 0ns);
  CHECK(s.p50 == 0ns);
  CHECK(s.p90 == 0ns);
  CHECK(s.p99 == 0ns);
  CHECK(s.max == 0ns);
}

TEST_CASE("histogram: values below 64 ns are exact at every rank") {
  Histogram h;
  for (std::int64_t v = 63; v >= 1; --v) h.record(std::chrono::nanoseconds(v));
  REQUIRE(h.count() == 63);
  for (std::int64_t k = 1; k <= 63; ++k) {
    CAPTURE(k);
    // (k - 0.5) / 63 of 63 values is rank k, away from any rounding of q * n.
    CHECK(h.quantile((static_cast<double>(k) - 0.5) / 63) == std::chrono::nanoseconds(k));
  }
  CHECK(h.quantile(0.0) == 1ns);
  CHECK(h.quantile(1.0) == 63ns);
}

TEST_CASE("histogram: 1..100 gives the nearest-rank percentiles within the error bound") {
  Histogram h;
  for (std::int64_t v = 100; v >= 1; --v) h.record(std::chrono::nanoseconds(v));
  CHECK(h.quantile(0.5) == 50ns);  // below 64 ns: exact
  CHECK(within_error(h.quantile(0.9).count(), 90));
  CHECK(within_error(h.quantile(0.99).count(), 99));
  // Ranks where q * n lands a hair above a whole number in floating point.
  for (const int percent : {7, 14, 28, 55, 56}) {
    CHECK(h.quantile(percent / 100.0) == std::chrono::nanoseconds(percent));
  }
  CHECK(h.quantile(std::nan("")) == 1ns);
  CHECK(h.quantile(1.0) == 100ns);  // never above the exact max
  CHECK(h.quantile(-1.0) == 1ns);   // q is clamped to [0, 1]
  CHECK(h.quantile(2.0) == 100ns);
}

TEST_CASE("histogram: percentiles of log-uniform samples are within max_relative_error") {
  static_assert(Histogram::max_relative_error == 1.0 / 64);
  std::vector<std::int64_t> samples = log_uniform_samples(20'000);
  Histogram h;
  for (const std::int64_t v : samples) h.record(std::chrono::nanoseconds(v));
  std::sort(samples.begin(), samples.end());
  REQUIRE(samples.front() < 64);         // the exact range is covered ...
  REQUIRE(samples.back() > two_to(44));  // ... and so are the widest buckets
  for (const std::uint64_t per_mille : {1, 10, 100, 250, 500, 750, 900, 990, 999, 1000}) {
    const std::int64_t exact = exact_quantile(samples, per_mille);
    const std::int64_t reported = h.quantile(static_cast<double>(per_mille) / 1000).count();
    CAPTURE(per_mille);
    CAPTURE(exact);
    CAPTURE(reported);
    CHECK(within_error(reported, exact));
  }
}

TEST_CASE("histogram: a percentile on a bucket's lower edge is off by exactly the bound") {
  Histogram edge;  // one bucket: [2^41, 2^41 + 2^36), reported as 2^41 + 2^35
  edge.record(std::chrono::nanoseconds(two_to(41)));
  edge.record(std::chrono::nanoseconds(two_to(41) + two_to(36) - 1));
  const std::int64_t reported = edge.quantile(0.5).count();
  CHECK(reported == two_to(41) + two_to(35));
  CHECK(within_error(reported, two_to(41)));
  CHECK_FALSE(within_error(reported + 1, two_to(41)));
}

TEST_CASE("histogram: summary has exact count, total, mean and max") {
  Histogram h;
  const std::vector<std::int64_t> values{5, 1'000, 250'000, 3'000'000, 7'000'000'000};
  std::int64_t total = 0;
  for (const std::int64_t v : values) {
    h.record(std::chrono::nanoseconds(v));
    total += v;
  }
  const warmpool::LatencySummary s = h.summary();
  CHECK(s.count == values.size());
  CHECK(s.total == std::chrono::nanoseconds(total));
  CHECK(s.mean == std::chrono::nanoseconds(total / static_cast<std::int64_t>(values.size())));
  CHECK(s.max == 7s);
  CHECK(s.p50 == h.quantile(0.5));
  CHECK(s.p90 == h.quantile(0.9));
  CHECK(s.p99 == h.quantile(0.99));
  CHECK(within_error(s.p50.count(), 250'000));
  CHECK(s.p90 == 7s);  // rank 5 of 5: the max bucket, clamped to the exact max
  CHECK(s.p99 == 7s);
}

TEST_CASE("histogram: negative durations count as zero") {
  Histogram h;
  h.record(-5ns);
  h.record(std::chrono::nanoseconds(-two_to(50)));
  CHECK(h.count() == 2);
  CHECK(h.max() == 0ns);
  CHECK(h.quantile(1.0) == 0ns);
  const warmpool::LatencySummary s = h.summary();
  CHECK(s.count == 2);
  CHECK(s.total == 0ns);
  CHECK(s.mean == 0ns);
  h.record(10ns);
  CHECK(h.quantile(0.5) == 0ns);
  CHECK(h.quantile(1.0) == 10ns);
}

TEST_CASE("histogram: durations of 2^46 ns and more share the overflow bucket") {
  Histogram h;
  const std::int64_t largest = two_to(50) + 7;
  h.record(1us);
  h.record(std::chrono::nanoseconds(two_to(46) - 1));  // the last regular bucket
  h.record(std::chrono::nanoseconds(two_to(46)));      // overflow from here on
  h.record(std::chrono::nanoseconds(3 * two_to(45)));
  h.record(std::chrono::nanoseconds(largest));
  CHECK(h.count() == 5);
  // Quantiles 0.1, 0.3, ... 0.9 are ranks 1 to 5 of 5.
  CHECK(within_error(h.quantile(0.1).count(), 1'000));
  CHECK(within_error(h.quantile(0.3).count(), two_to(46) - 1));
  CHECK(h.quantile(0.3).count() < two_to(46));
  // Every overflow rank reports the exact max, whatever its own value.
  CHECK(h.quantile(0.5).count() == largest);
  CHECK(h.quantile(0.7).count() == largest);
  CHECK(h.quantile(0.9).count() == largest);
  CHECK(h.max().count() == largest);
  CHECK(h.summary().total.count() ==
        1'000 + two_to(46) - 1 + two_to(46) + 3 * two_to(45) + largest);
}

TEST_CASE("histogram: concurrent records from several threads all count") {
  constexpr std::int64_t threads = 4;
  constexpr std::int64_t per_thread = 50'000;
  Histogram h;
  std::vector<std::thread> recorders;
  for (std::int64_t t = 0; t < threads; ++t) {
    recorders.emplace_back([&h, t] {
      for (std::int64_t i = 1; i <= per_thread; ++i) {
        h.record(std::chrono::nanoseconds(i * threads + t));  // distinct over all threads
      }
    });
  }
  for (std::thread& recorder : recorders) recorder.join();

  constexpr std::int64_t n = threads * per_thread;
  const warmpool::LatencySummary s = h.summary();
  CHECK(h.count() == static_cast<std::uint64_t>(n));
  CHECK(s.count == static_cast<std::uint64_t>(n));
  // The values are threads .. threads * (per_thread + 1) - 1, each once.
  const std::int64_t first = threads;
  const std::int64_t last = threads * (per_thread + 1) - 1;
  CHECK(s.total.count() == (first + last) * n / 2);
  CHECK(s.max.count() == last);
  CHECK(within_error(s.p50.count(), first + n / 2 - 1));
}

TEST_CASE("histogram: record_serialized gives what record gives") {
  Histogram shared;
  Histogram serialized;
  std::vector<std::int64_t> values = log_uniform_samples(10'000);
  values.push_back(-3);              // counts as zero: the minimum
  values.push_back(two_to(50) + 1);  // the overflow bucket: the maximum
  for (const std::int64_t v : values) {
    shared.record(std::chrono::nanoseconds(v));
    serialized.record_serialized(std::chrono::nanoseconds(v));
  }
  const warmpool::LatencySummary a = shared.summary();
  const warmpool::LatencySummary b = serialized.summary();
  CHECK(b.count == values.size());
  CHECK(b.count == a.count);
  CHECK(b.total == a.total);
  CHECK(b.max.count() == two_to(50) + 1);
  CHECK(b.max == a.max);
  for (const double q : {0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 1.0}) {
    CAPTURE(q);
    CHECK(serialized.quantile(q) == shared.quantile(q));
  }
  CHECK(serialized.quantile(0.0) == 0ns);  // the exact minimum, from the negative one
}
