#pragma once
// The keep-alive trade-off: each setting is a point (idle worker-seconds, mean per-function
// cold-start fraction); the fixed idle timeouts trace a curve, and a candidate policy
// "lies below the curve" when it has fewer cold starts than the fixed timeouts give for
// the same idle worker-seconds. Used by `warmpool-sim proof` and `--plot`.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tradeoff {

/// One setting's cost of warmth and its cold starts.
struct Point {
  std::string label;
  double idle_worker_seconds = 0;
  double cold_start_fraction = 0;  // the mean over functions
};

/// Where the curve stands at some idle worker-seconds, and which points gave it.
struct Reading {
  double cold_start_fraction = 0;
  std::string where;  // e.g. "between 30s and 1m", "at 10s", "cheaper than 10s"
};

/// The points of the fixed timeouts ordered by idle worker-seconds (ties in the given
/// order), joined piecewise linearly.
class Curve {
 public:
  /// Throws std::invalid_argument when `points` is empty.
  explicit Curve(std::vector<Point> points) : points_(std::move(points)) {
    if (points_.empty()) throw std::invalid_argument("a curve needs at least one point");
    std::stable_sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
      return a.idle_worker_seconds < b.idle_worker_seconds;
    });
  }

  const std::vector<Point>& points() const { return points_; }

  /// The curve at `idle` worker-seconds: exactly a point's fraction at its idle
  /// worker-seconds (the lowest of points there), linear between adjacent points, the
  /// cheapest point's fraction below it; no value above the most expensive point, where
  /// nothing was measured.
  std::optional<Reading> at(double idle) const {
    const Point& cheapest = points_.front();
    if (idle < cheapest.idle_worker_seconds) {
      return Reading{cheapest.cold_start_fraction, "cheaper than " + cheapest.label};
    }
    if (std::optional<Reading> exact = at_point(idle)) return exact;
    for (std::size_t i = 0; i + 1 < points_.size(); ++i) {
      const Point& a = points_[i];
      const Point& b = points_[i + 1];
      if (a.idle_worker_seconds < idle && idle < b.idle_worker_seconds) {
        const double t =
            (idle - a.idle_worker_seconds) / (b.idle_worker_seconds - a.idle_worker_seconds);
        return Reading{a.cold_start_fraction + t * (b.cold_start_fraction - a.cold_start_fraction),
                       "between " + a.label + " and " + b.label};
      }
    }
    return std::nullopt;
  }

  /// Whether `candidate` lies strictly below the curve: the curve is defined at its idle
  /// worker-seconds and gives more cold starts there.
  bool below(const Point& candidate) const {
    const std::optional<Reading> curve = at(candidate.idle_worker_seconds);
    return curve && candidate.cold_start_fraction < curve->cold_start_fraction;
  }

 private:
  std::optional<Reading> at_point(double idle) const {
    std::optional<Reading> lowest;
    for (const Point& p : points_) {
      if (p.idle_worker_seconds != idle) continue;
      if (!lowest || p.cold_start_fraction < lowest->cold_start_fraction) {
        lowest = Reading{p.cold_start_fraction, "at " + p.label};
      }
    }
    return lowest;
  }

  std::vector<Point> points_;
};

}  // namespace tradeoff
