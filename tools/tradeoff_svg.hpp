#pragma once
// Draws the keep-alive trade-off as a self-contained SVG: x = idle worker-hours, y = mean
// per-function cold-start fraction; the fixed idle timeouts as a line through labelled
// points, each candidate (e.g. the hybrid policy) as its own marker in the legend. No
// dependency beyond the standard library; the style of timeline_svg.hpp.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "svg.hpp"
#include "tradeoff.hpp"

namespace tradeoff_svg {

namespace detail {

using svg::coordinate;
using svg::escaped;
using svg::number;

constexpr double chart_width = 640;
constexpr double chart_height = 400;
constexpr double left = 70;
constexpr double top = 50;
constexpr double legend_width = 300;
constexpr double bottom = 60;
constexpr int wanted_ticks = 6;
constexpr double seconds_per_hour = 3600;

constexpr const char* curve_color = "#2b6cb0";
constexpr std::array<const char*, 6> candidate_colors{"#c53030", "#2f855a", "#d69e2e",
                                                      "#805ad5", "#dd6b20", "#319795"};

/// The axes' scales: from 0 to a round maximum above every value.
class Scale {
 public:
  Scale(double x_largest, double y_largest)
      : x_tick_(tick(x_largest)),
        y_tick_(tick(y_largest)),
        x_max_(round_up(x_largest, x_tick_)),
        y_max_(round_up(y_largest, y_tick_)) {}

  double x(double hours) const { return left + chart_width * hours / x_max_; }
  double y(double fraction) const { return top + chart_height * (1 - fraction / y_max_); }
  double x_tick() const { return x_tick_; }
  double y_tick() const { return y_tick_; }
  double x_max() const { return x_max_; }
  double y_max() const { return y_max_; }

 private:
  static double tick(double largest) {
    return svg::tick_spacing(largest > 0 ? largest : 1, wanted_ticks);
  }
  /// The next tick above `largest`, so that no point sits on the frame.
  static double round_up(double largest, double tick) {
    return (std::floor(largest / tick) + 1) * tick;
  }

  double x_tick_;
  double y_tick_;
  double x_max_;
  double y_max_;
};

inline double hours(const tradeoff::Point& p) { return p.idle_worker_seconds / seconds_per_hour; }

inline void axes(std::ostream& out, const Scale& s) {
  out << "<g font-size=\"12\" fill=\"#333\">\n";
  for (double v = 0; v <= s.y_max() + s.y_tick() / 2; v += s.y_tick()) {
    out << "<line x1=\"" << coordinate(left) << "\" y1=\"" << coordinate(s.y(v)) << "\" x2=\""
        << coordinate(left + chart_width) << "\" y2=\"" << coordinate(s.y(v))
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << coordinate(left - 6) << "\" y=\""
        << coordinate(s.y(v) + 4) << "\" text-anchor=\"end\">" << number(v) << "</text>\n";
  }
  for (double h = 0; h <= s.x_max() + s.x_tick() / 2; h += s.x_tick()) {
    out << "<line x1=\"" << coordinate(s.x(h)) << "\" y1=\"" << coordinate(top) << "\" x2=\""
        << coordinate(s.x(h)) << "\" y2=\"" << coordinate(top + chart_height + 5)
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << coordinate(s.x(h)) << "\" y=\""
        << coordinate(top + chart_height + 20) << "\" text-anchor=\"middle\">" << number(h)
        << "</text>\n";
  }
  out << "<rect x=\"" << coordinate(left) << "\" y=\"" << coordinate(top) << "\" width=\""
      << coordinate(chart_width) << "\" height=\"" << coordinate(chart_height)
      << "\" fill=\"none\" stroke=\"#333\"/>\n"
      << "<text x=\"" << coordinate(left + chart_width / 2) << "\" y=\""
      << coordinate(top + chart_height + 45)
      << "\" text-anchor=\"middle\">idle worker-hours (cost of warmth)</text>\n"
      << "<text transform=\"translate(18," << coordinate(top + chart_height / 2)
      << ") rotate(-90)\" text-anchor=\"middle\">cold-start fraction (mean over "
         "functions)</text>\n"
      << "</g>\n";
}

/// A marker of shape `index` (circle, square, diamond, triangle, ...) centred on (x, y).
inline void marker(std::ostream& out, std::size_t index, double x, double y, const char* color) {
  const double r = 6;
  const auto at = [&](double dx, double dy) {
    return coordinate(x + dx) + ',' + coordinate(y + dy);
  };
  switch (index % 4) {
    case 0:
      out << "<circle cx=\"" << coordinate(x) << "\" cy=\"" << coordinate(y) << "\" r=\""
          << coordinate(r) << '"';
      break;
    case 1:
      out << "<rect x=\"" << coordinate(x - r) << "\" y=\"" << coordinate(y - r) << "\" width=\""
          << coordinate(2 * r) << "\" height=\"" << coordinate(2 * r) << '"';
      break;
    case 2:
      out << "<polygon points=\"" << at(0, -r - 1) << ' ' << at(r + 1, 0) << ' ' << at(0, r + 1)
          << ' ' << at(-r - 1, 0) << '"';
      break;
    default:
      out << "<polygon points=\"" << at(0, -r - 1) << ' ' << at(r + 1, r) << ' ' << at(-r - 1, r)
          << '"';
  }
  out << " fill=\"" << color << "\" stroke=\"white\" stroke-width=\"1\"/>\n";
}

inline void curve(std::ostream& out, const Scale& s, const tradeoff::Curve& curve) {
  std::string points;
  for (const tradeoff::Point& p : curve.points()) {
    points += coordinate(s.x(hours(p))) + ',' + coordinate(s.y(p.cold_start_fraction)) + ' ';
  }
  out << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << curve_color
      << "\" stroke-width=\"2\"/>\n<g font-size=\"11\" fill=\"" << curve_color << "\">\n";
  for (const tradeoff::Point& p : curve.points()) {
    const double x = s.x(hours(p));
    const double y = s.y(p.cold_start_fraction);
    out << "<circle cx=\"" << coordinate(x) << "\" cy=\"" << coordinate(y) << "\" r=\"3.5\" fill=\""
        << curve_color << "\"/>\n<text x=\"" << coordinate(x + 5) << "\" y=\"" << coordinate(y - 7)
        << "\">" << escaped(p.label) << "</text>\n";
  }
  out << "</g>\n";
}

inline void legend(std::ostream& out, const std::vector<tradeoff::Point>& candidates) {
  const double x = left + chart_width + 20;
  double y = top + 10;
  out << "<g font-size=\"12\" fill=\"#333\">\n<line x1=\"" << coordinate(x) << "\" y1=\""
      << coordinate(y - 4) << "\" x2=\"" << coordinate(x + 14) << "\" y2=\"" << coordinate(y - 4)
      << "\" stroke=\"" << curve_color << "\" stroke-width=\"2\"/>\n<circle cx=\""
      << coordinate(x + 7) << "\" cy=\"" << coordinate(y - 4) << "\" r=\"3.5\" fill=\""
      << curve_color << "\"/>\n<text x=\"" << coordinate(x + 22) << "\" y=\"" << coordinate(y)
      << "\">fixed idle timeout</text>\n";
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    y += 22;
    marker(out, i, x + 7, y - 4, candidate_colors[i % candidate_colors.size()]);
    out << "<text x=\"" << coordinate(x + 22) << "\" y=\"" << coordinate(y) << "\">"
        << escaped(candidates[i].label) << "</text>\n";
  }
  out << "</g>\n";
}

}  // namespace detail

/// Writes the trade-off of the fixed timeouts (`curve`) and the `candidates` as an SVG
/// document.
inline void write(std::ostream& out, const tradeoff::Curve& curve,
                  const std::vector<tradeoff::Point>& candidates, std::string_view title) {
  using namespace detail;
  double x_largest = 0;
  double y_largest = 0;
  for (const std::vector<tradeoff::Point>* points : {&curve.points(), &candidates}) {
    for (const tradeoff::Point& p : *points) {
      x_largest = std::max(x_largest, hours(p));
      y_largest = std::max(y_largest, p.cold_start_fraction);
    }
  }
  const Scale scale(x_largest, y_largest);
  const double width = left + chart_width + legend_width;
  const double height = top + chart_height + bottom;
  svg::open_document(out, width, height, left, title);
  axes(out, scale);
  detail::curve(out, scale, curve);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    marker(out, i, scale.x(hours(candidates[i])), scale.y(candidates[i].cold_start_fraction),
           candidate_colors[i % candidate_colors.size()]);
  }
  legend(out, candidates);
  out << "</svg>\n";
}

}  // namespace tradeoff_svg
