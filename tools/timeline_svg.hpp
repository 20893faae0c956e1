#pragma once
// Draws the timeline of a simulation as a self-contained SVG: stacked areas of busy,
// warm-idle and booting workers and a line of pending inputs over time, with axes, grid
// lines and a legend. No dependency beyond the standard library.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <warmpool/simulator.hpp>

#include "svg.hpp"

namespace timeline_svg {

namespace detail {

constexpr double chart_width = 880;
constexpr double chart_height = 360;
constexpr double left = 70;
constexpr double top = 50;
constexpr double legend_width = 190;
constexpr double bottom = 60;
constexpr int wanted_ticks = 6;

struct Series {
  const char* name;
  const char* color;
};
constexpr Series busy{"busy workers", "#2b6cb0"};
constexpr Series idle{"warm idle workers", "#90cdf4"};
constexpr Series booting{"booting workers", "#f6ad55"};
constexpr Series pending{"pending inputs", "#c53030"};

/// Average counts of one timeline step.
struct Averages {
  double busy;
  double idle;
  double booting;
  double pending;
};

inline std::vector<Averages> averages(const warmpool::SimulationResult& result) {
  const auto per_step = [&](std::chrono::nanoseconds t) {
    return static_cast<double>(t.count()) / static_cast<double>(result.timeline_step.count());
  };
  std::vector<Averages> out;
  out.reserve(result.timeline.size());
  for (const warmpool::TimelineBin& bin : result.timeline) {
    out.push_back(
        {per_step(bin.busy), per_step(bin.idle), per_step(bin.booting), per_step(bin.pending)});
  }
  return out;
}

using svg::coordinate;
using svg::number;

inline double tick_spacing(double largest) { return svg::tick_spacing(largest, wanted_ticks); }

/// The time axis: its unit and the seconds per unit.
struct TimeUnit {
  const char* name;
  double seconds;
};

inline TimeUnit time_unit(double total_seconds) {
  if (total_seconds >= 3 * 3600) return {"hours", 3600};
  if (total_seconds >= 3 * 60) return {"minutes", 60};
  return {"seconds", 1};
}

class Chart {
 public:
  Chart(std::ostream& out, std::size_t steps, double y_max)
      : out_(out), steps_(std::max<std::size_t>(steps, 1)), y_max_(y_max) {}

  double x(std::size_t step) const {
    return left + chart_width * static_cast<double>(step) / static_cast<double>(steps_);
  }
  double y(double value) const { return top + chart_height * (1 - value / y_max_); }

  /// A stacked band between `lower(i)` and `upper(i)`, as steps.
  void band(const Series& series, const std::function<double(std::size_t)>& lower,
            const std::function<double(std::size_t)>& upper, std::size_t steps) {
    if (steps == 0) return;
    std::string path = "M" + point(0, lower(0));
    for (std::size_t i = 0; i < steps; ++i) {
      path += " L" + point(i, upper(i)) + " L" + point(i + 1, upper(i));
    }
    for (std::size_t i = steps; i-- > 0;) {
      path += " L" + point(i + 1, lower(i)) + " L" + point(i, lower(i));
    }
    out_ << "<path d=\"" << path << " Z\" fill=\"" << series.color << "\" stroke=\"none\"/>\n";
  }

  /// A line through `value(i)`, as steps.
  void line(const Series& series, const std::function<double(std::size_t)>& value,
            std::size_t steps) {
    if (steps == 0) return;
    std::string points;
    for (std::size_t i = 0; i < steps; ++i) {
      points += point(i, value(i)) + ' ' + point(i + 1, value(i)) + ' ';
    }
    out_ << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << series.color
         << "\" stroke-width=\"1.5\"/>\n";
  }

 private:
  std::string point(std::size_t step, double value) const {
    return coordinate(x(step)) + ',' + coordinate(y(value));
  }

  std::ostream& out_;
  std::size_t steps_;
  double y_max_;
};

inline void axes(std::ostream& out, double y_max, double y_tick, double total_seconds) {
  out << "<g font-size=\"12\" fill=\"#333\">\n";
  for (double v = 0; v <= y_max + y_tick / 2; v += y_tick) {
    const double y = top + chart_height * (1 - v / y_max);
    out << "<line x1=\"" << coordinate(left) << "\" y1=\"" << coordinate(y) << "\" x2=\""
        << coordinate(left + chart_width) << "\" y2=\"" << coordinate(y)
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << coordinate(left - 6) << "\" y=\""
        << coordinate(y + 4) << "\" text-anchor=\"end\">" << number(v) << "</text>\n";
  }
  const TimeUnit unit = time_unit(total_seconds);
  const double total = total_seconds / unit.seconds;
  const double x_tick = tick_spacing(total);
  for (double t = 0; t <= total + 1e-9; t += x_tick) {
    const double x = left + chart_width * t / total;
    out << "<line x1=\"" << coordinate(x) << "\" y1=\"" << coordinate(top + chart_height)
        << "\" x2=\"" << coordinate(x) << "\" y2=\"" << coordinate(top + chart_height + 5)
        << "\" stroke=\"#333\"/>\n<text x=\"" << coordinate(x) << "\" y=\""
        << coordinate(top + chart_height + 20) << "\" text-anchor=\"middle\">" << number(t)
        << "</text>\n";
  }
  out << "<rect x=\"" << coordinate(left) << "\" y=\"" << coordinate(top) << "\" width=\""
      << coordinate(chart_width) << "\" height=\"" << coordinate(chart_height)
      << "\" fill=\"none\" stroke=\"#333\"/>\n"
      << "<text x=\"" << coordinate(left + chart_width / 2) << "\" y=\""
      << coordinate(top + chart_height + 45) << "\" text-anchor=\"middle\">time (" << unit.name
      << ")</text>\n"
      << "<text transform=\"translate(18," << coordinate(top + chart_height / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">workers / inputs (average per step)</text>\n"
      << "</g>\n";
}

inline void legend(std::ostream& out) {
  const double x = left + chart_width + 20;
  double y = top + 10;
  out << "<g font-size=\"12\" fill=\"#333\">\n";
  for (const Series* s : {&booting, &idle, &busy}) {
    out << "<rect x=\"" << coordinate(x) << "\" y=\"" << coordinate(y - 10)
        << "\" width=\"14\" height=\"12\" fill=\"" << s->color << "\"/>\n<text x=\""
        << coordinate(x + 20) << "\" y=\"" << coordinate(y) << "\">" << s->name << "</text>\n";
    y += 22;
  }
  out << "<line x1=\"" << coordinate(x) << "\" y1=\"" << coordinate(y - 4) << "\" x2=\""
      << coordinate(x + 14) << "\" y2=\"" << coordinate(y - 4) << "\" stroke=\"" << pending.color
      << "\" stroke-width=\"2\"/>\n<text x=\"" << coordinate(x + 20) << "\" y=\"" << coordinate(y)
      << "\">" << pending.name << "</text>\n</g>\n";
}

}  // namespace detail

/// Writes the timeline of `result` (which must have one) as an SVG document.
inline void write(std::ostream& out, const warmpool::SimulationResult& result,
                  std::string_view title) {
  using namespace detail;
  const std::vector<Averages> steps = averages(result);
  double largest = 1;
  for (const Averages& a : steps) {
    largest = std::max({largest, a.busy + a.idle + a.booting, a.pending});
  }
  const double y_tick = tick_spacing(largest);
  const double y_max = std::ceil(largest / y_tick) * y_tick;
  const double total_seconds = std::chrono::duration<double>(result.timeline_step).count() *
                               static_cast<double>(std::max<std::size_t>(steps.size(), 1));

  const double width = left + chart_width + legend_width;
  const double height = top + chart_height + bottom;
  svg::open_document(out, width, height, left, title);
  axes(out, y_max, y_tick, total_seconds);
  Chart chart(out, steps.size(), y_max);
  const auto zero = [](std::size_t) { return 0.0; };
  const auto busy_top = [&](std::size_t i) { return steps[i].busy; };
  const auto idle_top = [&](std::size_t i) { return steps[i].busy + steps[i].idle; };
  const auto booting_top = [&](std::size_t i) { return idle_top(i) + steps[i].booting; };
  chart.band(busy, zero, busy_top, steps.size());
  chart.band(idle, busy_top, idle_top, steps.size());
  chart.band(booting, idle_top, booting_top, steps.size());
  chart.line(
      pending, [&](std::size_t i) { return steps[i].pending; }, steps.size());
  legend(out);
  out << "</svg>\n";
}

}  // namespace timeline_svg
