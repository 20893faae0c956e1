// Tests of the trade-off check behind `warmpool-sim proof` (tradeoff.hpp) and of its plot
// (tradeoff_svg.hpp), on hand-made points.

#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tradeoff.hpp"
#include "tradeoff_svg.hpp"

namespace {

using tradeoff::Curve;
using tradeoff::Point;

/// Three fixed timeouts, given out of order: (100, 0.8), (200, 0.6), (400, 0.2).
Curve three_timeouts() { return Curve({{"1m", 200, 0.6}, {"10s", 100, 0.8}, {"1h", 400, 0.2}}); }

Point candidate(double idle, double cold) { return {"candidate", idle, cold}; }

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("trade-off: the curve is ordered by idle time and linear between its points") {
  const Curve curve = three_timeouts();
  REQUIRE(curve.points().size() == 3);
  CHECK(curve.points()[0].label == "10s");
  CHECK(curve.points()[2].label == "1h");

  const std::optional<tradeoff::Reading> middle = curve.at(150);
  REQUIRE(middle);
  CHECK(middle->cold_start_fraction == doctest::Approx(0.7));
  CHECK(middle->where == "between 10s and 1m");
  CHECK(curve.at(300)->cold_start_fraction == doctest::Approx(0.4));
  CHECK(curve.at(200)->cold_start_fraction == 0.6);  // exactly, at a point
  CHECK(curve.at(200)->where == "at 1m");
  CHECK(curve.at(400)->cold_start_fraction == 0.2);
  CHECK(curve.at(50)->cold_start_fraction == 0.8);  // cheaper than all: the cheapest point
  CHECK(curve.at(50)->where == "cheaper than 10s");
  CHECK_FALSE(curve.at(401));  // nothing measured there

  CHECK_THROWS_AS(Curve({}), std::invalid_argument);
}

TEST_CASE("trade-off: a candidate lies below only with fewer cold starts than the curve there") {
  const Curve curve = three_timeouts();
  CHECK(curve.below(candidate(150, 0.69)));
  CHECK_FALSE(curve.below(candidate(150, 0.71)));  // above the line between two points
  CHECK(curve.below(candidate(300, 0.39)));
  CHECK_FALSE(curve.below(candidate(300, 0.41)));
  // A fixed timeout as the candidate lies on the curve, not below it.
  for (const Point& p : curve.points()) CHECK_FALSE(curve.below(p));
  // Cheaper than every timeout: must beat the cheapest.
  CHECK(curve.below(candidate(10, 0.79)));
  CHECK_FALSE(curve.below(candidate(10, 0.8)));
  // Costlier than every timeout: never below, however few cold starts.
  CHECK_FALSE(curve.below(candidate(500, 0.0)));
}

TEST_CASE("trade-off: points at the same idle time - the lowest counts") {
  const Curve curve({{"a", 100, 0.5}, {"b", 100, 0.3}, {"c", 200, 0.1}});
  CHECK(curve.at(100)->cold_start_fraction == 0.3);
  CHECK(curve.at(100)->where == "at b");
  CHECK_FALSE(curve.below(candidate(100, 0.4)));
  CHECK(curve.at(150)->cold_start_fraction == doctest::Approx(0.2));
}

TEST_CASE("trade-off plot: the curve as a labelled line, each candidate in the legend") {
  std::ostringstream out;
  tradeoff_svg::write(out, three_timeouts(),
                      {{"hybrid <10s>", 3600, 0.3}, {"hybrid 60s", 7200, 0.25}}, "title & more");
  const std::string svg = out.str();
  CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(svg.ends_with("</svg>\n"));
  CHECK(count(svg, "<polyline") == 1);
  CHECK(count(svg, ">10s</text>") == 1);
  CHECK(count(svg, ">1h</text>") == 1);
  CHECK(svg.find("fixed idle timeout") != std::string::npos);
  CHECK(svg.find(">hybrid &lt;10s&gt;</text>") != std::string::npos);
  CHECK(svg.find(">hybrid 60s</text>") != std::string::npos);
  CHECK(svg.find("title &amp; more") != std::string::npos);
  CHECK(svg.find("idle worker-hours") != std::string::npos);
  // Each candidate's marker appears twice (plot and legend), in its own shape.
  CHECK(count(svg, "<circle cx") == 3 + 1 + 2);  // curve points, legend line, candidate 1
  CHECK(count(svg, "<rect x") == 1 + 2);         // frame, candidate 2
}
