#pragma once
/// @file histogram.hpp
/// @brief `Histogram`: a fixed-size, lock-free latency histogram with log-linear buckets,
/// and `LatencySummary`, what `Stats` reports of one.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace warmpool {

/// @brief Count, total, mean, p50 / p90 / p99 and max of recorded durations.
///
/// Percentiles are nearest-rank estimates within `Histogram::max_relative_error` of the
/// exact value; `total`, `mean` and `max` are exact. All zero when nothing was recorded.
struct LatencySummary {
  std::uint64_t count = 0;           ///< @brief Durations recorded.
  std::chrono::nanoseconds total{};  ///< @brief Their sum.
  std::chrono::nanoseconds mean{};   ///< @brief total / count.
  std::chrono::nanoseconds p50{};    ///< @brief Median.
  std::chrono::nanoseconds p90{};    ///< @brief 90th percentile.
  std::chrono::nanoseconds p99{};    ///< @brief 99th percentile.
  std::chrono::nanoseconds max{};    ///< @brief Largest.
};

/// @brief A histogram of durations in fixed memory (about 11 KB), safe to record into from
/// many threads at once without a lock.
///
/// Buckets are log-linear: exact below 64 ns, then 32 buckets per power of two up to
/// 2^46 ns (about 19.5 hours; longer durations share one overflow bucket, whose
/// percentiles report the exact `max`). A percentile is reported as the middle of its
/// bucket, clamped to the exact minimum and maximum seen, so it is within 1/64 (1.6%) of
/// the exact nearest-rank percentile. `record` is a few relaxed atomic
/// operations (`record_serialized`, for one recording thread at a time, fewer still);
/// readers see a consistent-enough view (a record in flight may be missing).
///
/// Thread-safety: every member may be called concurrently, except that
/// `record_serialized` calls must not overlap each other or `record`. Example:
/// @code
/// warmpool::Histogram h;
/// h.record(std::chrono::microseconds(250));
/// warmpool::LatencySummary s = h.summary();   // s.p50 ~ 250 us (+-1.6%)
/// @endcode
class Histogram {
 public:
  /// @brief Largest relative error of a reported percentile against the exact one.
  static constexpr double max_relative_error = 1.0 / 64;

  /// @brief Adds one duration (negative ones count as 0).
  void record(std::chrono::nanoseconds value) noexcept {
    const std::uint64_t v = non_negative(value);
    buckets_[index_of(v)].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(v, std::memory_order_relaxed);
    std::uint64_t seen = max_.load(std::memory_order_relaxed);
    while (v > seen && !max_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
    seen = min_.load(std::memory_order_relaxed);
    while (v < seen && !min_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
    }
  }

  /// @brief `record` for a histogram that one thread at a time records into (its calls
  /// serialized, e.g. under the caller's lock): the same result, without atomic
  /// read-modify-writes. Readers may still read meanwhile; a concurrent `record` or
  /// `record_serialized` may lose counts.
  void record_serialized(std::chrono::nanoseconds value) noexcept {
    const std::uint64_t v = non_negative(value);
    add(buckets_[index_of(v)], 1);
    add(total_, v);
    if (v > max_.load(std::memory_order_relaxed)) max_.store(v, std::memory_order_relaxed);
    if (v < min_.load(std::memory_order_relaxed)) min_.store(v, std::memory_order_relaxed);
  }

  /// @brief Durations recorded so far.
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& bucket : buckets_) n += bucket.load(std::memory_order_relaxed);
    return n;
  }

  /// @brief The nearest-rank `q`-quantile (`q` is clamped to [0, 1]; NaN counts as 0);
  /// 0 when empty.
  std::chrono::nanoseconds quantile(double q) const noexcept { return quantile_of(counts(), q); }

  /// @brief Count, total, mean, p50, p90, p99 and max in one pass.
  LatencySummary summary() const noexcept {
    const Counts c = counts();
    LatencySummary s;
    for (const std::uint64_t k : c) s.count += k;
    if (s.count == 0) return s;
    s.total = std::chrono::nanoseconds(total_.load(std::memory_order_relaxed));
    s.mean = s.total / static_cast<std::int64_t>(s.count);
    s.p50 = quantile_of(c, 0.50);
    s.p90 = quantile_of(c, 0.90);
    s.p99 = quantile_of(c, 0.99);
    s.max = max();
    return s;
  }

  /// @brief The largest duration recorded (exact); 0 when empty.
  std::chrono::nanoseconds max() const noexcept {
    return std::chrono::nanoseconds(max_.load(std::memory_order_relaxed));
  }

 private:
  static constexpr double epsilon = std::numeric_limits<double>::epsilon();
  static constexpr unsigned sub_bits = 5;
  static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;  // 32 per octave
  static constexpr unsigned top_exponent = 45;  // the last octave is [2^45, 2^46)
  static constexpr std::size_t overflow = (top_exponent - sub_bits + 2) * sub_count;
  static constexpr std::size_t bucket_count = overflow + 1;  // the last: 2^46 ns and more

  using Counts = std::array<std::uint64_t, bucket_count>;

  static std::uint64_t non_negative(std::chrono::nanoseconds value) noexcept {
    return value.count() < 0 ? 0 : static_cast<std::uint64_t>(value.count());
  }

  /// Adds to a counter that only the calling thread writes.
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < sub_count) return static_cast<std::size_t>(v);
    const auto exponent = static_cast<unsigned>(std::bit_width(v)) - 1;
    if (exponent > top_exponent) return overflow;
    const unsigned shift = exponent - sub_bits;  // bucket width: 2^shift
    return static_cast<std::size_t>(shift * sub_count + (v >> shift));
  }

  /// The middle of bucket `i` (its only value while buckets are 1 ns wide, below 64 ns);
  /// the overflow bucket reports the maximum.
  std::uint64_t middle_of(std::size_t i) const noexcept {
    if (i == overflow) return max_.load(std::memory_order_relaxed);
    if (i < 2 * sub_count) return i;
    const std::uint64_t shift = i / sub_count - 1;
    const std::uint64_t lower = (sub_count + i % sub_count) << shift;
    return lower + (std::uint64_t{1} << (shift - 1));
  }

  Counts counts() const noexcept {
    Counts c{};
    for (std::size_t i = 0; i < bucket_count; ++i) {
      c[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    return c;
  }

  std::chrono::nanoseconds quantile_of(const Counts& c, double q) const noexcept {
    std::uint64_t n = 0;
    for (const std::uint64_t k : c) n += k;
    if (n == 0) return std::chrono::nanoseconds(0);
    const double clamped = std::isnan(q) ? 0.0 : std::clamp(q, 0.0, 1.0);
    // q * n rounds up to the next rank when it lands a hair above a whole number.
    const double exact_rank = clamped * static_cast<double>(n) * (1 - 4 * epsilon);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(exact_rank)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += c[i];
      if (seen >= rank) {
        // Never outside what was seen: small samples are then often exact.
        const std::uint64_t at_least_min =
            std::max(middle_of(i), min_.load(std::memory_order_relaxed));
        const std::uint64_t estimate = std::min(at_least_min, max_.load(std::memory_order_relaxed));
        return std::chrono::nanoseconds(static_cast<std::int64_t>(estimate));
      }
    }
    return max();
  }

  std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> max_{0};
  std::atomic<std::uint64_t> min_{std::numeric_limits<std::uint64_t>::max()};
};

}  // namespace warmpool
