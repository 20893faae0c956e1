#pragma once
// Small helpers shared by warmpool-sim's hand-written SVG charts (timeline_svg.hpp,
// tradeoff_svg.hpp): round tick spacings, short numbers, coordinates, escaped text.

#include <array>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>

namespace svg {

/// The round tick spacing (1, 2 or 5 times a power of ten) nearest to giving `ticks`
/// ticks from 0 to `largest` (> 0).
inline double tick_spacing(double largest, int ticks) {
  const double raw = largest / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double best = magnitude;
  for (const double factor : {2.0, 5.0, 10.0}) {
    if (std::abs(std::log(factor * magnitude / raw)) < std::abs(std::log(best / raw))) {
      best = factor * magnitude;
    }
  }
  return best;
}

/// A short number: "0", "2.5", "1200".
inline std::string number(double value) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%g", value);
  return text.data();
}

/// Coordinates with one decimal.
inline std::string coordinate(double value) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.1f", value);
  return text.data();
}

/// Text with the XML special characters escaped.
inline std::string escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

/// Opens an SVG document of the given size on a white background, with `title` at
/// (`title_x`, 28).
inline void open_document(std::ostream& out, double width, double height, double title_x,
                          std::string_view title) {
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << coordinate(width) << "\" height=\""
      << coordinate(height) << "\" viewBox=\"0 0 " << coordinate(width) << ' ' << coordinate(height)
      << "\" font-family=\"sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << coordinate(title_x) << "\" y=\"28\" font-size=\"15\">" << escaped(title)
      << "</text>\n";
}

}  // namespace svg
